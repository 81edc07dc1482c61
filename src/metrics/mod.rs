//! Per-request records and their aggregation into summary figures.

mod aggregate;
mod record;
mod run;

pub use aggregate::{
    failure_counts, summarize, wall_time_s, EpochFigures, PointSummary, ServerMeans, Slo,
    DEFAULT_PERCENTILES,
};
pub use record::{Failure, FailureKind, RequestRecord, ServerLatency, MAX_CHUNK_TOKENS};
pub use run::{
    unix_now_s, ClientLoad, EarlyStop, ImageInfo, PointData, PointLabel, Rate, RunData, RunKind,
    RunMeta,
};
