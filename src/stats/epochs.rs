//! What a metric measured, epoch by epoch, and how one epoch becomes one
//! figure: the input of every bootstrap and comparison in `stats`.
//!
//! The unit of replication is the **epoch**: requests inside one epoch share a
//! server state, so they are not independent. Each epoch is turned into one
//! *epoch figure* (its median TTFT, its p99 ITL, its throughput...) and the
//! metric's estimate is the mean of the epoch figures.

use rand::rngs::SmallRng;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use super::summary::percentile;

/// Which way is good for a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Latencies: an increase is a regression.
    LowerIsBetter,
    /// Throughputs: a decrease is a regression.
    HigherIsBetter,
}

/// Turns the per-request values of one epoch into the epoch's figure.
///
/// Values are handed over **sorted ascending**, so
/// `|s: &[f64]| percentile(s, 75.0).unwrap()` is a statistic. Any
/// `Fn(&[f64]) -> f64 + Sync` closure is one; [`EpochStatistic`] covers the
/// usual figures and is faster inside the bootstrap.
pub trait Statistic: Sync {
    /// The figure of one epoch, from its (non-empty) values in ascending order.
    fn of_sorted(&self, sorted: &[f64]) -> f64;

    /// The figure of a bootstrap resample of `sorted` in which `sorted[i]` was
    /// drawn `counts[i]` times (the counts sum to `sorted.len()`).
    ///
    /// The default expands the resample into `scratch` (which stays sorted)
    /// and calls [`Statistic::of_sorted`]; override it to skip the expansion.
    fn of_resample(&self, sorted: &[f64], counts: &[u32], scratch: &mut Vec<f64>) -> f64 {
        scratch.clear();
        for (&v, &c) in sorted.iter().zip(counts) {
            scratch.extend(std::iter::repeat_n(v, c as usize));
        }
        self.of_sorted(scratch)
    }
}

impl<F: Fn(&[f64]) -> f64 + Sync> Statistic for F {
    fn of_sorted(&self, sorted: &[f64]) -> f64 {
        self(sorted)
    }
}

/// The usual epoch figures. Percentiles use linear interpolation between
/// order statistics (numpy's default), as [`percentile`] does.
///
/// ```
/// use servebench::stats::{EpochStatistic, Statistic};
/// let sorted = [1.0, 2.0, 3.0, 4.0];
/// assert_eq!(EpochStatistic::Mean.of_sorted(&sorted), 2.5);
/// assert_eq!(EpochStatistic::Median.of_sorted(&sorted), 2.5);
/// assert_eq!(EpochStatistic::Max.of_sorted(&sorted), 4.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EpochStatistic {
    Mean,
    Median,
    /// The `p`-th percentile, `0..=100` (e.g. `Percentile(99.0)`).
    Percentile(f64),
    Min,
    Max,
}

impl Statistic for EpochStatistic {
    fn of_sorted(&self, sorted: &[f64]) -> f64 {
        match *self {
            EpochStatistic::Mean => sorted.iter().sum::<f64>() / sorted.len() as f64,
            EpochStatistic::Median => percentile(sorted, 50.0).unwrap_or(f64::NAN),
            EpochStatistic::Percentile(p) => percentile(sorted, p).unwrap_or(f64::NAN),
            EpochStatistic::Min => sorted.first().copied().unwrap_or(f64::NAN),
            EpochStatistic::Max => sorted.last().copied().unwrap_or(f64::NAN),
        }
    }

    /// Reads the figure straight off the counts: O(n), no sort, no expansion.
    fn of_resample(&self, sorted: &[f64], counts: &[u32], _: &mut Vec<f64>) -> f64 {
        let n = sorted.len();
        let p = match *self {
            EpochStatistic::Mean => return weighted_sum(sorted, counts) / n as f64,
            EpochStatistic::Median => 50.0,
            EpochStatistic::Percentile(p) => p.clamp(0.0, 100.0),
            EpochStatistic::Min => 0.0,
            EpochStatistic::Max => 100.0,
        };
        // Same arithmetic as `percentile`, on the expanded resample.
        let rank = p / 100.0 * (n - 1) as f64;
        let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
        let (vlo, vhi) = order_stats(sorted, counts, lo, hi);
        vlo + (vhi - vlo) * (rank - lo as f64)
    }
}

