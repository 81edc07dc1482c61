//! NVIDIA aiperf's result files, read and written: the summary
//! `profile_export_aiperf.json` (each metric `{unit, avg, min, max, std,
//! p1 ... p99}` under its tag, plus `input_config`) and the per-request
//! `profile_export.jsonl` (`{metadata: {request_start_ns, request_end_ns,
//! was_cancelled, ...}, metrics: {tag: {value, unit}}, error}`).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{
    chunks_from_gaps, point_of, records, Imported, ImportedRequest, InteropError, ReportedPoint,
    Tool,
};
use crate::metrics::{PointData, PointLabel, Rate, RunData};
use crate::stats::Summary;

/// The summary file's name, as aiperf writes it.
pub const SUMMARY_FILE: &str = "profile_export_aiperf.json";
/// The per-request file's name, as aiperf writes it.
pub const RECORDS_FILE: &str = "profile_export.jsonl";

/// How aiperf's definitions differ from servebench's.
pub const DEFINITIONS: &str = "aiperf's definitions: its `inter_token_latency` is per request \
    (request latency - TTFT) / (output sequence length - 1), which is servebench's TPOT, not \
    servebench's per-token ITL; its `inter_chunk_latency` is the raw gap between chunks \
    (servebench's chunk gap); its TTFT is to the first response chunk and its request latency \
    to the last (servebench's E2EL); its output sequence length counts reasoning tokens too; \
    times are stored in ns and exported in the unit each metric names (converted to ms here)";

/// One metric of the summary file.
#[derive(Debug, Clone, Default, Deserialize)]
struct JsonMetric {
    unit: String,
    #[serde(default)]
    avg: Option<f64>,
    #[serde(default)]
    min: Option<f64>,
    #[serde(default)]
    max: Option<f64>,
    #[serde(default)]
    std: Option<f64>,
    /// `p1`, `p50`, `p99`...
    #[serde(flatten)]
    rest: BTreeMap<String, Value>,
}

/// Factor from a time unit to ms (`None` for a unit that is not a time).
fn to_ms(unit: &str) -> Option<f64> {
    match unit {
        "ns" => Some(1e-6),
        "us" => Some(1e-3),
        "ms" => Some(1.0),
        "sec" | "s" => Some(1e3),
        _ => None,
    }
}

impl JsonMetric {
    /// Scaled by `k` (a unit conversion), `count` observations.
    fn reported(&self, k: f64, count: usize) -> Summary {
        let ps = self.rest.iter().filter_map(|(name, v)| {
            let p = name.strip_prefix('p')?.parse::<f64>().ok()?;
            Some((p, v.as_f64()? * k))
        });
        Summary {
            count,
            mean: self.avg.map(|x| x * k),
            std: self.std.map(|x| x * k),
            min: self.min.map(|x| x * k),
            max: self.max.map(|x| x * k),
            percentiles: ps.collect(),
        }
    }
}

/// The summary file: metrics by tag, and the configuration.
#[derive(Debug, Deserialize)]
struct SummaryFile {
    #[serde(default)]
    input_config: Option<Value>,
    #[serde(default, rename = "servebench_point")]
    point: Option<PointLabel>,
    #[serde(default)]
    start_time: Option<String>,
    #[serde(flatten)]
    metrics: BTreeMap<String, Value>,
}

/// One line of `profile_export.jsonl`.
#[derive(Debug, Deserialize)]
struct RecordLine {
    metadata: Metadata,
    #[serde(default)]
    metrics: Option<BTreeMap<String, MetricValue>>,
    #[serde(default)]
    error: Option<ErrorDetails>,
}

#[derive(Debug, Deserialize)]
struct Metadata {
    request_start_ns: i64,
    #[serde(default)]
    request_end_ns: Option<i64>,
    #[serde(default)]
    was_cancelled: bool,
    #[serde(default)]
    benchmark_phase: Option<String>,
    /// The request's epoch, in a file servebench exported.
    #[serde(default)]
    servebench_epoch: Option<u32>,
}

#[derive(Debug, Deserialize)]
struct MetricValue {
    value: Value,
    unit: String,
}

