//! The one engine that executes a benchmark [`Plan`] for the command line
//! and the bench harness alike: it resolves the target (embedded simulator
//! or remote endpoint, `/v1/models`, preflight), builds every request before
//! the clock, runs the static or the dynamic sweep (warm-up, then measured
//! epochs at each point), watches the client's own load, appends each
//! measured record to `records.jsonl` as it completes and returns the run.
//!
//! ```no_run
//! # async fn demo() -> Result<(), servebench::run::RunError> {
//! use servebench::run::{run_plan, Output, Plan, StaticSweep, Sweep, TargetSpec};
//! let plan = Plan::new(
//!     "static",
//!     Sweep::Static(StaticSweep::new(vec![(128, 16)], vec![1, 4])),
//! );
//! let run = run_plan(&TargetSpec::default(), &plan, &Output::quiet()).await?;
//! assert_eq!(run.points.len(), 2);
//! # Ok(()) }
//! ```
//!
//! Neither `cli/` nor `bench/` holds a sweep loop, an observer or a run
//! folder layout of its own: both build a [`Plan`] and call this module.

mod ab;
mod capacity;
mod checks;
mod dynamic;
mod engine;
mod observer;
mod plan;
mod precision;
mod sessions;
mod shard;
mod spec;
mod statics;
mod target;

pub use ab::{a_first, execute_ab, side_spec};
pub use capacity::{
    find_capacity, judge, search, CapacitySearch, EngineProber, Prober, SearchOutcome,
};
pub use engine::{execute, run_plan, Output};
pub use plan::{
    DynamicSweep, DynamicWorkload, Images, LoopShape, Plan, SessionSource, SessionsWorkload,
    StaticDataset, StaticSweep, Sweep, TraceReplay,
};
pub use precision::{parse_target_mde, projected_mde, Precision, Standing, DEFAULT_MAX_EPOCHS};
pub use shard::{clock_offset_ms, host_name, DoneOnDrop, Shard, ShardMeta, ShardRun};
pub use spec::TargetSpec;
pub use target::{resolve_target, Target, STOP_GRACE};

/// Why a run could not start or finish; each names the flag (or setting),
/// file or URL at fault.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A setting has a bad value, or settings disagree. `flag` names it as
    /// the command line spells it.
    #[error("{flag}: {reason}")]
    BadSetting { flag: String, reason: String },
    /// The tokenizer did not load.
    #[error(transparent)]
    Tokenizer(#[from] crate::workload::TokenizerError),
    /// Prompts could not be built.
    #[error(transparent)]
    Prompt(#[from] crate::workload::PromptError),
    /// Unknown backend.
    #[error(transparent)]
    Backend(#[from] crate::backend::UnknownBackend),
    /// The embedded simulator did not start or its settings are bad.
    #[error(transparent)]
    Sim(#[from] crate::sim::SimError),
    /// The endpoint failed the check made before any load.
    #[error("preflight {url}: {reason}")]
    Preflight { url: String, reason: String },
    /// The HTTP client could not be built.
    #[error(transparent)]
    Client(#[from] crate::load::ClientError),
    /// A dataset could not be loaded.
    #[error(transparent)]
    Dataset(Box<crate::workload::DatasetError>),
    /// The trace cannot be read or its prompts built.
    #[error(transparent)]
    Trace(Box<crate::workload::TraceError>),
    /// Synthetic requests could not be generated.
    #[error(transparent)]
    Generate(Box<crate::workload::GenerateError>),
    /// An arrival schedule could not be drawn.
    #[error("--request-rate: {0}")]
    Schedule(#[from] crate::load::ScheduleError),
    /// The records file could not be read back once the load ended.
    #[error(transparent)]
    Records(Box<crate::baseline::BaselineError>),
    /// The records file or `meta.json` could not be written.
    #[error("cannot write {path}: {reason}")]
    Write { path: String, reason: String },
}

impl From<crate::workload::TraceError> for RunError {
    fn from(e: crate::workload::TraceError) -> Self {
        RunError::Trace(Box::new(e))
    }
}

impl From<crate::workload::DatasetError> for RunError {
    fn from(e: crate::workload::DatasetError) -> Self {
        RunError::Dataset(Box::new(e))
    }
}

impl From<crate::workload::GenerateError> for RunError {
    fn from(e: crate::workload::GenerateError) -> Self {
        RunError::Generate(Box::new(e))
    }
}

impl RunError {
    pub(crate) fn write(path: &std::path::Path, e: impl std::fmt::Display) -> Self {
        RunError::Write {
            path: path.display().to_string(),
            reason: e.to_string(),
        }
    }
}
