//! The dynamic sweep: at each request rate, a warm-up then `epochs`
//! measured open-loop rounds of `n` requests with gamma-distributed gaps
//! (the same gaps in every round of a rate).
//! Every request of the run is drawn (dataset) or generated before the
//! first is sent; no two requests of a run share a prompt unless the
//! dataset is too small to avoid it.

use std::sync::Arc;

use super::observer::Observer;
use super::plan::{DynamicSweep, DynamicWorkload, Plan};
use super::precision::Tracker;
use super::shard::StepSync;
use super::statics::{step, LoadWatch, PointRun};
use super::{RunError, Target};
use crate::load::{
    grouped_arrival_offsets, run_open_loop, run_sessions, Keep, PreparedRequest, SessionLoad,
};
use crate::record::RequestRecord;
use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::workload::{
    expected_prefix_hit_ratio, expected_shared_prefix_hit_ratio, generate, load_and_sample,
    shared_prefix_requests, PromptSynth, RequestSpec, Session, DEFAULT_PREFIX_BLOCK_TOKENS,
};

/// Requests of the whole run, drawn once: `n` of them.
async fn requests(
    target: &Target,
    d: &DynamicSweep,
    n: usize,
    seed: u64,
) -> Result<(Vec<RequestSpec>, Vec<String>), RunError> {
    let tok = target.tokenizer.clone();
    match &d.workload {
        // Drawn by `prepare` through `super::sessions`.
        DynamicWorkload::Sessions(_) => Ok((Vec::new(), Vec::new())),
        DynamicWorkload::Dataset {
            path,
            kind,
            filter,
            allow_repeat,
        } => {
            let (path, kind, filter) = (path.clone(), *kind, filter.clone());
            let specs = tokio::task::spawn_blocking(move || {
                load_and_sample(&path, kind, &tok, &filter, n, seed)
            })
            .await
            .map_err(|e| RunError::BadSetting {
                flag: "--dataset".into(),
                reason: format!("sampling panicked: {e}"),
            })??;
            let distinct = specs
                .iter()
                .map(|s| s.prompt.as_str())
                .collect::<std::collections::HashSet<_>>()
                .len();
            let per_epoch = d.rates.iter().map(|r| r.1).max().unwrap_or(0);
            if distinct < per_epoch && !allow_repeat {
                return Err(RunError::BadSetting {
                    flag: "--num-prompts".into(),
                    reason: format!(
                        "{per_epoch} requests an epoch, but the dataset has only {distinct} \
                         usable entries (after the length filters); lower --num-prompts, or \
                         pass --allow-repeat to send some more than once"
                    ),
                });
            }
            let note = (distinct < specs.len()).then(|| {
                format!(
                    "the dataset gave {distinct} distinct prompts for the {} requests of the run \
                     (every epoch of a rate draws its own): some were sent more than once, which \
                     a prefix cache can serve faster",
                    specs.len()
                )
            });
            Ok((specs, note.into_iter().collect()))
        }
        DynamicWorkload::Generated(spec) => {
            let mut spec = spec.clone();
            spec.num_requests = n;
            spec.seed = seed;
            let generated = tokio::task::spawn_blocking(move || generate(&spec, &tok))
                .await
                .map_err(|e| RunError::BadSetting {
                    flag: "--random-input-len".into(),
                    reason: format!("request generator panicked: {e}"),
                })??;
            let specs = generated
                .into_iter()
                .enumerate()
                .map(|(i, g)| RequestSpec {
                    id: i as u64,
                    prompt: g.prompt,
                    prompt_tokens: g.input_tokens,
                    max_tokens: g.output_tokens,
                    force_output_len: true,
                })
                .collect();
            Ok((specs, Vec::new()))
        }
        DynamicWorkload::Trace(t) => {
            // Every point and epoch replays the window with text of its own
            // (the same sharing, other blocks), so that each meets the
            // trace's prefix sharing from a cache that has not seen it.
            let epochs = n / d.rates.iter().map(|r| r.1).max().unwrap_or(1).max(1);
            let t = t.clone();
            let replay = t.clone();
            let specs = tokio::task::spawn_blocking(move || {
                let t = replay;
                let synth = PromptSynth::new(&tok)?;
                let len = t.trace.len() as u64;
                let mut all = Vec::with_capacity(t.trace.len() * epochs * t.speedups.len());
                for round in 0..(epochs * t.speedups.len()) as u64 {
                    let salt = seed ^ round.wrapping_mul(0x0100_0000_01b3);
                    all.extend(
                        t.trace
                            .requests(&synth, t.block_tokens, salt, round * len)?,
                    );
                }
                Ok::<_, RunError>(all)
            })
            .await
            .map_err(|e| RunError::BadSetting {
                flag: "--trace".into(),
                reason: format!("building the trace's prompts panicked: {e}"),
            })??;
            let mut notes = vec![format!(
                "trace {}: {} requests over {:.1} s of trace time{}",
                t.trace.name(),
                t.trace.len(),
                t.trace.span_s(),
                if t.trace.skipped > 0 {
                    format!(
                        "; {} row(s) skipped (0 output or input tokens: failures in the original)",
                        t.trace.skipped
                    )
                } else {
                    String::new()
                }
            )];
            if let Some(r) = expected_prefix_hit_ratio(&t.trace, t.block_tokens) {
                notes.push(format!(
                    "the trace's hash ids imply a prefix-cache hit ratio of {:.1} % of prompt \
                     tokens (an unbounded cache of {}-token blocks, each replay starting cold)",
                    r * 100.0,
                    t.block_tokens
                ));
            }
            Ok((specs, notes))
        }
        DynamicWorkload::SharedPrefix(spec) => {
            // Like a trace: every point and epoch sends all groups with
            // system prompts of its own (round r = point * epochs + epoch),
            // so that each starts from a cache that has not seen them.
            let spec = *spec;
            spec.validate().map_err(|e| RunError::BadSetting {
                flag: e.flag,
                reason: e.reason,
            })?;
            let per_round = spec.requests_per_round();
            let rounds = (n / per_round.max(1)).max(1) * d.rates.len().max(1);
            let specs = tokio::task::spawn_blocking(move || {
                let synth = PromptSynth::new(&tok)?;
                let mut all = Vec::with_capacity(per_round * rounds);
                for r in 0..rounds as u64 {
                    let first = r * per_round as u64;
                    all.extend(
                        shared_prefix_requests(&spec, &synth, seed, r, first)?
                            .into_iter()
                            .map(|x| x.request),
                    );
                }
                Ok::<_, RunError>(all)
            })
            .await
            .map_err(|e| RunError::BadSetting {
                flag: "--dataset-type".into(),
                reason: format!("building the shared-prefix prompts panicked: {e}"),
            })??;
            let b = DEFAULT_PREFIX_BLOCK_TOKENS;
            let notes = vec![format!(
                "shared-prefix workload: {} groups x {} prompts, each a {}-token system prompt \
                 of its group + a unique {}-token question, {} output tokens, shuffled across \
                 groups; expected prefix-cache hit ratio {:.1} % of prompt tokens (each \
                 group's first request a miss, the others finding the system prompt's full \
                 {b}-token blocks; an unbounded cache, each epoch cold)",
                spec.groups,
                spec.prompts_per_group,
                spec.prefix_tokens,
                spec.question_tokens,
                spec.output_tokens,
                expected_shared_prefix_hit_ratio(&spec, b) * 100.0,
            )];
            Ok((specs, notes))
        }
    }
}

