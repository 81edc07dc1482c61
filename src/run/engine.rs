//! Executing a plan against a resolved target.

use std::path::Path;

use super::observer::Observer;
use super::plan::{DynamicWorkload, Plan, Sweep};
use super::shard::StepSync;
use super::statics::PointRun;
use super::{dynamic, resolve_target, statics, RunError, Target, TargetSpec};
use crate::metrics::{PointData, RunData};

/// Where a run's measured records go, and whether progress is shown.
#[derive(Debug, Clone, Copy, Default)]
pub struct Output<'a> {
    /// `records.jsonl` (with `meta.json` beside it), appended as requests
    /// complete; `None` keeps records in memory only (smoke runs).
    pub records: Option<&'a Path>,
    /// No progress on stderr.
    pub quiet: bool,
}

impl Output<'_> {
    /// No records file, no progress.
    pub fn quiet() -> Self {
        Output {
            records: None,
            quiet: true,
        }
    }
}

/// Streams the sweep will hold open at once, at most (a shard: its part),
/// the flag that sets them, and whether the figure is only an upper bound
/// (an open loop without `--max-concurrency`: its requests, not how many
/// are in flight at once).
fn streams(plan: &Plan) -> (usize, &'static str, bool) {
    let shard = plan.shard.as_ref().map(|s| s.shard);
    match &plan.sweep {
        Sweep::Static(s) => {
            let c = s.concurrencies.iter().copied().max().unwrap_or(1);
            (shard.map_or(c, |s| s.share(c)), "--parallel-num", false)
        }
        Sweep::Dynamic(d) => {
            let n = d.rates.iter().map(|r| r.1).max().unwrap_or(1);
            let n = shard.map_or(n, |s| n.div_ceil(s.count as usize));
            match d.max_concurrency {
                Some(c) => (
                    shard.map_or(c, |s| s.share(c).max(1)).min(n),
                    "--max-concurrency",
                    false,
                ),
                None => (n, "--num-prompts", true),
            }
        }
    }
}

/// Requests `plan` sends if nothing stops it, warm-ups included (before
/// `--target-mde` adds epochs), for the run's progress and ETA; `per_item`:
/// the requests one dynamic item stands for (a session's turns).
fn planned_requests(plan: &Plan, per_item: f64) -> u64 {
    let epochs = plan.epochs as usize;
    let n: usize = match &plan.sweep {
        Sweep::Static(s) => {
            let per_pair: usize = s
                .concurrencies
                .iter()
                .map(|&c| plan.warmup.unwrap_or(c) + c * s.requests_per_worker.max(1) * epochs)
                .sum();
            per_pair * s.pairs.len()
        }
        Sweep::Dynamic(d) => d
            .rates
            .iter()
            .map(|&(_, n)| {
                plan.warmup.unwrap_or(1) + (n as f64 * per_item).round() as usize * epochs
            })
            .sum(),
    };
    // A shard sends about its part of the whole.
    let shards = plan.shard.as_ref().map_or(1, |s| s.shard.count as usize);
    n.div_ceil(shards) as u64
}

