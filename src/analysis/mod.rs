//! Comparison of a run with a baseline run: for each benchmark point both
//! runs share and each metric of the catalogue, the change, its interval,
//! its p-value and its verdict. Gated metrics are judged as one family
//! (Holm-Bonferroni), so a gate over many metrics keeps its false-alarm rate.

use serde::{Deserialize, Serialize};

mod calibration;
mod capacity;
pub use calibration::{
    calibrate, calibration_table, epochs_for, mde_for, Calibration, MetricNoise, PointCalibration,
    CALIBRATION_FORMAT, CALIBRATION_VERSION, DEFAULT_TARGET_MDE, MIN_CALIBRATION_EPOCHS,
    MIN_RECOMMENDED_EPOCHS,
};
pub use capacity::CapacityComparison;

use crate::baseline::History;
use crate::metrics::{PointData, PointLabel, RunData};
use crate::stats::{
    apply_holm_scaled, compare, CompareConfig, Comparison, EpochStatistic, Epochs, Verdict,
    MIN_NOISE_RUNS,
};

pub use crate::metrics::MetricId;

/// How a catalogue metric is compared (its definition, the figures it
/// judges, lives in [`crate::metrics::catalogue`]).
impl MetricId {
    /// Compare this metric between two points measured in pairs of epochs
    /// (epoch k of each side back to back, `servebench ab`): paired
    /// statistics on the epoch figures ([`crate::stats::compare_paired`]).
    pub fn compare_paired(
        self,
        base: &PointData,
        new: &PointData,
        cfg: &CompareConfig,
    ) -> Comparison {
        crate::stats::compare_paired(
            &self.epoch_figures(base),
            &self.epoch_figures(new),
            self.direction(),
            cfg,
        )
    }

    /// Compare this metric between two points.
    pub fn compare(self, base: &PointData, new: &PointData, cfg: &CompareConfig) -> Comparison {
        let dir = self.direction();
        match (self.epoch_throughputs(base), self.epoch_throughputs(new)) {
            (Some(b), Some(n)) => compare(&Epochs::Figures(&b), &Epochs::Figures(&n), dir, cfg),
            _ => {
                let none = || (Vec::new(), EpochStatistic::Median);
                let (b, stat) = self.epoch_requests(base).unwrap_or_else(none);
                let (n, _) = self.epoch_requests(new).unwrap_or_else(none);
                compare(
                    &Epochs::Requests(&b, &stat),
                    &Epochs::Requests(&n, &stat),
                    dir,
                    cfg,
                )
            }
        }
    }
}

/// One metric of one point, compared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricComparison {
    /// The point's id (`p1024-o128-c8`, `rate-4`).
    pub point: String,
    pub label: PointLabel,
    pub metric: MetricId,
    pub unit: String,
    /// True when this metric counts for the gate.
    pub gated: bool,
    /// The new run's figure pooled over the point's epochs (as in its CSV).
    #[serde(default)]
    pub new_figure: Option<f64>,
    /// The baseline's figure pooled over the point's epochs.
    #[serde(default)]
    pub base_figure: Option<f64>,
    /// The change and its statistics, estimated from the epoch figures.
    pub comparison: Comparison,
}

/// A run compared with a baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunComparison {
    /// The baseline's name (`main`, `base`...).
    pub baseline: String,
    pub config: CompareConfig,
    pub metrics: Vec<MetricComparison>,
    /// Points of the new run that the baseline lacks (not compared).
    pub unmatched_points: Vec<String>,
    /// Points of the baseline that the new run lacks (not compared).
    #[serde(default)]
    pub missing_points: Vec<String>,
    /// Earlier runs of this benchmark on record (its `history.jsonl`, the
    /// judged run left out); from [`MIN_NOISE_RUNS`] on, their run-to-run
    /// noise is counted in every interval. `None`: no history was consulted
    /// (paired A/B epochs, or a comparison of two files alone).
    #[serde(default)]
    pub history_runs: Option<usize>,
}

impl RunComparison {
    /// The gated metrics that regressed (after Holm's adjustment).
    pub fn regressions(&self) -> impl Iterator<Item = &MetricComparison> {
        self.metrics
            .iter()
            .filter(|m| m.gated && m.comparison.verdict == Verdict::Regressed)
    }

    /// True when the gate should fail the build.
    pub fn gate_fails(&self) -> bool {
        self.regressions().next().is_some()
    }