#[derive(Debug, Deserialize)]
struct ErrorDetails {
    #[serde(default)]
    code: Option<i64>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// The point a run's configuration describes: a servebench export's own
/// point, else aiperf's load (concurrency, or request rate).
fn label_of(config: Option<&Value>, point: Option<PointLabel>, requests: usize) -> PointLabel {
    if let Some(p) = point {
        return p;
    }
    let loadgen = config.and_then(|c| c.get("loadgen"));
    let get = |k: &str| loadgen.and_then(|l| l.get(k)).and_then(Value::as_f64);
    PointLabel::Dynamic {
        request_rate: get("request_rate").map_or(Rate(f64::INFINITY), Rate),
        burstiness: 1.0,
        max_concurrency: get("concurrency").map(|c| c as usize),
        num_prompts: requests,
    }
}

fn model_of(config: Option<&Value>) -> Option<String> {
    let names = config?.get("endpoint")?.get("model_names")?.as_array()?;
    names.first()?.as_str().map(str::to_string)
}

/// Import an aiperf file: the summary JSON (summary only) or the
/// per-request JSONL (its sibling summary, when present, gives the load
/// settings and the model).
pub fn import(path: &Path, bytes: &[u8]) -> Result<Imported, InteropError> {
    // A whole-file JSON object without `metadata` is the summary; JSON
    // Lines (or a single record) are the per-request file.
    let whole: Option<Value> = serde_json::from_slice(bytes).ok();
    match whole.filter(|v| v.get("metadata").is_none()) {
        Some(v) => import_summary(
            path,
            serde_json::from_value(v)
                .map_err(|e| InteropError::bad(path, None, Tool::Aiperf, e))?,
        ),
        None => import_records(path, bytes),
    }
}

fn import_summary(path: &Path, f: SummaryFile) -> Result<Imported, InteropError> {
    let metric = |tag: &str| -> Result<Option<JsonMetric>, InteropError> {
        match f.metrics.get(tag) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => serde_json::from_value(v.clone())
                .map(Some)
                .map_err(|e| InteropError::bad(path, None, Tool::Aiperf, format!("`{tag}`: {e}"))),
        }
    };
    let avg =
        |tag: &str| -> Result<Option<f64>, InteropError> { Ok(metric(tag)?.and_then(|m| m.avg)) };
    let completed = avg("request_count")?.unwrap_or(0.0).round() as usize;
    let failed = avg("error_request_count")?.unwrap_or(0.0).round() as usize;
    let time = |tag: &str| -> Result<Summary, InteropError> {
        match metric(tag)? {
            None => Ok(Summary::default()),
            Some(m) => {
                let k = to_ms(&m.unit).ok_or_else(|| {
                    InteropError::bad(
                        path,
                        None,
                        Tool::Aiperf,
                        format!("`{tag}`: unit `{}` is not a time", m.unit),
                    )
                })?;
                Ok(m.reported(k, completed))
            }
        }
    };
    let plain = |tag: &str| -> Result<Summary, InteropError> {
        Ok(metric(tag)?.map_or_else(Summary::default, |m| m.reported(1.0, completed)))
    };
    let duration = match metric("benchmark_duration")? {
        Some(m) => m.avg.unwrap_or(0.0) * to_ms(&m.unit).unwrap_or(1e3) / 1e3,
        None => 0.0,
    };
    if f.metrics.values().all(|v| v.get("unit").is_none()) {
        return Err(InteropError::bad(
            path,
            None,
            Tool::Aiperf,
            "no metric with a `unit` in it",
        ));
    }
    let request_throughput = avg("request_throughput")?.unwrap_or(0.0);
    let output_throughput = avg("output_token_throughput")?.unwrap_or(0.0);
    let total_isl = avg("total_isl")?;
    let total_throughput = match (total_isl, avg("total_osl")?) {
        (Some(i), Some(o)) if duration > 0.0 => (i + o) / duration,
        _ => 0.0,
    };
    let label = label_of(f.input_config.as_ref(), f.point.clone(), completed + failed);
    let point = ReportedPoint {
        completed,
        failed,
        wall_s: duration,
        request_throughput,
        output_throughput,
        total_throughput,
        goodput: avg("goodput")?,
        ttft_ms: time("time_to_first_token")?,
        // aiperf's ITL is servebench's TPOT.
        tpot_ms: time("inter_token_latency")?,
        itl_ms: Summary::default(),
        chunk_gap_ms: time("inter_chunk_latency")?,
        e2el_ms: time("request_latency")?,
        input_tokens: plain("input_sequence_length")?,
        output_tokens: plain("output_sequence_length")?,
    }
    .into_point(label.clone());
    let from_servebench = f.metrics.contains_key("servebench_note");
    let mut notes = vec![DEFINITIONS.to_string()];
    if total_isl.is_none() {
        notes.push(format!(
            "{}: aiperf's file has no total_isl: total token throughput unknown (0)",
            label.describe()
        ));
    }
    Ok(Imported {
        points: vec![point],
        summary_only: vec![label.id()],
        inferred: Vec::new(),
        notes,
        model: model_of(f.input_config.as_ref()),
        tokenizer: None,
        backend: f
            .input_config
            .as_ref()
            .and_then(|c| c.get("endpoint")?.get("type")?.as_str().map(str::to_string)),
        base_url: f
            .input_config
            .as_ref()
            .and_then(|c| c.get("endpoint")?.get("url")?.as_str().map(str::to_string)),
        started_unix_s: f
            .start_time
            .as_deref()
            .and_then(|t| chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f").ok())
            .map(|t| t.and_utc().timestamp() as f64),
        from_servebench,
    })
}

/// A metric of a record, converted: times to ms, counts as they are.
fn value(m: &BTreeMap<String, MetricValue>, tag: &str) -> Option<Value> {
    let v = m.get(tag)?;
    let k = to_ms(&v.unit).unwrap_or(1.0);
    match &v.value {
        Value::Number(n) => Some(json!(n.as_f64()? * k)),
        Value::Array(a) => Some(Value::Array(
            a.iter()
                .filter_map(|x| Some(json!(x.as_f64()? * k)))
                .collect(),
        )),
        _ => None,
    }
}

fn import_records(path: &Path, bytes: &[u8]) -> Result<Imported, InteropError> {
    let text =
        std::str::from_utf8(bytes).map_err(|e| InteropError::bad(path, None, Tool::Aiperf, e))?;
    let mut lines = Vec::new();
    for (i, l) in text.lines().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        let r: RecordLine = serde_json::from_str(l)
            .map_err(|e| InteropError::bad(path, Some(i + 1), Tool::Aiperf, e))?;
        if r.metadata
            .benchmark_phase
            .as_deref()
            .is_none_or(|p| p == "profiling")
        {
            lines.push((i + 1, r));
        }
    }
    if lines.is_empty() {
        return Err(InteropError::bad(
            path,
            None,
            Tool::Aiperf,
            "no profiling record in it",
        ));
    }
    let first = lines
        .iter()
        .map(|(_, r)| r.metadata.request_start_ns)
        .min()
        .unwrap_or(0);
    let mut spread = 0usize;
    let mut reqs = Vec::with_capacity(lines.len());
    for (line, r) in &lines {
        let empty = BTreeMap::new();
        let m = r.metrics.as_ref().unwrap_or(&empty);
        let num = |tag: &str| value(m, tag).and_then(|v| v.as_f64());
        let start_ns = r.metadata.request_start_ns;
        let error = r.error.as_ref().map(|e| {
            format!(
                "{} {}: {}",
                e.code.map_or(String::new(), |c| c.to_string()),
                e.kind.clone().unwrap_or_default(),
                e.message.clone().unwrap_or_default()
            )
        });
        let end_ms = r
            .metadata
            .request_end_ns
            .map(|e| (e - start_ns) as f64 / 1e6);
        let input_tokens = num("input_sequence_length")
            .or(num("error_isl"))
            .unwrap_or(0.0) as u64;
        let mut req = ImportedRequest {
            start_s: (start_ns - first) as f64 / 1e9,
            input_tokens,
            error,
            cancelled: r.metadata.was_cancelled,
            ..ImportedRequest::default()
        };
        if req.error.is_none() && !req.cancelled {
            let ttft = num("time_to_first_token").ok_or_else(|| {
                InteropError::bad(
                    path,
                    Some(*line),
                    Tool::Aiperf,
                    "a successful record without `time_to_first_token` (not streamed?)",
                )
            })?;
            let out = num("output_sequence_length").unwrap_or(0.0) as u64;
            let gaps: Vec<f64> = value(m, "inter_chunk_latency")
                .and_then(|v| v.as_array().cloned())
                .unwrap_or_default()
                .iter()
                .filter_map(Value::as_f64)
                .collect();
            let (chunks, guessed) = if gaps.is_empty() && out > 1 {
                // No chunk gaps: one chunk at the first token, one at the last.
                let last = num("request_latency").unwrap_or(ttft);
                (vec![(ttft, 1), (last, (out - 1) as u32)], true)
            } else {
                chunks_from_gaps(ttft, &gaps, out)
            };
            spread += usize::from(guessed);
            req.output_tokens = out;
            let last = chunks.last().map_or(ttft, |c| c.0);
            req.chunks = chunks;
            req.done_ms = end_ms.unwrap_or(last).max(last);
        } else {
            req.done_ms = end_ms.unwrap_or(0.0).max(0.0);
        }
        reqs.push(req);
    }
    let mut out = Imported {
        notes: vec![DEFINITIONS.to_string()],
        ..Imported::default()
    };
    if spread > 0 {
        out.inferred.push(format!(
            "aiperf tokens per chunk: {spread} request(s) had a token count unlike their chunk \
             count; the first chunk was given 1 token and the rest spread evenly over the later \
             chunks"
        ));
    }
    // The sibling summary gives the load settings and the model.
    let sibling = path.with_file_name(SUMMARY_FILE);
    let summary: Option<SummaryFile> = std::fs::read(&sibling)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let (config, point) = match summary {
        Some(s) => {
            out.from_servebench = s.metrics.contains_key("servebench_note");
            out.notes.push(format!(
                "aiperf load settings and model read from {}",
                sibling.display()
            ));
            (s.input_config, s.point)
        }
        None => (None, None),
    };
    out.model = model_of(config.as_ref());
    let label = label_of(config.as_ref(), point, reqs.len());
    let epochs: Option<Vec<u32>> = lines
        .iter()
        .map(|(_, r)| r.metadata.servebench_epoch)
        .collect();
    out.points.push(point_of(
        label,
        super::split_epochs(records(reqs), epochs.as_deref()),
    ));
    Ok(out)
}

