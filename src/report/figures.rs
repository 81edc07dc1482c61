//! Figures as the Markdown and HTML reports print them: one formatting of
//! numbers, one headline row per point, one row per compared metric, so the
//! two reports cannot disagree.

use serde::Serialize;

use crate::analysis::{MetricComparison, MetricId, RunComparison};
use crate::metrics::{PointData, RunData};
use crate::stats::Verdict;

/// A number with a precision that suits its size; `-` when missing.
pub(crate) fn num(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() => {
            let a = x.abs();
            let prec = if a >= 1000.0 {
                0
            } else if a >= 100.0 {
                1
            } else if a >= 10.0 {
                2
            } else {
                3
            };
            format!("{x:.prec$}")
        }
        _ => "-".into(),
    }
}

/// A relative change as a signed percentage, e.g. `+5.2 %`.
pub(crate) fn pct(x: f64) -> String {
    if x.is_finite() {
        format!("{:+.1} %", x * 100.0)
    } else {
        "n/a".into()
    }
}

/// A p-value, `<0.001` for tiny ones.
pub(crate) fn pval(p: f64) -> String {
    if !p.is_finite() {
        "n/a".into()
    } else if p < 0.001 {
        "<0.001".into()
    } else {
        format!("{p:.3}")
    }
}

/// Unix seconds as `YYYY-MM-DD HH:MM:SS UTC`.
pub(crate) fn utc(unix_s: f64) -> String {
    if !unix_s.is_finite() || unix_s <= 0.0 {
        return "unknown".into();
    }
    let secs = unix_s as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// The headline figures of one point, formatted.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct HeadlineRow {
    pub id: String,
    pub label: String,
    pub ok: usize,
    pub failed: usize,
    pub req_s: String,
    pub out_tok_s: String,
    pub total_tok_s: String,
    pub goodput: String,
    pub ttft_p50: String,
    pub ttft_p99: String,
    pub tpot_p50: String,
    pub tpot_p99: String,
    pub itl_p50: String,
    pub itl_p99: String,
    pub e2el_p50: String,
    pub e2el_p99: String,
    /// Open loop: achieved send rate, req/s.
    pub sent_rate: String,
    /// Open loop: p99 of send lateness, ms.
    pub late_p99: String,
}

impl HeadlineRow {
    /// The row of `p`.
    pub(crate) fn of(p: &PointData) -> HeadlineRow {
        let s = &p.summary;
        HeadlineRow {
            id: p.label.id(),
            label: p.label.describe(),
            ok: s.completed,
            failed: s.failed,
            req_s: num(Some(s.request_throughput)),
            out_tok_s: num(Some(s.output_throughput)),
            total_tok_s: num(Some(s.total_throughput)),
            goodput: num(s.goodput),
            ttft_p50: num(s.ttft_ms.p(50.0)),
            ttft_p99: num(s.ttft_ms.p(99.0)),
            tpot_p50: num(s.tpot_ms.p(50.0)),
            tpot_p99: num(s.tpot_ms.p(99.0)),
            itl_p50: num(s.itl_ms.p(50.0)),
            itl_p99: num(s.itl_ms.p(99.0)),
            e2el_p50: num(s.e2el_ms.p(50.0)),
            e2el_p99: num(s.e2el_ms.p(99.0)),
            sent_rate: num(s.achieved_send_rate),
            late_p99: num(s.send_lateness_ms.p(99.0)),
        }
    }
}

/// The headline rows of a run.
pub(crate) fn headline_rows(run: &RunData) -> Vec<HeadlineRow> {
    run.points.iter().map(HeadlineRow::of).collect()
}

/// A metric's name for people.
pub(crate) fn metric_title(m: MetricId) -> &'static str {
    match m {
        MetricId::OutputThroughput => "Output throughput",
        MetricId::RequestThroughput => "Request throughput",
        MetricId::TtftP50 => "TTFT p50",
        MetricId::TtftP99 => "TTFT p99",
        MetricId::TpotP50 => "TPOT p50",
        MetricId::TpotP99 => "TPOT p99",
        MetricId::ItlP99 => "ITL p99",
        MetricId::E2elP50 => "E2EL p50",
    }
}

