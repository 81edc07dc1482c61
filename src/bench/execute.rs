//! A benchmark's resolved plan, checked, and handed to the run engine
//! ([`crate::run`]), which sends its load and appends the records of
//! measured requests to `records.jsonl` as they complete.

use std::path::Path;

use super::sweep::Benchmark;
use super::BenchError;
use crate::metrics::{Rate, RunData, Slo};
use crate::run::{run_plan, DynamicWorkload, Output, TargetSpec, TraceReplay};

/// How one benchmark is to be run, all layers resolved.
#[derive(Debug, Clone)]
pub struct Plan {
    pub id: String,
    pub bench: Benchmark,
    pub endpoint: TargetSpec,
    pub epochs: u32,
    /// `None`: the kind's default.
    pub warmup: Option<usize>,
    pub slo: Slo,
    pub seed: u64,
    pub quiet: bool,
    /// Adaptive epochs (`--target-mde`).
    pub precision: Option<crate::run::Precision>,
    /// Remarks the run's outputs carry (e.g. epochs from a calibration).
    pub notes: Vec<String>,
    /// Interleaved A/B: side B's endpoint (side A is `endpoint`).
    pub ab: Option<TargetSpec>,
    /// Why the settings cannot be used, reported by [`validate`] before
    /// any load (a bad `--max-epochs`, an unreadable calibration).
    pub problem: Option<String>,
}

impl Plan {
    /// The run engine's plan of this benchmark.
    pub fn run_plan(&self) -> crate::run::Plan {
        let sweep = match &self.bench {
            Benchmark::Static(s) => crate::run::Sweep::Static(crate::run::StaticSweep {
                requests_per_worker: s.requests_per_worker,
                shared_prefix_tokens: s.shared_prefix_tokens,
                ..crate::run::StaticSweep::new(s.pairs.clone(), s.concurrencies.clone())
            }),
            Benchmark::Dynamic(d) => {
                // A shared-prefix workload wins over the generated lengths;
                // each of its epochs is every group's requests.
                let (n, workload) = match d.shared_prefix {
                    Some(sp) => (sp.requests_per_round(), DynamicWorkload::SharedPrefix(sp)),
                    None => (
                        d.num_prompts,
                        DynamicWorkload::Generated(d.workload.clone()),
                    ),
                };
                crate::run::Sweep::Dynamic(crate::run::DynamicSweep {
                    rates: d.rates.iter().map(|&r| (Rate(r), n)).collect(),
                    burstiness: d.burstiness,
                    per_arrival: Vec::new(),
                    max_concurrency: d.max_concurrency,
                    workload,
                })
            }
            Benchmark::Sessions(s) => crate::run::Sweep::Dynamic(crate::run::DynamicSweep {
                rates: s.rates.iter().map(|&r| (Rate(r), s.num_sessions)).collect(),
                burstiness: s.burstiness,
                per_arrival: Vec::new(),
                max_concurrency: s.max_active,
                workload: DynamicWorkload::Sessions(crate::run::SessionsWorkload {
                    source: match &s.sharegpt {
                        Some((path, min_turns, max_turns)) => crate::run::SessionSource::ShareGpt {
                            path: path.clone(),
                            min_turns: *min_turns,
                            max_turns: *max_turns,
                        },
                        None => crate::run::SessionSource::Generated(s.shape),
                    },
                    think_time: std::time::Duration::from_secs_f64(s.think_time_ms.max(0.0) / 1e3),
                    dataset_replies: s.dataset_replies,
                }),
            }),
            // One probe of the search (at its lowest load); the search sets
            // each probe's load.
            Benchmark::Capacity(c) => c.run_plan().sweep,
            Benchmark::Replay(r) => {
                // Read when planned; a trace that did not read is the
                // plan's `problem`, reported before any load.
                let trace = r.loaded.clone().unwrap_or_else(|| {
                    std::sync::Arc::new(crate::workload::Trace {
                        path: r.path.clone(),
                        format: r.format,
                        window: r.window,
                        requests: Vec::new(),
                        skipped: 0,
                    })
                });
                let replay = TraceReplay {
                    trace,
                    speedups: r.speedups.clone(),
                    block_tokens: r.block_tokens,
                };
                crate::run::Sweep::Dynamic(crate::run::DynamicSweep {
                    rates: replay.rates(),
                    burstiness: 1.0,
                    per_arrival: Vec::new(),
                    max_concurrency: r.max_concurrency,
                    workload: DynamicWorkload::Trace(replay),
                })
            }
        };
        let mut notes = self.notes.clone();
        if let Benchmark::Static(s) = &self.bench {
            if s.shared_prefix_tokens > 0 {
                let lens: Vec<usize> = s.pairs.iter().map(|p| p.0).collect();
                notes.push(crate::workload::static_shared_prefix_note(
                    s.shared_prefix_tokens,
                    &lens,
                ));
            }
        }
        crate::run::Plan {
            epochs: self.epochs,
            warmup: self.warmup,
            slo: self.slo,
            seed: self.seed,
            precision: self.precision.clone(),
            notes,
            ..crate::run::Plan::new(&self.id, sweep)
        }
    }
}

