//! Change of one metric against a baseline: relative change, bootstrap
//! interval, p-value and a Criterion-style verdict.

use serde::{Deserialize, Serialize};

use super::bootstrap::{percentile_interval, resample, DEFAULT_NRESAMPLES};
use super::epochs::{Direction, Epochs, Resampler};
use super::significance::{two_sample_p, TestMethod};

/// How a comparison is drawn and judged.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CompareConfig {
    /// Confidence level of the interval of the change.
    pub confidence: f64,
    /// A change is significant when its p-value is below this.
    pub significance: f64,
    /// Relative changes whose whole interval stays inside
    /// `±noise_threshold` are "within noise" (0.02 = 2 %).
    pub noise_threshold: f64,
    /// Bootstrap resamples of the change.
    pub nresamples: usize,
    /// Fewer usable epochs than this on either side is [`Verdict::Inconclusive`].
    pub min_epochs: usize,
    pub seed: u64,
}

impl Default for CompareConfig {
    fn default() -> Self {
        CompareConfig {
            confidence: 0.95,
            significance: 0.05,
            noise_threshold: 0.02,
            nresamples: DEFAULT_NRESAMPLES,
            min_epochs: 3,
            seed: 0,
        }
    }
}

/// What a comparison concludes, worded as Criterion does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Significant, and the whole interval lies beyond the noise threshold
    /// on the bad side.
    Regressed,
    /// Significant, and the whole interval lies beyond the noise threshold
    /// on the good side.
    Improved,
    /// "Change within noise threshold": significant, but the interval
    /// reaches inside `±noise_threshold`.
    WithinNoise,
    /// "No change in performance detected": not significant.
    NoChange,
    /// Too few epochs on a side to judge: never a pass dressed as a result.
    Inconclusive,
}

impl Verdict {
    /// The phrase a report shows.
    pub fn phrase(self) -> &'static str {
        match self {
            Verdict::Regressed => "Performance has regressed.",
            Verdict::Improved => "Performance has improved.",
            Verdict::WithinNoise => "Change within noise threshold.",
            Verdict::NoChange => "No change in performance detected.",
            Verdict::Inconclusive => "Inconclusive: too few epochs to judge.",
        }
    }
}

/// One metric compared with its baseline. Non-finite numbers (the relative
/// change from a zero baseline, the estimates of an empty side) are written
/// to JSON as the strings `"inf"`, `"-inf"` and `"NaN"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub direction: Direction,
    /// Mean of the baseline's epoch figures.
    #[serde(with = "nonfinite")]
    pub base_estimate: f64,
    /// Mean of the new run's epoch figures.
    #[serde(with = "nonfinite")]
    pub new_estimate: f64,
    pub base_epochs: usize,
    pub new_epochs: usize,
    /// `(new - base) / |base|`, i.e. `new / base - 1` for a positive baseline;
    /// 0 when both are 0, ±inf when only the baseline is.
    #[serde(with = "nonfinite")]
    pub rel_change: f64,
    /// Bootstrap percentile interval of `rel_change`, both sides resampled
    /// independently at two levels.
    #[serde(with = "nonfinite")]
    pub ci_low: f64,
    #[serde(with = "nonfinite")]
    pub ci_high: f64,
    pub confidence: f64,
    /// Two-sided p-value of the epoch figures' means being equal.
    pub p_value: f64,
    pub test: TestMethod,
    /// Holm-adjusted p-value, when this metric was judged as one of a
    /// family (see [`crate::stats::apply_holm`]); the verdict then uses it.
    pub p_adjusted: Option<f64>,
    pub significance: f64,
    pub noise_threshold: f64,
    pub verdict: Verdict,
}

impl Comparison {
    /// The p-value the verdict rests on: the adjusted one if any.
    pub fn p_used(&self) -> f64 {
        self.p_adjusted.unwrap_or(self.p_value)
    }

    /// The verdict for a significance decision, given this comparison's
    /// interval, direction and noise threshold (Inconclusive stays so).
    pub(crate) fn judge(&self, significant: bool) -> Verdict {
        if self.verdict == Verdict::Inconclusive {
            return Verdict::Inconclusive;
        }
        if !significant {
            return Verdict::NoChange;
        }
        let (worse, better) = match self.direction {
            Direction::LowerIsBetter => (Verdict::Regressed, Verdict::Improved),
            Direction::HigherIsBetter => (Verdict::Improved, Verdict::Regressed),
        };
        if self.ci_low > self.noise_threshold {
            worse
        } else if self.ci_high < -self.noise_threshold {
            better
        } else {
            Verdict::WithinNoise
        }
    }
}

