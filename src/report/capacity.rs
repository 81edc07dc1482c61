//! The outputs of a capacity search: the terminal table, the CSV (one row
//! per probe) and the HTML page with its figures. `capacity.json` itself
//! is written by `baseline`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::error::{write_file, ReportError};
use super::plots::capacity::{goodput_svg, latency_svg};
use super::table::fixed_width;
use super::terminal::{wrap, WIDTH};
use crate::analysis::CapacityComparison;
use crate::metrics::capacity::{num, CapacityResult, LatencyMetric, Probe, Tail};
use crate::stats::Side;

/// Name of the capacity CSV of a run folder.
pub const CAPACITY_CSV: &str = "capacity.csv";

fn verdict(p: &Probe) -> &'static str {
    match p.side {
        Side::Pass => "pass",
        Side::Fail if p.saturated() => "FAIL (saturated)",
        Side::Fail => "FAIL",
        Side::Uncertain => "uncertain",
    }
}

fn ms(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{v:.1}"))
}

fn ratio(p: &Probe) -> String {
    match p.objectives.iter().find(|o| o.name == "goodput_ratio") {
        Some(o) => format!(
            "{:.3} [{:.3}, {:.3}]",
            o.interval.mean,
            o.interval.lo.max(0.0),
            o.interval.hi.min(1.0)
        ),
        None => "-".into(),
    }
}

fn tail_mean(p: &Probe, m: LatencyMetric, f: fn(Tail) -> Option<f64>) -> Option<f64> {
    p.mean_of(|e| {
        f(match m {
            LatencyMetric::Ttft => e.ttft_ms,
            LatencyMetric::Tpot => e.tpot_ms,
            LatencyMetric::E2el => e.e2el_ms,
        })
    })
}

/// The search's answer and its curve, for the terminal.
pub fn capacity_table(c: &CapacityResult, cmp: Option<&CapacityComparison>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} ({} search)", c.name, c.mode.load_name());
    let _ = writeln!(out, "SLOs: {}", c.slo.describe());
    let mut rows = vec![[
        c.mode.unit(),
        "verdict",
        "epochs",
        "goodput ratio [interval]",
        "TTFT p50/p99 ms",
        "TPOT p50/p99 ms",
        "E2EL p50/p99 ms",
    ]
    .map(String::from)
    .to_vec()];
    for p in &c.probes {
        let pair = |m| {
            format!(
                "{}/{}",
                ms(tail_mean(p, m, |t| t.p50)),
                ms(tail_mean(p, m, |t| t.p99))
            )
        };
        rows.push(vec![
            num(p.load),
            verdict(p).into(),
            p.epochs.len().to_string(),
            ratio(p),
            pair(LatencyMetric::Ttft),
            pair(LatencyMetric::Tpot),
            pair(LatencyMetric::E2el),
        ]);
    }
    for line in fixed_width(&rows) {
        let _ = writeln!(out, "  {}", line.trim_end());
    }
    let mut say = |text: String, first: &str, rest: &str| {
        let _ = writeln!(out, "{}", wrap(&text, first, rest, WIDTH).trim_end());
    };
    for p in c.probes.iter().filter(|p| p.side != Side::Pass) {
        let text = format!("{} {}: {}", num(p.load), c.mode.unit(), p.reason);
        say(text, "  ", "    ");
    }
    say(c.headline(), "", "  ");
    let text = format!(
        "the interval: the highest load judged passing and the lowest above it judged \
         failing (probes left uncertain lie between), each judged with {:.0} % two-sided \
         intervals over epochs (how often such an interval holds the capacity: README, \
         Capacity)",
        c.confidence * 100.0
    );
    say(text, "  ", "  ");
    for n in &c.notes {
        say(format!("note: {n}"), "", "  ");
    }
    if let Some(cmp) = cmp {
        say(cmp.line(), "", "  ");
    }
    out
}

fn csv_num(x: Option<f64>) -> String {
    x.filter(|v| v.is_finite())
        .map_or(String::new(), |v| format!("{v}"))
}

/// Write the curve as CSV: one row per probe, in load order.
pub fn write_capacity_csv(path: &Path, c: &CapacityResult) -> Result<(), ReportError> {
    let mut w = csv::Writer::from_path(path).map_err(|e| ReportError::Io {
        path: path.display().to_string(),
        source: std::io::Error::other(e.to_string()),
    })?;
    let mut head: Vec<String> = [
        "load",
        "unit",
        "order",
        "stage",
        "verdict",
        "epochs",
        "goodput_ratio",
        "goodput_ratio_lo",
        "goodput_ratio_hi",
        "goodput_ratio_target",
    ]
    .map(String::from)
    .to_vec();
    for m in ["ttft", "tpot", "e2el"] {
        for p in ["p50", "p90", "p99"] {
            head.push(format!("{m}_{p}_ms"));
        }
    }
    for p in &c.slo.percentiles {
        head.push(format!("slo_{}_ms", p.name()));
        head.push(format!("slo_{}_limit_ms", p.name()));
    }
    head.push("reason".into());
    let io = |e: csv::Error| ReportError::Io {
        path: path.display().to_string(),
        source: std::io::Error::other(e.to_string()),
    };
    w.write_record(&head).map_err(io)?;
    for p in &c.probes {
        let g = p.objectives.iter().find(|o| o.name == "goodput_ratio");
        let mut row = vec![
            num(p.load),
            c.mode.unit().into(),
            p.order.to_string(),
            p.stage.clone(),
            verdict(p).into(),
            p.epochs.len().to_string(),
            csv_num(g.map(|o| o.interval.mean)),
            csv_num(g.map(|o| o.interval.lo)),
            csv_num(g.map(|o| o.interval.hi)),
            csv_num(g.map(|o| o.target)),
        ];
        for m in [
            LatencyMetric::Ttft,
            LatencyMetric::Tpot,
            LatencyMetric::E2el,
        ] {
            for f in [
                (|t: Tail| t.p50) as fn(Tail) -> Option<f64>,
                |t: Tail| t.p90,
                |t: Tail| t.p99,
            ] {
                row.push(csv_num(tail_mean(p, m, f)));
            }
        }
        for s in &c.slo.percentiles {
            let o = p.objectives.iter().find(|o| o.name == s.name());
            row.push(csv_num(o.map(|o| o.interval.mean)));
            row.push(num(s.limit_ms));
        }
        row.push(p.reason.clone());
        w.write_record(&row).map_err(io)?;
    }
    w.flush().map_err(|e| ReportError::io(path, e))
}

