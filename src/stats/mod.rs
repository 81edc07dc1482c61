//! Pure statistics: slices in, numbers out. No files, no clock, no requests.

mod bootstrap;
#[cfg(test)]
mod calibration;
mod compare;
mod epochs;
mod multiple;
mod significance;
mod summary;

pub use bootstrap::{bootstrap_ci, BootstrapConfig, Estimate, DEFAULT_NRESAMPLES};
pub use compare::{compare, relative_change, CompareConfig, Comparison, Verdict};
pub use epochs::{Direction, EpochStatistic, Epochs, Statistic};
pub use multiple::{apply_holm, holm, holm_adjusted};
pub use significance::{
    permutation_test, two_sample_p, welch_t_test, TestMethod, WelchTest, PERMUTATIONS,
};
pub use summary::{percentile, Summary};
