//! Calibration (`servebench calibrate`, `cargo bench -- --calibrate`): from
//! a run of many A/A epochs against one endpoint, each gated metric's
//! epoch-to-epoch noise, the minimum detectable effect (MDE) a comparison
//! of `n` epochs a side would have with that noise, the epochs a target MDE
//! needs, and a check for drift (the first half of the epochs compared
//! with the second, which should show no change).
//!
//! The MDE is the one a comparison states ([`crate::stats::LogRatio::mde`]):
//! with a relative epoch noise `cv` on both sides, the log ratio's standard
//! error is `cv * sqrt(2 / n)` (delta method), its degrees of freedom
//! `2 (n - 1)`, and `MDE = exp((t(1 - alpha/2) + t(0.8)) * se) - 1`.

use serde::{Deserialize, Serialize};

use super::MetricId;
use crate::metrics::{PointData, PointLabel, RunData};
use crate::stats::{CompareConfig, LogRatio, Verdict, MDE_POWER};

/// The `format` of a calibration file.
pub const CALIBRATION_FORMAT: &str = "servebench-calibration";
/// The version of the calibration file this servebench writes and reads.
pub const CALIBRATION_VERSION: u64 = 1;
/// The target MDE of a calibration when none is given (3 %).
pub const DEFAULT_TARGET_MDE: f64 = 0.03;
/// Fewest epochs a recommendation gives: a comparison's verdict needs 3.
pub const MIN_RECOMMENDED_EPOCHS: u32 = 3;
/// Fewest epochs a calibration run needs to estimate noise at all (the
/// drift check splits them in halves of at least 2).
pub const MIN_CALIBRATION_EPOCHS: u32 = 4;

/// One metric's noise at one point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricNoise {
    pub metric: MetricId,
    /// Relative sample standard deviation of the epoch figures (0.03: 3 %);
    /// `None` when it could not be estimated.
    pub noise: Option<f64>,
    /// `(epochs a side, MDE)` at 3, 5, 10 and 20 epochs.
    pub mde_at: Vec<(u32, f64)>,
    /// Fewest epochs a side (at least 3) whose MDE is within the target;
    /// `None` when not within `max_epochs`.
    pub epochs_needed: Option<u32>,
}

/// One point's calibration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointCalibration {
    /// The point's id (`p1024-o128-c8`).
    pub point: String,
    pub label: PointLabel,
    /// Epochs the calibration measured.
    pub epochs: usize,
    pub metrics: Vec<MetricNoise>,
    /// The most any metric needs (`None`: some metric cannot reach the
    /// target within `max_epochs`).
    pub epochs_needed: Option<u32>,
    /// Gated metrics whose first and second halves of epochs differ
    /// significantly (Holm over the point's metrics): the machine drifted.
    pub drift: Vec<String>,
}

/// A whole calibration, as saved to `calibration.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    pub format: String,
    pub version: u64,
    /// When the calibration run started (Unix seconds).
    pub started_unix_s: f64,
    /// The endpoint calibrated.
    pub base_url: String,
    pub model: String,
    /// The MDE the recommendation aims at (0.03: 3 %).
    pub target_mde: f64,
    pub significance: f64,
    /// The cap of the recommendation.
    pub max_epochs: u32,
    pub points: Vec<PointCalibration>,
    /// Epochs a point for the whole sweep (the most any point needs);
    /// `None` when some point cannot reach the target within `max_epochs`.
    pub recommended_epochs: Option<u32>,
}

impl Calibration {
    /// The epochs later runs should use: the recommendation, or the cap
    /// when the target is out of reach.
    pub fn epochs_to_use(&self) -> u32 {
        self.recommended_epochs.unwrap_or(self.max_epochs)
    }

    /// Every drift warning, prefixed by its point.
    pub fn drift_warnings(&self) -> Vec<String> {
        self.points
            .iter()
            .flat_map(|p| p.drift.iter().map(move |d| format!("{}: {d}", p.point)))
            .collect()
    }
}

