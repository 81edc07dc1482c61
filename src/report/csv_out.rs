//! CSV output. Column names carry their units; one row per benchmark point.

use std::path::Path;

use crate::load::PointKey;
use crate::metrics::{failure_counts, PointSummary};
use crate::stats::Summary;

/// Errors writing a CSV file.
#[derive(Debug, thiserror::Error)]
#[error("cannot write CSV {path}: {reason}")]
pub struct CsvError {
    pub path: String,
    pub reason: String,
}

fn fmt(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x:.3}"),
        _ => String::new(),
    }
}

fn dist_cols(prefix: &str, out: &mut Vec<String>) {
    for stat in ["mean", "p50", "p90", "p99"] {
        out.push(format!("{prefix}_{stat}_ms"));
    }
}

fn dist_vals(s: &Summary, out: &mut Vec<String>) {
    out.push(fmt(s.mean));
    for p in [50.0, 90.0, 99.0] {
        out.push(fmt(s.p(p)));
    }
}

/// The static benchmark's CSV header.
pub fn static_csv_header() -> Vec<String> {
    let mut h: Vec<String> = [
        "prompt_tokens",
        "output_tokens",
        "concurrency",
        "epochs",
        "successful_requests",
        "failed_requests",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for (k, _) in failure_counts(&PointSummary::empty()) {
        h.push(format!("failed_{}", k.as_str()));
    }
    h.extend(
        [
            "wall_time_s",
            "request_throughput_req_per_s",
            "output_token_throughput_tok_per_s",
            "total_token_throughput_tok_per_s",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    dist_cols("ttft", &mut h);
    dist_cols("tpot", &mut h);
    h.push("itl_p50_ms".into());
    h.push("itl_p99_ms".into());
    dist_cols("e2el", &mut h);
    h.extend(
        [
            "decode_speed_mean_tok_per_s",
            "mean_input_tokens",
            "mean_output_tokens",
            "server_time_in_queue_mean_ms",
            "server_prefill_latency_mean_ms",
            "server_model_prefill_latency_mean_ms",
            "server_avg_decode_latency_mean_ms",
            "server_request_latency_mean_ms",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    h
}

/// One row of the static CSV.
pub fn static_csv_row(key: &PointKey, s: &PointSummary) -> Vec<String> {
    let mut r = vec![
        key.prompt_tokens.to_string(),
        key.output_tokens.to_string(),
        key.concurrency.to_string(),
        s.epochs.to_string(),
        s.completed.to_string(),
        s.failed.to_string(),
    ];
    for (_, n) in failure_counts(s) {
        r.push(n.to_string());
    }
    r.push(fmt(Some(s.wall_s)));
    r.push(fmt(Some(s.request_throughput)));
    r.push(fmt(Some(s.output_throughput)));
    r.push(fmt(Some(s.total_throughput)));
    dist_vals(&s.ttft_ms, &mut r);
    dist_vals(&s.tpot_ms, &mut r);
    r.push(fmt(s.itl_ms.p(50.0)));
    r.push(fmt(s.itl_ms.p(99.0)));
    dist_vals(&s.e2el_ms, &mut r);
    r.push(fmt(s.decode_tokens_per_s.mean));
    r.push(fmt(s.input_tokens.mean));
    r.push(fmt(s.output_tokens.mean));
    let sv = s.server.clone().unwrap_or_default();
    for v in [
        sv.time_in_queue_ms,
        sv.prefill_latency_ms,
        sv.model_prefill_latency_ms,
        sv.avg_decode_latency_ms,
        sv.request_latency_ms,
    ] {
        r.push(fmt(v));
    }
    r
}

/// Write the static CSV to `path` (parent folders created).
pub fn write_static_csv(path: &Path, rows: &[(PointKey, PointSummary)]) -> Result<(), CsvError> {
    let err = |e: &dyn std::fmt::Display| CsvError {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| err(&e))?;
    }
    let mut w = csv::Writer::from_path(path).map_err(|e| err(&e))?;
    w.write_record(static_csv_header()).map_err(|e| err(&e))?;
    for (k, s) in rows {
        w.write_record(static_csv_row(k, s)).map_err(|e| err(&e))?;
    }
    w.flush().map_err(|e| err(&e))?;
    Ok(())
}
