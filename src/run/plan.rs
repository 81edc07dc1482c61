//! What to run: the sweep, its warm-up and epochs, the SLOs and the seed.
//! The command line and the bench harness each build one of these.

use std::path::PathBuf;

use super::precision::Precision;
use crate::metrics::{PointLabel, Rate, RunKind, Slo, DEFAULT_PERCENTILES};
use crate::workload::{
    DatasetFilter, DatasetType, GenerateSpec, ImageFormat, SessionShape, SharedPrefixSpec, Trace,
};

/// One benchmark run, all layers resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The run's name (a command's `--name`, a benchmark's id).
    pub name: String,
    pub sweep: Sweep,
    /// Measured epochs at each point (at least 1).
    pub epochs: u32,
    /// Warm-up requests at each point, sent the way measured ones are and
    /// discarded; `None`: one per worker (static), one (dynamic).
    pub warmup: Option<usize>,
    /// Service-level objectives of goodput.
    pub slo: Slo,
    /// Seed of prompts, sampling and arrival times.
    pub seed: u64,
    /// Remarks the run's outputs carry (e.g. how prefixes were handled).
    pub notes: Vec<String>,
    /// Adaptive epochs: after `epochs`, keep adding epochs at a point until
    /// its watched metrics are precise enough (`--target-mde`).
    pub precision: Option<Precision>,
    /// Percentiles the run reports for every latency distribution
    /// (`--percentiles`), recorded in its `run.json`.
    pub percentiles: Vec<f64>,
    /// One worker's share of a plan run by several (`servebench run
    /// --shard R/N`): its part of the load, aligned with the others'.
    pub shard: Option<super::ShardRun>,
}

impl Plan {
    /// Whether the plan's prompts share no prefix by design (generated
    /// text of their own, no shared prefix, no dataset, trace or session),
    /// so that a server's prefix cache should find little in them.
    pub fn expects_cold_cache(&self) -> bool {
        match &self.sweep {
            Sweep::Static(s) => s.shared_prefix_tokens == 0 && s.dataset.is_none(),
            Sweep::Dynamic(d) => matches!(d.workload, DynamicWorkload::Generated(_)),
        }
    }

    /// A plan with 5 epochs, default warm-up, no SLO, seed 0.
    pub fn new(name: impl Into<String>, sweep: Sweep) -> Self {
        Plan {
            name: name.into(),
            sweep,
            epochs: 5,
            warmup: None,
            slo: Slo::default(),
            seed: 0,
            notes: Vec::new(),
            precision: None,
            percentiles: DEFAULT_PERCENTILES.to_vec(),
            shard: None,
        }
    }

    /// The kind of run this plan makes.
    pub fn kind(&self) -> RunKind {
        match self.sweep {
            Sweep::Static(_) => RunKind::Static,
            Sweep::Dynamic(_) => RunKind::Dynamic,
        }
    }

    /// The points the sweep will measure, in order (known before any load).
    pub fn labels(&self) -> Vec<PointLabel> {
        self.sweep.labels()
    }
}

/// The two sweeps.
#[derive(Debug, Clone, PartialEq)]
pub enum Sweep {
    Static(StaticSweep),
    Dynamic(DynamicSweep),
}

impl Sweep {
    /// The points of the sweep, in the order they run.
    pub fn labels(&self) -> Vec<PointLabel> {
        match self {
            Sweep::Static(s) => s
                .pairs
                .iter()
                .flat_map(|&(p, o)| {
                    s.concurrencies.iter().map(move |&c| PointLabel::Static {
                        prompt_tokens: p,
                        output_tokens: o,
                        concurrency: c,
                    })
                })
                .collect(),
            Sweep::Dynamic(d) => (0..d.rates.len()).map(|i| d.label(i)).collect(),
        }
    }
}

/// Closed loop: every `(prompt, output)` pair × every concurrency.
#[derive(Debug, Clone, PartialEq)]
pub struct StaticSweep {
    /// `(prompt_tokens, output_tokens)` pairs.
    pub pairs: Vec<(usize, usize)>,
    /// Concurrency levels.
    pub concurrencies: Vec<usize>,
    /// Requests each worker sends per epoch.
    pub requests_per_worker: usize,
    /// Tokens of a prefix every prompt shares (0: none; every prompt still
    /// starts with a unique segment so that no cache serves it).
    pub shared_prefix_tokens: usize,
    /// Images attached to every request (multimodal chat).
    pub images: Option<Images>,
    /// How an epoch sends its requests.
    pub loop_shape: LoopShape,
    /// Prompts from a dataset instead of synthetic ones (the seed's
    /// `--dataset-type sharegpt|human-eval` on the static benchmark).
    pub dataset: Option<StaticDataset>,
}

/// A dataset whose prompts a static sweep sends (in a seeded order, cycling
/// when it runs out) instead of synthetic prompts of `--prompt-tokens`.
#[derive(Debug, Clone, PartialEq)]
pub struct StaticDataset {
    pub path: std::path::PathBuf,
    pub kind: crate::workload::DatasetType,
    /// Ask for each entry's own output length (the seed's
    /// `--use-real-dataset-output-tokens`) instead of the pair's.
    pub real_output: bool,
}

impl StaticDataset {
    /// The seed's filter for static datasets: vLLM's (prompt at most 1024
    /// tokens, prompt plus output at most 2048, both at least 4) for
    /// ShareGPT and the like; human-eval drops only empty entries.
    pub fn filter(&self) -> crate::workload::DatasetFilter {
        let base = crate::workload::DatasetFilter::for_type(self.kind);
        if self.kind == crate::workload::DatasetType::HumanEval {
            return base;
        }
        crate::workload::DatasetFilter {
            max_prompt_tokens: Some(1024),
            max_tokens: Some(2048),
            ..base
        }
    }
}