/// Escape text for HTML.
pub fn html_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// Write the HTML page of the search, `<dir>/index.html`, with its figures
/// beside it (`capacity_goodput.svg`, `capacity_ttft.svg`...). A figure that
/// cannot be drawn becomes a note on the page.
pub fn write_capacity_html(
    dir: &Path,
    c: &CapacityResult,
    cmp: Option<&CapacityComparison>,
    noplot: bool,
) -> Result<PathBuf, ReportError> {
    let e = html_escape;
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{} - capacity</title>\
         <style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}\
         table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:2px 8px;\
         text-align:right}}td.t{{text-align:left}}</style></head><body>\n",
        e(&c.name)
    );
    let _ = writeln!(h, "<h1>Capacity: {}</h1>", e(&c.name));
    let _ = writeln!(h, "<p><strong>{}</strong></p>", e(&c.headline()));
    let _ = writeln!(
        h,
        "<p>SLOs: {}. Endpoint {} (model {}, backend {}), servebench {}.</p>",
        e(&c.slo.describe()),
        e(&c.base_url),
        e(&c.model),
        e(&c.backend),
        e(&c.servebench_version)
    );
    let _ = writeln!(
        h,
        "<p>The interval runs from the highest load judged passing to the lowest load above \
         it judged failing; probes left uncertain lie between. Each probe is judged with {:.0} \
         % two-sided intervals across its epochs (passing when every objective's interval \
         lies on the passing side, failing when one lies wholly on the failing side). \
         Bisection stopped at a relative width of {} beside the uncertain probes.</p>",
        c.confidence * 100.0,
        num(c.precision)
    );
    if let Some(cmp) = cmp {
        let _ = writeln!(h, "<p><strong>{}</strong></p>", e(&cmp.line()));
    }
    if !noplot {
        let mut figs: Vec<(String, Result<String, String>)> =
            vec![("capacity_goodput.svg".into(), goodput_svg(c))];
        for m in [
            LatencyMetric::Ttft,
            LatencyMetric::Tpot,
            LatencyMetric::E2el,
        ] {
            figs.push((format!("capacity_{}.svg", m.name()), latency_svg(c, m)));
        }
        for (file, svg) in figs {
            match svg {
                Ok(svg) => {
                    write_file(&dir.join(&file), &svg)?;
                    let _ = writeln!(h, "<p><img src=\"{}\" alt=\"{}\"></p>", e(&file), e(&file));
                }
                Err(why) => {
                    let _ = writeln!(h, "<p>figure {} not drawn: {}</p>", e(&file), e(&why));
                }
            }
        }
    }
    let _ = writeln!(
        h,
        "<table><tr><th>{}</th><th>verdict</th><th>epochs</th><th>goodput ratio \
         [interval]</th><th>TTFT p99</th><th>TPOT p99</th><th>E2EL p99</th>\
         <th>reason</th></tr>",
        e(c.mode.unit())
    );
    for p in &c.probes {
        let p99 = |m| ms(tail_mean(p, m, |t| t.p99));
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=\"t\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td class=\"t\">{}</td></tr>",
            e(&num(p.load)),
            e(verdict(p)),
            p.epochs.len(),
            e(&ratio(p)),
            e(&p99(LatencyMetric::Ttft)),
            e(&p99(LatencyMetric::Tpot)),
            e(&p99(LatencyMetric::E2el)),
            e(&p.reason)
        );
    }
    let _ = writeln!(h, "</table>");
    if !c.notes.is_empty() {
        let _ = writeln!(h, "<h2>Notes</h2><ul>");
        for n in &c.notes {
            let _ = writeln!(h, "<li>{}</li>", e(n));
        }
        let _ = writeln!(h, "</ul>");
    }
    let _ = writeln!(h, "</body></html>");
    let path = dir.join("index.html");
    write_file(&path, &h)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_html_reads() {
        assert_eq!(
            html_escape("<script>a&b\"c'</script>"),
            "&lt;script&gt;a&amp;b&quot;c&#39;&lt;/script&gt;"
        );
    }
}