fn invalid(id: &str, reason: impl Into<String>) -> BenchError {
    BenchError::Invalid {
        id: id.to_string(),
        reason: reason.into(),
    }
}

/// Check a plan before any load is sent.
pub fn validate(p: &Plan) -> Result<(), BenchError> {
    if p.epochs == 0 {
        return Err(invalid(&p.id, "epochs must be at least 1"));
    }
    if let Some(reason) = &p.problem {
        return Err(invalid(&p.id, reason.clone()));
    }
    match &p.bench {
        Benchmark::Static(s) => {
            if s.pairs.is_empty() || s.pairs.iter().any(|&(a, b)| a == 0 || b == 0) {
                return Err(invalid(
                    &p.id,
                    "needs (prompt, output) pairs, each at least 1 token",
                ));
            }
            if s.concurrencies.is_empty() || s.concurrencies.contains(&0) {
                return Err(invalid(&p.id, "needs concurrency levels, each at least 1"));
            }
            if s.requests_per_worker == 0 {
                return Err(invalid(&p.id, "requests_per_worker must be at least 1"));
            }
            if s.shared_prefix_tokens > 0
                && s.pairs.iter().any(|&(a, _)| a <= s.shared_prefix_tokens)
            {
                return Err(invalid(
                    &p.id,
                    "shared_prefix_tokens must be below every prompt length",
                ));
            }
        }
        Benchmark::Dynamic(d) => {
            if d.rates.is_empty() || d.rates.iter().any(|r| r.is_nan() || *r <= 0.0) {
                return Err(invalid(
                    &p.id,
                    "needs request rates, each positive (or infinity)",
                ));
            }
            check_workload(&p.id, d)?;
        }
        Benchmark::Capacity(c) => {
            // The search's settings are checked with the flags applied,
            // by `capacity_flow`; here the probes' workload.
            check_workload(&p.id, &c.workload)?;
        }
        Benchmark::Sessions(s) => {
            if s.rates.is_empty() || s.rates.iter().any(|r| r.is_nan() || *r <= 0.0) {
                return Err(invalid(
                    &p.id,
                    "needs session rates, each positive (or infinity)",
                ));
            }
            if s.num_sessions == 0 {
                return Err(invalid(&p.id, "num_sessions must be at least 1"));
            }
            let g = &s.shape;
            if s.sharegpt.is_none() && (g.turns == 0 || g.user_tokens == 0 || g.output_tokens == 0)
            {
                return Err(invalid(&p.id, "turns and their lengths must be at least 1"));
            }
            if !(s.think_time_ms.is_finite() && s.think_time_ms >= 0.0) {
                return Err(invalid(&p.id, "think_time_ms must be 0 or more"));
            }
        }
        Benchmark::Replay(r) => {
            if r.speedups.is_empty() || r.speedups.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
                return Err(invalid(&p.id, "needs speedups, each a positive number"));
            }
            if r.block_tokens == 0 {
                return Err(invalid(&p.id, "block_tokens must be at least 1"));
            }
            if r.loaded.is_none() {
                return Err(invalid(&p.id, "the trace was not read"));
            }
        }
    }
    Ok(())
}

/// The requests of a dynamic workload (its rates aside).
fn check_workload(id: &str, d: &super::DynamicSweep) -> Result<(), BenchError> {
    if d.num_prompts == 0 {
        return Err(invalid(id, "num_prompts must be at least 1"));
    }
    if let Some(sp) = &d.shared_prefix {
        sp.validate()
            .map_err(|e| invalid(id, format!("shared prefix: {e}")))?;
    } else {
        let mut w = d.workload.clone();
        w.num_requests = 1;
        w.validate()
            .map_err(|e| invalid(id, format!("workload: {e}")))?;
    }
    Ok(())
}

/// Run the benchmark's load and return the run. `records`: where measured
/// records are appended as they complete (none in smoke mode).
pub async fn measure(p: &Plan, records: Option<&Path>) -> Result<RunData, BenchError> {
    validate(p)?;
    let out = Output {
        records,
        quiet: p.quiet,
    };
    Ok(run_plan(&p.endpoint, &p.run_plan(), &out).await?)
}
