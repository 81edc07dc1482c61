//! The statistics of a capacity search: the interval of a figure's mean
//! over a probe's epochs, on which side of an objective it lies, and how
//! two capacity intervals compare. Slices in, numbers out.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

/// Where a probe's figure lies against its objective.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The whole interval is on the passing side.
    Pass,
    /// The whole interval is on the failing side.
    Fail,
    /// The interval straddles the objective: more epochs are needed.
    Uncertain,
}

/// The mean of one figure over epochs with its two-sided interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MeanInterval {
    pub mean: f64,
    /// Lower end (`-inf` when no interval can be formed).
    pub lo: f64,
    /// Upper end (`+inf` when no interval can be formed).
    pub hi: f64,
    /// Epochs behind it.
    pub n: usize,
}

/// The two-sided `confidence` interval of the mean of `values` (one figure
/// per epoch): Student's t with `n - 1` degrees of freedom on the epochs'
/// standard error, and never narrower than `z * floor_se` (a standard error
/// known from elsewhere, e.g. the binomial one of a proportion, with the
/// normal quantile `z`). With one epoch and no floor, or no value, the
/// interval is unbounded.
///
/// ```
/// use servebench::stats::mean_interval;
/// let iv = mean_interval(&[1.0, 2.0, 3.0], 0.95, 0.0).unwrap();
/// // mean 2, sd 1, t(2; 0.975) = 4.303
/// assert!((iv.hi - 2.0 - 4.303 / 3f64.sqrt()).abs() < 1e-3);
/// ```
pub fn mean_interval(values: &[f64], confidence: f64, floor_se: f64) -> Option<MeanInterval> {
    let n = values.len();
    if n == 0 || values.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let tail = 1.0 - (1.0 - confidence) / 2.0;
    let z = Normal::new(0.0, 1.0).ok()?.inverse_cdf(tail);
    let floor = z * floor_se.max(0.0);
    let half = if n >= 2 {
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let t = StudentsT::new(0.0, 1.0, (n - 1) as f64)
            .ok()?
            .inverse_cdf(tail);
        (t * (var / n as f64).sqrt()).max(floor)
    } else if floor > 0.0 {
        floor
    } else {
        f64::INFINITY
    };
    Some(MeanInterval {
        mean,
        lo: mean - half,
        hi: mean + half,
        n,
    })
}

/// The binomial standard error of a proportion of `good` out of `sent`
/// trials, with the Jeffreys-style estimate `(good + 0.5) / (sent + 1)`
/// so that an all-good (or all-bad) sample still has some uncertainty.
pub fn proportion_se(good: usize, sent: usize) -> f64 {
    if sent == 0 {
        return f64::INFINITY;
    }
    let p = (good as f64 + 0.5) / (sent as f64 + 1.0);
    (p * (1.0 - p) / sent as f64).sqrt()
}

/// Side of an objective that must be at least `target` (a goodput ratio).
pub fn side_at_least(iv: &MeanInterval, target: f64) -> Side {
    if iv.lo >= target {
        Side::Pass
    } else if iv.hi < target {
        Side::Fail
    } else {
        Side::Uncertain
    }
}

/// Side of an objective that must be at most `limit` (a latency
/// percentile).
pub fn side_at_most(iv: &MeanInterval, limit: f64) -> Side {
    if iv.hi <= limit {
        Side::Pass
    } else if iv.lo > limit {
        Side::Fail
    } else {
        Side::Uncertain
    }
}

/// Every objective together: fails when one fails clearly, passes when all
/// pass clearly, uncertain otherwise.
pub fn combine(sides: impl IntoIterator<Item = Side>) -> Side {
    let mut all_pass = true;
    for s in sides {
        match s {
            Side::Fail => return Side::Fail,
            Side::Uncertain => all_pass = false,
            Side::Pass => {}
        }
    }
    if all_pass {
        Side::Pass
    } else {
        Side::Uncertain
    }
}

/// A new capacity against a baseline's, each an interval `[lo, hi]`
/// (`hi` infinite when the search never found a failing load).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CapacityChange {
    /// The new interval lies wholly below the baseline's.
    Regressed,
    /// The new interval lies wholly above the baseline's.
    Improved,
    /// The intervals overlap, and the largest drop they allow (the new
    /// interval's low end against the baseline's high end) is within the
    /// noise threshold.
    NoChange,
    /// The intervals overlap and allow a drop beyond the noise threshold:
    /// the data cannot tell them apart.
    Inconclusive,
}

