//! Writing a finished run: JSON first (the raw data), then CSV, Markdown,
//! the HTML report and the index of every run, then the terminal table.

use std::path::{Path, PathBuf};

use super::CliError;
use crate::metrics::RunData;
use crate::report::{
    run_table, write_csv, write_html_report, write_index, write_markdown, HtmlOptions,
};

/// Where a run's outputs went.
#[derive(Debug, Clone)]
pub struct OutputPaths {
    pub dir: PathBuf,
    pub json: PathBuf,
    pub csv: PathBuf,
    pub records: PathBuf,
    pub markdown: PathBuf,
    /// The run's HTML page, unless it could not be written.
    pub html: Option<PathBuf>,
}

/// Write `run.json` (the versioned run file of [`crate::baseline`], which
/// `servebench compare` and the bench harness read), the CSV (at `csv` when given), `summary.md` and the
/// HTML report (`report/index.html`, with plots unless `noplot`) under
/// `dir`; when `dir` is `<root>/<name>/new`, refresh `<root>/index.html`.
/// The JSON is written first, so a failure later never loses the data; a
/// report that cannot be drawn is a warning, not an error.
pub fn write_outputs(
    dir: &Path,
    csv: Option<&Path>,
    run: &RunData,
    quiet: bool,
    noplot: bool,
) -> Result<OutputPaths, CliError> {
    let json = dir.join("run.json");
    crate::baseline::save_run(&json, run).map_err(|e| CliError::Write {
        path: json.display().to_string(),
        reason: e.to_string(),
    })?;
    let csv = csv
        .map(Path::to_path_buf)
        .unwrap_or_else(|| dir.join("benchmark.csv"));
    write_csv(&csv, run)?;
    let markdown = dir.join("summary.md");
    write_markdown(&markdown, run, None).map_err(|e| CliError::Write {
        path: markdown.display().to_string(),
        reason: e.to_string(),
    })?;
    let html = match write_html_report(
        &dir.join("report"),
        run,
        None,
        &HtmlOptions { plots: !noplot },
    ) {
        Ok(p) => Some(p),
        Err(e) => {
            eprintln!("warning: HTML report not written: {e}");
            None
        }
    };
    if dir.file_name().is_some_and(|n| n == "new") {
        if let Some(root) = dir.parent().and_then(Path::parent) {
            if let Err(e) = write_index(root) {
                eprintln!("warning: index of {} not written: {e}", root.display());
            }
        }
    }
    if !quiet {
        crate::outln!("{}", run_table(run));
        crate::outln!("CSV: {}\nJSON: {}", csv.display(), json.display());
        if let Some(h) = &html {
            crate::outln!("report: {}", h.display());
        }
    }
    Ok(OutputPaths {
        dir: dir.to_path_buf(),
        json,
        csv,
        records: dir.join("records.jsonl"),
        markdown,
        html,
    })
}

/// Check, before any load, that a CSV can be written at `csv`: its folder
/// exists or can be made, and the path is not a folder.
pub fn check_csv_path(csv: Option<&Path>) -> Result<(), CliError> {
    let Some(csv) = csv else { return Ok(()) };
    let bad = |reason: String| CliError::BadFlag {
        flag: format!("--benchmark-csv {}", csv.display()),
        reason,
    };
    if csv.is_dir() {
        return Err(bad("is a folder, not a file".into()));
    }
    if let Some(dir) = csv.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Some(file) = dir.ancestors().find(|a| a.is_file()) {
            return Err(bad(format!("{} is a file, not a folder", file.display())));
        }
        std::fs::create_dir_all(dir)
            .map_err(|e| bad(format!("cannot create its folder {}: {e}", dir.display())))?;
    }
    Ok(())
}
