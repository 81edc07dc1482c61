//! CSV output, one row per benchmark point. Column names carry their units.
//! Each column is declared once, with its name and how to read it, so the
//! header and the rows cannot drift apart.

use std::path::Path;

use crate::metrics::{Dist, FailureKind, PointData, PointLabel, RunData, RunKind};
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

type Getter = Box<dyn Fn(&PointData) -> String>;

fn col(name: impl Into<String>, f: impl Fn(&PointData) -> String + 'static) -> (String, Getter) {
    (name.into(), Box::new(f))
}

/// The mean, one column per percentile of `ps` (`<prefix>_p<q>_ms`) and
/// the max of one latency distribution.
fn dist(out: &mut Vec<(String, Getter)>, d: Dist, ps: &[f64]) {
    let (name, unit) = (d.name(), d.unit());
    fn s(d: Dist, p: &PointData) -> &Summary {
        d.summary(&p.summary)
    }
    out.push(col(format!("{name}_mean_{unit}"), move |p| {
        fmt(s(d, p).mean)
    }));
    for &q in ps {
        out.push(col(format!("{name}_p{q}_{unit}"), move |p| {
            fmt(s(d, p).p(q))
        }));
    }
    out.push(col(format!("{name}_max_{unit}"), move |p| fmt(s(d, p).max)));
}

fn label_columns(kind: RunKind) -> Vec<(String, Getter)> {
    match kind {
        RunKind::Static => vec![
            col("prompt_tokens", |p| match &p.label {
                PointLabel::Static { prompt_tokens, .. } => prompt_tokens.to_string(),
                _ => String::new(),
            }),
            col("output_tokens", |p| match &p.label {
                PointLabel::Static { output_tokens, .. } => output_tokens.to_string(),
                _ => String::new(),
            }),
            col("concurrency", |p| match &p.label {
                PointLabel::Static { concurrency, .. } => concurrency.to_string(),
                _ => String::new(),
            }),
            col("epochs", |p| p.summary.epochs.to_string()),
        ],
        RunKind::Dynamic => vec![
            col("request_rate_req_per_s", |p| match &p.label {
                PointLabel::Dynamic { request_rate, .. } => request_rate.to_string(),
                PointLabel::Replay { request_rate, .. } => format!("{:.4}", request_rate.0),
                PointLabel::Sessions { session_rate, .. } => session_rate.to_string(),
                _ => String::new(),
            }),
            col("burstiness", |p| match &p.label {
                PointLabel::Dynamic { burstiness, .. } => burstiness.to_string(),
                _ => String::new(),
            }),
            col("max_concurrency", |p| match &p.label {
                PointLabel::Dynamic {
                    max_concurrency: Some(c),
                    ..
                }
                | PointLabel::Replay {
                    max_concurrency: Some(c),
                    ..
                } => c.to_string(),
                _ => String::new(),
            }),
            col("num_prompts", |p| p.summary.sent.to_string()),
            col("achieved_send_rate_req_per_s", |p| {
                fmt(p.summary.achieved_send_rate)
            }),
            col("send_lateness_p50_ms", |p| {
                fmt(p.summary.send_lateness_ms.p(50.0))
            }),
            col("send_lateness_p99_ms", |p| {
                fmt(p.summary.send_lateness_ms.p(99.0))
            }),
        ],
    }
}

