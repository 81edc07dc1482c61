//! Adaptive epochs (`--target-mde`): after its planned epochs, a point keeps
//! adding epochs until every watched metric could show a change of the
//! target size against a baseline as noisy as this run, or until
//! `max_epochs`; the run's notes say why each point stopped.
//!
//! The projected MDE is the one a comparison states
//! ([`crate::stats::LogRatio::mde`]), computed as if the baseline had this
//! run's epoch figures: the log ratio's standard error with both sides'
//! spread equal to this run's, Welch degrees of freedom `2 (n - 1)`, a
//! two-sided test at the significance level and 80 % power.

use crate::analysis::MetricId;
use crate::metrics::{PointData, PointLabel, Slo, DEFAULT_PERCENTILES};
use crate::record::RequestRecord;
use crate::stats::{log_ratio, MDE_POWER};

/// When a point has enough epochs.
#[derive(Debug, Clone, PartialEq)]
pub struct Precision {
    /// Stop once every watched metric's projected MDE is at most this
    /// relative change (0.03: 3 %).
    pub target_mde: f64,
    /// Never more measured epochs than this at one point.
    pub max_epochs: u32,
    /// The metrics watched (the gated ones).
    pub metrics: Vec<MetricId>,
    /// The significance level of the comparisons to come.
    pub significance: f64,
}

/// Default cap on a point's epochs under `--target-mde`.
pub const DEFAULT_MAX_EPOCHS: u32 = 20;

/// Parse a target MDE given as a percentage (`3%`) or a share (`0.03`);
/// it must lie strictly between 0 and 100 %.
///
/// ```
/// use servebench::run::parse_target_mde;
/// assert_eq!(parse_target_mde("3%"), Ok(0.03));
/// assert_eq!(parse_target_mde("0.05"), Ok(0.05));
/// assert!(parse_target_mde("3").unwrap_err().contains("3%"));
/// ```
pub fn parse_target_mde(v: &str) -> Result<f64, String> {
    let t = v.trim();
    let x = match t.strip_suffix('%') {
        Some(pct) => pct.trim().parse::<f64>().map(|x| x / 100.0),
        None => t.parse::<f64>(),
    };
    match x {
        Ok(x) if x > 0.0 && x < 1.0 => Ok(x),
        Ok(x) if x >= 1.0 && !t.ends_with('%') => Err(format!(
            "`{v}` is a share of 100 % or more; for per cent write `{v}%` (e.g. 3% or 0.03)"
        )),
        _ => Err(format!(
            "`{v}` is not a relative change between 0 and 100 % (e.g. 3% or 0.03)"
        )),
    }
}

impl Precision {
    /// The rule of `--target-mde`/`--max-epochs` over a plan of `epochs`
    /// epochs; `Ok(None)` without a target. An error is `(flag, reason)`,
    /// the flag as the command line spells it.
    pub fn from_flags(
        target_mde: Option<f64>,
        max_epochs: Option<u32>,
        epochs: u32,
        metrics: Vec<MetricId>,
        significance: f64,
    ) -> Result<Option<Precision>, (String, String)> {
        let Some(target_mde) = target_mde else {
            return match max_epochs {
                Some(_) => Err((
                    "--max-epochs".into(),
                    "only applies with --target-mde (adaptive epochs)".into(),
                )),
                None => Ok(None),
            };
        };
        let max_epochs = max_epochs.unwrap_or(DEFAULT_MAX_EPOCHS.max(epochs));
        if max_epochs < epochs.max(2) {
            return Err((
                "--max-epochs".into(),
                format!(
                    "{max_epochs} is below the {} epochs every point runs first (at least 2 \
                     are needed to see any noise)",
                    epochs.max(2)
                ),
            ));
        }
        Ok(Some(Precision {
            target_mde,
            max_epochs,
            metrics,
            significance,
        }))
    }
}

