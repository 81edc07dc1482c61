//! Pure statistics: slices in, numbers out. No files, no clock, no requests.

mod bootstrap;
#[cfg(test)]
mod calibration;
#[cfg(test)]
mod calibration_runs;
mod capacity;
mod compare;
mod epochs;
mod multiple;
mod run_noise;
mod significance;
mod summary;

pub use bootstrap::{bootstrap_ci, BootstrapConfig, Estimate, DEFAULT_NRESAMPLES};
pub use capacity::{
    combine, compare_capacity, mean_interval, proportion_se, side_at_least, side_at_most,
    CapacityChange, MeanInterval, Side,
};
pub use compare::{
    compare, compare_figures, compare_paired, log_ratio, positive_mean_var, relative_change,
    CompareConfig, Comparison, LogRatio, Undecided, Verdict, MDE_POWER,
};
pub use epochs::{Direction, EpochStatistic, Epochs, Statistic};
pub use multiple::{apply_holm, apply_holm_scaled, holm, holm_adjusted};
pub use run_noise::{run_noise, RunNoise, MIN_NOISE_RUNS};
pub use significance::{
    permutation_test, two_sample_p, welch_t_test, TestMethod, WelchTest, PERMUTATIONS,
};
pub use summary::{percentile, Summary};