/// The columns of a run's CSV; each latency distribution has a column per
/// percentile of `percentiles` (the run's, [`crate::metrics::RunMeta`]).
pub fn columns(kind: RunKind, percentiles: &[f64]) -> Vec<(String, Getter)> {
    let mut c = label_columns(kind);
    c.push(col("successful_requests", |p| {
        p.summary.completed.to_string()
    }));
    c.push(col("failed_requests", |p| p.summary.failed.to_string()));
    for k in FailureKind::ALL {
        c.push(col(format!("failed_{}", k.as_str()), move |p| {
            p.summary
                .failures
                .get(k.as_str())
                .copied()
                .unwrap_or(0)
                .to_string()
        }));
    }
    c.push(col("wall_time_s", |p| fmt(Some(p.summary.wall_s))));
    c.push(col("request_throughput_req_per_s", |p| {
        fmt(Some(p.summary.request_throughput))
    }));
    c.push(col("output_token_throughput_tok_per_s", |p| {
        fmt(Some(p.summary.output_throughput))
    }));
    c.push(col("total_token_throughput_tok_per_s", |p| {
        fmt(Some(p.summary.total_throughput))
    }));
    if kind == RunKind::Dynamic {
        c.push(col("goodput_req_per_s", |p| fmt(p.summary.goodput)));
    }
    let ps = percentiles;
    for d in Dist::LATENCIES {
        dist(&mut c, d, ps);
    }
    c.push(col("decode_speed_mean_tok_per_s", |p| {
        fmt(p.summary.decode_tokens_per_s.mean)
    }));
    c.push(col("mean_input_tokens", |p| {
        fmt(p.summary.input_tokens.mean)
    }));
    c.push(col("mean_output_tokens", |p| {
        fmt(p.summary.output_tokens.mean)
    }));
    c.push(col("mean_reasoning_tokens", |p| {
        fmt(p.summary.reasoning_tokens.mean)
    }));
    c.push(col("prefix_cache_hit_ratio", |p| {
        fmt(p.summary.prefix_cache_hit_ratio)
    }));

    type ServerGet = fn(&crate::metrics::ServerMeans) -> Option<f64>;
    let server: [(&str, ServerGet); 5] = [
        ("server_time_in_queue_mean_ms", |s| s.time_in_queue_ms),
        ("server_prefill_latency_mean_ms", |s| s.prefill_latency_ms),
        ("server_model_prefill_latency_mean_ms", |s| {
            s.model_prefill_latency_ms
        }),
        ("server_avg_decode_latency_mean_ms", |s| {
            s.avg_decode_latency_ms
        }),
        ("server_request_latency_mean_ms", |s| s.request_latency_ms),
    ];
    for (name, get) in server {
        c.push(col(name, move |p| {
            fmt(p.summary.server.as_ref().and_then(get))
        }));
    }
    // The client's own cost while the point's load ran (empty when not measured).
    c.push(col("client_cpu_util_pct", |p| {
        fmt(p.client.as_ref().map(|l| 100.0 * l.utilisation()))
    }));
    c.push(col("client_cpu_us_per_chunk", |p| {
        fmt(p.client.as_ref().and_then(|l| l.cpu_us_per_chunk()))
    }));
    c.push(col("client_limited", |p| match &p.client {
        Some(l) => l.limited.is_some().to_string(),
        None => String::new(),
    }));
    c
}

/// What the server's own metrics showed (when its `/metrics` was read):
/// its latency medians and means from its histograms, the tokens it
/// counted, its largest queue, batch and KV-cache use, its prefix-cache
/// hit ratio.
fn server_metrics_columns() -> Vec<(String, Getter)> {
    use crate::server_metrics::{Latency, ServerSummary};
    let mut out = Vec::new();
    for l in Latency::ALL {
        for (stat, mean) in [("p50", false), ("mean", true)] {
            out.push(col(
                format!("metrics_{}_{stat}_ms", l.key()),
                move |p: &PointData| {
                    let s = p
                        .server
                        .as_ref()
                        .and_then(|s| s.summary.latency.get(l.key()));
                    fmt(s.and_then(|s| if mean { s.mean_ms } else { s.p50_ms }))
                },
            ));
        }
    }
    type Get = fn(&ServerSummary) -> Option<f64>;
    let figures: [(&str, Get); 6] = [
        ("metrics_prompt_tokens", |s| s.prompt_tokens),
        ("metrics_generation_tokens", |s| s.generation_tokens),
        ("metrics_running_max", |s| s.running.map(|g| g.max)),
        ("metrics_waiting_max", |s| s.waiting.map(|g| g.max)),
        ("metrics_kv_usage_max", |s| s.kv_usage.map(|g| g.max)),
        ("metrics_prefix_hit_ratio", |s| s.prefix_hit_ratio),
    ];
    for (name, get) in figures {
        out.push(col(name, move |p: &PointData| {
            fmt(p.server.as_ref().and_then(|s| get(&s.summary)))
        }));
    }
    out
}

