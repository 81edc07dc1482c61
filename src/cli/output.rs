//! Writing a finished run: JSON first (the raw data), then CSV, then the
//! terminal table.

use std::path::{Path, PathBuf};

use super::CliError;
use crate::metrics::RunData;
use crate::report::{run_table, write_csv, write_json};

/// Where a run's outputs went.
#[derive(Debug, Clone)]
pub struct OutputPaths {
    pub dir: PathBuf,
    pub json: PathBuf,
    pub csv: PathBuf,
    pub records: PathBuf,
}

/// Write `run.json` and the CSV under `dir` (CSV at `csv` when given) and
/// print the table unless `quiet`.
pub fn write_outputs(
    dir: &Path,
    csv: Option<&Path>,
    run: &RunData,
    quiet: bool,
) -> Result<OutputPaths, CliError> {
    let json = dir.join("run.json");
    write_json(&json, run)?;
    let csv = csv
        .map(Path::to_path_buf)
        .unwrap_or_else(|| dir.join("benchmark.csv"));
    write_csv(&csv, run)?;
    if !quiet {
        println!("{}", run_table(run));
        println!("CSV: {}\nJSON: {}", csv.display(), json.display());
    }
    Ok(OutputPaths {
        dir: dir.to_path_buf(),
        json,
        csv,
        records: dir.join("records.jsonl"),
    })
}