/// The requests of a dynamic sweep, drawn before any load.
pub(super) struct Workload {
    /// Measured requests: epoch e of a rate with n requests takes the e-th
    /// run of n (so that one epoch is exactly the seed tool's sample).
    pub measured: Vec<RequestSpec>,
    /// Warm-up requests: the lengths of the first measured ones, with
    /// prompts of their own (unique text), so that the warm-up can neither
    /// use up a small dataset nor warm a prefix cache for what is measured.
    pub warmup: Vec<RequestSpec>,
    pub notes: Vec<String>,
    /// Multi-turn sessions (`measured` then holds their first turns, each
    /// with its session's index as id).
    pub sessions: Vec<Session>,
}

impl Workload {
    /// Requests one measured request of the sweep stands for: a session's
    /// turns on average (1 outside sessions), for the progress and ETA.
    pub fn requests_per_item(&self) -> f64 {
        if self.sessions.is_empty() {
            return 1.0;
        }
        let turns: usize = self.sessions.iter().map(|s| s.turns.len()).sum();
        turns as f64 / self.sessions.len() as f64
    }
}

/// Draw or generate every request of the sweep (before any load, and
/// before the run's files are created, so that a bad dataset leaves no
/// trace).
pub(super) async fn prepare(
    target: &Target,
    plan: &Plan,
    d: &DynamicSweep,
) -> Result<Workload, RunError> {
    let warm = plan.warmup.unwrap_or(1);
    let most = d.rates.iter().map(|r| r.1).max().unwrap_or(0);
    let (measured, notes, sessions) = match &d.workload {
        DynamicWorkload::Sessions(sw) => {
            let total = most * plan.epochs as usize * d.rates.len();
            let (sessions, notes) = super::sessions::prepare(target, sw, total, plan.seed).await?;
            (super::sessions::first_turns(&sessions), notes, sessions)
        }
        _ => {
            let (m, notes) = requests(target, d, most * plan.epochs as usize, plan.seed).await?;
            (m, notes, Vec::new())
        }
    };
    let mut warmup = Vec::with_capacity(warm);
    if !measured.is_empty() {
        let synth = PromptSynth::new(&target.tokenizer)?;
        let mut rng = StdRng::seed_from_u64(plan.seed ^ 0x5741_524d);
        for i in 0..warm {
            let like = &measured[i % measured.len()];
            // Ids above every measured one: each warm-up prompt is unique.
            let id = measured.len() as u64 + i as u64;
            warmup.push(RequestSpec {
                id,
                prompt: synth.prompt(like.prompt_tokens, Some(id), &mut rng)?,
                ..like.clone()
            });
        }
    }
    Ok(Workload {
        measured,
        warmup,
        notes,
        sessions,
    })
}

