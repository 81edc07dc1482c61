//! Run-to-run noise: how far the mean of a whole run moves from one run to
//! the next beyond what its own epochs' spread explains.
//!
//! A comparison of two runs judges the difference of their means. Its
//! standard error from the epochs alone is right only when a run's epochs
//! are independent draws of the same condition. They are not when the
//! machine, the server or the client process is faster in one run than in
//! another (a warm or cold host, another tenant, thread placement): the
//! epochs of one run then share an offset that their spread does not show,
//! and an A/A comparison of two runs finds "changes" far more often than
//! its significance level. The model (Kalibera and Jones' two-level design):
//!
//! `ln(epoch figure) = mu + run offset (sd sigma_r) + epoch noise`
//!
//! `sigma_r` is estimated from the earlier runs of the same benchmark, from
//! the differences of successive runs' log means less what their epochs
//! explain (see [`run_noise`]), floored at 0. A comparison
//! of two runs then adds `2 sigma_r²` to the variance of its log ratio, with
//! Satterthwaite's degrees of freedom (the estimate has `runs - 1`).

use serde::{Deserialize, Serialize};

use super::compare::{positive_mean_var, LogRatio};

/// Fewest earlier runs from which the run-to-run noise is estimated.
pub const MIN_NOISE_RUNS: usize = 5;

/// The run-to-run noise of one metric at one point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RunNoise {
    /// Standard deviation of a run's log mean beyond its epochs' spread
    /// (about the relative sd: 0.03 is 3 %); 0 when the runs move no more
    /// than their epochs explain.
    pub sd: f64,
    /// Runs it was estimated from.
    pub runs: usize,
    /// Degrees of freedom of the estimate of `sd²`.
    pub df: f64,
}

/// The run-to-run noise of a metric from its epoch figures in each of
/// several runs, oldest first (one slice a run). Runs with fewer than 2
/// figures or a mean that is not positive are left out; `None` when fewer
/// than [`MIN_NOISE_RUNS`] remain.
///
/// The estimate is built from the differences of successive runs' log means
/// (von Neumann's successive differences), not from their spread around
/// one mean: a real change of the code on record (a speed-up merged, a
/// benchmark reconfigured) is one large difference among many instead of
/// an offset shared by every later run. Each difference's own within-run
/// part (`s²/(n m²)` of both runs, the delta method) is subtracted from
/// the mean squared difference, and half the rest is the run offset's
/// variance, floored at 0. Its degrees of freedom are those of the mean
/// squared successive difference, `2 (r - 1)² / (3 r - 4)` for `r` runs
/// (about two thirds of `r - 1`).
///
/// ```
/// use servebench::stats::run_noise;
/// // Five runs whose epochs agree closely but whose means move by ~10 %.
/// let runs = [
///     vec![100.0, 101.0, 99.0],
///     vec![110.0, 111.0, 109.0],
///     vec![100.0, 101.0, 99.0],
///     vec![90.0, 91.0, 89.0],
///     vec![100.0, 101.0, 99.0],
/// ];
/// let views: Vec<&[f64]> = runs.iter().map(|r| r.as_slice()).collect();
/// let n = run_noise(&views).unwrap();
/// assert_eq!(n.runs, 5);
/// assert!((n.sd - 0.07).abs() < 0.01, "{}", n.sd);
/// ```
pub fn run_noise(runs: &[&[f64]]) -> Option<RunNoise> {
    let per_run: Vec<(f64, f64)> = runs
        .iter()
        .filter_map(|x| {
            let (m, var) = positive_mean_var(x)?;
            Some((m.ln(), var / (x.len() as f64 * m * m)))
        })
        .collect();
    let r = per_run.len();
    if r < MIN_NOISE_RUNS {
        return None;
    }
    let d2: Vec<f64> = per_run
        .windows(2)
        .map(|w| (w[1].0 - w[0].0).powi(2))
        .collect();
    let within = per_run.windows(2).map(|w| w[0].1 + w[1].1).sum::<f64>() / d2.len() as f64;
    let var_d = d2.iter().sum::<f64>() / d2.len() as f64;
    let rf = r as f64;
    Some(RunNoise {
        sd: ((var_d - within) / 2.0).max(0.0).sqrt(),
        runs: r,
        df: 2.0 * (rf - 1.0).powi(2) / (3.0 * rf - 4.0),
    })
}