impl CapacityChange {
    /// Words for the terminal.
    pub fn phrase(self) -> &'static str {
        match self {
            CapacityChange::Regressed => "regressed",
            CapacityChange::Improved => "improved",
            CapacityChange::NoChange => "no change (within the noise threshold)",
            CapacityChange::Inconclusive => "inconclusive (the intervals overlap)",
        }
    }
}

/// Judge `new = [lo, hi]` against `base = [lo, hi]` with a relative
/// `noise_threshold`. The change lies in `[new.lo / base.hi - 1, new.hi /
/// base.lo - 1]`: regressed when the new interval lies wholly below the
/// baseline's (touching counts: the new one failed at a load the baseline
/// passed) and the drop is at least the threshold even at its smallest;
/// improved likewise above; no change when the largest drop the intervals
/// allow is within the threshold; inconclusive otherwise.
///
/// ```
/// use servebench::stats::{compare_capacity, CapacityChange};
/// assert_eq!(compare_capacity((10.0, 12.0), (6.0, 8.0), 0.0), CapacityChange::Regressed);
/// assert_eq!(compare_capacity((10.0, 12.0), (11.0, 13.0), 0.0), CapacityChange::Inconclusive);
/// assert_eq!(compare_capacity((10.0, 12.0), (11.0, 13.0), 0.1), CapacityChange::NoChange);
/// assert_eq!(compare_capacity((10.0, 12.0), (12.0, f64::INFINITY), 0.0), CapacityChange::Improved);
/// // Touching intervals, a 10 % threshold: the drop may be nil.
/// assert_eq!(compare_capacity((10.0, 11.0), (9.0, 10.0), 0.1), CapacityChange::Inconclusive);
/// ```
pub fn compare_capacity(base: (f64, f64), new: (f64, f64), noise_threshold: f64) -> CapacityChange {
    let t = noise_threshold;
    if new.1 <= base.0 && new.1 / base.0 - 1.0 <= -t {
        CapacityChange::Regressed
    } else if new.0 >= base.1 && new.0 / base.1 - 1.0 >= t {
        CapacityChange::Improved
    } else if base.1.is_finite() && new.0 / base.1 - 1.0 >= -t {
        CapacityChange::NoChange
    } else {
        CapacityChange::Inconclusive
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_covers_and_judges() {
        let iv = mean_interval(&[0.99, 0.98, 1.0], 0.95, 0.0).unwrap();
        assert!(iv.lo < 0.99 && iv.hi > 0.99);
        assert_eq!(side_at_least(&iv, 0.9), Side::Pass);
        assert_eq!(side_at_least(&iv, 0.995), Side::Uncertain);
        assert_eq!(side_at_least(&iv, 1.2), Side::Fail);
        // One epoch without a floor: no interval, never a clear verdict.
        let one = mean_interval(&[5.0], 0.95, 0.0).unwrap();
        assert_eq!(side_at_most(&one, 100.0), Side::Uncertain);
        // The floor keeps identical epochs from a zero-width interval.
        let same = mean_interval(&[1.0, 1.0], 0.95, proportion_se(50, 50)).unwrap();
        assert!(same.lo < 1.0 && same.lo > 0.95, "{same:?}");
        assert!(mean_interval(&[], 0.95, 0.0).is_none());
    }

    #[test]
    fn combine_fails_on_any_failure() {
        assert_eq!(combine([Side::Pass, Side::Pass]), Side::Pass);
        assert_eq!(combine([Side::Pass, Side::Uncertain]), Side::Uncertain);
        assert_eq!(combine([Side::Uncertain, Side::Fail]), Side::Fail);
        assert_eq!(combine([]), Side::Pass);
    }

    #[test]
    fn capacities_compare_by_overlap() {
        let base = (10.0, 12.0);
        assert_eq!(
            compare_capacity(base, (8.0, 10.0), 0.0),
            CapacityChange::Regressed
        );
        assert_eq!(
            compare_capacity(base, (9.0, 10.5), 0.0),
            CapacityChange::Inconclusive
        );
        assert_eq!(
            compare_capacity(base, (12.5, 14.0), 0.0),
            CapacityChange::Improved
        );
        assert_eq!(
            compare_capacity((0.0, 1.0), (0.0, 1.0), 0.0),
            CapacityChange::Inconclusive
        );
    }
}
