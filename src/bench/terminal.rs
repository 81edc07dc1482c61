//! Terminal output in Criterion's spirit: per benchmark id and point, each
//! metric's estimate and, against a baseline, its change, interval, p-value
//! and verdict phrase, coloured (red regressed, green improved).

use std::fmt::Write;

use super::harness::BenchOutcome;
use crate::analysis::{compare_runs, MetricComparison, RunComparison};
use crate::metrics::RunData;
use crate::stats::{CompareConfig, Comparison, Verdict};

const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

fn paint(s: &str, code: &str, color: bool) -> String {
    if color {
        format!("{code}{s}{RESET}")
    } else {
        s.to_string()
    }
}

/// A figure with a precision fitting its size, right-aligned, and its unit.
pub fn value(v: f64, unit: &str) -> String {
    if !v.is_finite() {
        return format!("{v:>9} {unit:<5}");
    }
    let a = v.abs();
    let prec = if a >= 1000.0 {
        0
    } else if a >= 100.0 {
        1
    } else if a >= 10.0 {
        2
    } else {
        3
    };
    format!("{v:>9.prec$} {unit:<5}")
}

fn pct(x: f64) -> String {
    if x.is_finite() {
        format!("{:+.2}%", x * 100.0)
    } else {
        format!("{x}")
    }
}

fn p_text(m: &MetricComparison) -> String {
    let c = &m.comparison;
    let p = |x: f64| {
        if x < 1e-4 {
            "< 0.0001".to_string()
        } else {
            format!("= {x:.4}")
        }
    };
    match c.p_adjusted {
        Some(adj) => format!(
            "p {} (Holm {})",
            p(c.p_value),
            p(adj).trim_start_matches("= ")
        ),
        None => format!("p {}", p(c.p_value)),
    }
}

fn verdict_text(c: &Comparison, color: bool) -> String {
    let code = match c.verdict {
        Verdict::Regressed => RED,
        Verdict::Improved => GREEN,
        Verdict::Inconclusive => YELLOW,
        Verdict::WithinNoise | Verdict::NoChange => return c.explain(),
    };
    paint(&c.explain(), code, color)
}

/// Each metric's estimate (mean of its epoch figures) with no baseline: the
/// run compared with itself, without resampling, so that the figures come
/// from the one metric catalogue in `analysis`.
pub fn estimates(run: &RunData) -> RunComparison {
    let cfg = CompareConfig {
        nresamples: 0,
        ..CompareConfig::default()
    };
    compare_runs(run, run, "", &[], &cfg)
}

/// The lines of one run, compared with a baseline when `cmp` is given.
///
/// ```no_run
/// # fn demo(run: &servebench::metrics::RunData) {
/// print!("{}", servebench::bench::render_run("static/short", run, None, false));
/// # }
/// ```
pub fn render_run(id: &str, run: &RunData, cmp: Option<&RunComparison>, color: bool) -> String {
    let mut out = String::new();
    let _ = write!(out, "{}", paint(id, BOLD, color));
    match cmp {
        Some(c) => {
            let _ = writeln!(out, "  (vs {})", c.baseline);
        }
        None => out.push('\n'),
    }
    let own;
    let rows = match cmp {
        Some(c) => c,
        None => {
            own = estimates(run);
            &own
        }
    };
    for p in &run.points {
        let s = &p.summary;
        let _ = writeln!(
            out,
            "  {}  {}  [{} epochs, {} ok, {} failed]",
            p.label.id(),
            p.label.describe(),
            s.epochs,
            s.completed,
            s.failed
        );
        let id = p.label.id();
        for m in rows.metrics.iter().filter(|m| m.point == id) {
            let c = &m.comparison;
            let name = format!("{}{}", m.metric.name(), if m.gated { "*" } else { "" });
            let _ = write!(out, "    {name:<20}{}", value(c.new_estimate, &m.unit));
            if cmp.is_some() {
                let _ = write!(
                    out,
                    " was {} change {} [{} {}]  {}  MDE {}  {}",
                    value(c.base_estimate, &m.unit),
                    pct(c.rel_change),
                    pct(c.ci_low),
                    pct(c.ci_high),
                    p_text(m),
                    pct(c.mde).trim_start_matches('+'),
                    verdict_text(c, color)
                );
            }
            out.push('\n');
        }
    }
    for note in run.notes() {
        let _ = writeln!(out, "  note: {note}");
    }
    if let Some(c) = cmp {
        if !c.missing_points.is_empty() {
            let _ = writeln!(
                out,
                "  in the baseline but not in this run (not compared): {}",
                c.missing_points.join(", ")
            );
        }
        if !c.unmatched_points.is_empty() {
            let _ = writeln!(
                out,
                "  not in the baseline (not compared): {}",
                c.unmatched_points.join(", ")
            );
        }
        let _ = writeln!(
            out,
            "  * gated (Holm over the gated metrics); t interval {:.0} % on the log ratio; MDE at 80 % power; noise threshold ±{:.1} %",
            c.config.confidence * 100.0,
            c.config.noise_threshold * 100.0
        );
    }
    out
}

/// What one benchmark printed after it ran.
pub fn render_outcome(b: &BenchOutcome, smoke: bool, color: bool) -> String {
    // Errors are printed once, by the harness, at the end.
    let Some(run) = &b.run else {
        return String::new();
    };
    if smoke {
        let n: usize = run.points.iter().map(|p| p.summary.completed).sum();
        return format!("Testing {}\nSuccess ({n} requests)\n", b.id);
    }
    let mut s = render_run(&b.id, run, b.comparison.as_ref(), color);
    s.push('\n');
    s
}
