//! Saved runs on disk: every path and every file format of the report
//! folder lives here.
//!
//! ```text
//! target-reports/                      (ReportDir; SERVEBENCH_REPORT_DIR overrides)
//!   <benchmark id or run name>/        e.g. static/short, one folder per segment
//!     new/meta.json                    the run's metadata, written before any load
//!     new/records.jsonl                its per-request records, as they completed
//!     new/run.json                     the latest run (versioned, see RunFile)
//!     new/comparison.json              the latest run against its baseline
//!     new/capacity.json                a capacity search (`servebench capacity`), versioned
//!     new/benchmark.csv, new/summary.md, new/report/index.html   its reports
//!     <baseline name>/run.json         saved with --save-baseline NAME
//!     history.jsonl                    every measured run's epoch figures, newest 30 (run-to-run noise)
//!   index.html                         every run, linking its report
//!   gate-summary.md                    the Markdown summary of a --gate run
//! ```
//!
//! A `run.json` is `{"format": "servebench-run", "version": 2, "run": RunData}` (version 1, without the server's metrics, is still read):
//! a reader refuses other formats and newer versions with an error naming
//! the file.

mod capacity;
mod history;
mod id;
mod records;
mod store;

pub use capacity::{
    load_capacity, save_capacity, CAPACITY_FILE, CAPACITY_FORMAT, CAPACITY_VERSION,
};
pub use history::{append_history, History, HistoryEntry, HISTORY_FILE, HISTORY_KEEP};
pub use id::{check_baseline_name, sanitize_id, RESERVED_NAMES};
pub use records::{read_records, records_file, ReadPoint, RecordsRead, RecordsWriter};
pub use store::{
    load_calibration, load_run, load_run_head, run_file_in, save_calibration, save_comparison,
    save_or_clear_comparison, save_run, write_meta, PointHead, ReportDir, RunFile, RunHead,
    CALIBRATION_FILE, COMPARISON_FILE, CSV_FILE, DEFAULT_REPORT_DIR, FORMAT, HTML_DIR, META_FILE,
    OLDEST_VERSION, RECORDS_FILE, REPORT_DIR_ENV, RUN_FILE, SUMMARY_FILE, VERSION,
};

use std::path::PathBuf;

/// Folder of the latest run of a benchmark.
pub const NEW_RUN: &str = "new";
/// Folder of the run before the latest: a new run moves `new/` here first,
/// so that no run is lost to the next one of the same name.
pub const PREVIOUS_RUN: &str = "previous";

/// Before a run writes into the run folder `new_dir` (`.../new`): move the
/// run found there (its `run.json` or `records.jsonl`) to the sibling
/// `previous/`, replacing the one kept there. Returns where it went.
pub fn keep_previous(new_dir: &std::path::Path) -> Result<Option<PathBuf>, BaselineError> {
    let has_run = [RUN_FILE, RECORDS_FILE, CAPACITY_FILE]
        .iter()
        .any(|f| new_dir.join(f).is_file());
    let Some(parent) = new_dir.parent().filter(|_| has_run) else {
        return Ok(None);
    };
    let prev = parent.join(PREVIOUS_RUN);
    let io = |path: &std::path::Path| {
        let path = path.to_path_buf();
        move |source| BaselineError::Io { path, source }
    };
    if prev.exists() {
        std::fs::remove_dir_all(&prev).map_err(io(&prev))?;
    }
    std::fs::rename(new_dir, &prev).map_err(io(new_dir))?;
    std::fs::create_dir_all(new_dir).map_err(io(new_dir))?;
    Ok(Some(prev))
}

/// Errors reading or writing saved runs; each names the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    /// The file (or the baseline it stands for) does not exist.
    #[error("{}: no such file{}", path.display(), hint.as_deref().map(|h| format!(" ({h})")).unwrap_or_default())]
    Missing {
        path: PathBuf,
        /// What to do about it, e.g. "save one with --save-baseline main".
        hint: Option<String>,
    },
    /// The file is not valid JSON, or not a run.
    #[error("{}: corrupt run file: {reason}", path.display())]
    Corrupt { path: PathBuf, reason: String },
    /// The file is JSON of another kind.
    #[error("{}: not a servebench run file (format {found:?}, expected {FORMAT:?})", path.display())]
    WrongFormat { path: PathBuf, found: String },
    /// Written by a newer servebench whose format this one cannot read.
    #[error("{}: run file version {found} is newer than this servebench ({}) reads (version {VERSION}); upgrade servebench or re-run the baseline", path.display(), env!("CARGO_PKG_VERSION"))]
    NewerVersion { path: PathBuf, found: u64 },
    /// A version this servebench does not know (0, or missing).
    #[error("{}: unsupported run file version {found} (this servebench reads versions {OLDEST_VERSION} to {VERSION})", path.display())]
    UnsupportedVersion { path: PathBuf, found: u64 },
    /// A baseline name given on the command line cannot be a folder name.
    #[error("{flag} {name:?}: {reason}")]
    BadName {
        flag: String,
        name: String,
        reason: String,
    },
    /// A records file could not be read, or is not one.
    #[error("{}: {reason}", path.display())]
    BadRecords { path: PathBuf, reason: String },
    /// Reading or writing failed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}
