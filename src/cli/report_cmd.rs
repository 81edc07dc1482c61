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
        match serde_json::from_value::<RecordLine>(value) {
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
    let finished = dir.join("run.json").is_file();
    let meta_path = dir.join("meta.json");
    let mut meta: RunMeta = match std::fs::read(&meta_path) {
        Ok(b) => serde_json::from_slice(&b)
            .map_err(|e| bad_input(&meta_path, format!("not a run's meta.json: {e}")))?,
        Err(_) => {
            warnings.push(format!(
                "{}: missing; metadata unknown",
                meta_path.display()
            ));
            fallback_meta(&dir, &labels)
        }
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
        notes: Vec::new(),
        images: None,
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
