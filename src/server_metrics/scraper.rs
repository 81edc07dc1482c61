//! The scraper: a thread of its own (with its own small runtime, so that
//! reading and parsing a page never delays the task that timestamps a
//! stream) reads the endpoint's `/metrics` every interval while an epoch
//! runs, and once just before and just after each epoch's load, so that
//! the counters' increases cover exactly the epoch.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::names;
use super::snapshot::Snapshot;
use super::view::EpochServer;
use super::ScrapeError;

enum Cmd {
    Scrape(oneshot::Sender<Result<Snapshot, ScrapeError>>),
    /// An epoch starts: the next periodic scrape is one interval from now.
    Restart,
}

/// Scrapes one endpoint's metrics over a run.
pub struct ServerWatch {
    url: String,
    engine: &'static str,
    cmd: mpsc::UnboundedSender<Cmd>,
    /// Periodic scrapes of the epoch under way, as fetched: `(unix time,
    /// page)`. They are parsed when the epoch ends, so that no parsing
    /// competes with the load for the CPU while it runs.
    periodic: Arc<Mutex<Vec<(f64, String)>>>,
    /// Whether an epoch is under way (periodic scrapes are kept).
    active: Arc<std::sync::atomic::AtomicBool>,
    start: Mutex<Option<Snapshot>>,
    /// Periodic scrapes that failed, over the run.
    failed: Arc<std::sync::atomic::AtomicU64>,
}

impl ServerWatch {
    /// Start scraping `url` every `interval`: one scrape now, which must
    /// answer with Prometheus text (else the error says why, for the run's
    /// one warning).
    pub async fn start(url: &str, interval: Duration) -> Result<ServerWatch, ScrapeError> {
        let bad = |reason: String| ScrapeError::Http {
            url: url.to_string(),
            reason,
        };
        let client = reqwest::Client::builder()
            .timeout(interval.max(Duration::from_secs(2)))
            .no_proxy()
            .build()
            .map_err(|e| bad(e.to_string()))?;
        let (tx, mut rx) = mpsc::unbounded_channel::<Cmd>();
        let periodic = Arc::new(Mutex::new(Vec::new()));
        let active = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let failed = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (p, a, f, u) = (
            periodic.clone(),
            active.clone(),
            failed.clone(),
            url.to_string(),
        );
        std::thread::Builder::new()
            .name("servebench-scraper".into())
            .spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async move {
                    let mut tick = tokio::time::interval(interval);
                    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    use std::sync::atomic::Ordering::Relaxed;
                    loop {
                        tokio::select! {
                            c = rx.recv() => match c {
                                Some(Cmd::Scrape(reply)) => {
                                    let page = fetch(&client, &u).await;
                                    let _ = reply.send(page.and_then(|(t, text)| parse(&u, t, &text)));
                                }
                                Some(Cmd::Restart) => tick.reset(),
                                None => return,
                            },
                            _ = tick.tick() => {
                                if !a.load(Relaxed) {
                                    continue;
                                }
                                match fetch(&client, &u).await {
                                    Ok(page) => p.lock().expect("not poisoned").push(page),
                                    Err(_) => {
                                        f.fetch_add(1, Relaxed);
                                    }
                                }
                            }
                        }
                    }
                });
            })
            .map_err(|e| bad(e.to_string()))?;
        let mut w = ServerWatch {
            url: url.to_string(),
            engine: "unknown",
            cmd: tx,
            periodic,
            active,
            start: Mutex::new(None),
            failed,
        };
        let first = w.scrape_now().await?;
        w.engine = names::engine(&first);
        Ok(w)
    }

    /// Scrape now, on the scraper's thread.
    pub async fn scrape_now(&self) -> Result<Snapshot, ScrapeError> {
        let (tx, rx) = oneshot::channel();
        let gone = || ScrapeError::Http {
            url: self.url.clone(),
            reason: "the scraper thread stopped".into(),
        };
        self.cmd.send(Cmd::Scrape(tx)).map_err(|_| gone())?;
        rx.await.map_err(|_| gone())?
    }

    /// Where the metrics are read.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The engine the names belong to.
    pub fn engine(&self) -> &'static str {
        self.engine
    }

    /// Periodic scrapes that failed so far.
    pub fn failed_scrapes(&self) -> u64 {
        self.failed.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// An epoch's load is about to start: its first scrape.
    pub async fn epoch_start(&self) {
        *self.start.lock().expect("not poisoned") = self.scrape_now().await.ok();
        self.periodic.lock().expect("not poisoned").clear();
        // Periodic scrapes from one interval after the epoch's start (an
        // epoch shorter than the interval is scraped only at its ends).
        let _ = self.cmd.send(Cmd::Restart);
        self.active
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// The epoch's load ended: its last scrape, and the epoch's view
    /// (`None` when a boundary scrape failed).
    pub async fn epoch_end(&self, epoch: u32) -> Option<EpochServer> {
        self.active
            .store(false, std::sync::atomic::Ordering::Relaxed);
        let end = self.scrape_now().await.ok();
        let pages = std::mem::take(&mut *self.periodic.lock().expect("not poisoned"));
        let between: Vec<Snapshot> = pages
            .iter()
            .filter_map(|(t, text)| parse(&self.url, *t, text).ok())
            .collect();
        let start = self.start.lock().expect("not poisoned").take()?;
        Some(EpochServer::build(epoch, &start, &end?, &between))
    }
}

/// A page read as Prometheus text.
fn parse(url: &str, t: f64, text: &str) -> Result<Snapshot, ScrapeError> {
    Snapshot::parse(text, t).ok_or_else(|| ScrapeError::NotPrometheus {
        url: url.to_string(),
        start: text.chars().take(60).collect(),
    })
}

/// One GET of the page: the time its answer arrived, and its text.
async fn fetch(client: &reqwest::Client, url: &str) -> Result<(f64, String), ScrapeError> {
    let err = |reason: String| ScrapeError::Http {
        url: url.to_string(),
        reason,
    };
    let resp = client
        .get(url)
        .header("accept", "text/plain;version=0.0.4")
        .send()
        .await
        .map_err(|e| err(crate::load::error_chain(&e)))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(ScrapeError::Status {
            url: url.to_string(),
            status: status.as_u16(),
        });
    }
    let text = resp.text().await.map_err(|e| err(e.to_string()))?;
    Ok((crate::metrics::unix_now_s(), text))
}