fn metric(unit: &str, s: &Summary, k: f64) -> Value {
    let mut o = Map::new();
    o.insert("unit".into(), json!(unit));
    o.insert("avg".into(), json!(s.mean.map(|x| x * k)));
    for (p, v) in &s.percentiles {
        if p.fract() == 0.0 {
            o.insert(format!("p{}", *p as i64), json!(v * k));
        }
    }
    o.insert("min".into(), json!(s.min.map(|x| x * k)));
    o.insert("max".into(), json!(s.max.map(|x| x * k)));
    o.insert("std".into(), json!(s.std.map(|x| x * k)));
    Value::Object(o)
}

fn avg(unit: &str, x: f64) -> Value {
    json!({"unit": unit, "avg": x})
}

/// A `profile_export_aiperf.json`-like summary of one point, figures by
/// servebench's definitions under aiperf's tags (`inter_token_latency` is
/// the TPOT, as aiperf's is).
pub fn export_summary(run: &RunData, p: &PointData) -> Value {
    let s = &p.summary;
    let ok = || p.epochs.iter().flatten().filter(|r| r.ok());
    let (isl, osl) = if p.epochs.is_empty() {
        let t = |x: &Summary| (x.mean.unwrap_or(0.0) * s.completed as f64).round();
        (t(&s.input_tokens), t(&s.output_tokens))
    } else {
        (
            ok().map(|r| r.input_tokens).sum::<u64>() as f64,
            ok().map(|r| r.output_tokens).sum::<u64>() as f64,
        )
    };
    let (concurrency, rate) = match &p.label {
        PointLabel::Static { concurrency, .. } => (Some(*concurrency), None),
        PointLabel::Dynamic {
            request_rate,
            max_concurrency,
            ..
        } => (
            *max_concurrency,
            (!request_rate.is_inf()).then_some(request_rate.0),
        ),
        other => (
            None,
            other.request_rate().filter(|r| !r.is_inf()).map(|r| r.0),
        ),
    };
    let mut o = Map::new();
    o.insert(
        "request_throughput".into(),
        avg("requests/sec", s.request_throughput),
    );
    o.insert("request_latency".into(), metric("ms", &s.e2el_ms, 1.0));
    o.insert("request_count".into(), avg("requests", s.completed as f64));
    o.insert("time_to_first_token".into(), metric("ms", &s.ttft_ms, 1.0));
    o.insert("inter_token_latency".into(), metric("ms", &s.tpot_ms, 1.0));
    o.insert(
        "inter_chunk_latency".into(),
        metric("ms", &s.chunk_gap_ms, 1.0),
    );
    o.insert(
        "output_token_throughput".into(),
        avg("tokens/sec", s.output_throughput),
    );
    o.insert(
        "output_sequence_length".into(),
        metric("tokens", &s.output_tokens, 1.0),
    );
    o.insert(
        "input_sequence_length".into(),
        metric("tokens", &s.input_tokens, 1.0),
    );
    if let Some(g) = s.goodput {
        o.insert("goodput".into(), avg("requests/sec", g));
    }
    o.insert("benchmark_duration".into(), avg("sec", s.wall_s));
    o.insert("total_isl".into(), avg("tokens", isl));
    o.insert("total_osl".into(), avg("tokens", osl));
    o.insert(
        "error_request_count".into(),
        avg("requests", s.failed as f64),
    );
    o.insert(
        "input_config".into(),
        json!({
            "endpoint": {"model_names": [run.meta.model], "type": run.meta.backend, "url": run.meta.base_url, "streaming": true},
            "loadgen": {"concurrency": concurrency, "request_rate": rate, "request_count": s.sent},
        }),
    );
    o.insert("was_cancelled".into(), json!(run.meta.interrupted));
    o.insert(super::vllm::POINT_KEY.into(), json!(p.label));
    o.insert(
        "servebench_note".into(),
        json!(format!(
            "exported by servebench {}: figures by servebench's definitions under aiperf's tags \
             (inter_token_latency = TPOT, request_latency = to the last token)",
            env!("CARGO_PKG_VERSION")
        )),
    );
    Value::Object(o)
}

