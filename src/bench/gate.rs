//! The gate of a bench run: its verdict over every benchmark (runs by their
//! comparisons, capacity searches by their intervals), and one Markdown
//! summary for the whole run at `<report dir>/gate-summary.md` (appended to
//! `$GITHUB_STEP_SUMMARY` when set), made of `report::markdown_summary` per
//! benchmark under a verdict.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;

use super::harness::Outcome;
use super::BenchError;
use crate::analysis::GateVerdict;
use crate::baseline::ReportDir;
use crate::report::{markdown_summary, md_escape, wrap, WIDTH};

/// The gate's verdict over the benchmarks that ran: the runs' comparisons
/// judged together ([`GateVerdict::of`]), then each capacity search's
/// ([`crate::analysis::CapacityComparison::gate`]): regressed fails,
/// overlapping intervals or no baseline are inconclusive (unless allowed).
pub(crate) fn verdict(o: &Outcome) -> GateVerdict {
    let ran = o.benches.iter().filter(|b| b.error.is_none());
    let (caps, runs): (Vec<_>, Vec<_>) = ran.partition(|b| b.capacity.is_some());
    let allow = o.allow_inconclusive;
    let mut v = if runs.is_empty() && !caps.is_empty() {
        GateVerdict::Passed { judged: 0 }
    } else {
        GateVerdict::of(
            runs.iter().map(|b| (b.id.as_str(), b.comparison.as_ref())),
            allow,
        )
    };
    for b in caps {
        let c = match (&b.capacity_comparison, allow) {
            (Some(c), _) => match c.gate(allow) {
                GateVerdict::Inconclusive { reasons } => GateVerdict::Inconclusive {
                    reasons: reasons.iter().map(|r| format!("{}: {r}", b.id)).collect(),
                },
                g => g,
            },
            (None, true) => GateVerdict::Passed { judged: 0 },
            (None, false) => GateVerdict::Inconclusive {
                reasons: vec![format!("{}: no baseline to compare with", b.id)],
            },
        };
        v = merge(v, c);
    }
    v
}

/// Two verdicts as one: failed when either failed, else inconclusive when
/// either is, else passed.
fn merge(a: GateVerdict, b: GateVerdict) -> GateVerdict {
    use GateVerdict::{Failed, Inconclusive, Passed};
    match (a, b) {
        (Failed { regressions: x }, Failed { regressions: y }) => Failed { regressions: x + y },
        (f @ Failed { .. }, _) | (_, f @ Failed { .. }) => f,
        (Inconclusive { reasons: mut x }, Inconclusive { reasons: y }) => {
            x.extend(y);
            Inconclusive { reasons: x }
        }
        (i @ Inconclusive { .. }, _) | (_, i @ Inconclusive { .. }) => i,
        (Passed { judged: x }, Passed { judged: y }) => Passed { judged: x + y },
    }
}

/// The gate's verdict in one line.
pub fn verdict_line(o: &Outcome, color: bool) -> String {
    let Some(g) = o.gate() else {
        return String::new();
    };
    let code = match g {
        GateVerdict::Passed { .. } => "\x1b[32m",
        GateVerdict::Failed { .. } => "\x1b[31m",
        GateVerdict::Inconclusive { .. } => "\x1b[33m",
    };
    let mut text = wrap(&g.line(), "", "  ", WIDTH);
    if let GateVerdict::Inconclusive { reasons } = &g {
        for r in reasons {
            text.push_str(&wrap(&format!("- {r}"), "  ", "    ", WIDTH));
        }
        text.push_str(
            "  (more epochs, a wider --noise-threshold, or --gate-allow-inconclusive to let it pass)",
        );
    } else {
        text.pop();
    }
    if color {
        format!("{code}{text}\x1b[0m")
    } else {
        text
    }
}

