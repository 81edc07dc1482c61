//! Closed loop: N workers keep exactly N requests in flight; each sends its
//! next request as soon as its previous one finishes. Also the seed tool's
//! waves: N requests sent together, the next N once all of them finished.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use super::counting::DeferredCounts;
use super::{Client, PreparedRequest};
use crate::record::RequestRecord;

/// The outcome of one epoch (or warm-up round).
#[derive(Debug)]
pub struct EpochRun {
    /// Epoch number.
    pub epoch: u32,
    /// Every request of the epoch, in completion order, when the caller
    /// asked to keep them (see [`Keep`]); empty otherwise.
    pub records: Vec<RequestRecord>,
    /// Requests that finished (kept or not).
    pub finished: usize,
    /// Token-carrying chunks received by the epoch's requests.
    pub chunks: u64,
    /// Generated texts whose tokenizer count was deferred (held, or being
    /// counted in the background in batches on a long epoch);
    /// [`Client::count_outputs`] completes them.
    pub uncounted: DeferredCounts,
}

/// Whether a load loop keeps the records it forwards. A long run that
/// writes its records to a file as they complete forwards them only, so
/// that its memory stays flat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Keep every record in [`EpochRun::records`].
    Records,
    /// Forward records to the callback only.
    Forward,
}

/// Run `requests` through `concurrency` workers in a closed loop.
///
/// Workers only send, time and forward records over a channel; this task
/// collects them and hands them to `on_records` as soon as they complete
/// (a progress bar, a records file), in completion order, in the batches
/// that completed together (see [`collect`]).
pub async fn run_closed_epoch(
    client: Arc<Client>,
    requests: Arc<Vec<PreparedRequest>>,
    concurrency: usize,
    epoch: u32,
    keep: Keep,
    on_records: &mut (dyn FnMut(&[RequestRecord]) + Send),
) -> EpochRun {
    let next = Arc::new(AtomicUsize::new(0));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let phase_start = Instant::now();
    let workers = concurrency.max(1).min(requests.len().max(1));
    let mut spawner = super::Spawner::here();
    for _ in 0..workers {
        let client = client.clone();
        let requests = requests.clone();
        let next = next.clone();
        let tx = tx.clone();
        spawner.spawn(async move {
            loop {
                if client.stopping() {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(req) = requests.get(i) else { break };
                let out = client.execute_deferred(req, epoch, phase_start).await;
                if tx.send(out).is_err() {
                    break;
                }
            }
        });
    }
    drop(tx);
    collect(&client, epoch, requests.len(), keep, &mut rx, on_records).await
}

/// Run `requests` in waves of `wave` (the seed tool's static loop): a wave's
/// requests are sent together, and the next wave starts once the slowest of
/// them finished. Records are forwarded as in [`run_closed_epoch`].
pub async fn run_wave_epoch(
    client: Arc<Client>,
    requests: Arc<Vec<PreparedRequest>>,
    wave: usize,
    epoch: u32,
    keep: Keep,
    on_records: &mut (dyn FnMut(&[RequestRecord]) + Send),
) -> EpochRun {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let phase_start = Instant::now();
    let n = requests.len();
    let wave = wave.max(1);
    let driver_client = client.clone();
    let driver_requests = requests.clone();
    // The driver owns the sender: when the last wave is done, the channel
    // closes and the collection below ends.
    tokio::spawn(async move {
        let (client, requests) = (driver_client, driver_requests);
        let mut start = 0;
        let mut spawner = super::Spawner::here();
        while start < n && !client.stopping() {
            let end = (start + wave).min(n);
            let mut set = tokio::task::JoinSet::new();
            for i in start..end {
                let (client, requests, tx) = (client.clone(), requests.clone(), tx.clone());
                set.spawn_on(
                    async move {
                        let out = client
                            .execute_deferred(&requests[i], epoch, phase_start)
                            .await;
                        let _ = tx.send(out);
                    },
                    spawner.next_handle(),
                );
            }
            while set.join_next().await.is_some() {}
            start = end;
        }
    });
    collect(&client, epoch, n, keep, &mut rx, on_records).await
}

/// Gather the records of an epoch as they complete, handing each batch
/// to `on_records`, and keep the texts left to count. A batch is what
/// completed since the collector last ran (at most [`BATCH`]): one record
/// when requests finish apart, more under load, so that a records file is
/// flushed once a batch rather than once a request.
pub(super) async fn collect(
    client: &Client,
    epoch: u32,
    expected: usize,
    keep: Keep,
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<(RequestRecord, Option<String>)>,
    on_records: &mut (dyn FnMut(&[RequestRecord]) + Send),
) -> EpochRun {
    let kept = keep == Keep::Records;
    let mut records = Vec::with_capacity(if kept { expected } else { 0 });
    let mut uncounted = DeferredCounts::new(Some(client.tokenizer().clone()));
    let (mut finished, mut chunks) = (0, 0u64);
    let mut came = Vec::with_capacity(BATCH);
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut came, BATCH).await > 0 {
        for (rec, text) in came.drain(..) {
            finished += 1;
            chunks += rec.chunks.len() as u64;
            if let Some(text) = text {
                uncounted.push(kept.then_some(records.len() + batch.len()), rec.id, text);
            }
            batch.push(rec);
        }
        on_records(&batch);
        if kept {
            records.append(&mut batch);
        } else {
            batch.clear();
        }
    }
    EpochRun {
        epoch,
        records,
        finished,
        chunks,
        uncounted,
    }
}

/// The most records [`collect`] hands over at once.
const BATCH: usize = 256;
