//! vLLM's `benchmark_serving.py` / `vllm bench serve --save-result` JSON
//! (one object, or one per line with `--append-result`), read and written.
//!
//! Read: the summary fields (`duration`, `completed`, `failed`, token totals,
//! throughputs, `mean_`/`median_`/`std_`/`pNN_` `ttft`/`tpot`/`itl`/`e2el`
//! `_ms`) and, from `--save-detailed`, the per-request arrays `input_lens`,
//! `output_lens`, `ttfts` (s), `itls` (lists, s), `latencies` (s; `e2els`
//! in some versions), `start_times` (s, `perf_counter`) and `errors`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{
    chunks_from_gaps, figure_note, point_of, records, Imported, ImportedRequest, InteropError,
    ReportedPoint, Tool,
};
use crate::metrics::{PointData, PointLabel, Rate, RunData};
use crate::stats::Summary;

/// Extra key of an exported file: the servebench point it came from, so
/// that an import gives back the same point id.
pub const POINT_KEY: &str = "servebench_point";

/// How vLLM's definitions differ from servebench's (a note of every
/// import).
pub const DEFINITIONS: &str = "vLLM's definitions: its ITL is per chunk (the raw gap between \
    chunks, servebench's chunk gap), not per token as servebench's ITL (a k-token chunk's gap / k); \
    its E2EL (`latencies`) runs to the end of the response body (servebench's done), \
    servebench's E2EL to the last token-carrying chunk, and its TPOT is (that latency - TTFT) / \
    (output tokens - 1); its std is numpy's population std, servebench's the sample std";

/// One vLLM result object.
#[derive(Debug, Deserialize)]
struct VllmResult {
    #[serde(default)]
    date: Option<String>,
    #[serde(default)]
    backend: Option<String>,
    #[serde(default)]
    model_id: Option<String>,
    #[serde(default)]
    tokenizer_id: Option<String>,
    #[serde(default)]
    num_prompts: Option<usize>,
    #[serde(default)]
    request_rate: Option<Rate>,
    #[serde(default)]
    burstiness: Option<f64>,
    #[serde(default)]
    max_concurrency: Option<usize>,
    duration: f64,
    completed: usize,
    #[serde(default)]
    failed: Option<usize>,
    #[serde(default)]
    total_input_tokens: u64,
    #[serde(default)]
    total_output_tokens: u64,
    #[serde(default)]
    request_throughput: f64,
    #[serde(default)]
    request_goodput: Option<f64>,
    #[serde(default)]
    output_throughput: f64,
    #[serde(default)]
    total_token_throughput: f64,
    #[serde(default)]
    input_lens: Option<Vec<u64>>,
    #[serde(default)]
    output_lens: Option<Vec<u64>>,
    #[serde(default)]
    ttfts: Option<Vec<f64>>,
    #[serde(default)]
    itls: Option<Vec<Vec<f64>>>,
    #[serde(default, alias = "e2els")]
    latencies: Option<Vec<f64>>,
    #[serde(default)]
    start_times: Option<Vec<f64>>,
    #[serde(default)]
    errors: Option<Vec<Option<String>>>,
    #[serde(default, rename = "servebench_point")]
    point: Option<PointLabel>,
    /// Each request's epoch, in a file servebench exported.
    #[serde(default, rename = "servebench_epochs")]
    epochs: Option<Vec<u32>>,
    /// `mean_ttft_ms`, `p99_itl_ms`... and whatever else the file holds.
    #[serde(flatten)]
    rest: BTreeMap<String, Value>,
}

impl VllmResult {
    /// The figures of `metric` (`ttft`, `tpot`, `itl`, `e2el`), ms.
    fn reported(&self, metric: &str) -> Summary {
        let suffix = format!("_{metric}_ms");
        let mut r = Summary {
            count: self.completed,
            ..Summary::default()
        };
        for (k, v) in &self.rest {
            let (Some(stat), Some(x)) = (k.strip_suffix(&suffix), v.as_f64()) else {
                continue;
            };
            match stat {
                "mean" => r.mean = Some(x),
                "std" => r.std = Some(x),
                "median" => r.percentiles.push((50.0, x)),
                p => {
                    if let Some(p) = p.strip_prefix('p').and_then(|n| n.parse::<f64>().ok()) {
                        r.percentiles.push((p, x));
                    }
                }
            }
        }
        r
    }