/// The whole run's summary as Markdown.
pub fn summary_markdown(o: &Outcome) -> String {
    let mut out = String::new();
    let gate = o.gate();
    let head = match &gate {
        Some(GateVerdict::Failed { .. }) => "❌ servebench gate failed",
        Some(GateVerdict::Inconclusive { .. }) => "⚠️ servebench gate INCONCLUSIVE",
        _ => "✅ servebench gate passed",
    };
    let _ = writeln!(out, "# {head}\n");
    if let Some(GateVerdict::Inconclusive { reasons }) = &gate {
        out.push_str("Not judged (never a pass):\n\n");
        for r in reasons {
            let _ = writeln!(out, "- {}", md_escape(r));
        }
        out.push('\n');
    }
    out.push_str(
        "| benchmark | baseline | gated regressions | status |\n| --- | --- | ---: | --- |\n",
    );
    for b in &o.benches {
        let (base, n, status) = match (&b.error, &b.comparison) {
            (None, _) if b.capacity.is_some() => capacity_row(b.capacity_comparison.as_ref()),
            (Some(e), _) => (
                "-".into(),
                0,
                format!("error: {}", md_escape(&e.to_string())),
            ),
            (None, Some(c)) => {
                let n = c.regressions().count();
                let s = if n > 0 {
                    "❌ regressed"
                } else if !c.undecided().is_empty() {
                    "⚠️ inconclusive"
                } else {
                    "✅ ok"
                };
                (md_escape(&c.baseline), n, s.to_string())
            }
            (None, None) => ("-".into(), 0, "⚠️ no baseline".into()),
        };
        let _ = writeln!(out, "| {} | {base} | {n} | {status} |", md_escape(&b.id));
    }
    out.push('\n');
    for b in &o.benches {
        if let Some(run) = &b.run {
            out.push_str(&markdown_summary(run, b.comparison.as_ref()));
            out.push('\n');
        }
        if let Some(c) = &b.capacity {
            let _ = writeln!(
                out,
                "### {}\n\n{}\n",
                md_escape(&b.id),
                md_escape(&c.headline())
            );
            if let Some(cmp) = &b.capacity_comparison {
                let _ = writeln!(out, "{}\n", md_escape(&cmp.line()));
            }
        }
    }
    out
}

/// A capacity search's row of the summary: baseline, regressions, status.
fn capacity_row(cmp: Option<&crate::analysis::CapacityComparison>) -> (String, usize, String) {
    use crate::stats::CapacityChange;
    let Some(c) = cmp else {
        return ("-".into(), 0, "⚠️ no baseline".into());
    };
    let (n, status) = match (c.change, &c.not_comparable) {
        (_, Some(_)) => (0, "⚠️ not comparable"),
        (CapacityChange::Regressed, None) => (1, "❌ capacity regressed"),
        (CapacityChange::Inconclusive, None) => (0, "⚠️ inconclusive (intervals overlap)"),
        (CapacityChange::Improved, None) => (0, "✅ capacity improved"),
        (CapacityChange::NoChange, None) => (0, "✅ no change"),
    };
    (md_escape(&c.baseline), n, status.into())
}

