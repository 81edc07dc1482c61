//! The static sweep: every (prompt, output) pair × every concurrency, each
//! point a warm-up round then `epochs` measured closed-loop rounds. Prompts
//! (and images) of a point are built and serialised before its first
//! request is sent.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rand::rngs::StdRng;
use rand::SeedableRng;

use super::observer::Observer;
use super::plan::{LoopShape, Plan, StaticSweep};
use super::precision::Tracker;
use super::shard::StepSync;
use super::{RunError, Target};
use crate::load::{run_closed_epoch, run_wave_epoch, Client, EpochRun, Keep, PreparedRequest};
use crate::metrics::{ClientLoad, ImageInfo, PointLabel};
use crate::workload::{image_data_url, PromptSynth, RequestSpec};

/// The measured epochs of one point (their records only when kept in
/// memory), with the client's cost while they ran.
pub(super) struct PointRun {
    pub label: PointLabel,
    pub epochs: Vec<EpochRun>,
    pub load: ClientLoad,
    /// Why the point stopped adding epochs (under `--target-mde`).
    pub note: Option<String>,
    /// What the server's metrics showed over each measured epoch.
    pub server: Vec<crate::server_metrics::EpochServer>,
}

/// Measures the client over a point's measured epochs: CPU time of this
/// process while they sent load (the counting of outputs after each epoch
/// left out), their wall time and the chunks they received.
#[derive(Default)]
pub(super) struct LoadWatch {
    cpu_s: f64,
    wall_s: f64,
    chunks: u64,
    at: Option<(f64, std::time::Instant)>,
    server: Vec<crate::server_metrics::EpochServer>,
}

impl LoadWatch {
    /// An epoch's load starts.
    pub fn start(&mut self) {
        self.at = Some((
            crate::load::selfwatch::process_cpu_s(),
            std::time::Instant::now(),
        ));
    }

    /// The epoch's load ended.
    pub fn stop(&mut self, epoch: &EpochRun) {
        if let Some((cpu0, wall0)) = self.at.take() {
            self.cpu_s += crate::load::selfwatch::process_cpu_s() - cpu0;
            self.wall_s += wall0.elapsed().as_secs_f64();
        }
        self.chunks += epoch.chunks;
    }

    /// The epoch's view from the server's metrics (scraped after `stop`,
    /// outside the client's measured window) goes to the records file.
    pub fn server(
        &mut self,
        view: Option<crate::server_metrics::EpochServer>,
        target: &Target,
        obs: &mut Observer,
    ) {
        if let (Some(v), Some(w)) = (view, &target.server) {
            obs.server(&v, w.engine(), w.url());
            self.server.push(v);
        }
    }

    /// The point ended: its client load goes to the records file, and the
    /// point to `out` unless no measured epoch ran.
    pub fn finish(
        &mut self,
        target: &Target,
        obs: &mut Observer,
        (label, note): (PointLabel, Option<String>),
        epochs: Vec<EpochRun>,
        out: &mut Vec<PointRun>,
    ) {
        let load = target.client_load(self.cpu_s, self.wall_s, self.chunks);
        obs.client(&load);
        obs.finish_point();
        if !epochs.is_empty() {
            out.push(PointRun {
                label,
                epochs,
                load,
                note,
                server: std::mem::take(&mut self.server),
            });
        }
    }
}

/// Builds the requests of a static sweep, text or multimodal.
struct Builder<'a> {
    client: &'a Client,
    synth: PromptSynth,
    rng: StdRng,
    shared: String,
    next_id: u64,
    sweep: &'a StaticSweep,
    seed: u64,
    encoded: AtomicU64,
    images: AtomicU64,
    /// Dataset entries to send in turn (cycling), when the sweep has one.
    entries: Vec<crate::workload::RequestSpec>,
    next_entry: usize,
}