/// The MDE of a comparison of `epochs` a side with relative epoch noise
/// `noise` on both sides, at two-sided `significance` and 80 % power.
///
/// ```
/// use servebench::analysis::mde_for;
/// // 3 % epoch noise, 5 epochs a side: about 6 %.
/// let m = mde_for(0.03, 5, 0.05);
/// assert!(m > 0.055 && m < 0.07, "{m}");
/// assert!(mde_for(0.03, 10, 0.05) < m);
/// ```
pub fn mde_for(noise: f64, epochs: u32, significance: f64) -> f64 {
    let n = epochs.max(2) as f64;
    LogRatio {
        log_ratio: 0.0,
        se: noise * (2.0 / n).sqrt(),
        df: 2.0 * (n - 1.0),
    }
    .mde(significance, MDE_POWER)
}

/// Fewest epochs a side in `3..=max_epochs` whose MDE is within `target`.
pub fn epochs_for(noise: f64, target: f64, significance: f64, max_epochs: u32) -> Option<u32> {
    (MIN_RECOMMENDED_EPOCHS..=max_epochs.max(MIN_RECOMMENDED_EPOCHS))
        .find(|&n| mde_for(noise, n, significance) <= target)
}

/// Relative sample standard deviation of `x` (`None` for fewer than 2
/// values or a mean that is not positive).
fn relative_sd(x: &[f64]) -> Option<f64> {
    crate::stats::positive_mean_var(x).map(|(m, var)| var.sqrt() / m)
}

/// The first half of a point's epochs compared with the second half: the
/// gated metrics judged Regressed or Improved (after Holm), worded.
fn drift(p: &PointData, metrics: &[MetricId], cfg: &CompareConfig) -> Vec<String> {
    let half = p.epochs.len() / 2;
    if half < 2 {
        return Vec::new();
    }
    let part = |r: std::ops::Range<usize>| {
        PointData::new(
            p.label.clone(),
            p.epochs[r].to_vec(),
            &crate::metrics::DEFAULT_PERCENTILES,
            &crate::metrics::Slo::default(),
        )
    };
    let (a, b) = (part(0..half), part(half..p.epochs.len()));
    let mut family: Vec<crate::stats::Comparison> =
        metrics.iter().map(|m| m.compare(&a, &b, cfg)).collect();
    crate::stats::apply_holm(&mut family, cfg.significance);
    metrics
        .iter()
        .zip(&family)
        .filter(|(_, c)| matches!(c.verdict, Verdict::Regressed | Verdict::Improved))
        .map(|(m, c)| {
            format!(
                "{} moved {:+.1} % [{:+.1} %, {:+.1} %] between the first and the second half \
                 of the calibration epochs (p = {:.4}): the machine or the server drifted",
                m.name(),
                100.0 * c.rel_change,
                100.0 * c.ci_low,
                100.0 * c.ci_high,
                c.p_value
            )
        })
        .collect()
}

/// Calibrate from `run`: each point's metrics' noise, MDEs and the epochs
/// that reach `target` (at most `max_epochs`), and the drift check.
pub fn calibrate(
    run: &RunData,
    metrics: &[MetricId],
    target: f64,
    cfg: &CompareConfig,
    max_epochs: u32,
) -> Calibration {
    let significance = cfg.significance;
    let points: Vec<PointCalibration> = run
        .points
        .iter()
        .map(|p| {
            let noise: Vec<MetricNoise> = metrics
                .iter()
                .map(|&m| {
                    let sd = relative_sd(&m.epoch_figures(p));
                    MetricNoise {
                        metric: m,
                        noise: sd,
                        mde_at: match sd {
                            Some(sd) => [3, 5, 10, 20]
                                .iter()
                                .map(|&n| (n, mde_for(sd, n, significance)))
                                .collect(),
                            None => Vec::new(),
                        },
                        epochs_needed: sd
                            .and_then(|sd| epochs_for(sd, target, significance, max_epochs)),
                    }
                })
                .collect();
            let needed = noise
                .iter()
                .map(|m| m.epochs_needed)
                .try_fold(MIN_RECOMMENDED_EPOCHS, |acc, n| n.map(|n| acc.max(n)));
            PointCalibration {
                point: p.label.id(),
                label: p.label.clone(),
                epochs: p.epochs.len(),
                metrics: noise,
                epochs_needed: needed,
                drift: drift(p, metrics, cfg),
            }
        })
        .collect();
    let recommended = points
        .iter()
        .map(|p| p.epochs_needed)
        .try_fold(MIN_RECOMMENDED_EPOCHS, |acc, n| n.map(|n| acc.max(n)));
    Calibration {
        format: CALIBRATION_FORMAT.into(),
        version: CALIBRATION_VERSION,
        started_unix_s: run.meta.started_unix_s,
        base_url: run.meta.base_url.clone(),
        model: run.meta.model.clone(),
        target_mde: target,
        significance,
        max_epochs,
        points,
        recommended_epochs: recommended,
    }
}