    /// What the gate could not judge in this comparison, one reason a line:
    /// nothing in common, points on one side only, gated metrics that are
    /// inconclusive.
    pub fn undecided(&self) -> Vec<String> {
        let mut why = Vec::new();
        if self.metrics.is_empty() {
            why.push(format!(
                "nothing compared: the run and baseline `{}` share no benchmark point",
                self.baseline
            ));
        }
        for p in &self.unmatched_points {
            why.push(format!(
                "point {p} has no counterpart in baseline `{}`",
                self.baseline
            ));
        }
        for p in &self.missing_points {
            why.push(format!(
                "baseline `{}` has point {p}, which this run lacks",
                self.baseline
            ));
        }
        for m in self
            .metrics
            .iter()
            .filter(|m| m.gated && m.comparison.verdict == Verdict::Inconclusive)
        {
            why.push(format!(
                "{} {}: {}",
                m.point,
                m.metric.name(),
                m.comparison.explain()
            ));
        }
        why
    }

    /// What the intervals count, for the notes: the run-to-run noise and
    /// how many runs it came from, or why it is not counted.
    pub fn run_noise_note(&self) -> Option<String> {
        let runs = self.history_runs?;
        if runs < MIN_NOISE_RUNS {
            return Some(format!(
                "run-to-run noise not counted yet: {runs} earlier run(s) of this benchmark on \
                 record, {MIN_NOISE_RUNS} needed; until then the intervals count only the \
                 epochs' spread, which misses whatever moves a whole run (a busier machine, \
                 a warmer server)"
            ));
        }
        let gated = || self.metrics.iter().filter(|m| m.gated);
        let max = gated()
            .filter_map(|m| m.comparison.run_noise.map(|r| r.sd))
            .fold(0.0, f64::max);
        // A point new to the benchmark has fewer runs on record than it.
        // Metrics come point by point, so a point's repeats are adjacent.
        let mut short: Vec<String> = gated()
            .filter(|m| m.comparison.run_noise.is_none())
            .map(|m| m.point.clone())
            .collect();
        short.dedup();
        let mut note = format!(
            "run-to-run noise from {runs} earlier run(s) counted in the intervals \
             (largest on a gated metric: {:.1} %)",
            100.0 * max
        );
        if !short.is_empty() {
            note.push_str(&format!(
                "; not for point(s) {} with fewer than {MIN_NOISE_RUNS} earlier runs measured",
                short.join(", ")
            ));
        }
        Some(note)
    }

    /// Gated metrics judged (the size of this comparison's family).
    pub fn gated_count(&self) -> usize {
        self.metrics.iter().filter(|m| m.gated).count()
    }
}

/// Exit code of a gate that found a significant regression.
pub const GATE_FAILED: i32 = 1;
/// Exit code of a gate that could not judge everything it was asked to
/// (and found no regression): never a pass.
pub const GATE_INCONCLUSIVE: i32 = 6;

/// What a gate concludes over every comparison it judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GateVerdict {
    /// Every gated metric was judged, and none regressed.
    Passed { judged: usize },
    /// At least one gated metric regressed significantly beyond its
    /// threshold.
    Failed { regressions: usize },
    /// Nothing regressed, but something was not judged (the reasons).
    Inconclusive { reasons: Vec<String> },
}

impl GateVerdict {
    /// Judge `comparisons` (one per benchmark; `None` for a benchmark with no
    /// baseline, named by its id). With `allow_inconclusive`, what could not
    /// be judged passes.
    pub fn of<'a>(
        comparisons: impl IntoIterator<Item = (&'a str, Option<&'a RunComparison>)>,
        allow_inconclusive: bool,
    ) -> GateVerdict {
        let (mut regressions, mut judged, mut reasons) = (0, 0, Vec::new());
        let mut any = false;
        for (id, c) in comparisons {
            any = true;
            let Some(c) = c else {
                reasons.push(format!("{id}: no baseline to compare with"));
                continue;
            };
            regressions += c.regressions().count();
            judged += c.gated_count();
            let prefix = if id.is_empty() {
                String::new()
            } else {
                format!("{id}: ")
            };
            reasons.extend(c.undecided().into_iter().map(|r| format!("{prefix}{r}")));
        }
        if !any {
            reasons.push("nothing compared: no benchmark ran".into());
        }
        if regressions > 0 {
            GateVerdict::Failed { regressions }
        } else if !reasons.is_empty() && !allow_inconclusive {
            GateVerdict::Inconclusive { reasons }
        } else {
            GateVerdict::Passed { judged }
        }
    }

    /// The process exit code: 0, [`GATE_FAILED`] or [`GATE_INCONCLUSIVE`].
    pub fn exit_code(&self) -> i32 {
        match self {
            GateVerdict::Passed { .. } => 0,
            GateVerdict::Failed { .. } => GATE_FAILED,
            GateVerdict::Inconclusive { .. } => GATE_INCONCLUSIVE,
        }
    }

    /// One line for the terminal: `gate: passed`, `gate: FAILED ...`,
    /// `gate: INCONCLUSIVE, N thing(s) not judged:` (the reasons follow it,
    /// one a line).
    pub fn line(&self) -> String {
        match self {
            GateVerdict::Passed { judged } => {
                format!("gate: passed ({judged} gated metric(s) judged)")
            }
            GateVerdict::Failed { regressions } => {
                format!("gate: FAILED, {regressions} gated regression(s)")
            }
            GateVerdict::Inconclusive { reasons } => {
                format!("gate: INCONCLUSIVE, {} thing(s) not judged:", reasons.len())
            }
        }
    }
}

