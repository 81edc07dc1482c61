//! A Markdown summary of a run, fit for a pull-request comment: the verdict
//! against the baseline first, then the headline figures of every point.

use std::fmt::Write as _;
use std::path::Path;

use super::error::{write_file, ReportError};
use super::figures::{headline_rows, utc, verdict_counts, warnings, ChangeRow};
use crate::analysis::RunComparison;
use crate::metrics::{RunData, RunKind};

/// Escape a string from a dataset, server or user for Markdown: table pipes,
/// emphasis and code marks, links and raw HTML are neutralised.
pub fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '|' | '*' | '_' | '`' | '[' | ']' | '\\' | '#' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn marker(verdict: &str) -> &'static str {
    match verdict {
        "regressed" => "❌ **regressed**",
        "improved" => "✅ improved",
        "within-noise" => "≈ within noise",
        "no-change" => "no change",
        _ => "❔ inconclusive",
    }
}

/// The comparison table of `rows`.
fn change_table(out: &mut String, rows: Vec<&ChangeRow>) {
    out.push_str("| point | metric | baseline | new | change | interval | p | MDE | verdict |\n");
    out.push_str("| --- | --- | ---: | ---: | ---: | --- | ---: | ---: | --- |\n");
    for r in rows {
        let gate = if r.gated { "" } else { " (advisory)" };
        let _ = writeln!(
            out,
            "| {} | {}{} | {} {} | {} {} | {} | {} | {} | {} | {} |",
            md_escape(&r.point),
            r.metric,
            gate,
            r.baseline,
            r.unit,
            r.new,
            r.unit,
            r.change,
            r.interval,
            r.p,
            r.mde.trim_start_matches('+'),
            if r.verdict == "inconclusive" {
                format!("{} {}", marker(&r.verdict), md_escape(&r.phrase))
            } else {
                marker(&r.verdict).to_string()
            }
        );
    }
}

fn comparison_section(out: &mut String, c: &RunComparison) {
    let k = verdict_counts(c);
    let cfg = &c.config;
    let _ = writeln!(
        out,
        "### Compared with baseline **{}**\n",
        md_escape(&c.baseline)
    );
    let headline = if k.gated_regressed > 0 {
        format!(
            "**❌ {} gated regression{}**",
            k.gated_regressed,
            if k.gated_regressed == 1 { "" } else { "s" }
        )
    } else if k.gated > 0 && k.inconclusive == k.compared {
        "**❔ inconclusive: too few epochs to judge**".to_string()
    } else {
        "**✅ no gated regression**".to_string()
    };
    let _ = writeln!(
        out,
        "{headline}: {} metrics compared ({} gated): {} regressed, {} improved, {} within noise, {} no change, {} inconclusive. \
         Interval: {:.0} % t interval of the log ratio of the epoch figures' means; p: the same statistic, Holm-adjusted over the gated metrics; \
         noise threshold ±{:.1} %.\n",
        k.compared,
        k.gated,
        k.regressed,
        k.improved,
        k.within_noise,
        k.no_change,
        k.inconclusive,
        cfg.confidence * 100.0,
        cfg.noise_threshold * 100.0
    );
    if let Some(n) = c.run_noise_note() {
        let _ = writeln!(out, "Note: {}.\n", md_escape(&n));
    }
    let rows: Vec<ChangeRow> = c.metrics.iter().map(ChangeRow::of).collect();
    let gated_bad: Vec<&ChangeRow> = rows
        .iter()
        .filter(|r| r.gated && r.verdict == "regressed")
        .collect();
    if !gated_bad.is_empty() {
        out.push_str("Gated regressions:\n\n");
        change_table(out, gated_bad);
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "<details><summary>All {} compared metrics</summary>\n",
        rows.len()
    );
    change_table(out, rows.iter().collect());
    out.push_str("\n</details>\n");
    if !c.unmatched_points.is_empty() {
        let pts: Vec<String> = c.unmatched_points.iter().map(|p| md_escape(p)).collect();
        let _ = writeln!(
            out,
            "\nNot in the baseline (not compared): {}.",
            pts.join(", ")
        );
    }
    out.push('\n');
}

fn results_section(out: &mut String, run: &RunData) {
    let goodput = !run.meta.slo.is_empty();
    out.push_str("### Results\n\n");
    out.push_str("| point | ok | failed | req/s | output tok/s |");
    if goodput {
        out.push_str(" goodput req/s |");
    }
    out.push_str(
        " TTFT p50 | TTFT p99 | TPOT p50 | TPOT p99 | ITL p50 | ITL p99 | E2EL p50 | E2EL p99 |\n",
    );
    out.push_str("| --- | ---: | ---: | ---: | ---: |");
    if goodput {
        out.push_str(" ---: |");
    }
    out.push_str(" ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for r in headline_rows(run) {
        let failed = if r.failed > 0 {
            format!("**{}**", r.failed)
        } else {
            "0".into()
        };
        let _ = write!(
            out,
            "| {} | {} | {} | {} | {} |",
            md_escape(&r.id),
            r.ok,
            failed,
            r.req_s,
            r.out_tok_s
        );
        if goodput {
            let _ = write!(out, " {} |", r.goodput);
        }
        let _ = writeln!(
            out,
            " {} | {} | {} | {} | {} | {} | {} | {} |",
            r.ttft_p50,
            r.ttft_p99,
            r.tpot_p50,
            r.tpot_p99,
            r.itl_p50,
            r.itl_p99,
            r.e2el_p50,
            r.e2el_p99
        );
    }
    out.push_str("\nLatencies in ms (TTFT: time to first token; TPOT: time per output token after the first; ITL: per-token inter-token latency; E2EL: end-to-end latency). Throughputs per second of wall time.\n");
}

/// The run (and its comparison with a baseline, if any) as Markdown.
pub fn markdown_summary(run: &RunData, comparison: Option<&RunComparison>) -> String {
    let m = &run.meta;
    let mut out = String::new();
    let _ = writeln!(out, "## servebench: {}\n", md_escape(&m.name));
    let kind = match m.kind {
        RunKind::Static => "static (closed loop)",
        RunKind::Dynamic => "dynamic (open loop)",
    };
    let server = if m.embedded_sim {
        "embedded simulator".to_string()
    } else {
        md_escape(&m.base_url)
    };
    let _ = writeln!(
        out,
        "Model **{}** on {} ({} backend), {} benchmark, {} point{}, started {}, servebench {}.\n",
        md_escape(&m.model),
        server,
        md_escape(&m.backend),
        kind,
        run.points.len(),
        if run.points.len() == 1 { "" } else { "s" },
        utc(m.started_unix_s),
        md_escape(&m.servebench_version)
    );
    for w in warnings(run) {
        let _ = writeln!(out, "> ⚠️ {}\n", md_escape(&w));
    }
    if let Some(c) = comparison {
        comparison_section(&mut out, c);
    }
    results_section(&mut out, run);
    out
}

/// Write [`markdown_summary`] to `path` (parent folders created).
pub fn write_markdown(
    path: &Path,
    run: &RunData,
    comparison: Option<&RunComparison>,
) -> Result<(), ReportError> {
    write_file(path, &markdown_summary(run, comparison))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markdown_and_html() {
        assert_eq!(md_escape("a|b"), "a\\|b");
        assert_eq!(md_escape("<script>"), "&lt;script&gt;");
        assert_eq!(md_escape("x_y*z"), "x\\_y\\*z");
    }
}