/// The acceptance figures of a run with `--use-spec-decode` (fractions;
/// see [`crate::metrics::spec`]), after `mean_reasoning_tokens`: P90, P99,
/// max, min and mean of the per-request acceptance rate, and the mean
/// tokens per decode step.
fn spec_decode_columns() -> Vec<(String, Getter)> {
    type Get = fn(&crate::metrics::SpecDecodeSummary) -> Option<f64>;
    let cols: [(&str, Get); 6] = [
        ("spec_accept_rate_p90", |s| s.acceptance_rate.p(90.0)),
        ("spec_accept_rate_p99", |s| s.acceptance_rate.p(99.0)),
        ("spec_accept_rate_max", |s| s.acceptance_rate.max),
        ("spec_accept_rate_min", |s| s.acceptance_rate.min),
        ("spec_accept_rate_mean", |s| s.acceptance_rate.mean),
        ("spec_tokens_per_step_mean", |s| s.tokens_per_step.mean),
    ];
    cols.into_iter()
        .map(|(name, get)| {
            col(name, move |p: &PointData| {
                fmt(p.summary.spec_decode.as_ref().and_then(get))
            })
        })
        .collect()
}

/// The figures of a multi-turn sessions run, at the end: completed
/// sessions, session duration p50, TTFT p50 of first and of later turns,
/// goodput in sessions/s.
fn session_columns() -> Vec<(String, Getter)> {
    type Get = fn(&crate::metrics::sessions::SessionFigures) -> Option<f64>;
    let cols: [(&str, Get); 5] = [
        ("sessions_completed", |f| Some(f.completed as f64)),
        ("session_duration_p50_s", |f| f.duration_s.p(50.0)),
        ("ttft_p50_first_turn_ms", |f| f.ttft_p50_first_and_later().0),
        ("ttft_p50_later_turns_ms", |f| {
            f.ttft_p50_first_and_later().1
        }),
        ("session_goodput_per_s", |f| f.goodput_sessions_per_s),
    ];
    cols.into_iter()
        .map(|(name, get)| {
            col(name, move |p: &PointData| {
                fmt(p.summary.sessions.as_ref().and_then(get))
            })
        })
        .collect()
}

/// Write the run's CSV to `path` (parent folders created).
pub fn write_csv(path: &Path, run: &RunData) -> Result<(), CsvError> {
    let err = |e: &dyn std::fmt::Display| CsvError {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| err(&e))?;
    }
    let mut cols = columns(run.meta.kind, &run.meta.percentiles);
    if let Some(img) = run.meta.images.clone() {
        let at = cols
            .iter()
            .position(|(n, _)| n == "epochs")
            .map_or(0, |i| i + 1);
        let per = img.per_request.to_string();
        let size = (img.width.to_string(), img.height.to_string());
        let fmt_name = format!("{:?}", img.format).to_lowercase();
        let bytes = format!("{:.0}", img.mean_encoded_bytes);
        let extra: Vec<(String, Getter)> = vec![
            col("images_per_request", move |_| per.clone()),
            col("image_width_px", move |_| size.0.clone()),
            col("image_height_px", move |_| size.1.clone()),
            col("image_format", move |_| fmt_name.clone()),
            col("image_encoded_bytes_mean", move |_| bytes.clone()),
        ];
        cols.splice(at..at, extra);
    }
    if run.meta.spec_decode.is_some() {
        let at = cols
            .iter()
            .position(|(n, _)| n == "mean_reasoning_tokens")
            .map_or(cols.len(), |i| i + 1);
        cols.splice(at..at, spec_decode_columns());
    }
    if run.points.iter().any(|p| p.summary.sessions.is_some()) {
        cols.extend(session_columns());
    }
    if run.points.iter().any(|p| p.server.is_some()) {
        cols.extend(server_metrics_columns());
    }
    if let Some(info) = run.meta.imported.clone() {
        // An imported run says so on every row: whose figures, and whether
        // they are only the tool's summary.
        cols.push(col("imported_from", move |p| {
            let what = if info.is_summary_only(&p.label.id()) {
                "summary only (the tool's own percentiles)"
            } else {
                "per-request records"
            };
            format!("{}: {what}", info.tool)
        }));
    }
    let mut w = csv::Writer::from_path(path).map_err(|e| err(&e))?;
    w.write_record(cols.iter().map(|(n, _)| n.as_str()))
        .map_err(|e| err(&e))?;
    for p in &run.points {
        w.write_record(cols.iter().map(|(_, g)| g(p)))
            .map_err(|e| err(&e))?;
    }
    w.flush().map_err(|e| err(&e))?;
    Ok(())
}
