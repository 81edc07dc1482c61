//! Change of one metric against a baseline: relative change, its t interval
//! on the log scale, the p-value of the same statistic, the minimum
//! detectable effect and a Criterion-style verdict.

use serde::{Deserialize, Serialize};

use statrs::distribution::{ContinuousCDF, StudentsT};

use super::bootstrap::DEFAULT_NRESAMPLES;
use super::epochs::{Direction, Epochs, Resampler};
use super::run_noise::RunNoise;
use super::significance::TestMethod;

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
    /// Bootstrap resamples of a single run's estimates (the change itself
    /// uses a t interval and does not resample).
    pub nresamples: usize,
    /// Fewer usable epochs than this on either side is [`Verdict::Inconclusive`].
    pub min_epochs: usize,
    pub seed: u64,
    /// The run-to-run noise of the metric being compared, when known from
    /// earlier runs ([`crate::stats::run_noise`]): added to the variance of
    /// the log ratio of two runs' means. Set per metric by the run
    /// comparison; `None` counts the epochs' spread alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_noise: Option<RunNoise>,
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
            run_noise: None,
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
    /// The data cannot decide (see [`Undecided`]): never a pass dressed as
    /// a result.
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
            Verdict::Inconclusive => "Inconclusive: the data cannot decide.",
        }
    }
}

/// Why a comparison could not decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Undecided {
    /// Fewer epochs than [`CompareConfig::min_epochs`] on a side.
    TooFewEpochs,
    /// The epoch figures of both sides have no spread, so the noise is
    /// unknown, and the means differ: a change of unknown significance.
    NoSpread,
    /// Not significant, and the interval reaches beyond the noise threshold
    /// on both sides: a change that matters either way cannot be ruled out.
    WideInterval,
    /// A side's mean is not positive, so a ratio means nothing.
    NotPositive,
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
    /// Interval of `rel_change` at `confidence`: Welch's t interval of the
    /// log of the ratio of means (delta method), mapped back by `exp - 1`.
    #[serde(with = "nonfinite")]
    pub ci_low: f64,
    #[serde(with = "nonfinite")]
    pub ci_high: f64,
    pub confidence: f64,
    /// Two-sided p-value of "the ratio of means is 1", from the same
    /// statistic and variance as the interval, so that at
    /// `confidence = 1 - significance` the interval excludes 0 exactly when
    /// `p_value < significance`.
    pub p_value: f64,
    pub test: TestMethod,
    /// Holm-adjusted p-value, when this metric was judged as one of a
    /// family (see [`crate::stats::apply_holm`]); the verdict then uses it.
    pub p_adjusted: Option<f64>,
    pub significance: f64,
    pub noise_threshold: f64,
    /// Minimum detectable effect: the relative change this comparison
    /// finds with 80 % power at `significance`, given the noise seen (NaN
    /// when the noise is unknown).
    #[serde(with = "nonfinite", default = "nan")]
    pub mde: f64,
    /// Why the verdict is [`Verdict::Inconclusive`], when it is.
    #[serde(default)]
    pub undecided: Option<Undecided>,
    /// The run-to-run noise counted in the interval and p-value, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_noise: Option<RunNoise>,
    pub verdict: Verdict,
}

fn nan() -> f64 {
    f64::NAN
}

/// Power at which [`Comparison::mde`] is stated.
pub const MDE_POWER: f64 = 0.8;

impl Comparison {
    /// The p-value the verdict rests on: the adjusted one if any.
    pub fn p_used(&self) -> f64 {
        self.p_adjusted.unwrap_or(self.p_value)
    }

    /// The verdict for a significance decision, given this comparison's
    /// interval, direction and noise threshold. A comparison undecided for
    /// lack of data stays so; "not significant" is "no change" only when
    /// the interval rules out a change beyond the threshold on one side.
    pub(crate) fn judge(&mut self, significant: bool) {
        if matches!(
            self.undecided,
            Some(Undecided::TooFewEpochs | Undecided::NoSpread | Undecided::NotPositive)
        ) {
            self.verdict = Verdict::Inconclusive;
            return;
        }
        self.undecided = None;
        let t = self.noise_threshold;
        if !significant {
            if self.ci_low < -t && self.ci_high > t {
                self.undecided = Some(Undecided::WideInterval);
                self.verdict = Verdict::Inconclusive;
            } else {
                self.verdict = Verdict::NoChange;
            }
            return;
        }
        let (worse, better) = match self.direction {
            Direction::LowerIsBetter => (Verdict::Regressed, Verdict::Improved),
            Direction::HigherIsBetter => (Verdict::Improved, Verdict::Regressed),
        };
        self.verdict = if self.ci_low > t {
            worse
        } else if self.ci_high < -t {
            better
        } else {
            Verdict::WithinNoise
        };
    }