    fn label(&self) -> PointLabel {
        self.point.clone().unwrap_or(PointLabel::Dynamic {
            request_rate: self.request_rate.unwrap_or(Rate(f64::INFINITY)),
            burstiness: self.burstiness.unwrap_or(1.0),
            max_concurrency: self.max_concurrency,
            num_prompts: self
                .num_prompts
                .unwrap_or(self.completed + self.failed.unwrap_or(0)),
        })
    }
}

/// Import a vLLM result file (one object, or JSON Lines of them).
pub fn import(path: &Path, bytes: &[u8]) -> Result<Imported, InteropError> {
    let results: Vec<(Option<usize>, VllmResult)> = match serde_json::from_slice(bytes) {
        Ok(r) => vec![(None, r)],
        Err(whole) => {
            let text = std::str::from_utf8(bytes)
                .map_err(|e| InteropError::bad(path, None, Tool::Vllm, e))?;
            let lines: Vec<(usize, &str)> = text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
                .collect();
            if lines.len() < 2 {
                return Err(InteropError::bad(path, None, Tool::Vllm, whole));
            }
            lines
                .into_iter()
                .map(|(i, l)| {
                    serde_json::from_str(l)
                        .map(|r| (Some(i + 1), r))
                        .map_err(|e| InteropError::bad(path, Some(i + 1), Tool::Vllm, e))
                })
                .collect::<Result<_, _>>()?
        }
    };
    let mut out = Imported {
        notes: vec![DEFINITIONS.to_string()],
        ..Imported::default()
    };
    for (line, r) in results {
        out.from_servebench |= r.rest.contains_key("servebench_note");
        out.model = out.model.or(r.model_id.clone());
        out.tokenizer = out.tokenizer.or(r.tokenizer_id.clone());
        out.backend = out.backend.or(r.backend.clone());
        if out.started_unix_s.is_none() {
            out.started_unix_s = r.date.as_deref().and_then(parse_date);
        }
        let point = match detailed(path, line, &r, &mut out)? {
            Some(p) => p,
            None => {
                let label = r.label();
                out.summary_only.push(label.id());
                summary_point(&r, label)
            }
        };
        out.points.push(point);
    }
    Ok(out)
}

/// vLLM's `date`, `%Y%m%d-%H%M%S` (local time, taken as UTC).
fn parse_date(d: &str) -> Option<f64> {
    chrono::NaiveDateTime::parse_from_str(d, "%Y%m%d-%H%M%S")
        .ok()
        .map(|t| t.and_utc().timestamp() as f64)
}

fn summary_point(r: &VllmResult, label: PointLabel) -> PointData {
    let mean_of = |total: u64| Summary {
        count: r.completed,
        mean: (r.completed > 0).then(|| total as f64 / r.completed as f64),
        ..Summary::default()
    };
    ReportedPoint {
        completed: r.completed,
        failed: r.failed.unwrap_or(0),
        wall_s: r.duration,
        request_throughput: r.request_throughput,
        output_throughput: r.output_throughput,
        total_throughput: r.total_token_throughput,
        goodput: r.request_goodput,
        ttft_ms: r.reported("ttft"),
        tpot_ms: r.reported("tpot"),
        // vLLM's ITL is the raw gap between chunks: servebench's chunk gap.
        itl_ms: Summary::default(),
        chunk_gap_ms: r.reported("itl"),
        e2el_ms: r.reported("e2el"),
        input_tokens: mean_of(r.total_input_tokens),
        output_tokens: mean_of(r.total_output_tokens),
    }
    .into_point(label)
}