/// How a static point's epoch sends its requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LoopShape {
    /// N workers keep N requests in flight: each sends its next request as
    /// soon as its last one finished.
    #[default]
    Closed,
    /// The seed tool's loop (`benchmark_parallel.py`): N requests sent
    /// together, the next N once the slowest of them finished.
    Wave,
}

impl StaticSweep {
    /// A text sweep over these pairs and concurrencies, one request per
    /// worker per epoch.
    pub fn new(pairs: Vec<(usize, usize)>, concurrencies: Vec<usize>) -> Self {
        StaticSweep {
            pairs,
            concurrencies,
            requests_per_worker: 1,
            shared_prefix_tokens: 0,
            images: None,
            loop_shape: LoopShape::Closed,
            dataset: None,
        }
    }
}

/// Seeded images attached to every request of a multimodal sweep.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Images {
    pub per_request: usize,
    pub width: u32,
    pub height: u32,
    pub format: ImageFormat,
}

/// Open loop: requests at each rate, gamma-distributed gaps.
#[derive(Debug, Clone, PartialEq)]
pub struct DynamicSweep {
    /// `(rate, requests per epoch)`: rate in requests/s (infinite: all at
    /// once).
    pub rates: Vec<(Rate, usize)>,
    /// Gamma shape of the gaps (1 = Poisson, infinite = evenly spaced).
    pub burstiness: f64,
    /// Requests sent together at each arrival, per rate (the seed's
    /// `--concurrent-num`; empty: 1 at every rate).
    pub per_arrival: Vec<usize>,
    /// Cap on requests in flight.
    pub max_concurrency: Option<usize>,
    pub workload: DynamicWorkload,
}

impl DynamicSweep {
    /// Requests sent together at each arrival of the `i`-th rate.
    pub fn per_arrival(&self, i: usize) -> usize {
        self.per_arrival.get(i).copied().unwrap_or(1).max(1)
    }

    /// The label of the `i`-th point (of `rates[i]`).
    pub fn label(&self, i: usize) -> PointLabel {
        let (rate, n) = self.rates[i];
        if let DynamicWorkload::Sessions(_) = &self.workload {
            return PointLabel::Sessions {
                session_rate: rate,
                burstiness: self.burstiness,
                max_active: self.max_concurrency,
                num_sessions: n,
            };
        }
        if let DynamicWorkload::Trace(t) = &self.workload {
            return PointLabel::Replay {
                trace: t.trace.name(),
                speedup: t.speedups[i],
                request_rate: rate,
                max_concurrency: self.max_concurrency,
                num_prompts: n,
            };
        }
        PointLabel::Dynamic {
            request_rate: rate,
            burstiness: self.burstiness,
            max_concurrency: self.max_concurrency,
            num_prompts: n,
        }
    }
}

/// Where the requests of a dynamic sweep come from.
#[derive(Debug, Clone, PartialEq)]
pub enum DynamicWorkload {
    /// Generated prompts of exact lengths drawn from truncated normals (its
    /// `num_requests` and `seed` are set by the run).
    Generated(GenerateSpec),
    /// A dataset file, sampled with the run's seed.
    Dataset {
        path: PathBuf,
        kind: DatasetType,
        filter: DatasetFilter,
        /// One epoch may hold more requests than the dataset's usable
        /// entries (`--allow-repeat`); else that is an error.
        allow_repeat: bool,
    },
    /// A trace replayed at its own send times: point `i` replays the whole
    /// window `speedups[i]` times as fast (its `rates[i]` is the window's
    /// mean rate at that speed, and the trace's length).
    Trace(TraceReplay),
    /// Multi-turn sessions: `rates[i]` is `(sessions started per second,
    /// sessions per epoch)`.
    Sessions(SessionsWorkload),
    /// SGLang's generated-shared-prefix workload: every epoch of every
    /// point sends all `groups × prompts_per_group` requests (shuffled
    /// across groups), with system prompts of its own, so that no epoch
    /// finds another's prefixes cached. Each rate's `rates[i].1` is
    /// `groups × prompts_per_group`.
    SharedPrefix(SharedPrefixSpec),
}

/// Where a sessions run's conversations come from.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionSource {
    /// ShareGPT conversations with at least `min_turns` human/assistant
    /// pairs, at most `max_turns` of them replayed.
    ShareGpt {
        path: PathBuf,
        min_turns: usize,
        max_turns: usize,
    },
    /// Generated conversations of this shape.
    Generated(SessionShape),
}

/// Multi-turn sessions, started by the sweep's arrival process.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionsWorkload {
    pub source: SessionSource,
    /// Pause between an answer and the session's next turn.
    pub think_time: std::time::Duration,
    /// Put the dataset's replies in the history instead of the model's answers.
    pub dataset_replies: bool,
}

/// A trace to replay, read before the run.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceReplay {
    pub trace: std::sync::Arc<Trace>,
    /// Speed factors, one point each (2 = twice as fast as the trace).
    pub speedups: Vec<f64>,
    /// Tokens of one hash-id block (Mooncake; 512 in the published traces).
    pub block_tokens: usize,
}

impl TraceReplay {
    /// The sweep's `rates`: one `(mean rate, requests)` per speedup.
    pub fn rates(&self) -> Vec<(Rate, usize)> {
        self.speedups
            .iter()
            .map(|&s| (Rate(self.trace.mean_rate(s)), self.trace.len()))
            .collect()
    }
}
