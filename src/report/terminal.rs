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

/// Columns the terminal output fits in.
pub const WIDTH: usize = 120;

/// `text` broken at spaces into lines of at most `width` characters (a
/// word longer than a line stays whole), the first line after `first`, the
/// others after `rest`; every line ends with a newline.
///
/// Spacing inside a line is kept.
///
/// ```
/// let s = servebench::report::wrap("one two three four", "  ", "    ", 12);
/// assert_eq!(s, "  one two\n    three\n    four\n");
/// let s = servebench::report::wrap("a  b", "", "", 80);
/// assert_eq!(s, "a  b\n");
/// let s = servebench::report::wrap("abcdefghij xy", "", "", 4);
/// assert_eq!(s, "abcdefghij\nxy\n");
/// ```
pub fn wrap(text: &str, first: &str, rest: &str, width: usize) -> String {
    let mut out = String::new();
    let mut prefix = first;
    let mut left = text.trim_end();
    loop {
        let room = width.saturating_sub(prefix.chars().count()).max(1);
        // The byte index where the line must end, if the rest is too long.
        let cut = left.char_indices().nth(room).map(|(i, _)| i);
        let (line, next) = match cut {
            None => (left, ""),
            Some(end) => {
                // The last space at or before the limit, else the first after
                // it (a word longer than a line stays whole).
                let at = left[..=end]
                    .rfind(' ')
                    .filter(|&i| !left[..i].trim().is_empty())
                    .or_else(|| left[end..].find(' ').map(|i| i + end));
                match at {
                    Some(i) => (left[..i].trim_end(), left[i..].trim_start()),
                    None => (left, ""),
                }
            }
        };
        out.push_str(prefix);
        out.push_str(line);
        out.push('\n');
        if next.is_empty() {
            return out;
        }
        prefix = rest;
        left = next;
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
        let head = format!(
            "{}  {}  [{} epochs, {} ok, {} failed]",
            p.label.id(),
            p.label.describe(),
            s.epochs,
            s.completed,
            s.failed
        );
        out.push_str(&wrap(&head, "  ", "      ", WIDTH));
        let id = p.label.id();
        for m in rows.metrics.iter().filter(|m| m.point == id) {
            let c = &m.comparison;
            let name = format!("{}{}", m.metric.name(), if m.gated { "*" } else { "" });
            // Two lines a metric, so that a comparison fits 120 columns:
            // the figures and the change, then the test and the verdict.
            let _ = writeln!(
                out,
                "    {name:<20}{} was {} change {} [{} {}]  MDE {}",
                value(m.new_figure.unwrap_or(c.new_estimate), &m.unit),
                value(m.base_figure.unwrap_or(c.base_estimate), &m.unit),
                pct(c.rel_change),
                pct(c.ci_low),
                pct(c.ci_high),
                pct(c.mde).trim_start_matches('+'),
            );
            let judged = format!("{}  {}", p_text(m), c.explain());
            let line = wrap(&judged, "        ", "          ", WIDTH);
            // Only the verdict phrase is coloured.
            out.push_str(&line.replacen(&c.explain(), &verdict_text(c, color), 1));
        }
    }
    for note in run.notes().into_iter().chain(rows.run_noise_note()) {
        out.push_str(&wrap(&format!("note: {note}"), "  ", "        ", WIDTH));
    }
    let c = rows;
    if !c.missing_points.is_empty() {
        let text = format!(
            "in the baseline but not in this run (not compared): {}",
            c.missing_points.join(", ")
        );
        out.push_str(&wrap(&text, "  ", "    ", WIDTH));
    }
    if !c.unmatched_points.is_empty() {
        let text = format!(
            "not in the baseline (not compared): {}",
            c.unmatched_points.join(", ")
        );
        out.push_str(&wrap(&text, "  ", "    ", WIDTH));
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
    let footer = format!(
        "* gated (Holm over the gated metrics); figures pooled over each point's epochs; change: \
         {change} interval {:.0} % on its log; MDE at 80 % power; noise threshold ±{:.1} %",
        c.config.confidence * 100.0,
        c.config.noise_threshold * 100.0
    );
    out.push_str(&wrap(&footer, "  ", "    ", WIDTH));
    out
}
