//! guidellm's `benchmarks.json`: one point per benchmark, from its
//! per-request stats (`requests.successful` / `errored` / `incomplete`, with
//! `info.timings`) when present, else from its `metrics` distributions
//! (`successful` of each), summary only.

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::{
    figure_note, point_of, records, Imported, ImportedRequest, InteropError, ReportedPoint,
    Summary, Tool,
};
use crate::metrics::{PointData, PointLabel, Rate};

/// How guidellm's definitions differ from servebench's.
pub const DEFINITIONS: &str = "guidellm's definitions: its TPOT (`time_per_output_token_ms`) \
    is (last token - request start) / output tokens, so it includes the first token's wait \
    (not imported as TPOT); its ITL (`inter_token_latency_ms`) is (last token - first token) / \
    (output tokens - 1), which is servebench's TPOT; its request latency runs to the end of the \
    response (servebench's done), shown as E2EL in a summary-only import; it keeps only the \
    first and last token times of a request and its count of token iterations, not every chunk";

#[derive(Debug, Deserialize)]
struct Report {
    benchmarks: Vec<Benchmark>,
}

#[derive(Debug, Deserialize)]
struct Benchmark {
    #[serde(default)]
    config: Option<Value>,
    /// guidellm 0.3 kept the strategy under `args`.
    #[serde(default)]
    args: Option<Value>,
    #[serde(default)]
    start_time: Option<f64>,
    #[serde(default)]
    end_time: Option<f64>,
    #[serde(default)]
    duration: Option<f64>,
    metrics: Value,
    #[serde(default)]
    requests: Option<Requests>,
}

#[derive(Debug, Default, Deserialize)]
struct Requests {
    #[serde(default)]
    successful: Option<Vec<RequestStats>>,
    #[serde(default)]
    errored: Option<Vec<RequestStats>>,
    #[serde(default)]
    incomplete: Option<Vec<RequestStats>>,
}