/// A verdict's short word, which is also its CSS class.
pub(crate) fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Regressed => "regressed",
        Verdict::Improved => "improved",
        Verdict::WithinNoise => "within-noise",
        Verdict::NoChange => "no-change",
        Verdict::Inconclusive => "inconclusive",
    }
}

/// One compared metric, formatted.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ChangeRow {
    pub point: String,
    pub metric: String,
    pub unit: String,
    pub gated: bool,
    pub baseline: String,
    pub new: String,
    pub change: String,
    pub interval: String,
    pub p: String,
    /// `regressed`, `improved`, `within-noise`, `no-change`, `inconclusive`.
    pub verdict: String,
    /// The verdict with its marker, e.g. `✖ regressed`.
    pub badge: String,
    /// The verdict in words; for an inconclusive one, why.
    pub phrase: String,
    /// Minimum detectable effect at 80 % power.
    pub mde: String,
}

impl ChangeRow {
    /// The row of `m`.
    pub(crate) fn of(m: &MetricComparison) -> ChangeRow {
        let c = &m.comparison;
        ChangeRow {
            point: m.point.clone(),
            metric: metric_title(m.metric).into(),
            unit: m.unit.clone(),
            gated: m.gated,
            baseline: num(Some(c.base_estimate)),
            new: num(Some(c.new_estimate)),
            change: pct(c.rel_change),
            interval: format!("[{}, {}]", pct(c.ci_low), pct(c.ci_high)),
            p: pval(c.p_used()),
            verdict: verdict_word(c.verdict).into(),
            badge: match c.verdict {
                Verdict::Regressed => "✖ regressed",
                Verdict::Improved => "✔ improved",
                Verdict::WithinNoise => "≈ within noise",
                Verdict::NoChange => "no change",
                Verdict::Inconclusive => "? inconclusive",
            }
            .into(),
            phrase: c.explain(),
            mde: pct(c.mde),
        }
    }
}

/// Counts of each verdict over the gated metrics, and over all.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct VerdictCounts {
    pub compared: usize,
    pub gated: usize,
    pub gated_regressed: usize,
    pub regressed: usize,
    pub improved: usize,
    pub within_noise: usize,
    pub no_change: usize,
    pub inconclusive: usize,
}

/// Count the verdicts of `c`.
pub(crate) fn verdict_counts(c: &RunComparison) -> VerdictCounts {
    let mut k = VerdictCounts {
        compared: c.metrics.len(),
        gated: c.metrics.iter().filter(|m| m.gated).count(),
        gated_regressed: c.regressions().count(),
        ..VerdictCounts::default()
    };
    for m in &c.metrics {
        *match m.comparison.verdict {
            Verdict::Regressed => &mut k.regressed,
            Verdict::Improved => &mut k.improved,
            Verdict::WithinNoise => &mut k.within_noise,
            Verdict::NoChange => &mut k.no_change,
            Verdict::Inconclusive => &mut k.inconclusive,
        } += 1;
    }
    k
}

/// The run's warnings: interruption first, then its notes.
pub(crate) fn warnings(run: &RunData) -> Vec<String> {
    let mut w = Vec::new();
    if run.meta.interrupted {
        w.push(
            "Interrupted: the run was stopped before it finished; figures cover what was measured."
                .into(),
        );
    }
    if let Some(stop) = &run.meta.stopped_early {
        w.push(format!(
            "Stopped: the run {stop}; figures cover what was measured."
        ));
    }
    w.extend(run.notes());
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(num(Some(1234.56)), "1235");
        assert_eq!(num(Some(123.456)), "123.5");
        assert_eq!(num(Some(12.3456)), "12.35");
        assert_eq!(num(Some(1.23456)), "1.235");
        assert_eq!(num(None), "-");
        assert_eq!(num(Some(f64::NAN)), "-");
        assert_eq!(pct(0.0523), "+5.2 %");
        assert_eq!(pct(f64::INFINITY), "n/a");
        assert_eq!(pval(0.0001), "<0.001");
        assert_eq!(utc(0.5), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_700_000_000.0), "2023-11-14 22:13:20 UTC");
        assert_eq!(utc(951_782_400.0), "2000-02-29 00:00:00 UTC");
    }
}
