//! Other tools' results beside servebench's: vLLM's `benchmark_serving.py`
//! / `vllm bench serve` result JSON, NVIDIA aiperf's
//! `profile_export_aiperf.json` and `profile_export.jsonl`, and guidellm's
//! `benchmarks.json`, imported as servebench runs ([`import_files`]); and
//! servebench runs exported in vLLM's and aiperf's shapes ([`vllm::export`],
//! [`aiperf::export`]).
//!
//! A file with per-request data becomes per-request [`RequestRecord`]s
//! rebuilt from its timestamps (what had to be inferred is listed in
//! [`ImportInfo::inferred`]); a file with only summary figures becomes a
//! point whose summary holds the tool's own figures, flagged in
//! [`ImportInfo::summary_only_points`] and in a note of every output.
//! Each tool's metric definitions, where they differ from servebench's,
//! are notes of the run.

pub mod aiperf;
pub mod guidellm;
pub mod vllm;

use std::path::{Path, PathBuf};

use crate::metrics::{
    EpochFigures, ImportInfo, PointData, PointLabel, PointSummary, RequestRecord, RunData, RunKind,
    RunMeta, Slo, DEFAULT_PERCENTILES,
};
use crate::record::{Failure, FailureKind, RawRequest};
use crate::stats::Summary;

/// The tools whose result files servebench reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// vLLM's `benchmark_serving.py` / `vllm bench serve --save-result`.
    Vllm,
    /// NVIDIA aiperf (`profile_export_aiperf.json`, `profile_export.jsonl`).
    Aiperf,
    /// guidellm (`benchmarks.json`).
    Guidellm,
}

impl Tool {
    /// The tool's name as used by `--format`.
    pub fn name(self) -> &'static str {
        match self {
            Tool::Vllm => "vllm",
            Tool::Aiperf => "aiperf",
            Tool::Guidellm => "guidellm",
        }
    }
}

impl std::str::FromStr for Tool {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "vllm" => Ok(Tool::Vllm),
            "aiperf" => Ok(Tool::Aiperf),
            "guidellm" => Ok(Tool::Guidellm),
            _ => Err(format!("`{s}` is not vllm, aiperf or guidellm")),
        }
    }
}

/// Errors importing or exporting another tool's results; each names the
/// file (and the line of a JSONL file) at fault.
#[derive(Debug, thiserror::Error)]
pub enum InteropError {
    /// The file could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is none of the known result formats.
    #[error("{}: not a vLLM, aiperf or guidellm result file ({reason}); give --format to say which it is", path.display())]
    Unknown { path: PathBuf, reason: String },
    /// The file is (or was said to be) the tool's, but does not parse.
    #[error("{}{}: not a valid {tool} result: {reason}", path.display(), line.map(|l| format!(" line {l}")).unwrap_or_default())]
    Bad {
        path: PathBuf,
        /// 1-based line of a JSONL file.
        line: Option<usize>,
        tool: &'static str,
        reason: String,
    },
    /// Files of different tools, or two points of the same id.
    #[error("{}: {reason}", path.display())]
    Conflict { path: PathBuf, reason: String },
    /// The run cannot be written in the asked shape.
    #[error("cannot export: {0}")]
    Export(String),
}

impl InteropError {
    fn bad(path: &Path, line: Option<usize>, tool: Tool, reason: impl ToString) -> Self {
        InteropError::Bad {
            path: path.to_path_buf(),
            line,
            tool: tool.name(),
            reason: reason.to_string(),
        }
    }
}

/// What one file gave.
#[derive(Debug, Clone, Default)]
pub struct Imported {
    /// The points, each with its records (or only a summary).
    pub points: Vec<PointData>,
    /// Ids of the points that hold only the tool's summary figures.
    pub summary_only: Vec<String>,
    /// What had to be inferred, one line each.
    pub inferred: Vec<String>,
    /// Plain-language notes: definitions that differ, figures of the file.
    pub notes: Vec<String>,
    /// The model, when the file says.
    pub model: Option<String>,
    /// The tokenizer, when the file says.
    pub tokenizer: Option<String>,
    /// The tool's backend or endpoint type, when the file says.
    pub backend: Option<String>,
    /// The endpoint URL, when the file says.
    pub base_url: Option<String>,
    /// Unix time of the start, seconds, when the file says.
    pub started_unix_s: Option<f64>,
    /// The file was written by `servebench export` (it says so), not by
    /// the tool.
    pub from_servebench: bool,
}

