//! The static sweep: every (prompt, output) pair × every concurrency, each
//! point a warm-up round then `epochs` measured closed-loop rounds.

use std::sync::Arc;

use rand::rngs::StdRng;
use rand::SeedableRng;

use super::{run_closed_epoch, Client, EpochRun, PreparedRequest};
use crate::record::RequestRecord;
use crate::workload::{PromptError, PromptSynth, RequestSpec};

/// How a static sweep is laid out.
#[derive(Debug, Clone)]
pub struct StaticPlan {
    /// `(prompt_tokens, output_tokens)` pairs.
    pub pairs: Vec<(usize, usize)>,
    /// Concurrency levels (`--parallel-num`).
    pub concurrencies: Vec<usize>,
    /// Measured rounds per point.
    pub epochs: u32,
    /// Warm-up requests per point, run at the point's concurrency and
    /// discarded; `None` = one per worker.
    pub warmup_requests: Option<usize>,
    /// Requests each worker sends per epoch (an epoch is `concurrency ×
    /// requests_per_worker` requests).
    pub requests_per_worker: usize,
    /// Give every prompt a unique leading segment (defeats prefix caches).
    pub unique_prefix: bool,
    /// Tokens of a prefix shared by every prompt (measures a prefix cache).
    pub shared_prefix_tokens: usize,
    /// Seed of the prompt text.
    pub seed: u64,
}

/// One point of the sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PointKey {
    pub prompt_tokens: usize,
    pub output_tokens: usize,
    pub concurrency: usize,
}

/// The measured epochs of one point.
#[derive(Debug, Clone)]
pub struct PointRun {
    pub key: PointKey,
    pub epochs: Vec<EpochRun>,
    /// CPU time of this process while the measured epochs sent load, s
    /// (the counting of outputs after each epoch is left out).
    pub client_cpu_s: f64,
    /// Wall time of the measured epochs' load, s.
    pub wall_s: f64,
}

/// Follows a sweep as it runs (progress bars, records files).
pub trait SweepObserver: Send {
    /// A point is about to start; `requests` counts warm-up and measured ones.
    fn point_started(&mut self, key: &PointKey, requests: usize);
    /// A request finished (warm-up records have `warmup == true`).
    fn record(&mut self, key: &PointKey, record: &RequestRecord, warmup: bool);
    /// After a measured epoch: the tokenizer's counts of the outputs that
    /// were left for after it, as `(record id, count)`.
    fn counted(&mut self, _key: &PointKey, _epoch: u32, _counts: &[(u64, u64)]) {}
    /// A point finished.
    fn point_finished(&mut self, run: &PointRun);
}

/// An observer that does nothing.
pub struct Quiet;

impl SweepObserver for Quiet {
    fn point_started(&mut self, _: &PointKey, _: usize) {}
    fn record(&mut self, _: &PointKey, _: &RequestRecord, _: bool) {}
    fn point_finished(&mut self, _: &PointRun) {}
}

/// Run the whole sweep. Prompts of each point are built and serialised
/// before its first request is sent.
pub async fn run_static(
    client: Arc<Client>,
    synth: &PromptSynth,
    plan: &StaticPlan,
    observer: &mut dyn SweepObserver,
) -> Result<Vec<PointRun>, PromptError> {
    let text_only = |c: &Client, spec: &RequestSpec| c.prepare(spec);
    run_static_with(client, synth, plan, &text_only, observer).await
}

/// [`run_static`] with a custom preparation of each request (e.g. with
/// images attached); it runs before the clock starts, like the prompts.
pub async fn run_static_with(
    client: Arc<Client>,
    synth: &PromptSynth,
    plan: &StaticPlan,
    prepare: &(dyn Fn(&Client, &RequestSpec) -> PreparedRequest + Sync),
    observer: &mut dyn SweepObserver,
) -> Result<Vec<PointRun>, PromptError> {
    let mut rng = StdRng::seed_from_u64(plan.seed);
    let shared = if plan.shared_prefix_tokens > 0 {
        synth.prompt(plan.shared_prefix_tokens, None, &mut rng)?
    } else {
        String::new()
    };
    let mut next_id = 0u64;
    let mut out = Vec::new();
    for &(prompt_tokens, output_tokens) in &plan.pairs {
        for &concurrency in &plan.concurrencies {
            let key = PointKey {
                prompt_tokens,
                output_tokens,
                concurrency,
            };
            let per_epoch = concurrency * plan.requests_per_worker.max(1);
            let mut build = |n: usize| -> Result<Arc<Vec<PreparedRequest>>, PromptError> {
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    let unique = plan.unique_prefix.then_some(next_id);
                    let prompt =
                        synth.prompt_with_prefix(&shared, prompt_tokens, unique, &mut rng)?;
                    let spec = RequestSpec {
                        id: next_id,
                        prompt,
                        prompt_tokens,
                        max_tokens: output_tokens,
                        force_output_len: true,
                    };
                    next_id += 1;
                    v.push(prepare(&client, &spec));
                }
                Ok(Arc::new(v))
            };
            let n_warm = plan.warmup_requests.unwrap_or(concurrency);
            let warm = build(n_warm)?;
            let epochs: Vec<_> = (0..plan.epochs)
                .map(|_| build(per_epoch))
                .collect::<Result<_, _>>()?;
            observer.point_started(&key, n_warm + per_epoch * plan.epochs as usize);
            if !warm.is_empty() {
                let mut cb = |r: &RequestRecord| observer.record(&key, r, true);
                run_closed_epoch(client.clone(), warm, concurrency, 0, &mut cb).await;
            }
            let mut runs = Vec::with_capacity(epochs.len());
            let (mut cpu, mut wall) = (0.0, 0.0);
            for (e, reqs) in epochs.into_iter().enumerate() {
                if client.stopping() {
                    break;
                }
                let mut cb = |r: &RequestRecord| observer.record(&key, r, false);
                let (cpu0, wall0) = (super::selfwatch::process_cpu_s(), std::time::Instant::now());
                let mut epoch =
                    run_closed_epoch(client.clone(), reqs, concurrency, e as u32, &mut cb).await;
                cpu += super::selfwatch::process_cpu_s() - cpu0;
                wall += wall0.elapsed().as_secs_f64();
                let counts = client.count_outputs(&mut epoch);
                observer.counted(&key, epoch.epoch, &counts);
                runs.push(epoch);
            }
            let run = PointRun {
                key,
                epochs: runs,
                client_cpu_s: cpu,
                wall_s: wall,
            };
            observer.point_finished(&run);
            if !run.epochs.is_empty() {
                out.push(run);
            }
            if client.stopping() {
                return Ok(out);
            }
        }
    }
    Ok(out)
}
