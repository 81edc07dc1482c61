//! Pure statistics: slices in, numbers out. No files, no clock, no requests.

mod summary;

pub use summary::{percentile, Summary};
