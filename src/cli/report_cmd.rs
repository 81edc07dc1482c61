//! `servebench report`: rebuild every output of a run from its records file
//! (`records.jsonl`) and metadata (`meta.json`), including a run that was
//! interrupted or crashed. A truncated last line is skipped with a warning.

use std::path::{Path, PathBuf};

use super::output::{write_outputs, OutputPaths};
use super::CliError;
use crate::metrics::{unix_now_s, PointLabel, RunData, RunKind, RunMeta, Slo, DEFAULT_PERCENTILES};

/// Flags of `servebench report`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReportArgs {
    /// A run folder (holding records.jsonl), or a records file.
    pub path: PathBuf,
    /// CSV output (default: benchmark.csv in the run folder); with
    /// --csv-format seed/seed-n, the seed tool's CSV.
    #[arg(long)]
    pub benchmark_csv: Option<PathBuf>,
    /// Also rebuild the seed tool's CSV (`seed` or `seed-n`), at
    /// --benchmark-csv when given, else benchmark_parallel.csv /
    /// benchmark_serving.csv in the run folder.
    #[arg(long, value_enum, default_value_t = super::CsvFormat::Servebench)]
    pub csv_format: super::CsvFormat,
    /// The seed CSV's dataset column of a serving run (the run's
    /// --dataset-type; records do not keep it).
    #[arg(long, default_value = "random")]
    pub dataset_type: String,
    /// No table on the terminal.
    #[arg(long, short)]
    pub quiet: bool,
    /// Skip the plots of the HTML report.
    #[arg(long)]
    pub noplot: bool,
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
    let records = crate::baseline::records_file(path);
    let dir = records.parent().unwrap_or(Path::new(".")).to_path_buf();
    let read = crate::baseline::read_records(&records).map_err(|e| match e {
        crate::baseline::BaselineError::BadRecords { path, reason } => bad_input(&path, reason),
        e => bad_input(&records, e.to_string()),
    })?;
    let mut warnings = read.warnings;
    let labels: Vec<(String, PointLabel)> = read
        .points
        .iter()
        .map(|p| (p.label.id(), p.label.clone()))
        .collect();
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
    let mut notes = Vec::new();
    let points = read
        .points
        .into_iter()
        .map(|p| p.into_point(&meta.percentiles, &meta.slo, &mut notes))
        .collect();
    if !finished {
        meta.notes.extend(notes);
    }
    let mut run = RunData { meta, points };
    keep_imported_summaries(&dir, &mut run);
    run.summarize_spec_decode();
    Ok(Rebuilt { run, warnings })
}

/// An imported run's summary-only points have no records to rebuild
/// from: they keep the figures saved in its `run.json`, in its order.
fn keep_imported_summaries(dir: &Path, run: &mut RunData) {
    let Some(info) = run.meta.imported.clone() else {
        return;
    };
    if info.summary_only_points.is_empty() {
        return;
    }
    let Ok(saved) = crate::baseline::load_run(&dir.join(crate::baseline::RUN_FILE)) else {
        return;
    };
    let mut rebuilt = std::mem::take(&mut run.points);
    for s in saved.points {
        let id = s.label.id();
        let at = rebuilt.iter().position(|p| p.label.id() == id);
        if info.is_summary_only(&id) {
            if let Some(i) = at {
                rebuilt.remove(i);
            }
            run.points.push(s);
        } else if let Some(i) = at {
            run.points.push(rebuilt.remove(i));
        }
    }
    run.points.extend(rebuilt);
}

fn fallback_meta(dir: &Path, labels: &[(String, PointLabel)]) -> RunMeta {
    let kind = match labels.first() {
        Some((_, l)) if l.request_rate().is_some() => RunKind::Dynamic,
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
        spec_decode: None,
        sampling: Default::default(),
        imported: None,
        shard: None,
        merged: None,
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
    let opts = super::output::WriteOptions {
        quiet: a.quiet,
        noplot: a.noplot,
        seed: a
            .csv_format
            .seed()
            .map(|format| crate::report::SeedCsvOptions {
                format,
                dataset: a.dataset_type.clone(),
            }),
    };
    let paths = write_outputs(&dir, a.benchmark_csv.as_deref(), &rebuilt.run, &opts)?;
    Ok((rebuilt.run, paths))
}
