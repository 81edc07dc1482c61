//! `servebench report`: rebuild every output of a run from its records file
//! (`records.jsonl`) and metadata (`meta.json`), including a run that was
//! interrupted or crashed. A truncated last line is skipped with a warning.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::output::{write_outputs, OutputPaths};
use super::CliError;
use crate::metrics::{
    unix_now_s, PointData, PointLabel, RequestRecord, RunData, RunKind, RunMeta, Slo,
    DEFAULT_PERCENTILES,
};

/// Flags of `servebench report`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReportArgs {
    /// A run folder (holding records.jsonl), or a records file.
    pub path: PathBuf,
    /// CSV output (default: benchmark.csv in the run folder).
    #[arg(long)]
    pub benchmark_csv: Option<PathBuf>,
    /// No table on the terminal.
    #[arg(long, short)]
    pub quiet: bool,
    /// Skip the plots of the HTML report.
    #[arg(long)]
    pub noplot: bool,
}

#[derive(Deserialize)]
struct StartPoint {
    id: String,
    label: PointLabel,
}

#[derive(Deserialize)]
struct RecordLine {
    point: String,
    #[serde(flatten)]
    record: RequestRecord,
}

/// The tokenizer's counts of an epoch's outputs, written after the epoch.
#[derive(Deserialize)]
struct CountedLine {
    point: String,
    epoch: u32,
    tokens: Vec<(u64, u64)>,
}

fn bad_input(path: &Path, reason: impl Into<String>) -> CliError {
    CliError::BadFlag {
        flag: path.display().to_string(),
        reason: reason.into(),
    }
}

/// A run rebuilt from its records, with the warnings met on the way.
pub struct Rebuilt {
    pub run: RunData,
    pub warnings: Vec<String>,
}

