//! The capacity search of `servebench capacity`: the highest request rate
//! (open loop) or concurrency (closed loop) at which the SLOs hold, as an
//! interval.
//!
//! The algorithm:
//!
//! 1. **Bracket.** Probe `min`, then grow the load geometrically (`× growth`)
//!    until a probe fails, or `max` has been probed.
//! 2. **Bisect.** Probe the middle of `[highest passing, lowest failing]`
//!    until its width is at most `precision × highest passing` (or one step
//!    of concurrency). A probe left uncertain lies inside the interval: it
//!    is not evidence that the SLOs fail there, so it does not end the
//!    interval, and the two gaps on either side of the uncertain probes are
//!    bisected instead, each to the precision.
//! 3. **Confirm.** Replicate both ends of the interval to `boundary_epochs`
//!    epochs. An end whose verdict flips moves the interval and the search
//!    resumes at step 2 (or 1 when nothing above fails any more).
//!
//! Each probe is one point run by the one engine ([`super::execute`]), one
//! epoch at a time. After `epochs` epochs it is judged: each objective's
//! per-epoch figure (the goodput ratio, a percentile) gets a two-sided
//! interval across epochs ([`crate::stats::mean_interval`]); the probe
//! **passes** when every interval lies on the passing side, **fails** when one
//! lies wholly on the failing side, and is **uncertain** otherwise, in which
//! case it gets one more epoch at a time, up to `max_epochs`; a probe still
//! uncertain then counts as not passing. An open-loop epoch in which the
//! requests in flight and the TTFT kept growing is over-saturated
//! ([`crate::metrics::capacity::saturation`]): the probe fails at once with
//! the reason "saturated", without its remaining epochs.
//!
//! The capacity is `[lo, hi]`: the highest load judged passing and the
//! lowest load above it judged failing, with a point estimate where the
//! objectives' margin crosses zero between them. Each end is a one-sided
//! decision at `(1 + confidence) / 2`, so the capacity (the load where the
//! expected figures meet the objectives) lies inside with about
//! `confidence`; `coverage.rs` measures it on a synthetic server. Only when
//! no probe up to `max` failed, or the search was stopped, is `hi` a probe
//! left uncertain (and the result says so).

mod engine;
mod search;

pub use engine::{find_capacity, EngineProber};
pub use search::{judge, search, Prober, SearchOutcome};

use super::RunError;
use crate::metrics::capacity::{CapacityMode, CapacitySlo};

/// The settings of a capacity search.
#[derive(Debug, Clone, PartialEq)]
pub struct CapacitySearch {
    pub mode: CapacityMode,
    pub slo: CapacitySlo,
    /// First load probed (req/s, or concurrency).
    pub min: f64,
    /// Highest load probed.
    pub max: f64,
    /// Factor between bracketing probes (> 1).
    pub growth: f64,
    /// Bisection stops when `hi - lo <= precision × lo`.
    pub precision: f64,
    /// Epochs of each probe before it is judged (at least 2).
    pub epochs: u32,
    /// Epochs an uncertain probe may grow to.
    pub max_epochs: u32,
    /// Epochs of the two probes at the boundary, once bisection ends.
    pub boundary_epochs: u32,
    /// Two-sided confidence level of each probe's intervals.
    pub confidence: f64,
    /// Most distinct loads probed.
    pub max_probes: usize,
}

impl CapacitySearch {
    /// A search of `mode` for `slo`: from 1 to 1024, doubling, 10 %
    /// precision, 3 epochs a probe (up to 6 when uncertain), 5 at the
    /// boundary, 95 % intervals, at most 30 probes.
    pub fn new(mode: CapacityMode, slo: CapacitySlo) -> Self {
        CapacitySearch {
            mode,
            slo,
            min: 1.0,
            max: 1024.0,
            growth: 2.0,
            precision: 0.1,
            epochs: 3,
            max_epochs: 6,
            boundary_epochs: 5,
            confidence: 0.95,
            max_probes: 30,
        }
    }