/// `(new - base) / |base|`; 0 when both are 0, ±inf when only `base` is.
pub fn relative_change(base: f64, new: f64) -> f64 {
    if base == 0.0 {
        if new == 0.0 {
            0.0
        } else {
            new.signum() * f64::INFINITY
        }
    } else {
        (new - base) / base.abs()
    }
}

/// Compares one metric of a new run with its baseline.
///
/// The estimate of each side is the mean of its epoch figures; the p-value
/// is Welch's t-test on the epoch figures (a permutation test where Welch's
/// is undefined, see [`two_sample_p`]); the interval of the relative change
/// comes from resampling both sides independently (epochs, then requests).
///
/// ```
/// use servebench::stats::{compare, CompareConfig, Direction, EpochStatistic, Epochs, Verdict};
/// let base: Vec<Vec<f64>> = (0..5).map(|e| vec![100.0 + e as f64, 101.0, 99.0]).collect();
/// let new: Vec<Vec<f64>> = (0..5).map(|e| vec![110.0 + e as f64, 111.0, 109.0]).collect();
/// let cfg = CompareConfig { nresamples: 2_000, ..Default::default() };
/// let c = compare(
///     &Epochs::Requests(&base, &EpochStatistic::Median),
///     &Epochs::Requests(&new, &EpochStatistic::Median),
///     Direction::LowerIsBetter,
///     &cfg,
/// );
/// assert_eq!(c.verdict, Verdict::Regressed);
/// assert!((c.rel_change - 0.1).abs() < 0.01);
/// ```
pub fn compare(
    base: &Epochs<'_>,
    new: &Epochs<'_>,
    direction: Direction,
    cfg: &CompareConfig,
) -> Comparison {
    let (base, new) = (Resampler::new(base), Resampler::new(new));
    let (base_figs, new_figs) = (base.figures(), new.figures());
    let mean = |f: &[f64]| f.iter().sum::<f64>() / f.len() as f64;
    let (base_estimate, new_estimate) = (mean(&base_figs), mean(&new_figs));
    let rel_change = relative_change(base_estimate, new_estimate);
    let (p_value, test) = two_sample_p(&base_figs, &new_figs, cfg.seed);
    let (ci_low, ci_high) = if base_figs.is_empty() || new_figs.is_empty() {
        (f64::NAN, f64::NAN)
    } else {
        let reps = resample(cfg.nresamples, cfg.seed, |rng, scratch| {
            let b = base.resample_mean(rng, scratch);
            relative_change(b, new.resample_mean(rng, scratch))
        });
        percentile_interval(reps, cfg.confidence).unwrap_or((rel_change, rel_change))
    };
    let enough = base_figs.len().min(new_figs.len()) >= cfg.min_epochs.max(1);
    let mut c = Comparison {
        direction,
        base_estimate,
        new_estimate,
        base_epochs: base_figs.len(),
        new_epochs: new_figs.len(),
        rel_change,
        ci_low,
        ci_high,
        confidence: cfg.confidence,
        p_value,
        test,
        p_adjusted: None,
        significance: cfg.significance,
        noise_threshold: cfg.noise_threshold,
        verdict: if enough {
            Verdict::NoChange
        } else {
            Verdict::Inconclusive
        },
    };
    c.verdict = c.judge(p_value < cfg.significance);
    c
}

/// Serde for `f64` that keeps non-finite values (JSON has no inf or NaN).
mod nonfinite {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
        match *x {
            x if x.is_finite() => s.serialize_f64(x),
            x if x.is_nan() => s.serialize_str("NaN"),
            x if x > 0.0 => s.serialize_str("inf"),
            _ => s.serialize_str("-inf"),
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Num(f64),
        Text(String),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        match Repr::deserialize(d)? {
            Repr::Num(x) => Ok(x),
            Repr::Text(t) => match t.as_str() {
                "NaN" => Ok(f64::NAN),
                "inf" => Ok(f64::INFINITY),
                "-inf" => Ok(f64::NEG_INFINITY),
                other => Err(serde::de::Error::custom(format!("not a number: {other:?}"))),
            },
        }
    }
}

#[cfg(test)]
mod tests;