/// Run `plan` against `target` (which stays up, so that several plans can
/// share one simulator) and return the run: every point's records by epoch,
/// its summary, the client's load and whether it limited the measurement.
pub async fn execute(target: &Target, plan: &Plan, out: &Output<'_>) -> Result<RunData, RunError> {
    if plan.epochs == 0 {
        return Err(RunError::BadSetting {
            flag: "--epochs".into(),
            reason: "must be at least 1".into(),
        });
    }
    target.check_context(plan)?;
    if plan.shard.is_some() && plan.precision.is_some() {
        return Err(RunError::BadSetting {
            flag: "--target-mde".into(),
            reason: "a sharded run's workers must run the same epochs; adaptive epochs would \
                     let each decide on its own: give --epochs instead"
                .into(),
        });
    }
    if let (Some(s), Sweep::Dynamic(d)) = (&plan.shard, &plan.sweep) {
        let workers = s.shard.count as usize;
        if let Some(c) = d.max_concurrency.filter(|&c| c < workers) {
            let flag = match d.workload {
                DynamicWorkload::Sessions(_) => "--max-active-sessions",
                _ => "--max-concurrency",
            };
            return Err(RunError::BadSetting {
                flag: flag.into(),
                reason: format!(
                    "{c} is below the run's {workers} workers: each worker keeps its own part \
                     of the cap and at least one request in flight, so the run would hold \
                     {workers}; give at least {workers}, or run on fewer workers"
                ),
            });
        }
    }
    if let (Some(w), false) = (&target.server_warning, out.quiet) {
        eprintln!("servebench: warning: {w}");
    }
    let (n, flag, upper_bound) = streams(plan);
    target.ensure_streams(n, flag, upper_bound)?;
    let mut meta = target.meta(plan.kind(), &plan.name, plan.slo);
    meta.percentiles = plan.percentiles.clone();
    meta.notes.extend(plan.notes.iter().cloned());
    if let Sweep::Static(s) = &plan.sweep {
        let out_tokens = s.pairs.first().map_or(64, |p| p.1);
        if let Some(w) = target.probe_scheduler_steps(out_tokens).await {
            if !out.quiet {
                eprintln!("servebench: warning: {w}");
            }
            meta.notes.push(w);
        }
    }
    let workload = match &plan.sweep {
        Sweep::Dynamic(d) => {
            let w = dynamic::prepare(target, plan, d).await?;
            meta.notes.extend(w.notes.iter().cloned());
            Some(w)
        }
        Sweep::Static(_) => None,
    };
    let mut sync = match &plan.shard {
        Some(run) => {
            let mut sync = StepSync::new(run)?;
            sync.check_start()?;
            sync.meta.clock_offset_ms = super::clock_offset_ms(&target.base_url).await;
            meta.shard = Some(sync.meta.clone());
            Some(sync)
        }
        None => None,
    };
    let mut obs = Observer::create(out.records, out.quiet, &meta)?;
    let per_item = workload.as_ref().map_or(1.0, |w| w.requests_per_item());
    obs.plan(
        plan.labels().len(),
        plan.epochs,
        planned_requests(plan, per_item),
    );
    let runs: Vec<PointRun> = match &plan.sweep {
        Sweep::Static(s) => {
            let (runs, images) = statics::run(target, plan, s, &mut obs, &mut sync).await?;
            meta.images = images;
            runs
        }
        Sweep::Dynamic(d) => {
            let w = workload.as_ref().expect("prepared above");
            dynamic::run(target, plan, d, w, &mut obs, &mut sync).await?
        }
    };
    obs.check()?;
    drop(obs);
    if let Some(sync) = sync.take() {
        meta.shard = Some(sync.meta.clone());
    }
    meta.notes
        .extend(runs.iter().filter_map(|r| r.note.clone()));
    // Before the second pass: the run's requests are no longer needed, and
    // the memory they and the spent streams held goes back to the system.
    drop(workload);
    crate::load::selfwatch::release_free_memory();
    let mut notes = Vec::new();
    let points: Vec<PointData> = match out.records {
        // The load kept no record in memory: the run is built from its
        // records file, in a second pass (flat memory on long runs).
        Some(path) => {
            let read =
                crate::baseline::read_records(path).map_err(|e| RunError::Records(Box::new(e)))?;
            notes.extend(read.warnings);
            read.points
                .into_iter()
                .map(|p| p.into_point(&meta.percentiles, &meta.slo, &mut notes))
                .collect()
        }
        None => runs
            .into_iter()
            .map(|run| {
                let epochs = run.epochs.into_iter().map(|e| e.records).collect();
                let server = target
                    .server
                    .as_ref()
                    .filter(|_| !run.server.is_empty())
                    .map(|w| {
                        crate::server_metrics::ServerPoint::new(w.engine(), w.url(), run.server)
                    });
                PointData::new(run.label, epochs, &meta.percentiles, &meta.slo)
                    .with_client(run.load, &mut notes)
                    .with_server(server)
            })
            .collect(),
    };
    if plan.expects_cold_cache() {
        notes.extend(points.iter().filter_map(warm_cache_warning));
    }
    meta.notes.extend(notes);
    meta.interrupted = crate::load::interrupt::stopping();
    meta.stopped_early = target.client.guard().tripped();
    let mut run = RunData { meta, points };
    run.summarize_spec_decode();
    Ok(run)
}

/// Above this share of prompt tokens found in the server's prefix cache, a
/// point whose prompts share no prefix was measured against a warm cache (a
/// chat template's few shared tokens stay well below it).
const WARM_CACHE_RATIO: f64 = 0.2;

/// A warning when the server found a point's prompts, which share no
/// prefix, in its prefix cache: an earlier run with the same seed left
/// them there, and the point's TTFT is a warm cache's.
fn warm_cache_warning(p: &PointData) -> Option<String> {
    let r = p.server.as_ref()?.summary.prefix_hit_ratio?;
    (r > WARM_CACHE_RATIO).then(|| {
        format!(
            "{}: warm prefix cache: the server found {:.0} % of the prompt tokens in its cache, \
             though these prompts share no prefix; an earlier run with the same --seed (or a \
             repeated prompt) left them there, so TTFT is a warm cache's: change --seed, or \
             reset the server's cache, for a cold measurement",
            p.label.describe(),
            100.0 * r
        )
    })
}

/// Resolve `spec` into a target, run `plan`, stop the target.
pub async fn run_plan(
    spec: &TargetSpec,
    plan: &Plan,
    out: &Output<'_>,
) -> Result<RunData, RunError> {
    let target = resolve_target(spec).await?;
    let result = execute(&target, plan, out).await;
    target.stop().await;
    result
}
