//! The readable table printed on the terminal at the end of a sweep.

use crate::load::PointKey;
use crate::metrics::PointSummary;

fn f(v: Option<f64>, prec: usize) -> String {
    v.map(|x| format!("{x:.prec$}"))
        .unwrap_or_else(|| "-".into())
}

/// A fixed-width table of the static sweep's headline figures.
pub fn static_table(rows: &[(PointKey, PointSummary)]) -> String {
    let header = [
        "prompt",
        "output",
        "conc",
        "ok",
        "fail",
        "req/s",
        "out tok/s",
        "TTFT p50",
        "TTFT p99",
        "TPOT p50",
        "TPOT p99",
        "ITL p99",
        "E2EL p50",
        "tok/s/req",
    ];
    let mut lines: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
    for (k, s) in rows {
        lines.push(vec![
            k.prompt_tokens.to_string(),
            k.output_tokens.to_string(),
            k.concurrency.to_string(),
            s.completed.to_string(),
            s.failed.to_string(),
            f(Some(s.request_throughput), 2),
            f(Some(s.output_throughput), 1),
            f(s.ttft_ms.p(50.0), 1),
            f(s.ttft_ms.p(99.0), 1),
            f(s.tpot_ms.p(50.0), 2),
            f(s.tpot_ms.p(99.0), 2),
            f(s.itl_ms.p(99.0), 2),
            f(s.e2el_ms.p(50.0), 1),
            f(s.decode_tokens_per_s.mean, 1),
        ]);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|c| lines.iter().map(|l| l[c].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for (i, l) in lines.iter().enumerate() {
        let cells: Vec<String> = l
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:>w$}"))
            .collect();
        out.push_str(&cells.join("  "));
        out.push('\n');
        if i == 0 {
            out.push_str("(latencies in ms; throughputs per second of wall time)\n");
        }
    }
    out
}