/// Read `path` whole.
fn read(path: &Path) -> Result<Vec<u8>, InteropError> {
    std::fs::read(path).map_err(|source| InteropError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Which tool wrote `bytes` (the content of `path`), by its fields.
pub fn detect(path: &Path, bytes: &[u8]) -> Result<Tool, InteropError> {
    let unknown = |reason: String| InteropError::Unknown {
        path: path.to_path_buf(),
        reason,
    };
    let is_obj = |v: Option<&serde_json::Value>| v.is_some_and(|v| v.is_object());
    let of_object = |o: &serde_json::Map<String, serde_json::Value>| -> Option<Tool> {
        if o.get("benchmarks").is_some_and(|b| b.is_array()) {
            Some(Tool::Guidellm)
        } else if (is_obj(o.get("metadata")) && is_obj(o.get("metrics")))
            || o.get("time_to_first_token")
                .and_then(|t| t.get("unit"))
                .is_some()
            || o.get("request_latency")
                .and_then(|t| t.get("unit"))
                .is_some()
            || is_obj(o.get("input_config"))
        {
            Some(Tool::Aiperf)
        } else if o.contains_key("completed")
            && (o.contains_key("mean_ttft_ms")
                || o.contains_key("ttfts")
                || o.contains_key("mean_e2el_ms"))
        {
            Some(Tool::Vllm)
        } else {
            None
        }
    };
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(serde_json::Value::Object(o)) => {
            of_object(&o).ok_or_else(|| unknown("a JSON object without the fields of any".into()))
        }
        Ok(_) => Err(unknown("JSON, but not an object".into())),
        Err(whole) => {
            // JSON Lines: the first non-empty line says.
            let text =
                std::str::from_utf8(bytes).map_err(|e| unknown(format!("not UTF-8: {e}")))?;
            let Some((i, line)) = text.lines().enumerate().find(|(_, l)| !l.trim().is_empty())
            else {
                return Err(unknown("empty".into()));
            };
            match serde_json::from_str::<serde_json::Value>(line) {
                Ok(serde_json::Value::Object(o)) => of_object(&o).ok_or_else(|| {
                    unknown(format!(
                        "line {}: a JSON object without the fields of any",
                        i + 1
                    ))
                }),
                Ok(_) => Err(unknown(format!("line {}: not a JSON object", i + 1))),
                Err(_) if i == 0 && !line.trim_start().starts_with('{') => {
                    Err(unknown(format!("not JSON: {whole}")))
                }
                Err(e) => Err(unknown(format!("line {}: not JSON: {e}", i + 1))),
            }
        }
    }
}

/// Import one file, of `tool` or detected.
pub fn import_file(path: &Path, tool: Option<Tool>) -> Result<(Tool, Imported), InteropError> {
    let bytes = read(path)?;
    let tool = match tool {
        Some(t) => t,
        None => detect(path, &bytes)?,
    };
    let imported = match tool {
        Tool::Vllm => vllm::import(path, &bytes)?,
        Tool::Aiperf => aiperf::import(path, &bytes)?,
        Tool::Guidellm => guidellm::import(path, &bytes)?,
    };
    if imported.points.is_empty() {
        return Err(InteropError::bad(path, None, tool, "no benchmark in it"));
    }
    Ok((tool, imported))
}

/// Import every file into one run named `name`: each file's points, each
/// point id once. All files must be of one tool. Nothing is written.
pub fn import_files(
    paths: &[PathBuf],
    tool: Option<Tool>,
    name: &str,
) -> Result<RunData, InteropError> {
    let mut the_tool: Option<Tool> = None;
    let mut all = Imported::default();
    let mut files = Vec::new();
    for path in paths {
        let (t, one) = import_file(path, tool)?;
        if let Some(prev) = the_tool.filter(|p| *p != t) {
            return Err(InteropError::Conflict {
                path: path.clone(),
                reason: format!(
                    "a {} result, but the files before it are {}'s; import each tool's files apart",
                    t.name(),
                    prev.name()
                ),
            });
        }
        the_tool = Some(t);
        for p in &one.points {
            if all.points.iter().any(|q| q.label.id() == p.label.id()) {
                return Err(InteropError::Conflict {
                    path: path.clone(),
                    reason: format!(
                        "its point {} ({}) was already imported from another file; import them \
                         as separate runs (--name)",
                        p.label.id(),
                        p.label.describe()
                    ),
                });
            }
        }
        files.push(path.display().to_string());
        all.points.extend(one.points);
        all.summary_only.extend(one.summary_only);
        for (into, from) in [
            (&mut all.inferred, one.inferred),
            (&mut all.notes, one.notes),
        ] {
            for n in from {
                if !into.contains(&n) {
                    into.push(n);
                }
            }
        }
        all.model = all.model.or(one.model);
        all.tokenizer = all.tokenizer.or(one.tokenizer);
        all.backend = all.backend.or(one.backend);
        all.base_url = all.base_url.or(one.base_url);
        all.started_unix_s = all.started_unix_s.or(one.started_unix_s);
        all.from_servebench |= one.from_servebench;
    }
    let tool = the_tool.ok_or_else(|| InteropError::Export("no file given".into()))?;
    Ok(into_run(tool, all, files, name))
}

/// The run of everything imported.
fn into_run(tool: Tool, all: Imported, files: Vec<String>, name: &str) -> RunData {
    let kind = match all.points.first().map(|p| &p.label) {
        Some(PointLabel::Static { .. }) => RunKind::Static,
        _ => RunKind::Dynamic,
    };
    let mut notes = vec![if all.from_servebench {
        format!(
            "imported from {}'s format ({}): written by `servebench export`, its figures by \
             servebench's definitions under {}'s names",
            tool.name(),
            files.join(", "),
            tool.name()
        )
    } else {
        format!(
            "imported from {} ({}): measured by {}, not by servebench",
            tool.name(),
            files.join(", "),
            tool.name()
        )
    }];
    for id in &all.summary_only {
        notes.push(format!(
            "{id}: imported summary only: no per-request data; percentiles as {} reported them \
             (not recomputed), no per-epoch figures, so it cannot be compared statistically",
            tool.name()
        ));
    }
    notes.extend(all.notes);
    notes.extend(all.inferred.iter().map(|i| format!("inferred: {i}")));
    let percentiles = DEFAULT_PERCENTILES.to_vec();
    RunData {
        meta: RunMeta {
            kind,
            name: name.to_string(),
            servebench_version: env!("CARGO_PKG_VERSION").to_string(),
            started_unix_s: all.started_unix_s.unwrap_or(0.0),
            base_url: all.base_url.unwrap_or_else(|| "unknown".into()),
            embedded_sim: false,
            backend: all.backend.unwrap_or_else(|| tool.name().into()),
            model: all.model.unwrap_or_else(|| "unknown".into()),
            tokenizer: all.tokenizer.unwrap_or_else(|| "unknown".into()),
            percentiles,
            slo: Slo::default(),
            interrupted: false,
            stopped_early: None,
            notes,
            images: None,
            assumed_tokens_per_chunk: 1,
            sampling: Default::default(),
            spec_decode: None,
            imported: Some(ImportInfo {
                tool: tool.name().into(),
                files,
                summary_only_points: all.summary_only,
                inferred: all.inferred,
            }),
            shard: None,
            merged: None,
        },
        points: all.points,
    }
}

/// The ids of `run`'s points that hold only another tool's summary.
pub fn summary_only_points(run: &RunData) -> Vec<String> {
    match &run.meta.imported {
        Some(i) => run
            .points
            .iter()
            .map(|p| p.label.id())
            .filter(|id| i.is_summary_only(id))
            .collect(),
        None => Vec::new(),
    }
}

/// A tool's summary figures of one point, in servebench's units.
#[derive(Debug, Clone, Default)]
pub struct ReportedPoint {
    /// Requests that succeeded.
    pub completed: usize,
    /// Requests that failed (any cause the tool counts).
    pub failed: usize,
    /// Duration of the measurement, seconds.
    pub wall_s: f64,
    /// Requests per second.
    pub request_throughput: f64,
    /// Output tokens per second.
    pub output_throughput: f64,
    /// Input and output tokens per second.
    pub total_throughput: f64,
    /// Requests meeting the tool's SLOs per second, when it had any.
    pub goodput: Option<f64>,
    /// Time to first token.
    pub ttft_ms: Summary,
    /// Servebench's TPOT: (last token - first token) / (tokens - 1).
    pub tpot_ms: Summary,
    /// Per-token inter-token latency.
    pub itl_ms: Summary,
    /// Raw gaps between chunks.
    pub chunk_gap_ms: Summary,
    /// Start to the last token.
    pub e2el_ms: Summary,
    /// Prompt tokens per request.
    pub input_tokens: Summary,
    /// Output tokens per request.
    pub output_tokens: Summary,
}

impl ReportedPoint {
    /// A point holding only these figures (one epoch, no records).
    pub fn into_point(self, label: PointLabel) -> PointData {
        let mut s = PointSummary::empty();
        s.epochs = 1;
        s.sent = self.completed + self.failed;
        s.completed = self.completed;
        s.failed = self.failed;
        if self.failed > 0 {
            s.failures.insert("reported_by_tool".into(), self.failed);
        }
        s.wall_s = self.wall_s;
        s.request_throughput = self.request_throughput;
        s.output_throughput = self.output_throughput;
        s.total_throughput = self.total_throughput;
        s.goodput = self.goodput;
        s.ttft_ms = self.ttft_ms.clone().reported();
        s.ttfat_ms = self.ttft_ms.reported();
        s.tpot_ms = self.tpot_ms.reported();
        s.itl_ms = self.itl_ms.reported();
        s.chunk_gap_ms = self.chunk_gap_ms.reported();
        s.e2el_ms = self.e2el_ms.reported();
        s.input_tokens = self.input_tokens.reported();
        s.output_tokens = self.output_tokens.reported();
        s.per_epoch = vec![EpochFigures {
            epoch: 0,
            wall_s: self.wall_s,
            completed: self.completed,
            failed: self.failed,
            request_throughput: self.request_throughput,
            output_throughput: self.output_throughput,
            total_throughput: self.total_throughput,
        }];
        PointData {
            label,
            epochs: Vec::new(),
            summary: s,
            client: None,
            server: None,
        }
    }
}

/// Token-carrying chunks rebuilt from the first-token time and the gaps
/// after it (one chunk per gap), all ms from the start. The first chunk
/// carries 1 token and the other `output_tokens - 1` are spread evenly over
/// the later chunks (earliest first); returns whether that spread was a
/// guess (the file's token count differs from its chunk count).
pub fn chunks_from_gaps(
    ttft_ms: f64,
    gaps_ms: &[f64],
    output_tokens: u64,
) -> (Vec<(f64, u32)>, bool) {
    let mut t = ttft_ms;
    let mut times = vec![ttft_ms];
    for g in gaps_ms {
        t += g;
        times.push(t);
    }
    let n = times.len() as u64;
    if output_tokens <= n {
        let guessed = output_tokens != n;
        return (times.into_iter().map(|t| (t, 1)).collect(), guessed);
    }
    let later = n - 1;
    if later == 0 {
        let k = u32::try_from(output_tokens).unwrap_or(u32::MAX);
        return (vec![(ttft_ms, k)], true);
    }
    let rest = output_tokens - 1;
    let (each, extra) = (rest / later, rest % later);
    let chunks = times
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            let k = if i == 0 {
                1
            } else {
                each + u64::from((i as u64 - 1) < extra)
            };
            (t, u32::try_from(k).unwrap_or(u32::MAX))
        })
        .collect();
    (chunks, true)
}