/// The projected MDE of each metric of `point` (`None` when it has fewer
/// than two epoch figures or no positive mean).
pub fn projected_mde(
    point: &PointData,
    metrics: &[MetricId],
    significance: f64,
) -> Vec<(MetricId, Option<f64>)> {
    metrics
        .iter()
        .map(|&m| {
            let f = m.epoch_figures(point);
            let mde = log_ratio(&f, &f).map(|lr| lr.mde(significance, MDE_POWER));
            (m, mde.filter(|x| x.is_finite()))
        })
        .collect()
}

/// Where a point stands against its [`Precision`].
#[derive(Debug, Clone, PartialEq)]
pub struct Standing {
    /// Measured epochs so far.
    pub epochs: usize,
    /// The watched metric with the largest projected MDE (`None` MDE: not
    /// yet known), if any metric is watched.
    pub worst: Option<(MetricId, Option<f64>)>,
}

impl Standing {
    /// True when every watched metric's MDE is known and within `target`.
    pub fn reached(&self, target: f64) -> bool {
        match self.worst {
            None => true,
            Some((_, Some(m))) => m <= target,
            Some((_, None)) => false,
        }
    }
}

/// The records of one point's measured epochs, kept while it runs so that
/// the adaptive rule can judge it between epochs.
pub(super) struct Tracker<'a> {
    precision: Option<&'a Precision>,
    label: PointLabel,
    slo: Slo,
    epochs: Vec<Vec<RequestRecord>>,
}

impl<'a> Tracker<'a> {
    /// A tracker of the point `label`; it keeps nothing without a
    /// precision rule.
    pub fn new(precision: Option<&'a Precision>, label: &PointLabel, slo: Slo) -> Self {
        Tracker {
            precision,
            label: label.clone(),
            slo,
            epochs: Vec::new(),
        }
    }

    /// Measured requests of epoch `epoch` finished (a batch that completed
    /// together).
    pub fn records(&mut self, epoch: u32, batch: &[RequestRecord]) {
        if self.precision.is_none() {
            return;
        }
        let e = epoch as usize;
        if self.epochs.len() <= e {
            self.epochs.resize_with(e + 1, Vec::new);
        }
        self.epochs[e].extend_from_slice(batch);
    }

    /// After `done` measured epochs of which `planned` were planned: whether
    /// to measure one more.
    pub fn wants_more(&self, done: usize, planned: usize) -> bool {
        let Some(p) = self.precision else {
            return false;
        };
        done >= planned
            && done < p.max_epochs as usize
            && !self.standing(done).reached(p.target_mde)
    }

    fn standing(&self, done: usize) -> Standing {
        let p = self.precision.expect("judged only with a rule");
        let epochs: Vec<Vec<RequestRecord>> = self
            .epochs
            .iter()
            .filter(|e| !e.is_empty())
            .cloned()
            .collect();
        let point = PointData::new(self.label.clone(), epochs, &DEFAULT_PERCENTILES, &self.slo);
        let worst = projected_mde(&point, &p.metrics, p.significance)
            .into_iter()
            .max_by(|a, b| {
                let key = |m: &Option<f64>| m.unwrap_or(f64::INFINITY);
                key(&a.1).total_cmp(&key(&b.1))
            });
        Standing {
            epochs: done,
            worst,
        }
    }

