//! A capacity against a baseline's: regressed when the new interval lies
//! wholly below the baseline's, improved when wholly above, inconclusive
//! when they overlap or the two searches are not comparable (another mode
//! or other objectives). Inconclusive is never a pass under the gate.

use serde::{Deserialize, Serialize};

use super::GateVerdict;
use crate::metrics::capacity::{num, CapacityResult};
use crate::stats::{compare_capacity, CapacityChange};

/// The comparison of two capacity searches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacityComparison {
    /// The baseline's name as given.
    pub baseline: String,
    /// `[lo, hi]` of the baseline (`hi` infinite when open).
    pub base: (f64, f64),
    /// `[lo, hi]` of the new search.
    pub new: (f64, f64),
    pub change: CapacityChange,
    /// Why the searches cannot be compared, if they cannot (then the
    /// change is inconclusive).
    pub not_comparable: Option<String>,
}

impl CapacityComparison {
    /// Compare `new` with `base`; drops within `noise_threshold` (0.1:
    /// 10 %) at most are no change.
    pub fn of(
        base: &CapacityResult,
        new: &CapacityResult,
        baseline: &str,
        noise_threshold: f64,
    ) -> Self {
        let not_comparable = if base.mode != new.mode {
            Some(format!(
                "the baseline searched the {}, the new run the {}",
                base.mode.load_name(),
                new.mode.load_name()
            ))
        } else if base.slo != new.slo {
            Some(format!(
                "other objectives: baseline `{}`, new `{}`",
                base.slo.describe(),
                new.slo.describe()
            ))
        } else {
            None
        };
        let change = match &not_comparable {
            Some(_) => CapacityChange::Inconclusive,
            None => compare_capacity(base.interval(), new.interval(), noise_threshold),
        };
        CapacityComparison {
            baseline: baseline.to_string(),
            base: base.interval(),
            new: new.interval(),
            change,
            not_comparable,
        }
    }

    /// One line, e.g. `capacity regressed: [20, 24] is wholly below the
    /// baseline's [30, 33]`.
    pub fn line(&self) -> String {
        let iv = |(lo, hi): (f64, f64)| format!("[{}, {}]", num(lo), num(hi));
        let (n, b) = (iv(self.new), iv(self.base));
        match (&self.not_comparable, self.change) {
            (Some(why), _) => format!("capacity not comparable with {}: {why}", self.baseline),
            (None, CapacityChange::Regressed) => format!(
                "capacity regressed: {n} lies wholly below {}'s {b}",
                self.baseline
            ),
            (None, CapacityChange::Improved) => format!(
                "capacity improved: {n} lies wholly above {}'s {b}",
                self.baseline
            ),
            (None, CapacityChange::NoChange) => format!(
                "capacity unchanged: {n} overlaps {}'s {b}, and the largest drop they allow \
                 is within the noise threshold",
                self.baseline
            ),
            (None, CapacityChange::Inconclusive) => format!(
                "capacity inconclusive: {n} overlaps {}'s {b}; more epochs at the boundary \
                 (--boundary-epochs; in a benchmark, Capacity::probe_epochs) or a finer \
                 precision (--precision; Capacity::precision) may separate them",
                self.baseline
            ),
        }
    }

    /// The gate's verdict: failed on a regression, inconclusive (never a
    /// pass, unless `allow_inconclusive`) on overlap, passed otherwise.
    pub fn gate(&self, allow_inconclusive: bool) -> GateVerdict {
        match self.change {
            CapacityChange::Regressed => GateVerdict::Failed { regressions: 1 },
            CapacityChange::Inconclusive if !allow_inconclusive => GateVerdict::Inconclusive {
                reasons: vec![self.line()],
            },
            _ => GateVerdict::Passed { judged: 1 },
        }
    }
}