/// One imported request: start (s from the first), chunks, counts; a
/// failure when the tool recorded an error.
#[derive(Debug, Clone, Default)]
pub struct ImportedRequest {
    /// Seconds from the first request's start.
    pub start_s: f64,
    /// Token-carrying chunks: ms from the start, tokens.
    pub chunks: Vec<(f64, u32)>,
    /// Start to the end of the response, ms.
    pub done_ms: f64,
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// The tool's error message of a failed request.
    pub error: Option<String>,
    /// The tool cancelled the request.
    pub cancelled: bool,
}

/// Records of one epoch from imported requests, ids in file order.
pub fn records(reqs: Vec<ImportedRequest>) -> Vec<RequestRecord> {
    reqs.into_iter()
        .enumerate()
        .map(|(i, r)| {
            let failure = match (&r.error, r.cancelled) {
                (_, true) => Some(Failure {
                    kind: FailureKind::Cancelled,
                    message: r.error.clone().unwrap_or_else(|| "cancelled".into()),
                }),
                (Some(e), false) => Some(Failure {
                    kind: FailureKind::StreamError,
                    message: e.clone(),
                }),
                (None, false) => None,
            };
            let ok = failure.is_none();
            RequestRecord::from_raw(RawRequest {
                id: i as u64,
                epoch: 0,
                start_s: r.start_s,
                done_ms: r.done_ms,
                chunks: if ok { r.chunks } else { Vec::new() },
                input_tokens: r.input_tokens,
                requested_output_tokens: r.output_tokens,
                usage_output_tokens: ok.then_some(r.output_tokens),
                usage_input_tokens: None,
                counted_output_tokens: None,
                server: None,
                failure,
                resent: 0,
            })
        })
        .collect()
}

