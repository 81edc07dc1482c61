//! `servebench import`: other tools' result files (vLLM, aiperf, guidellm)
//! as a servebench run beside servebench's own, so that `compare` and
//! `report` work on them.

use std::path::PathBuf;

use super::output::{write_outputs, OutputPaths, WriteOptions};
use super::CliError;
use crate::baseline::{keep_previous, write_meta, RecordsWriter, ReportDir, RECORDS_FILE};
use crate::interop::{import_files, Tool};
use crate::metrics::RunData;

/// Flags of `servebench import`.
///
/// Example: servebench import vllm_result.json --name vllm/rate-4
#[derive(Debug, Clone, clap::Args)]
pub struct ImportArgs {
    /// Result files of one tool: vLLM's --save-result JSON, aiperf's
    /// profile_export_aiperf.json or profile_export.jsonl, guidellm's
    /// benchmarks.json. Each file's benchmarks become points of one run.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// The files' tool; `auto` tells by their content.
    #[arg(long, default_value = "auto", value_parser = ["auto", "vllm", "aiperf", "guidellm"])]
    pub format: String,
    /// The run folder to write (default: <report dir>/<name>/new).
    #[arg(
        short = 'o',
        long = "output",
        value_name = "RUN_DIR",
        conflicts_with = "name"
    )]
    pub output: Option<PathBuf>,
    /// The run's name: its folder under the report dir is <name>/new
    /// (default: import/<tool>-<first file's stem>).
    #[arg(long)]
    pub name: Option<String>,
    /// Report folder (default: SERVEBENCH_REPORT_DIR, else target-reports).
    #[arg(long)]
    pub report_dir: Option<PathBuf>,
    /// No table on the terminal.
    #[arg(long, short)]
    pub quiet: bool,
    /// Skip the plots of the HTML report.
    #[arg(long)]
    pub noplot: bool,
}

/// Read every file (nothing is written when one is bad), then write the
/// run: `meta.json`, `records.jsonl`, `run.json` and every report.
pub fn run_import_cmd(a: &ImportArgs) -> Result<(RunData, OutputPaths), CliError> {
    let tool = match a.format.as_str() {
        "auto" => None,
        f => Some(f.parse::<Tool>().map_err(|r| CliError::BadFlag {
            flag: "--format".into(),
            reason: r,
        })?),
    };
    let stem = a.files[0]
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "run".into());
    // The name needs the tool, known once the first file is read: read
    // under a placeholder, then name.
    let mut run = import_files(&a.files, tool, "")?;
    let tool_name = run
        .meta
        .imported
        .as_ref()
        .map(|i| i.tool.clone())
        .unwrap_or_default();
    let name = a
        .name
        .clone()
        .unwrap_or_else(|| format!("import/{tool_name}-{stem}"));
    run.meta.name = name.clone();
    let reports = a
        .report_dir
        .clone()
        .map(ReportDir::new)
        .unwrap_or_else(ReportDir::from_env);
    let dir = match &a.output {
        Some(d) => d.clone(),
        None => {
            reports
                .ensure_gitignore()
                .map_err(|e| CliError::write(reports.root(), e))?;
            reports.new_dir(&name)
        }
    };
    std::fs::create_dir_all(&dir).map_err(|e| CliError::write(&dir, e))?;
    keep_previous(&dir).map_err(|e| CliError::write(&dir, e))?;
    let records = dir.join(RECORDS_FILE);
    write_meta(&records, &run.meta).map_err(|e| CliError::write(&records, e))?;
    let mut w = RecordsWriter::create(&records).map_err(|e| CliError::write(&records, e))?;
    for p in &run.points {
        w.start_point(&p.label);
        for r in p.epochs.iter().flatten() {
            w.record(r);
        }
    }
    if let Some(e) = w.take_error() {
        return Err(CliError::write(&records, e));
    }
    drop(w);
    if !a.quiet {
        let info = run.meta.imported.as_ref();
        crate::outln!(
            "imported {} point(s) from {tool_name} into {}",
            run.points.len(),
            dir.display()
        );
        for p in &run.points {
            let only = info.is_some_and(|i| i.is_summary_only(&p.label.id()));
            crate::outln!(
                "  {}: {} requests ({} completed), {}",
                p.label.id(),
                p.summary.sent,
                p.summary.completed,
                if only {
                    "summary only (the tool's own figures)"
                } else {
                    "per-request records"
                }
            );
        }
    }
    let opts = WriteOptions {
        quiet: a.quiet,
        noplot: a.noplot,
        seed: None,
    };
    let paths = write_outputs(&dir, None, &run, &opts)?;
    Ok((run, paths))
}