/// The point of a `--save-detailed` result, from its per-request arrays;
/// `None` without them.
fn detailed(
    path: &Path,
    line: Option<usize>,
    r: &VllmResult,
    out: &mut Imported,
) -> Result<Option<PointData>, InteropError> {
    let (Some(ttfts), Some(itls), Some(output_lens)) = (&r.ttfts, &r.itls, &r.output_lens) else {
        return Ok(None);
    };
    let n = ttfts.len();
    let bad = |what: &str, len: usize| {
        InteropError::bad(
            path,
            line,
            Tool::Vllm,
            format!("`{what}` has {len} entries but `ttfts` has {n}"),
        )
    };
    let check = |what: &str, len: Option<usize>| match len {
        Some(l) if l != n => Err(bad(what, l)),
        _ => Ok(()),
    };
    check("itls", Some(itls.len()))?;
    check("output_lens", Some(output_lens.len()))?;
    check("input_lens", r.input_lens.as_ref().map(Vec::len))?;
    check("latencies", r.latencies.as_ref().map(Vec::len))?;
    check("start_times", r.start_times.as_ref().map(Vec::len))?;
    check("errors", r.errors.as_ref().map(Vec::len))?;
    let first_start = r
        .start_times
        .as_ref()
        .map(|s| s.iter().copied().fold(f64::INFINITY, f64::min));
    if r.start_times.is_none() {
        out.inferred.push(
            "vLLM send times: the file has no `start_times`; requests were spread evenly over \
             its `duration`, so throughputs are the file's, latencies exact"
                .into(),
        );
    }
    if r.latencies.is_none() {
        out.inferred.push(
            "vLLM end of body: the file has no `latencies`; each request was taken to end at \
             its last chunk"
                .into(),
        );
    }
    let mut spread = 0usize;
    let reqs = (0..n)
        .map(|i| {
            let error = r
                .errors
                .as_ref()
                .and_then(|e| e[i].clone())
                .filter(|e| !e.is_empty());
            let gaps: Vec<f64> = itls[i].iter().map(|g| g * 1e3).collect();
            let (chunks, guessed) = chunks_from_gaps(ttfts[i] * 1e3, &gaps, output_lens[i]);
            spread += usize::from(guessed && error.is_none());
            let last = chunks.last().map_or(0.0, |c| c.0);
            let latency_s = r.latencies.as_ref().map(|l| l[i]);
            let start_s = match (&r.start_times, first_start) {
                (Some(s), Some(f)) => s[i] - f,
                _ => {
                    let longest = latency_s.unwrap_or(last / 1e3);
                    (r.duration - longest).max(0.0) * i as f64 / (n.max(2) - 1) as f64
                }
            };
            ImportedRequest {
                start_s,
                chunks,
                done_ms: latency_s.map_or(last, |l| l * 1e3),
                input_tokens: r.input_lens.as_ref().map_or(0, |l| l[i]),
                output_tokens: output_lens[i],
                error,
                cancelled: false,
            }
        })
        .collect();
    if spread > 0 {
        out.inferred.push(format!(
            "vLLM tokens per chunk: {spread} request(s) had more output tokens than chunks; the \
             first chunk was given 1 token and the rest spread evenly over the later chunks"
        ));
    }
    if r.input_lens.is_none() {
        out.inferred
            .push("vLLM input tokens: the file has no `input_lens`; taken as 0".into());
    }
    let label = r.label();
    let point = point_of(
        label.clone(),
        super::split_epochs(records(reqs), r.epochs.as_deref()),
    );
    let s = &point.summary;
    let file_ttft = r.reported("ttft");
    let file_itl = r.reported("itl");
    let checks = [
        ("median TTFT (ms)", p50(&file_ttft), s.ttft_ms.p(50.0)),
        ("mean TPOT (ms)", r.reported("tpot").mean, s.tpot_ms.mean),
        (
            "mean ITL (ms) against servebench's chunk gap",
            file_itl.mean,
            s.chunk_gap_ms.mean,
        ),
        ("mean E2EL (ms)", r.reported("e2el").mean, s.e2el_ms.mean),
        (
            "request throughput (req/s)",
            Some(r.request_throughput),
            Some(s.request_throughput),
        ),
    ];
    for (what, file, ours) in checks {
        out.notes
            .extend(figure_note(Tool::Vllm, &label, what, file, ours));
    }
    Ok(Some(point))
}

