//! Per-request records and their aggregation into summary figures.

mod aggregate;
pub mod capacity;
pub mod catalogue;
mod run;
pub mod server;
pub mod sessions;
pub mod spec;

pub use crate::record::{
    EarlyStop, Failure, FailureKind, RequestRecord, ServerLatency, MAX_CHUNK_TOKENS,
};
pub use aggregate::{
    failure_counts, summarize, summary_percentiles, wall_time_s, EpochFigures, PointSummary,
    ServerMeans, Slo, DEFAULT_PERCENTILES,
};
pub use catalogue::{Dist, MetricId};
pub use run::{
    unix_now_s, ClientLoad, ImageInfo, ImportInfo, MergeInfo, PointData, PointLabel, Rate, RunData,
    RunKind, RunMeta, ShardMeta,
};
pub use spec::SpecDecodeSummary;