/// `profile_export.jsonl` lines of one point's records (epochs laid end to
/// end, from the run's start time), times in ms as aiperf exports them.
pub fn export_records(run: &RunData, p: &PointData) -> Vec<Value> {
    let t0 = (run.meta.started_unix_s * 1e9) as i64;
    let mut offset = 0.0;
    let mut lines = Vec::new();
    for epoch in &p.epochs {
        let first = epoch
            .iter()
            .map(|r| r.start_s)
            .fold(f64::INFINITY, f64::min);
        for r in epoch {
            let start_ns = t0 + ((offset + r.start_s - first) * 1e9).round() as i64;
            let end_ns = start_ns + (r.done_ms * 1e6).round() as i64;
            let metadata = json!({
                "session_num": lines.len(),
                "turn_index": 0,
                "request_start_ns": start_ns,
                "request_end_ns": end_ns,
                "benchmark_phase": "profiling",
                "servebench_epoch": r.epoch,
                "was_cancelled": r.failure.as_ref().is_some_and(|f| f.kind == crate::record::FailureKind::Cancelled),
            });
            let line = match &r.failure {
                Some(f) => json!({
                    "metadata": metadata,
                    "metrics": {"error_isl": {"value": r.input_tokens, "unit": "tokens"}},
                    "error": {"code": null, "type": f.kind.as_str(), "message": f.message},
                }),
                None => {
                    let mut m = Map::new();
                    let mut put = |k: &str, v: Value, unit: &str| {
                        m.insert(k.into(), json!({"value": v, "unit": unit}));
                    };
                    put("input_sequence_length", json!(r.input_tokens), "tokens");
                    put("time_to_first_token", json!(r.ttft_ms), "ms");
                    put("request_latency", json!(r.e2el_ms), "ms");
                    put("output_sequence_length", json!(r.output_tokens), "tokens");
                    let gaps: Vec<f64> = r.chunk_gaps_ms().collect();
                    if !gaps.is_empty() {
                        put("inter_chunk_latency", json!(gaps), "ms");
                    }
                    if let Some(t) = r.tpot_ms() {
                        put("inter_token_latency", json!(t), "ms");
                    }
                    json!({"metadata": metadata, "metrics": m, "error": null})
                }
            };
            lines.push(line);
        }
        offset += crate::metrics::wall_time_s(epoch);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_times_convert_to_ms_by_their_unit() {
        let text = br#"{"time_to_first_token": {"unit": "sec", "avg": 0.5, "p50": 0.4},
            "request_count": {"unit": "requests", "avg": 2},
            "benchmark_duration": {"unit": "sec", "avg": 4.0}}"#;
        let got = import(Path::new("profile_export_aiperf.json"), text).unwrap();
        let s = &got.points[0].summary;
        assert_eq!(s.ttft_ms.mean, Some(500.0));
        assert_eq!(s.ttft_ms.p(50.0), Some(400.0));
        assert_eq!(s.completed, 2);
        assert_eq!(s.wall_s, 4.0);
        let bad = br#"{"time_to_first_token": {"unit": "tokens", "avg": 1.0}}"#;
        let e = import(Path::new("x.json"), bad).unwrap_err().to_string();
        assert!(e.contains("x.json") && e.contains("not a time"), "{e}");
    }
}