/// The calibration as a terminal table: per point and metric the noise,
/// the MDE at 3, 5, 10 and 20 epochs and the epochs the target needs; then
/// the recommendation and any drift.
pub fn calibration_table(c: &Calibration) -> String {
    let mut s = String::new();
    let pct = |x: f64| format!("{:.1} %", 100.0 * x);
    for p in &c.points {
        s.push_str(&format!(
            "{}  {}  [{} epochs]\n",
            p.point,
            p.label.describe(),
            p.epochs
        ));
        s.push_str(&format!(
            "    {:<20} {:>8} {:>9} {:>9} {:>9} {:>9}  {}\n",
            "metric", "noise", "MDE@3", "MDE@5", "MDE@10", "MDE@20", "epochs needed"
        ));
        for m in &p.metrics {
            let mde = |n: u32| {
                m.mde_at
                    .iter()
                    .find(|x| x.0 == n)
                    .map_or("-".to_string(), |x| pct(x.1))
            };
            s.push_str(&format!(
                "    {:<20} {:>8} {:>9} {:>9} {:>9} {:>9}  {}\n",
                m.metric.name(),
                m.noise.map_or("-".into(), pct),
                mde(3),
                mde(5),
                mde(10),
                mde(20),
                m.epochs_needed
                    .map_or(format!("more than {}", c.max_epochs), |n| n.to_string())
            ));
        }
    }
    s.push_str(&match c.recommended_epochs {
        Some(n) => format!(
            "recommended: {n} epochs a point for an MDE of {} (significance {}, power 80 %)\n",
            pct(c.target_mde),
            c.significance
        ),
        None => format!(
            "recommended: the target MDE of {} is out of reach within {} epochs at some \
             point; later runs use {} (or quiet the machine, or raise --max-epochs)\n",
            pct(c.target_mde),
            c.max_epochs,
            c.max_epochs
        ),
    });
    for d in c.drift_warnings() {
        s.push_str(&format!("warning: {d}\n"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mde_shrinks_with_epochs_and_grows_with_noise() {
        let a = mde_for(0.03, 3, 0.05);
        let b = mde_for(0.03, 10, 0.05);
        assert!(b < a);
        assert!(mde_for(0.06, 10, 0.05) > b);
        // The formula: (t(0.975, 18) + t(0.8, 18)) * 0.03 * sqrt(2/10).
        let want = ((2.100_922 + 0.861_956) * 0.03 * (0.2f64).sqrt()).exp_m1();
        assert!((b - want).abs() < 1e-4, "{b} vs {want}");
    }

    #[test]
    fn epochs_for_is_the_first_that_reaches_the_target() {
        let n = epochs_for(0.03, 0.05, 0.05, 50).unwrap();
        assert!(mde_for(0.03, n, 0.05) <= 0.05);
        assert!(n == 3 || mde_for(0.03, n - 1, 0.05) > 0.05);
        assert_eq!(epochs_for(0.001, 0.05, 0.05, 50), Some(3), "at least 3");
        assert_eq!(epochs_for(0.5, 0.01, 0.05, 20), None);
    }

    #[test]
    fn relative_sd_matches_the_definition() {
        let sd = relative_sd(&[98.0, 100.0, 102.0]).unwrap();
        assert!((sd - 0.02).abs() < 1e-12);
        assert!(relative_sd(&[1.0]).is_none());
        assert!(relative_sd(&[0.0, 0.0]).is_none());
    }
}