/// Compare `new` with `base`, point by point (matched by point id), on every
/// metric of the catalogue; `gated` metrics form one Holm family.
pub fn compare_runs(
    base: &RunData,
    new: &RunData,
    baseline: &str,
    gated: &[MetricId],
    cfg: &CompareConfig,
) -> RunComparison {
    compare_runs_in_family(base, new, baseline, gated, cfg, 0, None)
}

/// [`compare_runs`] as one part of a larger family of `family_size` gated
/// hypotheses (e.g. every gated metric of every benchmark of a `cargo bench
/// -- --gate` run, counted from the plans before any load): Holm within
/// this comparison, its adjusted p-values scaled by `family_size / m` (m its
/// own gated metrics), which is Bonferroni across the parts. The whole
/// family's false-alarm rate is then at most the significance level, and
/// each part is judged as soon as it is measured. A `family_size` of at most
/// m is this comparison alone.
///
/// With a `history` of the benchmark's runs, each metric's run-to-run noise
/// estimated from it (the new run left out) is counted in its interval and
/// p-value ([`crate::stats::RunNoise`]).
pub fn compare_runs_in_family(
    base: &RunData,
    new: &RunData,
    baseline: &str,
    gated: &[MetricId],
    cfg: &CompareConfig,
    family_size: usize,
    history: Option<&History>,
) -> RunComparison {
    let mut c = compare_runs_with(
        base,
        new,
        baseline,
        gated,
        cfg,
        family_size,
        &|m, bp, np, cfg| {
            let mut cfg = *cfg;
            cfg.run_noise =
                history.and_then(|h| h.noise(&np.label.id(), m, new.meta.started_unix_s));
            m.compare(bp, np, &cfg)
        },
    );
    c.history_runs = history.map(|h| h.others(new.meta.started_unix_s).count());
    c
}

/// [`compare_runs`] of two runs whose epochs were measured in pairs
/// (`servebench ab`, ABBA order): each metric by
/// [`MetricId::compare_paired`], Holm across the gated metrics.
///
/// `family_size` as in [`compare_runs_in_family`] (0: this comparison
/// alone).
pub fn compare_runs_paired(
    base: &RunData,
    new: &RunData,
    baseline: &str,
    gated: &[MetricId],
    cfg: &CompareConfig,
    family_size: usize,
) -> RunComparison {
    compare_runs_with(
        base,
        new,
        baseline,
        gated,
        cfg,
        family_size,
        &MetricId::compare_paired,
    )
}

fn compare_runs_with(
    base: &RunData,
    new: &RunData,
    baseline: &str,
    gated: &[MetricId],
    cfg: &CompareConfig,
    family_size: usize,
    how: &dyn Fn(MetricId, &PointData, &PointData, &CompareConfig) -> Comparison,
) -> RunComparison {
    let mut metrics = Vec::new();
    let mut unmatched = Vec::new();
    for np in &new.points {
        let id = np.label.id();
        let Some(bp) = base.points.iter().find(|b| b.label.id() == id) else {
            unmatched.push(id);
            continue;
        };
        for m in MetricId::ALL {
            metrics.push(MetricComparison {
                point: id.clone(),
                label: np.label.clone(),
                metric: m,
                unit: m.unit().to_string(),
                gated: gated.contains(&m),
                new_figure: m.pooled(&np.summary),
                base_figure: m.pooled(&bp.summary),
                comparison: how(m, bp, np, cfg),
            });
        }
    }
    let missing = base
        .points
        .iter()
        .map(|p| p.label.id())
        .filter(|id| !new.points.iter().any(|n| n.label.id() == *id))
        .collect();
    let m = metrics.iter().filter(|m| m.gated).count();
    let scale = (family_size as f64 / m.max(1) as f64).max(1.0);
    apply_holm_scaled(
        metrics
            .iter_mut()
            .filter(|m| m.gated)
            .map(|m| &mut m.comparison),
        cfg.significance,
        scale,
    );
    RunComparison {
        baseline: baseline.to_string(),
        config: *cfg,
        metrics,
        unmatched_points: unmatched,
        missing_points: missing,
        history_runs: None,
    }
}