    /// The verdict in words a user can act on: for an inconclusive one, why,
    /// with the interval's half-width and the MDE.
    pub fn explain(&self) -> String {
        match self.undecided {
            Some(Undecided::TooFewEpochs) => format!(
                "Inconclusive: {} vs {} epochs, fewer than needed to judge.",
                self.base_epochs, self.new_epochs
            ),
            Some(Undecided::NoSpread) => {
                "Inconclusive: the epoch figures have no spread, so the noise is unknown.".into()
            }
            Some(Undecided::NotPositive) => {
                "Inconclusive: a side's mean is not positive; no ratio.".into()
            }
            Some(Undecided::WideInterval) => format!(
                "Inconclusive: interval ±{:.1} %, MDE {:.1} %.",
                50.0 * (self.ci_high - self.ci_low),
                100.0 * self.mde
            ),
            None => self.verdict.phrase().to_string(),
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
/// The estimate of each side is the mean of its epoch figures (the epoch is
/// the unit of replication). The change is the ratio of the means; on the
/// log scale its standard error comes from the delta method,
/// `se² = s²_new / (n_new m²_new) + s²_base / (n_base m²_base)`, with
/// Welch-Satterthwaite degrees of freedom. The interval is
/// `exp(log ratio ± t · se) - 1` and the p-value is the two-sided tail of
/// `log ratio / se`: one variance model for both. See [`log_ratio`].
///
/// ```
/// use servebench::stats::{compare, CompareConfig, Direction, EpochStatistic, Epochs, Verdict};
/// let base: Vec<Vec<f64>> = (0..5).map(|e| vec![100.0 + e as f64, 101.0, 99.0]).collect();
/// let new: Vec<Vec<f64>> = (0..5).map(|e| vec![110.0 + e as f64, 111.0, 109.0]).collect();
/// let c = compare(
///     &Epochs::Requests(&base, &EpochStatistic::Median),
///     &Epochs::Requests(&new, &EpochStatistic::Median),
///     Direction::LowerIsBetter,
///     &CompareConfig::default(),
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
    let base_figs = Resampler::new(base).figures();
    let new_figs = Resampler::new(new).figures();
    compare_figures(&base_figs, &new_figs, direction, cfg)
}

/// [`compare`] on epoch figures.
pub fn compare_figures(
    base: &[f64],
    new: &[f64],
    direction: Direction,
    cfg: &CompareConfig,
) -> Comparison {
    let lr = log_ratio(base, new);
    let mut c = judge_log_ratio(
        base,
        new,
        lr.map(|lr| match cfg.run_noise {
            Some(rn) => lr.with_run_noise(rn),
            None => lr,
        }),
        TestMethod::LogRatioT,
        direction,
        cfg,
    );
    c.run_noise = cfg.run_noise;
    c
}

/// Compares two sides measured in pairs (epoch `k` of `base` and of `new`
/// ran back to back, as `servebench ab` runs them in ABBA order): the change
/// is the geometric mean of the pairs' ratios, judged by a one-sample t on
/// `ln(new_k / base_k)` (`n - 1` degrees of freedom), so drift that both
/// members of a pair share cancels. The interval, p-value, MDE and verdict
/// rules are those of [`compare`]. Pairs with a non-positive side are left
/// out.
///
/// ```
/// use servebench::stats::{compare_paired, CompareConfig, Direction, Verdict};
/// // A drifting machine: both sides climb 1 % an epoch, B is 5 % slower.
/// let a: Vec<f64> = (0..6).map(|k| 100.0 * (1.0 + 0.01 * k as f64)).collect();
/// let b: Vec<f64> = a.iter().enumerate()
///     .map(|(k, x)| x * 1.05 * (1.0 + 0.002 * (k % 2) as f64)).collect();
/// let c = compare_paired(&a, &b, Direction::LowerIsBetter, &CompareConfig::default());
/// assert_eq!(c.verdict, Verdict::Regressed);
/// assert!((c.rel_change - 0.051).abs() < 0.002);
/// ```
pub fn compare_paired(
    base: &[f64],
    new: &[f64],
    direction: Direction,
    cfg: &CompareConfig,
) -> Comparison {
    let (b, n): (Vec<f64>, Vec<f64>) = base
        .iter()
        .zip(new)
        .filter(|(b, n)| **b > 0.0 && **n > 0.0 && b.is_finite() && n.is_finite())
        .map(|(b, n)| (*b, *n))
        .unzip();
    let d: Vec<f64> = b.iter().zip(&n).map(|(b, n)| (n / b).ln()).collect();
    let lr = (d.len() >= 2).then(|| {
        let k = d.len() as f64;
        let m = d.iter().sum::<f64>() / k;
        let var = d.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (k - 1.0);
        LogRatio {
            log_ratio: m,
            se: (var / k).sqrt(),
            df: k - 1.0,
        }
    });
    let mut c = judge_log_ratio(&b, &n, lr, TestMethod::PairedLogT, direction, cfg);
    if let Some(lr) = lr {
        c.rel_change = lr.log_ratio.exp_m1();
    }
    c
}

/// The comparison of `base` and `new` whose change is judged by `lr`.
fn judge_log_ratio(
    base: &[f64],
    new: &[f64],
    lr: Option<LogRatio>,
    test: TestMethod,
    direction: Direction,
    cfg: &CompareConfig,
) -> Comparison {
    let mean = |f: &[f64]| f.iter().sum::<f64>() / f.len() as f64;
    let (base_estimate, new_estimate) = (mean(base), mean(new));
    let rel_change = relative_change(base_estimate, new_estimate);
    let enough = base.len().min(new.len()) >= cfg.min_epochs.max(2);
    let mut c = Comparison {
        direction,
        base_estimate,
        new_estimate,
        base_epochs: base.len(),
        new_epochs: new.len(),
        rel_change,
        ci_low: f64::NAN,
        ci_high: f64::NAN,
        confidence: cfg.confidence,
        p_value: 1.0,
        test,
        p_adjusted: None,
        significance: cfg.significance,
        noise_threshold: cfg.noise_threshold,
        mde: f64::NAN,
        undecided: None,
        run_noise: None,
        verdict: Verdict::Inconclusive,
    };
    let constant = |x: &[f64]| x.iter().all(|v| *v == x[0]);
    match lr {
        _ if !enough => c.undecided = Some(Undecided::TooFewEpochs),
        _ if constant(base) && constant(new) && base[0] == new[0] => {
            (c.ci_low, c.ci_high, c.p_value) = (0.0, 0.0, 1.0);
        }
        None => c.undecided = Some(Undecided::NotPositive),
        Some(lr) if lr.se == 0.0 => c.undecided = Some(Undecided::NoSpread),
        Some(lr) => {
            let (lo, hi) = lr.interval(cfg.confidence);
            (c.ci_low, c.ci_high) = (lo.exp_m1(), hi.exp_m1());
            c.p_value = lr.p_value();
            c.mde = lr.mde(cfg.significance, MDE_POWER);
        }
    }
    let significant = c.p_value < cfg.significance;
    c.judge(significant);
    c
}

/// The log of the ratio of two sides' means, with its standard error
/// (delta method) and Welch-Satterthwaite degrees of freedom.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogRatio {
    /// `ln(mean(new) / mean(base))`.
    pub log_ratio: f64,
    /// Its standard error.
    pub se: f64,
    /// Degrees of freedom of its t distribution.
    pub df: f64,
}

/// [`LogRatio`] of `new` over `base`; `None` when a side has fewer than 2
/// figures or a mean that is not positive.
///
/// ```
/// use servebench::stats::log_ratio;
/// let lr = log_ratio(&[100.0, 102.0, 98.0], &[110.0, 112.2, 107.8]).unwrap();
/// assert!((lr.log_ratio - 1.1f64.ln()).abs() < 1e-12);
/// // Equal relative spread on both sides: df = 2 (n - 1) = 4.
/// assert!((lr.df - 4.0).abs() < 1e-9);
/// ```
pub fn log_ratio(base: &[f64], new: &[f64]) -> Option<LogRatio> {
    let term = |x: &[f64]| -> Option<(f64, f64)> {
        let (m, var) = positive_mean_var(x)?;
        Some((m, var / (x.len() as f64 * m * m)))
    };
    let (mb, tb) = term(base)?;
    let (mn, tn) = term(new)?;
    let (nb, nn) = (base.len() as f64, new.len() as f64);
    let se2 = tb + tn;
    let df = if se2 > 0.0 {
        se2 * se2 / (tb * tb / (nb - 1.0) + tn * tn / (nn - 1.0))
    } else {
        nb + nn - 2.0
    };
    Some(LogRatio {
        log_ratio: (mn / mb).ln(),
        se: se2.sqrt(),
        df,
    })
}

/// The mean and sample variance of `x`; `None` for fewer than 2 values or
/// a mean that is not positive and finite.
pub fn positive_mean_var(x: &[f64]) -> Option<(f64, f64)> {
    if x.len() < 2 {
        return None;
    }
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    if !(m > 0.0 && m.is_finite()) {
        return None;
    }
    let var = x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0);
    Some((m, var))
}

impl LogRatio {
    fn t(&self) -> StudentsT {
        StudentsT::new(0.0, 1.0, self.df.max(1e-3)).expect("positive df")
    }

    /// Two-sided p-value of "the ratio is 1".
    pub fn p_value(&self) -> f64 {
        if self.se == 0.0 {
            return if self.log_ratio == 0.0 { 1.0 } else { 0.0 };
        }
        (2.0 * self.t().sf((self.log_ratio / self.se).abs())).min(1.0)
    }

    /// Interval of the log ratio at `confidence`.
    pub fn interval(&self, confidence: f64) -> (f64, f64) {
        let q = self.t().inverse_cdf(0.5 + confidence / 2.0);
        (self.log_ratio - q * self.se, self.log_ratio + q * self.se)
    }

    /// The smallest relative change (`exp(delta) - 1`) that a two-sided test at
    /// `alpha` detects with probability `power`, with this standard error.
    pub fn mde(&self, alpha: f64, power: f64) -> f64 {
        let t = self.t();
        ((t.inverse_cdf(1.0 - alpha / 2.0) + t.inverse_cdf(power)) * self.se).exp_m1()
    }
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
