//! `servebench export`: a servebench run in vLLM's or aiperf's result
//! shapes, for dashboards built on them.

use std::path::PathBuf;

use super::CliError;
use crate::baseline::{load_run, ReportDir};
use crate::interop::{aiperf, vllm, InteropError};

/// Flags of `servebench export`.
///
/// Example: servebench export serving/new --format vllm -o vllm_result.json
#[derive(Debug, Clone, clap::Args)]
pub struct ExportArgs {
    /// The run: a run.json, a folder holding one, or `<benchmark
    /// id>/<baseline name>` under the report folder.
    pub run: String,
    /// The shape: vllm (one --save-result JSON object per point, with the
    /// --save-detailed arrays; JSON Lines for several points) or aiperf
    /// (profile_export_aiperf.json, and profile_export.jsonl with -o).
    #[arg(long, value_parser = ["vllm", "aiperf"])]
    pub format: String,
    /// vllm: the file to write; aiperf: the folder to write both files in
    /// (default: the summary on stdout).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// aiperf: the point to export when the run has several (its id, e.g.
    /// p512-o128-c8).
    #[arg(long)]
    pub point: Option<String>,
    /// Report folder that `<id>/<name>` references are read from.
    #[arg(long)]
    pub report_dir: Option<PathBuf>,
}

fn write(path: &std::path::Path, text: &str) -> Result<(), CliError> {
    if let Some(d) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(d).map_err(|e| CliError::write(d, e))?;
    }
    std::fs::write(path, text).map_err(|e| CliError::write(path, e))
}

fn lines(values: &[serde_json::Value]) -> String {
    let mut s = String::new();
    for v in values {
        s.push_str(&v.to_string());
        s.push('\n');
    }
    s
}

/// Export the run; returns the files written (none when printed).
pub fn run_export_cmd(a: &ExportArgs) -> Result<Vec<PathBuf>, CliError> {
    let reports = a
        .report_dir
        .clone()
        .map(ReportDir::new)
        .unwrap_or_else(ReportDir::from_env);
    let bad = |e: &dyn std::fmt::Display| CliError::BadFlag {
        flag: "RUN".into(),
        reason: e.to_string(),
    };
    let path = reports.resolve(&a.run).map_err(|e| bad(&e))?;
    let run = load_run(&path).map_err(|e| bad(&e))?;
    if run.points.is_empty() {
        return Err(InteropError::Export(format!("{} has no point", path.display())).into());
    }
    let mut written = Vec::new();
    match a.format.as_str() {
        "vllm" => {
            let values = vllm::export(&run);
            let text = match values.as_slice() {
                [one] => serde_json::to_string_pretty(one).unwrap_or_default() + "\n",
                many => lines(many),
            };
            match &a.output {
                Some(p) => {
                    write(p, &text)?;
                    written.push(p.clone());
                }
                None => crate::out!("{text}"),
            }
        }
        _ => {
            let ids: Vec<String> = run.points.iter().map(|p| p.label.id()).collect();
            let point = match (&a.point, run.points.as_slice()) {
                (Some(id), _) => {
                    run.points
                        .iter()
                        .find(|p| &p.label.id() == id)
                        .ok_or_else(|| CliError::BadFlag {
                            flag: "--point".into(),
                            reason: format!(
                                "`{id}` is not a point of the run ({})",
                                ids.join(", ")
                            ),
                        })?
                }
                (None, [one]) => one,
                (None, _) => {
                    return Err(CliError::BadFlag {
                        flag: "--point".into(),
                        reason: format!(
                            "the run has {} points and an aiperf export holds one; pick one of {}",
                            ids.len(),
                            ids.join(", ")
                        ),
                    })
                }
            };
            let summary = serde_json::to_string_pretty(&aiperf::export_summary(&run, point))
                .unwrap_or_default()
                + "\n";
            match &a.output {
                Some(dir) => {
                    let s = dir.join(aiperf::SUMMARY_FILE);
                    write(&s, &summary)?;
                    written.push(s);
                    if !point.epochs.is_empty() {
                        let r = dir.join(aiperf::RECORDS_FILE);
                        write(&r, &lines(&aiperf::export_records(&run, point)))?;
                        written.push(r);
                    }
                }
                None => crate::out!("{summary}"),
            }
        }
    }
    for w in &written {
        eprintln!("wrote {}", w.display());
    }
    Ok(written)
}