    /// Why the point stopped after `done` epochs, for the run's notes.
    pub fn note(&self, done: usize) -> Option<String> {
        let p = self.precision?;
        let s = self.standing(done);
        let target = 100.0 * p.target_mde;
        let point = self.label.describe();
        let worst = match s.worst {
            Some((m, Some(x))) => format!("{} {:.1} %", m.name(), 100.0 * x),
            Some((m, None)) => format!("{} unknown", m.name()),
            None => "no metric watched".into(),
        };
        Some(if s.reached(p.target_mde) {
            format!(
                "{point}: stopped after {done} epochs, every gated metric's projected MDE \
                 within the target {target:.1} % (largest: {worst})"
            )
        } else if done >= p.max_epochs as usize {
            format!(
                "{point}: stopped at --max-epochs {} short of the target MDE {target:.1} % \
                 (largest: {worst}); more epochs, or a quieter machine, would narrow it",
                p.max_epochs
            )
        } else {
            format!(
                "{point}: stopped after {done} epochs short of the target MDE {target:.1} % \
                 (largest: {worst}): the run was stopped"
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::PointLabel;

    fn record(epoch: u32, id: u64, ttft: f64) -> RequestRecord {
        RequestRecord {
            id,
            epoch,
            start_s: id as f64 * 0.01,
            scheduled_s: None,
            ttft_ms: Some(ttft),
            e2el_ms: Some(ttft + 10.0),
            done_ms: ttft + 11.0,
            output_tokens: 11,
            input_tokens: 8,
            requested_output_tokens: 11,
            usage_output_tokens: Some(11),
            usage_input_tokens: Some(8),
            counted_output_tokens: None,
            chunks: vec![(ttft, 1), (ttft + 10.0, 10)],
            server: None,
            failure: None,
            resent: 0,
            reasoning: None,
            session: None,
        }
    }

    fn label() -> PointLabel {
        PointLabel::Static {
            prompt_tokens: 8,
            output_tokens: 11,
            concurrency: 1,
        }
    }

    #[test]
    fn the_projected_mde_is_the_one_a_comparison_states() {
        // Epoch TTFT medians 100, 104, 96: log sd ~ 0.04; with the baseline
        // alike, se = sd * sqrt(2 / 3), df = 4.
        let figs = [100.0, 104.0, 96.0];
        let mut t = Tracker::new(None, &label(), Slo::default());
        let p = Precision {
            target_mde: 0.03,
            max_epochs: 10,
            metrics: vec![MetricId::TtftP50],
            significance: 0.05,
        };
        t.precision = Some(&p);
        for (e, f) in figs.iter().enumerate() {
            for i in 0..5 {
                t.records(e as u32, &[record(e as u32, i, *f)]);
            }
        }
        let lr = log_ratio(&figs, &figs).unwrap();
        assert!((lr.df - 4.0).abs() < 1e-9);
        let want = lr.mde(0.05, MDE_POWER);
        let s = t.standing(3);
        let (m, got) = s.worst.unwrap();
        assert_eq!(m, MetricId::TtftP50);
        assert!((got.unwrap() - want).abs() < 1e-12, "{got:?} vs {want}");
        // ~ (2.776 + 0.941) * 0.04 * 0.816: about 12 %, far from 3 %.
        assert!(want > 0.10 && want < 0.14, "{want}");
        assert!(t.wants_more(3, 3));
        assert!(!t.wants_more(2, 3), "the planned epochs run first");
        assert!(!t.wants_more(10, 3), "never past max_epochs");
        assert!(t.note(10).unwrap().contains("--max-epochs 10"));
    }

    #[test]
    fn a_quiet_point_stops_at_its_planned_epochs() {
        let p = Precision {
            target_mde: 0.03,
            max_epochs: 10,
            metrics: vec![MetricId::TtftP50],
            significance: 0.05,
        };
        let mut t = Tracker::new(Some(&p), &label(), Slo::default());
        for (e, f) in [100.0, 100.2, 99.9].iter().enumerate() {
            t.records(e as u32, &[record(e as u32, 0, *f)]);
        }
        assert!(!t.wants_more(3, 3));
        let note = t.note(3).unwrap();
        assert!(note.contains("stopped after 3 epochs"), "{note}");
        assert!(note.contains("within the target 3.0 %"), "{note}");
    }

    #[test]
    fn without_a_rule_nothing_is_kept_and_no_epoch_added() {
        let mut t = Tracker::new(None, &label(), Slo::default());
        t.records(0, &[record(0, 0, 1.0)]);
        assert!(t.epochs.is_empty());
        assert!(!t.wants_more(3, 3));
        assert!(t.note(3).is_none());
    }
}