/// `sum(values[i] * counts[i])`, with four running sums so that the adds
/// do not wait on each other.
fn weighted_sum(values: &[f64], counts: &[u32]) -> f64 {
    let mut acc = [0.0f64; 4];
    let (v4, c4) = (values.chunks_exact(4), counts.chunks_exact(4));
    let tail: f64 = v4
        .remainder()
        .iter()
        .zip(c4.remainder())
        .map(|(v, &c)| v * c as f64)
        .sum();
    for (v, c) in v4.zip(c4) {
        for k in 0..4 {
            acc[k] += v[k] * c[k] as f64;
        }
    }
    acc.iter().sum::<f64>() + tail
}

/// The values at positions `lo <= hi` of the expanded (sorted) resample,
/// scanning from whichever end is nearer.
fn order_stats(sorted: &[f64], counts: &[u32], lo: usize, hi: usize) -> (f64, f64) {
    let n = sorted.len();
    let mut seen = 0usize;
    let mut first = None;
    if lo < n / 2 {
        for (&v, &c) in sorted.iter().zip(counts) {
            seen += c as usize;
            if first.is_none() && seen > lo {
                first = Some(v);
            }
            if seen > hi {
                return (first.unwrap_or(v), v);
            }
        }
    } else {
        let (top_hi, top_lo) = (n - 1 - hi, n - 1 - lo);
        for (&v, &c) in sorted.iter().zip(counts).rev() {
            seen += c as usize;
            if first.is_none() && seen > top_hi {
                first = Some(v);
            }
            if seen > top_lo {
                return (v, first.unwrap_or(v));
            }
        }
    }
    unreachable!("counts must sum to the number of values")
}

/// One side's measurements of one metric, as the bootstrap resamples them.
///
/// ```
/// use servebench::stats::{EpochStatistic, Epochs};
/// let ttft_ms = vec![vec![10.0, 12.0, 11.0], vec![13.0, 9.0, 12.0]];
/// let median_ttft = Epochs::Requests(&ttft_ms, &EpochStatistic::Median);
/// assert_eq!(median_ttft.figures(), vec![11.0, 12.0]);
/// let throughput = Epochs::Figures(&[101.0, 99.0]);
/// assert_eq!(throughput.figures(), vec![101.0, 99.0]);
/// ```
#[derive(Clone, Copy)]
pub enum Epochs<'a> {
    /// Per-request values of each epoch and the statistic that makes an
    /// epoch's figure from them. Resampled at two levels: epochs, then
    /// requests within each chosen epoch. Empty epochs are ignored.
    Requests(&'a [Vec<f64>], &'a dyn Statistic),
    /// One figure per epoch (throughput, goodput): epochs are resampled.
    Figures(&'a [f64]),
}

impl Epochs<'_> {
    /// The observed figure of each (non-empty) epoch.
    pub fn figures(&self) -> Vec<f64> {
        Resampler::new(self).figures()
    }
}

/// Per-thread buffers of the resampling loop, reused across resamples.
#[derive(Default)]
pub(crate) struct Scratch {
    counts: Vec<u32>,
    expanded: Vec<f64>,
}