#[derive(Debug, Default, Deserialize)]
struct Timings {
    #[serde(default)]
    request_start: Option<f64>,
    #[serde(default)]
    first_token_iteration: Option<f64>,
    #[serde(default)]
    last_token_iteration: Option<f64>,
    #[serde(default)]
    token_iterations: Option<u64>,
    #[serde(default)]
    request_end: Option<f64>,
    #[serde(default)]
    resolve_end: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
struct Info {
    #[serde(default)]
    timings: Timings,
}

/// One request's stats (guidellm 0.4+ names, with 0.3's as fallbacks).
#[derive(Debug, Default, Deserialize)]
struct RequestStats {
    #[serde(default)]
    info: Info,
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
    #[serde(default, alias = "start_time")]
    request_start_time: Option<f64>,
    #[serde(default, alias = "end_time")]
    request_end_time: Option<f64>,
    #[serde(default)]
    first_token_time: Option<f64>,
    #[serde(default)]
    last_token_time: Option<f64>,
    #[serde(default)]
    error: Option<String>,
}

impl RequestStats {
    fn start(&self) -> Option<f64> {
        self.info.timings.request_start.or(self.request_start_time)
    }
    fn end(&self) -> Option<f64> {
        let t = &self.info.timings;
        t.request_end.or(t.resolve_end).or(self.request_end_time)
    }
    fn first(&self) -> Option<f64> {
        self.info
            .timings
            .first_token_iteration
            .or(self.first_token_time)
    }
    fn last(&self) -> Option<f64> {
        self.info
            .timings
            .last_token_iteration
            .or(self.last_token_time)
    }
}

/// `successful` of a metric's status breakdown, scaled by `k`.
fn dist(metrics: &Value, name: &str, k: f64) -> Summary {
    let Some(d) = metrics.get(name).and_then(|m| m.get("successful")) else {
        return Summary::default();
    };
    let f = |key: &str| d.get(key).and_then(Value::as_f64).map(|x| x * k);
    let names = [
        ("p001", 0.1),
        ("p01", 1.0),
        ("p05", 5.0),
        ("p10", 10.0),
        ("p25", 25.0),
        ("p50", 50.0),
        ("p75", 75.0),
        ("p90", 90.0),
        ("p95", 95.0),
        ("p99", 99.0),
        ("p999", 99.9),
    ];
    let mut percentiles: Vec<(f64, f64)> = names
        .iter()
        .filter_map(|(key, p)| Some((*p, d.get("percentiles")?.get(*key)?.as_f64()? * k)))
        .collect();
    if !percentiles.iter().any(|p| p.0 == 50.0) {
        percentiles.extend(f("median").map(|m| (50.0, m)));
    }
    Summary {
        count: d.get("count").and_then(Value::as_u64).unwrap_or(0) as usize,
        mean: f("mean"),
        std: f("std_dev"),
        min: f("min"),
        max: f("max"),
        percentiles,
    }
}

fn total(metrics: &Value, status: &str) -> Option<usize> {
    metrics
        .get("request_totals")?
        .get(status)?
        .as_u64()
        .map(|n| n as usize)
}

/// The point of a benchmark: from its scheduling strategy.
fn label_of(b: &Benchmark, prompt: f64, output: f64, requests: usize) -> PointLabel {
    let strategy = b
        .config
        .as_ref()
        .and_then(|c| c.get("strategy"))
        .or_else(|| b.args.as_ref().and_then(|a| a.get("strategy")));
    let get = |k: &str| strategy.and_then(|s| s.get(k));
    let kind = get("type_")
        .or_else(|| get("type"))
        .and_then(Value::as_str)
        .unwrap_or("unknown");
    let max_concurrency = get("max_concurrency")
        .and_then(Value::as_u64)
        .map(|c| c as usize);
    let fixed = |concurrency: usize| PointLabel::Static {
        prompt_tokens: prompt.round() as usize,
        output_tokens: output.round() as usize,
        concurrency,
    };
    match kind {
        "synchronous" => fixed(1),
        "concurrent" => fixed(get("streams").and_then(Value::as_u64).unwrap_or(1) as usize),
        "constant" | "poisson" => PointLabel::Dynamic {
            request_rate: get("rate")
                .and_then(Value::as_f64)
                .map_or(Rate(f64::INFINITY), Rate),
            burstiness: if kind == "constant" {
                f64::INFINITY
            } else {
                1.0
            },
            max_concurrency,
            num_prompts: requests,
        },
        _ => PointLabel::Dynamic {
            request_rate: Rate(f64::INFINITY),
            burstiness: 1.0,
            max_concurrency,
            num_prompts: requests,
        },
    }
}

/// Import a guidellm `benchmarks.json`.
pub fn import(path: &Path, bytes: &[u8]) -> Result<Imported, InteropError> {
    let report: Report = serde_json::from_slice(bytes)
        .map_err(|e| InteropError::bad(path, None, Tool::Guidellm, e))?;
    let mut out = Imported {
        notes: vec![DEFINITIONS.to_string()],
        ..Imported::default()
    };
    let mut spread = 0usize;
    for (i, b) in report.benchmarks.iter().enumerate() {
        let m = &b.metrics;
        let completed = total(m, "successful").unwrap_or(0);
        let failed = total(m, "errored").unwrap_or(0) + total(m, "incomplete").unwrap_or(0);
        let prompt = dist(m, "prompt_token_count", 1.0);
        let output = dist(m, "output_token_count", 1.0);
        let label = label_of(
            b,
            prompt.mean.unwrap_or(0.0),
            output.mean.unwrap_or(0.0),
            completed + failed,
        );
        let wall_s = b
            .duration
            .or_else(|| Some(b.end_time? - b.start_time?))
            .unwrap_or(0.0);
        let ttft = dist(m, "time_to_first_token_ms", 1.0);
        let reqs = b.requests.as_ref();
        let has_requests = reqs
            .and_then(|r| r.successful.as_ref())
            .is_some_and(|s| !s.is_empty());
        let point: PointData = if has_requests {
            let r = reqs.unwrap_or_else(|| unreachable!());
            let (p, guessed) = from_requests(path, i, r, label.clone())?;
            spread += guessed;
            let checks = [
                (
                    "median TTFT (ms)",
                    ttft.percentiles.iter().find(|p| p.0 == 50.0).map(|p| p.1),
                    p.summary.ttft_ms.p(50.0),
                ),
                (
                    "mean ITL (ms) against servebench's TPOT",
                    dist(m, "inter_token_latency_ms", 1.0).mean,
                    p.summary.tpot_ms.mean,
                ),
            ];
            for (what, file, ours) in checks {
                out.notes
                    .extend(figure_note(Tool::Guidellm, &label, what, file, ours));
            }
            let sampled = completed.max(p.summary.completed);
            if sampled > p.summary.completed {
                out.notes.push(format!(
                    "{}: guidellm kept {} of {} successful requests (sampled); servebench's \
                     figures are over those kept",
                    label.describe(),
                    p.summary.completed,
                    sampled
                ));
            }
            p
        } else {
            out.summary_only.push(label.id());
            ReportedPoint {
                completed,
                failed,
                wall_s,
                request_throughput: dist(m, "requests_per_second", 1.0).mean.unwrap_or(0.0),
                output_throughput: dist(m, "output_tokens_per_second", 1.0).mean.unwrap_or(0.0),
                total_throughput: dist(m, "tokens_per_second", 1.0).mean.unwrap_or(0.0),
                goodput: None,
                ttft_ms: ttft,
                tpot_ms: dist(m, "inter_token_latency_ms", 1.0),
                itl_ms: Summary::default(),
                chunk_gap_ms: Summary::default(),
                e2el_ms: dist(m, "request_latency", 1e3),
                input_tokens: prompt,
                output_tokens: output,
            }
            .into_point(label)
        };
        out.points.push(point);
    }
    if spread > 0 {
        out.inferred.push(format!(
            "guidellm chunk times: guidellm keeps only the first and last token times and the \
             number of token iterations, so for {spread} request(s) the iterations in between \
             were spaced evenly and the tokens spread evenly over them (TTFT, TPOT, E2EL exact; \
             per-token ITL and chunk gaps are even by construction)"
        ));
    }
    Ok(out)
}

/// A point from per-request stats; the count of requests whose chunks had
/// to be spaced evenly.
fn from_requests(
    path: &Path,
    index: usize,
    r: &Requests,
    label: PointLabel,
) -> Result<(PointData, usize), InteropError> {
    let groups = [
        (&r.successful, false),
        (&r.errored, true),
        (&r.incomplete, true),
    ];
    let all: Vec<(&RequestStats, bool)> = groups
        .iter()
        .flat_map(|(g, failed)| g.iter().flatten().map(move |s| (s, *failed)))
        .collect();
    let first = all
        .iter()
        .filter_map(|(s, _)| s.start())
        .fold(f64::INFINITY, f64::min);
    let mut guessed = 0;
    let mut reqs = Vec::new();
    for (s, failed) in all {
        let bad = |what: &str| {
            InteropError::bad(
                path,
                None,
                Tool::Guidellm,
                format!("benchmark {index}: a request without {what}"),
            )
        };
        let start = s.start().ok_or_else(|| bad("a request start time"))?;
        let end_ms = s.end().map(|e| (e - start) * 1e3);
        let mut req = ImportedRequest {
            start_s: start - first,
            input_tokens: s.prompt_tokens.unwrap_or(0),
            done_ms: end_ms.unwrap_or(0.0),
            ..ImportedRequest::default()
        };
        if failed {
            req.error = Some(
                s.error
                    .clone()
                    .unwrap_or_else(|| "errored or incomplete in guidellm".into()),
            );
        } else {
            let ft = (s.first().ok_or_else(|| bad("a first token time"))? - start) * 1e3;
            let lt = (s.last().unwrap_or(start + ft / 1e3) - start) * 1e3;
            let out = s.output_tokens.unwrap_or(0);
            let iters = s
                .info
                .timings
                .token_iterations
                .unwrap_or(if out > 1 { 2 } else { 1 })
                .max(1);
            let later = iters.saturating_sub(1).min(out.saturating_sub(1));
            let chunks = if later == 0 {
                vec![(ft, u32::try_from(out.max(1)).unwrap_or(u32::MAX))]
            } else {
                let step = (lt - ft) / later as f64;
                let gaps = vec![step; later as usize];
                super::chunks_from_gaps(ft, &gaps, out).0
            };
            guessed += usize::from(later > 1 || (later == 1 && out > 2));
            req.output_tokens = out;
            req.done_ms = end_ms.unwrap_or(lt).max(lt);
            req.chunks = chunks;
        }
        reqs.push(req);
    }
    Ok((point_of(label, vec![records(reqs)]), guessed))
}