fn p50(r: &Summary) -> Option<f64> {
    r.percentiles.iter().find(|p| p.0 == 50.0).map(|p| p.1)
}

/// `p99` for 99, `p99.9` for 99.9, as vLLM names percentiles.
fn p_word(p: f64) -> String {
    if p.fract() == 0.0 {
        format!("{}", p as i64)
    } else {
        format!("{p}")
    }
}

fn put_figures(o: &mut Map<String, Value>, metric: &str, s: &Summary) {
    o.insert(format!("mean_{metric}_ms"), json!(s.mean.unwrap_or(0.0)));
    o.insert(
        format!("median_{metric}_ms"),
        json!(s.p(50.0).unwrap_or(0.0)),
    );
    o.insert(format!("std_{metric}_ms"), json!(s.std.unwrap_or(0.0)));
    for (p, v) in &s.percentiles {
        o.insert(format!("p{}_{metric}_ms", p_word(*p)), json!(v));
    }
}

/// One vLLM result object per point of `run` (with the per-request arrays
/// of `--save-detailed` when the point has records), figures by
/// servebench's definitions under vLLM's names (`itl` is the chunk gap, as
/// vLLM's is). Epochs are laid end to end as one benchmark.
pub fn export(run: &RunData) -> Vec<Value> {
    let date = chrono::DateTime::from_timestamp(run.meta.started_unix_s as i64, 0)
        .map(|d| d.format("%Y%m%d-%H%M%S").to_string());
    run.points
        .iter()
        .map(|p| {
            let s = &p.summary;
            let mut o = Map::new();
            o.insert("date".into(), json!(date));
            o.insert("endpoint_type".into(), json!(run.meta.backend));
            o.insert("backend".into(), json!(run.meta.backend));
            o.insert("label".into(), json!(run.meta.name));
            o.insert("model_id".into(), json!(run.meta.model));
            o.insert("tokenizer_id".into(), json!(run.meta.tokenizer));
            let (rate, burst, maxc, prompts) = match &p.label {
                PointLabel::Dynamic {
                    request_rate,
                    burstiness,
                    max_concurrency,
                    num_prompts,
                } => (*request_rate, *burstiness, *max_concurrency, *num_prompts),
                PointLabel::Static { concurrency, .. } => {
                    (Rate(f64::INFINITY), 1.0, Some(*concurrency), s.sent)
                }
                other => (
                    other.request_rate().unwrap_or(Rate(f64::INFINITY)),
                    1.0,
                    None,
                    s.sent,
                ),
            };
            o.insert("num_prompts".into(), json!(prompts));
            o.insert(
                "request_rate".into(),
                if rate.is_inf() {
                    json!("inf")
                } else {
                    json!(rate.0)
                },
            );
            o.insert(
                "burstiness".into(),
                if burst.is_finite() {
                    json!(burst)
                } else {
                    json!("inf")
                },
            );
            o.insert("max_concurrency".into(), json!(maxc));
            o.insert("duration".into(), json!(s.wall_s));
            o.insert("completed".into(), json!(s.completed));
            o.insert("failed".into(), json!(s.failed));
            let ok = || p.epochs.iter().flatten().filter(|r| r.ok());
            let (inp, out) = if p.epochs.is_empty() {
                let total =
                    |t: &Summary| (t.mean.unwrap_or(0.0) * s.completed as f64).round() as u64;
                (total(&s.input_tokens), total(&s.output_tokens))
            } else {
                (
                    ok().map(|r| r.input_tokens).sum::<u64>(),
                    ok().map(|r| r.output_tokens).sum::<u64>(),
                )
            };
            o.insert("total_input_tokens".into(), json!(inp));
            o.insert("total_output_tokens".into(), json!(out));
            o.insert("request_throughput".into(), json!(s.request_throughput));
            o.insert("request_goodput".into(), json!(s.goodput));
            o.insert("output_throughput".into(), json!(s.output_throughput));
            o.insert("total_token_throughput".into(), json!(s.total_throughput));
            if !p.epochs.is_empty() {
                detailed_arrays(&mut o, p);
            }
            put_figures(&mut o, "ttft", &s.ttft_ms);
            put_figures(&mut o, "tpot", &s.tpot_ms);
            put_figures(&mut o, "itl", &s.chunk_gap_ms);
            put_figures(&mut o, "e2el", &s.e2el_ms);
            o.insert(POINT_KEY.into(), json!(p.label));
            o.insert(
                "servebench_note".into(),
                json!(format!(
                    "exported by servebench {}: figures by servebench's definitions under vLLM's \
                     names (itl = gap between chunks, e2el = to the last token, std = sample std)",
                    env!("CARGO_PKG_VERSION")
                )),
            );
            Value::Object(o)
        })
        .collect()
}