/// [`Epochs`] prepared for resampling: empty epochs dropped, values sorted.
pub(crate) enum Resampler<'a> {
    Requests(Vec<Vec<f64>>, &'a dyn Statistic),
    Figures(&'a [f64]),
}

impl<'a> Resampler<'a> {
    pub(crate) fn new(epochs: &Epochs<'a>) -> Self {
        match *epochs {
            Epochs::Requests(values, statistic) => {
                let sorted = values
                    .iter()
                    .filter(|e| !e.is_empty())
                    .map(|e| {
                        let mut e = e.clone();
                        e.sort_unstable_by(f64::total_cmp);
                        e
                    })
                    .collect();
                Resampler::Requests(sorted, statistic)
            }
            Epochs::Figures(figures) => Resampler::Figures(figures),
        }
    }

    /// Number of usable epochs.
    pub(crate) fn len(&self) -> usize {
        match self {
            Resampler::Requests(e, _) => e.len(),
            Resampler::Figures(f) => f.len(),
        }
    }

    pub(crate) fn figures(&self) -> Vec<f64> {
        match self {
            Resampler::Requests(e, s) => e.iter().map(|v| s.of_sorted(v)).collect(),
            Resampler::Figures(f) => f.to_vec(),
        }
    }

    /// The mean of the epoch figures of one bootstrap resample. Requires at
    /// least one epoch.
    pub(crate) fn resample_mean(&self, rng: &mut SmallRng, scratch: &mut Scratch) -> f64 {
        let k = self.len();
        let mut sum = 0.0;
        match self {
            Resampler::Figures(f) => {
                for _ in 0..k {
                    sum += f[index(rng.next_u32(), k)];
                }
            }
            Resampler::Requests(epochs, statistic) => {
                for _ in 0..k {
                    let epoch = &epochs[index(rng.next_u32(), k)];
                    let counts = draw_counts(epoch.len(), rng, &mut scratch.counts);
                    sum += statistic.of_resample(epoch, counts, &mut scratch.expanded);
                }
            }
        }
        sum / k as f64
    }
}

/// Draws `n` indices out of `0..n` with replacement and returns how many
/// times each was drawn. Two indices per 64-bit draw.
fn draw_counts<'b>(n: usize, rng: &mut SmallRng, counts: &'b mut Vec<u32>) -> &'b [u32] {
    counts.clear();
    counts.resize(n, 0);
    for _ in 0..n / 2 {
        let x = rng.next_u64();
        counts[index(x as u32, n)] += 1;
        counts[index((x >> 32) as u32, n)] += 1;
    }
    if n % 2 == 1 {
        counts[index(rng.next_u32(), n)] += 1;
    }
    counts
}

/// A uniform index in `0..n` from 32 random bits by multiply-shift
/// (Lemire). The bias, at most `n / 2^32`, is far below bootstrap noise.
#[inline]
fn index(bits: u32, n: usize) -> usize {
    ((bits as u64 * n as u64) >> 32) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn resample_statistics_match_the_expanded_resample() {
        let mut rng = SmallRng::seed_from_u64(7);
        let stats = [
            EpochStatistic::Mean,
            EpochStatistic::Median,
            EpochStatistic::Percentile(99.0),
            EpochStatistic::Percentile(10.0),
            EpochStatistic::Percentile(0.0),
            EpochStatistic::Min,
            EpochStatistic::Max,
        ];
        let mut scratch = Vec::new();
        for n in [1usize, 2, 3, 10, 101] {
            let mut sorted: Vec<f64> = (0..n).map(|_| rng.next_u32() as f64 / 1e6).collect();
            sorted.sort_by(f64::total_cmp);
            for _ in 0..50 {
                let mut counts = Vec::new();
                let counts = draw_counts(n, &mut rng, &mut counts).to_vec();
                assert_eq!(counts.iter().sum::<u32>() as usize, n);
                for s in stats {
                    let fast = s.of_resample(&sorted, &counts, &mut scratch);
                    let closure = |v: &[f64]| s.of_sorted(v);
                    let slow = closure.of_resample(&sorted, &counts, &mut scratch);
                    assert!(
                        (fast - slow).abs() <= 1e-9 * slow.abs().max(1.0),
                        "{s:?} n={n}"
                    );
                }
            }
        }
    }

    #[test]
    fn empty_epochs_are_ignored() {
        let values = vec![vec![], vec![3.0, 1.0, 2.0], vec![]];
        let e = Epochs::Requests(&values, &EpochStatistic::Median);
        assert_eq!(e.figures(), vec![2.0]);
        let p99 = |s: &[f64]| percentile(s, 99.0).unwrap();
        assert!((Epochs::Requests(&values, &p99).figures()[0] - 2.98).abs() < 1e-12);
    }
}