/// One round of a point (its warm-up, an epoch): how many requests the
/// whole round has, this process's part of them, and the id of the first
/// request each of these stands for (a session: its first turn's).
type Round = (usize, Vec<PreparedRequest>, Vec<u64>);

/// Run the dynamic sweep over the requests [`prepare`] drew; returns the
/// points measured.
pub(super) async fn run(
    target: &Target,
    plan: &Plan,
    d: &DynamicSweep,
    w: &Workload,
    obs: &mut Observer,
    sync: &mut Option<StepSync>,
) -> Result<Vec<PointRun>, RunError> {
    let shard = sync.as_ref().map(|s| s.shard());
    // A shard's cap on requests in flight: its part of the plan's.
    let max_concurrency = match shard {
        Some(s) => d.max_concurrency.map(|c| s.share(c).max(1)),
        None => d.max_concurrency,
    };
    let client = target.client.clone();
    let (specs, warm) = (&w.measured, w.warmup.len());
    let epochs = plan.epochs as usize;
    if specs.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for (ri, &(rate, n)) in d.rates.iter().enumerate() {
        if client.stopping() {
            break;
        }
        let label = d.label(ri);
        // A trace's points each have prompts of their own (see `requests`).
        let skip = match &d.workload {
            DynamicWorkload::Trace(_)
            | DynamicWorkload::SharedPrefix(_)
            | DynamicWorkload::Sessions(_) => ri * n * epochs,
            _ => 0,
        };
        // Built and serialised before the clock starts. Epoch e takes the
        // e-th run of `n` requests of the sample (so that one epoch replays
        // exactly what benchmark_serving.py would); the warm-up has requests
        // of its own. Each round's requests are moved to its load loop,
        // which frees each one once sent.
        // A shard serialises only its own requests (request `i` of a round
        // is rank `i mod N`'s); each round keeps its full length, from
        // which the whole schedule is drawn.
        let mine = |i: &(usize, &RequestSpec)| shard.is_none_or(|s| s.owns(i.0));
        let mut cycle = specs.iter().skip(skip).cycle();
        // With each kept request, the id its first request takes: requests
        // of a round are numbered on from 0, a session's turns one each, so
        // that a shard's turns have the ids they have in one process.
        let round = |specs: &mut dyn Iterator<Item = &RequestSpec>| -> Round {
            let all: Vec<(usize, &RequestSpec)> = specs.enumerate().collect();
            let len = all.len();
            let (mut next, mut kept, mut first_ids) = (0u64, Vec::new(), Vec::new());
            for item in all {
                let first = next;
                // (A warm-up's first ids go unused: it runs as a plain open
                // loop, not as sessions.)
                next += match &d.workload {
                    DynamicWorkload::Sessions(_) => w
                        .sessions
                        .get(item.1.id as usize)
                        .map_or(1, |x| x.turns.len() as u64),
                    _ => 1,
                };
                if mine(&item) {
                    kept.push(client.prepare(item.1));
                    first_ids.push(first);
                }
            }
            (len, kept, first_ids)
        };
        let warm_reqs = round(&mut w.warmup.iter());
        let mut planned: std::collections::VecDeque<Round> = (0..epochs)
            .map(|_| round(&mut cycle.by_ref().take(n)))
            .collect();
        let per_epoch = (n as f64 * w.requests_per_item()).round() as usize;
        let (warm_mine, per_epoch_mine) = match shard {
            Some(s) => (s.share(warm), s.share(per_epoch)),
            None => (warm, per_epoch),
        };
        obs.start_point(&label, warm_mine + per_epoch_mine * epochs);
        let keep = obs.keep();
        let mut watch = LoadWatch::default();
        let mut tracker = Tracker::new(plan.precision.as_ref(), &label, plan.slo);
        let mut runs = Vec::with_capacity(epochs);
        let mut warm_reqs = Some(warm_reqs);
        // Measured epochs begun (a shard with no request in one still counts it).
        let mut begun = 0u32;
        loop {
            let e = begun;
            let ((len, reqs, first_ids), warmup) = match warm_reqs.take() {
                Some(r) => (r, true),
                None => match planned.pop_front() {
                    Some(r) => (r, false),
                    // An epoch `--target-mde` adds, built between epochs.
                    None if tracker.wants_more(runs.len(), epochs) => {
                        obs.extend_point(per_epoch);
                        (round(&mut cycle.by_ref().take(n)), false)
                    }
                    None => break,
                },
            };
            if client.stopping() {
                break;
            }
            if !warmup {
                begun += 1;
            }
            if len == 0 {
                if warmup {
                    continue;
                }
                break;
            }
            // Every epoch of a rate replays the same arrival times, so that
            // epochs differ by the server's (and the client's) noise, not by
            // the draw of the schedule; the seed makes them the same in the
            // baseline's run too.
            let seed = plan.seed ^ ((ri as u64) << 32) ^ if warmup { u64::MAX } else { 0 };
            let offsets = match &d.workload {
                DynamicWorkload::Trace(t) if !warmup => t.trace.offsets(t.speedups[ri]),
                _ => grouped_arrival_offsets(len, rate.0, d.burstiness, d.per_arrival(ri), seed)?,
            };
            // A shard keeps its items of the full schedule: request (trace
            // line, session) `i` is rank `i mod N`'s.
            let offsets: Vec<f64> = match shard {
                Some(s) => offsets
                    .into_iter()
                    .enumerate()
                    .filter(|(i, _)| s.owns(*i))
                    .map(|(_, o)| o)
                    .collect(),
                None => offsets,
            };
            step(sync).await?;
            if reqs.is_empty() {
                continue;
            }
            let mut cb = |rs: &[RequestRecord]| {
                obs.records(rs, warmup);
                if !warmup {
                    tracker.records(e, rs);
                }
            };
            let how = if warmup { Keep::Forward } else { keep };
            if !warmup {
                target.server_epoch_start().await;
                watch.start();
            }
            let mut run = match &d.workload {
                // Each stand-in names its session; the offsets start them.
                DynamicWorkload::Sessions(sw) if !warmup => {
                    let load = SessionLoad {
                        sessions: reqs
                            .iter()
                            .map(|r| w.sessions[r.id as usize].clone())
                            .collect(),
                        offsets,
                        max_active: max_concurrency,
                        think_time: sw.think_time,
                        dataset_replies: sw.dataset_replies,
                        first_ids,
                    };
                    drop(reqs);
                    run_sessions(client.clone(), load, e, how, &mut cb).await
                }
                _ => {
                    run_open_loop(
                        client.clone(),
                        reqs,
                        Arc::new(offsets),
                        max_concurrency,
                        e,
                        how,
                        &mut cb,
                    )
                    .await
                }
            };
            if warmup {
                continue;
            }
            watch.stop(&run);
            watch.server(target.server_epoch_end(e).await, target, obs);
            let counts = client.count_outputs(&mut run);
            obs.counted(e, &counts);
            runs.push(run);
        }
        let note = tracker.note(runs.len());
        watch.finish(target, obs, (label, note), runs, &mut out);
    }
    Ok(out)
}
