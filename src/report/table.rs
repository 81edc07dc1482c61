//! The readable table printed on the terminal at the end of a run.

use crate::metrics::{PointLabel, RunData};

fn f(v: Option<f64>, prec: usize) -> String {
    v.map(|x| format!("{x:.prec$}"))
        .unwrap_or_else(|| "-".into())
}

/// A fixed-width table of the run's headline figures, one line per point.
pub fn run_table(run: &RunData) -> String {
    let dynamic = run
        .points
        .first()
        .is_some_and(|p| p.label.request_rate().is_some());
    let mut header: Vec<&str> = if dynamic {
        vec!["rate", "sent/s", "late p99"]
    } else {
        vec!["prompt", "output", "conc"]
    };
    header.extend([
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
    ]);
    if dynamic {
        header.push("goodput");
    } else {
        header.push("tok/s/req");
    }
    let mut lines: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
    for p in &run.points {
        let s = &p.summary;
        let mut l = match &p.label {
            PointLabel::Static {
                prompt_tokens,
                output_tokens,
                concurrency,
            } => vec![
                prompt_tokens.to_string(),
                output_tokens.to_string(),
                concurrency.to_string(),
            ],
            PointLabel::Dynamic { request_rate, .. } => vec![
                request_rate.to_string(),
                f(s.achieved_send_rate, 2),
                f(s.send_lateness_ms.p(99.0), 2),
            ],
            PointLabel::Sessions { session_rate, .. } => vec![
                format!("{session_rate}/s"),
                f(s.achieved_send_rate, 2),
                f(s.send_lateness_ms.p(99.0), 2),
            ],
            PointLabel::Replay { speedup, .. } => vec![
                format!("{speedup}x"),
                f(s.achieved_send_rate, 2),
                f(s.send_lateness_ms.p(99.0), 2),
            ],
        };
        l.extend([
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
        ]);
        l.push(if dynamic {
            f(s.goodput, 2)
        } else {
            f(s.decode_tokens_per_s.mean, 1)
        });
        lines.push(l);
    }
    let mut out = String::new();
    for (i, line) in fixed_width(&lines).iter().enumerate() {
        out.push_str(line);
        out.push('\n');
        if i == 0 {
            out.push_str("(latencies in ms; throughputs per second of wall time)\n");
        }
    }
    let note = |text: String| super::wrap(&format!("note: {text}"), "", "      ", super::WIDTH);
    for n in run.notes() {
        out.push_str(&note(n));
    }
    if run.meta.interrupted {
        out.push_str(&note(
            "INTERRUPTED: the run was stopped before it finished".into(),
        ));
    }
    if let Some(stop) = &run.meta.stopped_early {
        out.push_str(&note(format!("STOPPED: the run {stop}")));
    }
    out
}

/// Rows of cells as right-aligned, fixed-width lines (two spaces apart).
pub fn fixed_width(rows: &[Vec<String>]) -> Vec<String> {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(String::len)
                .max()
                .unwrap_or(0)
        })
        .collect();
    rows.iter()
        .map(|r| {
            r.iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:>w$}"))
                .collect::<Vec<_>>()
                .join("  ")
        })
        .collect()
}