/// The `--save-detailed` arrays of a point's records, epochs laid end to
/// end (each epoch's first send right after the previous epoch's end).
fn detailed_arrays(o: &mut Map<String, Value>, p: &PointData) {
    let mut offset = 0.0;
    let mut cols: [Vec<Value>; 9] = Default::default();
    for epoch in &p.epochs {
        let first = epoch
            .iter()
            .map(|r| r.start_s)
            .fold(f64::INFINITY, f64::min);
        let wall = crate::metrics::wall_time_s(epoch);
        for r in epoch {
            let ok = r.ok();
            let gaps: Vec<f64> = r.chunk_gaps_ms().map(|g| g / 1e3).collect();
            cols[0].push(json!(r.input_tokens));
            cols[1].push(json!(if ok { r.output_tokens } else { 0 }));
            cols[2].push(json!(if ok {
                r.ttft_ms.unwrap_or(0.0) / 1e3
            } else {
                0.0
            }));
            cols[3].push(json!(gaps));
            cols[4].push(json!(r.done_ms / 1e3));
            cols[5].push(json!(offset + r.start_s - first));
            cols[6].push(json!(""));
            cols[8].push(json!(r.epoch));
            cols[7].push(json!(r.failure.as_ref().map_or(
                String::new(),
                |f| format!("{}: {}", f.kind.as_str(), f.message)
            )));
        }
        offset += wall;
    }
    let names = [
        "input_lens",
        "output_lens",
        "ttfts",
        "itls",
        "latencies",
        "start_times",
        "generated_texts",
        "errors",
        "servebench_epochs",
    ];
    for (name, col) in names.iter().zip(cols) {
        o.insert((*name).into(), Value::Array(col));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_figures_by_name_and_itl_as_chunk_gap() {
        let text = br#"{"date": "20251130-080000", "duration": 2.0, "completed": 3,
            "failed": 0, "request_rate": "inf", "total_input_tokens": 30,
            "total_output_tokens": 12, "request_throughput": 1.5,
            "mean_ttft_ms": 10.0, "median_ttft_ms": 9.0, "std_ttft_ms": 1.0,
            "p99_ttft_ms": 12.0, "p99.9_ttft_ms": 12.5, "mean_itl_ms": 4.0}"#;
        let got = import(Path::new("r.json"), text).unwrap();
        assert_eq!(got.summary_only, vec!["rate-inf".to_string()]);
        assert_eq!(got.started_unix_s, Some(1764489600.0));
        let s = &got.points[0].summary;
        assert_eq!(s.ttft_ms.p(50.0), Some(9.0));
        assert_eq!(s.ttft_ms.p(99.9), Some(12.5));
        assert_eq!(s.chunk_gap_ms.mean, Some(4.0));
        assert_eq!(s.itl_ms.mean, None);
        assert_eq!(s.input_tokens.mean, Some(10.0));
    }

    #[test]
    fn detailed_arrays_of_unequal_length_name_the_array() {
        let text = br#"{"duration": 1.0, "completed": 2, "ttfts": [0.1, 0.2],
            "itls": [[0.01]], "output_lens": [2, 2]}"#;
        let e = import(Path::new("r.json"), text).unwrap_err().to_string();
        assert!(
            e.contains("r.json") && e.contains("`itls` has 1 entries"),
            "{e}"
        );
    }
}