impl Builder<'_> {
    /// The next `n` requests of the sweep; those at the positions `keep`
    /// serialised (a shard's block: every prompt is still drawn, so that
    /// each request is the one a single process would send).
    fn build(
        &mut self,
        n: usize,
        pair: (usize, usize),
        keep: std::ops::Range<usize>,
    ) -> Result<Vec<PreparedRequest>, RunError> {
        let mut v = Vec::with_capacity(keep.len());
        for i in 0..n {
            let id = self.next_id;
            self.next_id += 1;
            let spec = if self.entries.is_empty() {
                let prompt =
                    self.synth
                        .prompt_with_prefix(&self.shared, pair.0, Some(id), &mut self.rng)?;
                RequestSpec {
                    id,
                    prompt,
                    prompt_tokens: pair.0,
                    max_tokens: pair.1,
                    force_output_len: true,
                }
            } else {
                let e = &self.entries[self.next_entry % self.entries.len()];
                self.next_entry += 1;
                let real = self.sweep.dataset.as_ref().is_some_and(|d| d.real_output);
                RequestSpec {
                    id,
                    prompt: e.prompt.clone(),
                    prompt_tokens: e.prompt_tokens,
                    max_tokens: if real { e.max_tokens } else { pair.1 },
                    force_output_len: true,
                }
            };
            if keep.contains(&i) {
                v.push(self.prepare(&spec)?);
            }
        }
        Ok(v)
    }

    fn prepare(&self, spec: &RequestSpec) -> Result<PreparedRequest, RunError> {
        let Some(img) = &self.sweep.images else {
            return Ok(self.client.prepare(spec));
        };
        let mut urls = Vec::with_capacity(img.per_request);
        for k in 0..img.per_request as u64 {
            let seed = self.seed ^ spec.id.wrapping_mul(1_000_003).wrapping_add(k);
            let (url, n) =
                image_data_url(img.width, img.height, img.format, seed).map_err(|e| {
                    RunError::BadSetting {
                        flag: "--image-width/--image-height".into(),
                        reason: e.to_string(),
                    }
                })?;
            self.encoded.fetch_add(n as u64, Ordering::Relaxed);
            self.images.fetch_add(1, Ordering::Relaxed);
            urls.push(url);
        }
        self.client
            .prepare_multimodal(spec, &urls)
            .ok_or_else(|| RunError::BadSetting {
                flag: format!("--backend {}", self.client.backend().name()),
                reason: "this API cannot carry images: use openai-chat".into(),
            })
    }
}

/// The dataset's entries a static sweep sends: a seeded shuffle of the
/// usable ones, as many as its largest point's warm-up and planned epochs
/// take (cycled when the file has fewer).
async fn load_entries(
    target: &Target,
    plan: &Plan,
    sweep: &StaticSweep,
    d: &super::plan::StaticDataset,
) -> Result<Vec<RequestSpec>, RunError> {
    let most = sweep
        .concurrencies
        .iter()
        .map(|&c| {
            plan.warmup.unwrap_or(c) + c * sweep.requests_per_worker.max(1) * plan.epochs as usize
        })
        .max()
        .unwrap_or(1);
    let (path, kind, filter, tok, seed) = (
        d.path.clone(),
        d.kind,
        d.filter(),
        target.tokenizer.clone(),
        plan.seed,
    );
    tokio::task::spawn_blocking(move || {
        crate::workload::load_and_sample(&path, kind, &tok, &filter, most, seed)
    })
    .await
    .map_err(|e| RunError::BadSetting {
        flag: "--dataset-path".into(),
        reason: format!("loading panicked: {e}"),
    })?
    .map_err(RunError::from)
}

/// Wait for the next step's agreed instant when the run is a shard's.
pub(super) async fn step(sync: &mut Option<StepSync>) -> Result<(), RunError> {
    match sync {
        Some(s) => s.step().await,
        None => Ok(()),
    }
}