/// Read `records.jsonl` (and `meta.json` beside it) back into a run.
pub fn rebuild_run(path: &Path) -> Result<Rebuilt, CliError> {
    let records = if path.is_dir() {
        path.join("records.jsonl")
    } else {
        path.to_path_buf()
    };
    let dir = records.parent().unwrap_or(Path::new(".")).to_path_buf();
    let text =
        std::fs::read(&records).map_err(|e| bad_input(&records, format!("cannot read: {e}")))?;
    let mut warnings = Vec::new();
    let mut labels: Vec<(String, PointLabel)> = Vec::new();
    let mut by_point: BTreeMap<String, BTreeMap<u32, Vec<RequestRecord>>> = BTreeMap::new();
    let mut counted: Vec<CountedLine> = Vec::new();
    let lines: Vec<&[u8]> = text
        .split(|b| *b == b'\n')
        .filter(|l| !l.trim_ascii().is_empty())
        .collect();
    for (i, line) in lines.iter().enumerate() {
        let value: serde_json::Value = match serde_json::from_slice(line) {
            Ok(v) => v,
            Err(e) => {
                let what = if i + 1 == lines.len() {
                    "truncated last line"
                } else {
                    "unreadable line"
                };
                warnings.push(format!(
                    "{}: line {}: {what} skipped ({e})",
                    records.display(),
                    i + 1
                ));
                continue;
            }
        };
        if let Some(sp) = value.get("start_point") {
            match serde_json::from_value::<StartPoint>(sp.clone()) {
                Ok(sp) => {
                    if !labels.iter().any(|(id, _)| *id == sp.id) {
                        labels.push((sp.id, sp.label));
                    }
                }
                Err(e) => warnings.push(format!(
                    "{}: line {}: bad point line skipped ({e})",
                    records.display(),
                    i + 1
                )),
            }
            continue;
        }
        if let Some(c) = value.get("counted") {
            match serde_json::from_value::<CountedLine>(c.clone()) {
                Ok(c) => counted.push(c),
                Err(e) => warnings.push(format!(
                    "{}: line {}: bad counts line skipped ({e})",
                    records.display(),
                    i + 1
                )),
            }
            continue;
        }
        match serde_json::from_value::<RecordLine>(value)
            .map_err(|e| e.to_string())
            .and_then(|r| r.record.check().map(|_| r))
        {
            Ok(r) => by_point
                .entry(r.point)
                .or_default()
                .entry(r.record.epoch)
                .or_default()
                .push(r.record),
            Err(e) => warnings.push(format!(
                "{}: line {}: bad record skipped ({e})",
                records.display(),
                i + 1
            )),
        }
    }
    if labels.is_empty() {
        return Err(bad_input(
            &records,
            "not a servebench records file (no point line in it); nothing was written. \
             Give a run folder or the records.jsonl a run wrote",
        ));
    }
    for c in counted {
        let Some(recs) = by_point.get_mut(&c.point).and_then(|e| e.get_mut(&c.epoch)) else {
            continue;
        };
        let n: BTreeMap<u64, u64> = c.tokens.into_iter().collect();
        for r in recs {
            if let Some(&t) = n.get(&r.id) {
                r.counted_output_tokens = Some(t);
            }
        }
    }
    let finished = dir.join(crate::baseline::RUN_FILE).is_file();
    let meta_path = dir.join("meta.json");
    // A finished run's own metadata is the most complete (how it ended,
    // its notes); meta.json is what was known at the start.
    let finished_meta = finished
        .then(|| crate::baseline::load_run(&dir.join(crate::baseline::RUN_FILE)).ok())
        .flatten()
        .map(|r| r.meta);
    let mut meta: RunMeta = match finished_meta {
        Some(m) => m,
        None => match std::fs::read(&meta_path) {
            Ok(b) => serde_json::from_slice(&b)
                .map_err(|e| bad_input(&meta_path, format!("not a run's meta.json: {e}")))?,
            Err(_) => {
                warnings.push(format!(
                    "{}: missing; metadata unknown",
                    meta_path.display()
                ));
                fallback_meta(&dir, &labels)
            }
        },
    };
    if !finished {
        meta.interrupted = true;
        meta.notes
            .push("rebuilt from records.jsonl: the run did not finish".into());
    }
    let mut points = Vec::new();
    for (id, label) in labels {
        let epochs: Vec<Vec<RequestRecord>> = by_point
            .remove(&id)
            .map(|m| m.into_values().collect())
            .unwrap_or_default();
        if epochs.is_empty() {
            continue;
        }
        points.push(PointData::new(label, epochs, &meta.percentiles, &meta.slo));
    }
    for id in by_point.keys() {
        warnings.push(format!(
            "{}: records of point `{id}` have no start line; skipped",
            records.display()
        ));
    }
    Ok(Rebuilt {
        run: RunData { meta, points },
        warnings,
    })
}

fn fallback_meta(dir: &Path, labels: &[(String, PointLabel)]) -> RunMeta {
    let kind = match labels.first() {
        Some((_, PointLabel::Dynamic { .. })) => RunKind::Dynamic,
        _ => RunKind::Static,
    };
    let name = dir
        .parent()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "run".into());
    RunMeta {
        kind,
        name,
        servebench_version: env!("CARGO_PKG_VERSION").to_string(),
        started_unix_s: unix_now_s(),
        base_url: "unknown".into(),
        embedded_sim: false,
        backend: "unknown".into(),
        model: "unknown".into(),
        tokenizer: "unknown".into(),
        percentiles: DEFAULT_PERCENTILES.to_vec(),
        slo: Slo::default(),
        interrupted: false,
        stopped_early: None,
        notes: Vec::new(),
        images: None,
        assumed_tokens_per_chunk: 1,
    }
}

/// Rebuild and write every output of the run at `a.path`.
pub fn run_report_cmd(a: &ReportArgs) -> Result<(RunData, OutputPaths), CliError> {
    let rebuilt = rebuild_run(&a.path)?;
    for w in &rebuilt.warnings {
        eprintln!("warning: {w}");
    }
    let dir = if a.path.is_dir() {
        a.path.clone()
    } else {
        a.path.parent().unwrap_or(Path::new(".")).to_path_buf()
    };
    let paths = write_outputs(
        &dir,
        a.benchmark_csv.as_deref(),
        &rebuilt.run,
        a.quiet,
        a.noplot,
    )?;
    Ok((rebuilt.run, paths))
}