/// A point from imported records by epoch, summarised as servebench
/// summarises its own.
pub fn point_of(label: PointLabel, epochs: Vec<Vec<RequestRecord>>) -> PointData {
    PointData::new(label, epochs, &DEFAULT_PERCENTILES, &Slo::default())
}

/// Records split by the epoch each had in a file that servebench exported
/// (`servebench_epochs`); one epoch when the file does not say (or says it
/// for some requests only).
pub fn split_epochs(recs: Vec<RequestRecord>, epochs: Option<&[u32]>) -> Vec<Vec<RequestRecord>> {
    let Some(epochs) = epochs.filter(|e| e.len() == recs.len()) else {
        return vec![recs];
    };
    let mut ids: Vec<u32> = epochs.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let mut out: Vec<Vec<RequestRecord>> = vec![Vec::new(); ids.len()];
    for (mut r, e) in recs.into_iter().zip(epochs) {
        let at = ids.binary_search(e).unwrap_or(0);
        r.epoch = *e;
        out[at].push(r);
    }
    out
}

/// A note setting a file's own figure beside servebench's recomputation
/// from the same records.
pub fn figure_note(
    tool: Tool,
    point: &PointLabel,
    what: &str,
    file: Option<f64>,
    ours: Option<f64>,
) -> Option<String> {
    let (f, o) = (file?, ours?);
    let rel = if f != 0.0 { (o - f) / f } else { 0.0 };
    (rel.abs() > 1e-6).then(|| {
        format!(
            "{}: {what}: {} reported {f:.3}, servebench's definition gives {o:.3} from the same \
             requests ({:+.1} %)",
            point.describe(),
            tool.name(),
            rel * 100.0
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_spread_tokens_over_later_chunks() {
        let (c, guessed) = chunks_from_gaps(100.0, &[10.0, 20.0], 3);
        assert_eq!(c, vec![(100.0, 1), (110.0, 1), (130.0, 1)]);
        assert!(!guessed);
        let (c, guessed) = chunks_from_gaps(100.0, &[10.0, 20.0], 6);
        assert_eq!(c, vec![(100.0, 1), (110.0, 3), (130.0, 2)]);
        assert!(guessed);
        let (c, _) = chunks_from_gaps(5.0, &[], 4);
        assert_eq!(c, vec![(5.0, 4)]);
    }

    #[test]
    fn detects_each_tool_by_content() {
        let p = Path::new("x.json");
        let v = br#"{"completed": 3, "mean_ttft_ms": 1.0}"#;
        assert_eq!(detect(p, v).unwrap(), Tool::Vllm);
        let a = br#"{"time_to_first_token": {"unit": "ms", "avg": 1.0}}"#;
        assert_eq!(detect(p, a).unwrap(), Tool::Aiperf);
        let g = br#"{"benchmarks": []}"#;
        assert_eq!(detect(p, g).unwrap(), Tool::Guidellm);
        let l = b"{\"metadata\": {}, \"metrics\": {}}\n{\"metadata\": {}, \"metrics\": {}}\n";
        assert_eq!(detect(p, l).unwrap(), Tool::Aiperf);
        let e = detect(p, b"{\"a\": 1}").unwrap_err().to_string();
        assert!(
            e.contains("x.json") && e.contains("not a vLLM, aiperf or guidellm"),
            "{e}"
        );
        let e = detect(p, b"\n{\"a\": 1}\nnope\n").unwrap_err().to_string();
        assert!(e.contains("line 2"), "{e}");
    }
}
