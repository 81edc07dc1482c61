//! Per-request records and their aggregation into summary figures.

mod record;

pub use record::{Failure, FailureKind, RequestRecord, ServerLatency};