/// Run the static sweep; returns the points measured (a point stopped
/// before its first measured epoch is left out) and, for a multimodal sweep,
/// what the images were.
pub(super) async fn run(
    target: &Target,
    plan: &Plan,
    sweep: &StaticSweep,
    obs: &mut Observer,
    sync: &mut Option<StepSync>,
) -> Result<(Vec<PointRun>, Option<ImageInfo>), RunError> {
    let shard = sync.as_ref().map(|s| s.shard());
    let client = target.client.clone();
    let mut rng = StdRng::seed_from_u64(plan.seed);
    let synth = PromptSynth::new(&target.tokenizer)?;
    let shared = if sweep.shared_prefix_tokens > 0 {
        synth.prompt(sweep.shared_prefix_tokens, None, &mut rng)?
    } else {
        String::new()
    };
    let entries = match &sweep.dataset {
        Some(d) => load_entries(target, plan, sweep, d).await?,
        None => Vec::new(),
    };
    let mut b = Builder {
        entries,
        next_entry: 0,
        client: &client,
        synth,
        rng,
        shared,
        next_id: 0,
        sweep,
        seed: plan.seed,
        encoded: AtomicU64::new(0),
        images: AtomicU64::new(0),
    };
    let mut out = Vec::new();
    'sweep: for &pair in &sweep.pairs {
        for &concurrency in &sweep.concurrencies {
            let label = PointLabel::Static {
                prompt_tokens: pair.0,
                output_tokens: pair.1,
                concurrency,
            };
            let rpw = sweep.requests_per_worker.max(1);
            let per_epoch = concurrency * rpw;
            let n_warm = plan.warmup.unwrap_or(concurrency);
            // A shard builds every request of the point (the same prompts
            // and ids as one process would) and keeps its workers' block.
            let (workers, warm_part, epoch_part) = match shard {
                Some(s) => {
                    let w = s.block(concurrency);
                    // The warm-up goes to the ranks that have workers here
                    // (ranks below min(C, N), the remainder's order).
                    let active = (s.count as usize).min(concurrency) as u32;
                    let warm = match crate::run::Shard::new(s.rank, active.max(1), "--shard") {
                        Ok(a) if s.rank < active => a.block(n_warm),
                        _ => 0..0,
                    };
                    (w.len(), warm, w.start * rpw..w.end * rpw)
                }
                None => (concurrency, 0..n_warm, 0..per_epoch),
            };
            let warm = b.build(n_warm, pair, warm_part)?;
            let epochs = (0..plan.epochs)
                .map(|_| b.build(per_epoch, pair, epoch_part.clone()).map(Arc::new))
                .collect::<Result<Vec<_>, _>>()?;
            let mine = epoch_part.len();
            obs.start_point(&label, warm.len() + mine * plan.epochs as usize);
            step(sync).await?;
            if !warm.is_empty() && workers > 0 {
                let mut cb = |rs: &[crate::record::RequestRecord]| obs.records(rs, true);
                let w = Arc::new(warm);
                run_closed_epoch(client.clone(), w, workers, 0, Keep::Forward, &mut cb).await;
            }
            let keep = obs.keep();
            let mut watch = LoadWatch::default();
            let planned = epochs.len();
            let mut tracker = Tracker::new(plan.precision.as_ref(), &label, plan.slo);
            let mut epochs = epochs.into_iter();
            let mut runs = Vec::with_capacity(planned);
            loop {
                let e = runs.len();
                // The planned epochs were built before the clock; an epoch
                // that `--target-mde` adds is built between epochs.
                let reqs = match epochs.next() {
                    Some(reqs) => reqs,
                    None if tracker.wants_more(e, planned) => {
                        obs.extend_point(per_epoch);
                        Arc::new(b.build(per_epoch, pair, 0..per_epoch)?)
                    }
                    None => break,
                };
                if client.stopping() {
                    break;
                }
                step(sync).await?;
                if workers == 0 {
                    // This shard has none of the point's workers: it keeps
                    // step with the others and sends nothing.
                    for _ in epochs.by_ref() {
                        step(sync).await?;
                    }
                    break;
                }
                let mut cb = |rs: &[crate::record::RequestRecord]| {
                    obs.records(rs, false);
                    tracker.records(e as u32, rs);
                };
                target.server_epoch_start().await;
                watch.start();
                let mut epoch = match sweep.loop_shape {
                    LoopShape::Closed => {
                        run_closed_epoch(client.clone(), reqs, workers, e as u32, keep, &mut cb)
                            .await
                    }
                    LoopShape::Wave => {
                        run_wave_epoch(client.clone(), reqs, workers, e as u32, keep, &mut cb).await
                    }
                };
                watch.stop(&epoch);
                watch.server(target.server_epoch_end(e as u32).await, target, obs);
                let counts = client.count_outputs(&mut epoch);
                obs.counted(epoch.epoch, &counts);
                runs.push(epoch);
            }
            let note = tracker.note(runs.len());
            watch.finish(target, obs, (label, note), runs, &mut out);
            if client.stopping() {
                break 'sweep;
            }
        }
    }
    let images = sweep.images.map(|img| {
        let n = b.images.load(Ordering::Relaxed).max(1);
        ImageInfo {
            per_request: img.per_request,
            width: img.width,
            height: img.height,
            format: img.format,
            mean_encoded_bytes: b.encoded.load(Ordering::Relaxed) as f64 / n as f64,
        }
    });
    Ok((out, images))
}