    /// Check every setting; errors name the command line's flag.
    pub fn validate(&self) -> Result<(), RunError> {
        let bad = |flag: &str, reason: String| RunError::BadSetting {
            flag: flag.into(),
            reason,
        };
        let s = &self.slo;
        if s.per_request.is_empty() && s.percentiles.is_empty() {
            return Err(bad(
                "--slo",
                "give at least one objective, e.g. ttft:500,tpot:50 or e2el_p99:3000".into(),
            ));
        }
        if !(s.goodput_ratio > 0.0 && s.goodput_ratio <= 1.0) {
            return Err(bad(
                "--goodput-ratio",
                format!("{} is not a fraction in (0, 1]", s.goodput_ratio),
            ));
        }
        if !(self.min.is_finite() && self.min > 0.0) {
            return Err(bad(
                "--min",
                format!("{} is not a positive number", self.min),
            ));
        }
        if !(self.max.is_finite() && self.max >= self.min) {
            return Err(bad(
                "--max",
                format!(
                    "{} must be a number at least --min ({})",
                    self.max, self.min
                ),
            ));
        }
        if self.mode == CapacityMode::Concurrency {
            for (flag, v) in [("--min", self.min), ("--max", self.max)] {
                if v.fract() != 0.0 {
                    return Err(bad(
                        flag,
                        format!("{v}: a concurrency is a whole number of requests"),
                    ));
                }
            }
        }
        if !(self.growth.is_finite() && self.growth > 1.0) {
            return Err(bad(
                "--growth",
                format!("{} is not a factor above 1", self.growth),
            ));
        }
        if !(self.precision > 0.0 && self.precision < 1.0) {
            return Err(bad(
                "--precision",
                format!(
                    "{} is not a relative width in (0, 1), e.g. 0.1",
                    self.precision
                ),
            ));
        }
        if self.epochs < 2 {
            return Err(bad(
                "--epochs",
                format!(
                    "{}: a probe needs at least 2 epochs for an interval across epochs",
                    self.epochs
                ),
            ));
        }
        if self.max_epochs < self.epochs {
            return Err(bad(
                "--max-epochs",
                format!("{} is below --epochs ({})", self.max_epochs, self.epochs),
            ));
        }
        if self.boundary_epochs < self.epochs {
            return Err(bad(
                "--boundary-epochs",
                format!(
                    "{} is below --epochs ({})",
                    self.boundary_epochs, self.epochs
                ),
            ));
        }
        if !(self.confidence > 0.0 && self.confidence < 1.0) {
            return Err(bad(
                "--confidence-level",
                format!("{} is not a fraction in (0, 1)", self.confidence),
            ));
        }
        if self.max_probes < 2 {
            return Err(bad("--max-probes", "must be at least 2".into()));
        }
        Ok(())
    }

    /// Whether the gap `[a, b]` of an interval whose passing end is `lo`
    /// is narrow enough: at most `precision × lo` (or one step of
    /// concurrency).
    fn converged_at(&self, lo: f64, a: f64, b: f64) -> bool {
        b - a <= self.precision * lo || (self.mode == CapacityMode::Concurrency && b - a <= 1.0)
    }

    fn mid(&self, lo: f64, hi: f64) -> f64 {
        match self.mode {
            CapacityMode::Rate => (lo + hi) / 2.0,
            CapacityMode::Concurrency => ((lo + hi) / 2.0).floor(),
        }
    }

    fn grow(&self, x: f64) -> f64 {
        let next = match self.mode {
            CapacityMode::Rate => x * self.growth,
            CapacityMode::Concurrency => (x * self.growth).ceil().max(x + 1.0),
        };
        next.min(self.max)
    }
}

#[cfg(test)]
mod coverage;
#[cfg(test)]
mod tests;