/// Write the summary; append it to `step_summary` (the value of
/// `GITHUB_STEP_SUMMARY`) when given.
pub fn write_summary(
    reports: &ReportDir,
    o: &Outcome,
    step_summary: Option<String>,
) -> Result<PathBuf, BenchError> {
    let md = summary_markdown(o);
    let path = reports.gate_summary();
    let io = |path: PathBuf| move |source| BenchError::Write { path, source };
    std::fs::create_dir_all(reports.root()).map_err(io(reports.root().to_path_buf()))?;
    std::fs::write(&path, &md).map_err(io(path.clone()))?;
    if let Some(s) = step_summary.filter(|s| !s.is_empty()) {
        let p = PathBuf::from(s);
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&p)
            .and_then(|mut f| f.write_all(md.as_bytes()))
            .map_err(io(p))?;
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::CapacityComparison;
    use crate::bench::BenchOutcome;
    use crate::metrics::capacity::{CapacityMode, CapacityResult, CapacitySlo};
    use crate::stats::CapacityChange;

    fn capacity(lo: f64, hi: f64) -> CapacityResult {
        CapacityResult {
            name: "c".into(),
            mode: CapacityMode::Rate,
            slo: CapacitySlo {
                per_request: crate::metrics::Slo {
                    ttft_ms: Some(100.0),
                    ..Default::default()
                },
                goodput_ratio: 0.9,
                percentiles: Vec::new(),
            },
            confidence: 0.95,
            precision: 0.1,
            lo: Some(lo),
            hi: Some(hi),
            estimate: None,
            interval_confidence: 0.95,
            probes: Vec::new(),
            notes: Vec::new(),
            base_url: String::new(),
            model: String::new(),
            backend: String::new(),
            servebench_version: String::new(),
            started_unix_s: 0.0,
        }
    }

    /// A capacity benchmark `id` found `[lo, hi]`, against `base` if given.
    fn bench(id: &str, new: (f64, f64), base: Option<(f64, f64)>) -> BenchOutcome {
        let n = capacity(new.0, new.1);
        BenchOutcome {
            capacity_comparison: base
                .map(|b| CapacityComparison::of(&capacity(b.0, b.1), &n, "main", 0.0)),
            capacity: Some(n),
            ..BenchOutcome::new(id.into())
        }
    }

    fn gate(benches: Vec<BenchOutcome>, allow: bool) -> GateVerdict {
        let o = Outcome {
            benches,
            gated: true,
            allow_inconclusive: allow,
            ..Outcome::default()
        };
        o.gate().unwrap()
    }

    #[test]
    fn capacities_are_gated_by_their_intervals_together() {
        let below = bench("a", (30.0, 33.0), Some((40.0, 44.0)));
        assert_eq!(
            below.capacity_comparison.as_ref().unwrap().change,
            CapacityChange::Regressed
        );
        let overlap = || bench("b", (41.0, 45.0), Some((40.0, 44.0)));
        let above = || bench("c", (50.0, 55.0), Some((40.0, 44.0)));
        let none = || bench("d", (40.0, 44.0), None);
        // A regression fails the gate, whatever else is unjudged.
        assert_eq!(
            gate(vec![below, overlap(), none()], false),
            GateVerdict::Failed { regressions: 1 }
        );
        // Overlap and no baseline: inconclusive, each reason named.
        let GateVerdict::Inconclusive { reasons } = gate(vec![overlap(), above(), none()], false)
        else {
            panic!("inconclusive expected")
        };
        assert_eq!(reasons.len(), 2, "{reasons:?}");
        assert!(
            reasons[0].starts_with("b: capacity inconclusive"),
            "{reasons:?}"
        );
        assert_eq!(reasons[1], "d: no baseline to compare with");
        // Allowed, they pass; an improvement alone passes.
        assert!(matches!(
            gate(vec![overlap(), none()], true),
            GateVerdict::Passed { .. }
        ));
        assert_eq!(
            gate(vec![above()], false),
            GateVerdict::Passed { judged: 1 }
        );
        // An errored benchmark is not judged (the run exits 2 for it).
        let mut broken = overlap();
        broken.error = Some(BenchError::Invalid {
            id: "b".into(),
            reason: "x".into(),
        });
        assert_eq!(
            gate(vec![broken, above()], false),
            GateVerdict::Passed { judged: 1 }
        );
    }

    #[test]
    fn the_summary_has_a_row_and_a_line_per_capacity() {
        let o = Outcome {
            benches: vec![bench("cap/x", (30.0, 33.0), Some((40.0, 44.0)))],
            gated: true,
            ..Outcome::default()
        };
        let md = summary_markdown(&o);
        assert!(md.contains("servebench gate failed"), "{md}");
        assert!(
            md.contains("| cap/x | main | 1 | ❌ capacity regressed |"),
            "{md}"
        );
        assert!(md.contains("capacity regressed: \\[30, 33\\]"), "{md}");
    }
}
