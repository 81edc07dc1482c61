//! The terminal report. A run alone prints as the table of its figures
//! ([`run_table`]); a run against a baseline prints in Criterion's spirit:
//! per point, each metric's figure, its change, interval, p-value and
//! verdict phrase, coloured (red regressed, green improved). Every figure is
//! the one the CSV and the JSON hold (pooled over the point's epochs); the
//! change and its interval are estimated from the epoch figures.

use std::fmt::Write;

use super::run_table;
use crate::analysis::{MetricComparison, RunComparison};
use crate::metrics::RunData;
use crate::stats::{Comparison, Verdict};

/// Whether terminal output is coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ColorChoice {
    /// When stdout is a terminal and `NO_COLOR` is unset.
    #[default]
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Resolve `Auto` for stdout.
    pub fn enabled(self) -> bool {
        use std::io::IsTerminal;
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal()
            }
        }
    }
}

impl std::str::FromStr for ColorChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(ColorChoice::Auto),
            "always" => Ok(ColorChoice::Always),
            "never" => Ok(ColorChoice::Never),
            _ => Err(format!("`{s}`: expected auto, always or never")),
        }
    }
}

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

/// The terminal text of one run: the table of its figures alone, or its
/// comparison with a baseline when `cmp` is given.
///
/// ```no_run
/// # fn demo(run: &servebench::metrics::RunData) {
/// print!("{}", servebench::report::render_run("static/short", run, None, false));
/// # }
/// ```
pub fn render_run(id: &str, run: &RunData, cmp: Option<&RunComparison>, color: bool) -> String {
    let mut out = String::new();
    let _ = write!(out, "{}", paint(id, BOLD, color));
    let Some(rows) = cmp else {
        out.push('\n');
        out.push_str(&run_table(run));
        return out;
    };
    let _ = writeln!(out, "  (vs {})", rows.baseline);
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
            let _ = writeln!(
                out,
                "    {name:<20}{} was {} change {} [{} {}]  {}  MDE {}  {}",
                value(m.new_figure.unwrap_or(c.new_estimate), &m.unit),
                value(m.base_figure.unwrap_or(c.base_estimate), &m.unit),
                pct(c.rel_change),
                pct(c.ci_low),
                pct(c.ci_high),
                p_text(m),
                pct(c.mde).trim_start_matches('+'),
                verdict_text(c, color)
            );
        }
    }
    for note in run.notes() {
        let _ = writeln!(out, "  note: {note}");
    }
    let c = rows;
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
    let paired = c
        .metrics
        .iter()
        .any(|m| m.comparison.test == crate::stats::TestMethod::PairedLogT);
    let change = if paired {
        "geometric mean of the paired epochs' ratios, one-sample t"
    } else {
        "ratio of epoch means, t"
    };
    let _ = writeln!(
        out,
        "  * gated (Holm over the gated metrics); figures pooled over each point's epochs; change: \
         {change} interval {:.0} % on its log; MDE at 80 % power; noise threshold ±{:.1} %",
        c.config.confidence * 100.0,
        c.config.noise_threshold * 100.0
    );
    out
}
