//! Writing a finished run: every report of [`crate::report::Reports`]
//! (JSON first, the raw data; then CSV, Markdown, the HTML report and the
//! index of every run; then the terminal), and where they went.

use std::path::{Path, PathBuf};

use super::CliError;
use crate::baseline::{RECORDS_FILE, RUN_FILE, SUMMARY_FILE};
use crate::metrics::RunData;
use crate::report::TerminalReport;
use crate::report::{ColorChoice, ReportInput, Reports, SeedCsvOptions, SeedCsvReport};

/// How a run's outputs are written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WriteOptions {
    /// No table on the terminal, no list of files.
    pub quiet: bool,
    /// No plots in the HTML report.
    pub noplot: bool,
    /// Also the seed tool's CSV (`--csv-format seed` / `seed-n`).
    pub seed: Option<SeedCsvOptions>,
}

/// Where a run's outputs went.
#[derive(Debug, Clone)]
pub struct OutputPaths {
    pub dir: PathBuf,
    pub json: PathBuf,
    pub csv: PathBuf,
    /// The seed tool's CSV, with `--csv-format seed` / `seed-n`.
    pub seed_csv: Option<PathBuf>,
    pub records: PathBuf,
    pub markdown: PathBuf,
    /// The run's HTML page, unless it could not be written.
    pub html: Option<PathBuf>,
}

/// Write every report of `run` under its folder `dir` (plots unless
/// `noplot`; the table on the terminal unless `quiet`); when `dir` is
/// `<root>/<name>/new`, refresh `<root>/index.html`. `csv` (the
/// `--benchmark-csv` flag) is where servebench's CSV goes, or, with a seed
/// CSV in `opts`, where the seed CSV goes (servebench's then stays in
/// `dir`). A report that cannot be drawn is a warning, not an error.
pub fn write_outputs(
    dir: &Path,
    csv: Option<&Path>,
    run: &RunData,
    opts: &WriteOptions,
) -> Result<OutputPaths, CliError> {
    let (quiet, noplot) = (opts.quiet, opts.noplot);
    let (csv, seed_csv) = match &opts.seed {
        Some(_) => (None, csv),
        None => (csv, None),
    };
    let root = dir
        .file_name()
        .is_some_and(|n| n == crate::baseline::NEW_RUN)
        .then(|| dir.parent().and_then(Path::parent))
        .flatten();
    let terminal = (!quiet).then(|| TerminalReport {
        color: ColorChoice::Auto.enabled(),
    });
    let input = ReportInput {
        dir,
        root,
        id: &run.meta.name,
        run,
        comparison: None,
    };
    let mut reports = Reports::standard(csv, noplot, terminal);
    if let Some(options) = &opts.seed {
        reports = reports.with(SeedCsvReport {
            path: seed_csv.map(Path::to_path_buf),
            options: options.clone(),
        });
    }
    let written = reports.write(&input).map_err(|e| CliError::Write {
        path: dir.display().to_string(),
        reason: e.to_string(),
    })?;
    for w in &written.warnings {
        eprintln!("warning: {w}");
    }
    let csv = csv
        .map(Path::to_path_buf)
        .unwrap_or_else(|| dir.join(crate::baseline::CSV_FILE));
    let html = written.file("index.html").map(Path::to_path_buf);
    let paths = OutputPaths {
        dir: dir.to_path_buf(),
        json: dir.join(RUN_FILE),
        csv,
        seed_csv: opts.seed.as_ref().map(|_| {
            seed_csv.map(Path::to_path_buf).unwrap_or_else(|| {
                dir.join(crate::report::seed_csv::default_file_name(run.meta.kind))
            })
        }),
        records: dir.join(RECORDS_FILE),
        markdown: dir.join(SUMMARY_FILE),
        html,
    };
    if !quiet {
        crate::outln!("CSV: {}", paths.csv.display());
        if let Some(s) = &paths.seed_csv {
            crate::outln!("seed CSV: {}", s.display());
        }
        crate::outln!("JSON: {}", paths.json.display());
        if let Some(h) = &paths.html {
            crate::outln!("report: {}", h.display());
        }
    }
    Ok(paths)
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