impl LogRatio {
    /// This log ratio of two runs' means with the run-to-run noise `rn`
    /// added: each run's mean carries its own run offset, so the variance
    /// grows by `2 sd²`; the degrees of freedom follow Satterthwaite, the
    /// noise estimate having `rn.df`.
    pub fn with_run_noise(self, rn: RunNoise) -> LogRatio {
        let add = 2.0 * rn.sd * rn.sd;
        if add == 0.0 || rn.df <= 0.0 {
            return self;
        }
        let within = self.se * self.se;
        let se2 = within + add;
        let denom = within * within / self.df.max(1e-9) + add * add / rn.df;
        LogRatio {
            log_ratio: self.log_ratio,
            se: se2.sqrt(),
            df: se2 * se2 / denom,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::log_ratio;

    #[test]
    fn runs_that_move_only_as_their_epochs_explain_have_no_run_noise() {
        // Every run has the same mean: the between-run variance is 0.
        let runs = [
            vec![100.0, 104.0, 96.0],
            vec![96.0, 100.0, 104.0],
            vec![104.0, 96.0, 100.0],
            vec![100.0, 96.0, 104.0],
            vec![96.0, 104.0, 100.0],
        ];
        let v: Vec<&[f64]> = runs.iter().map(|r| r.as_slice()).collect();
        assert_eq!(run_noise(&v).unwrap().sd, 0.0);
    }

    #[test]
    fn one_real_change_on_record_does_not_inflate_the_noise() {
        // Ten runs of one speed, then ten 20 % faster, each run moving by
        // about 1 %: the change is one difference of nineteen.
        let wobble = [
            1.0, 1.012, 0.991, 1.004, 0.988, 1.009, 0.996, 1.011, 0.993, 1.002,
        ];
        let runs: Vec<Vec<f64>> = (0..20)
            .map(|i| {
                let level = if i < 10 { 100.0 } else { 80.0 } * wobble[i % 10];
                vec![level * 0.999, level, level * 1.001]
            })
            .collect();
        let v: Vec<&[f64]> = runs.iter().map(|r| r.as_slice()).collect();
        let n = run_noise(&v).unwrap();
        assert!(n.sd < 0.04, "{}", n.sd);
        // The spread around one mean would have said about 10 %.
        let logs: Vec<f64> = runs.iter().map(|r| r[1].ln()).collect();
        let m = logs.iter().sum::<f64>() / 20.0;
        let sd = (logs.iter().map(|l| (l - m).powi(2)).sum::<f64>() / 19.0).sqrt();
        assert!(sd > 0.09, "{sd}");
    }

    #[test]
    fn fewer_than_five_usable_runs_give_no_estimate() {
        let runs = [
            vec![100.0, 101.0],
            vec![110.0, 111.0],
            vec![90.0, 91.0],
            vec![95.0, 96.0],
            vec![5.0],
        ];
        let v: Vec<&[f64]> = runs.iter().map(|r| r.as_slice()).collect();
        assert_eq!(run_noise(&v), None);
    }

    #[test]
    fn run_noise_widens_the_interval_and_lowers_the_df() {
        let lr = log_ratio(&[100.0, 101.0, 99.0], &[105.0, 106.0, 104.0]).unwrap();
        let wide = lr.with_run_noise(RunNoise {
            sd: 0.03,
            runs: 6,
            df: 3.6,
        });
        assert!((wide.se.powi(2) - lr.se.powi(2) - 2.0 * 0.03f64.powi(2)).abs() < 1e-12);
        assert!(wide.df < lr.df + 5.0 && wide.df > 1.0, "{}", wide.df);
        assert!(wide.p_value() > lr.p_value());
        // No noise: unchanged.
        assert_eq!(
            lr.with_run_noise(RunNoise {
                sd: 0.0,
                runs: 6,
                df: 3.6
            }),
            lr
        );
    }
}
