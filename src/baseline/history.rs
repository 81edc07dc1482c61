//! The history of a benchmark's measured runs: for each run, each point's
//! epoch figures per metric, one JSON line a run in
//! `<benchmark folder>/history.jsonl` (beside `new/`), the newest
//! [`HISTORY_KEEP`] kept. A comparison estimates from it how far whole runs
//! move from one another beyond their epochs' spread
//! ([`crate::stats::run_noise`]), and counts that in its intervals.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::BaselineError;
use crate::metrics::{MetricId, RunData};
use crate::stats::{run_noise, RunNoise};

/// The history file of a benchmark (or command-line run name) folder.
pub const HISTORY_FILE: &str = "history.jsonl";
/// Runs a history keeps (the newest).
pub const HISTORY_KEEP: usize = 30;

/// One measured run, as the history keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// When the run started (its `meta.started_unix_s`): it names the run.
    pub started_unix_s: f64,
    /// Point id → metric → the point's epoch figures (finite ones).
    pub points: BTreeMap<String, BTreeMap<MetricId, Vec<f64>>>,
}

impl HistoryEntry {
    /// The entry of `run`: every point's epoch figures of every metric.
    pub fn of(run: &RunData) -> HistoryEntry {
        let points = run
            .points
            .iter()
            .map(|p| {
                let metrics = MetricId::ALL
                    .iter()
                    .map(|m| {
                        let f: Vec<f64> = m
                            .epoch_figures(p)
                            .into_iter()
                            .filter(|x| x.is_finite())
                            .collect();
                        (*m, f)
                    })
                    .filter(|(_, f)| !f.is_empty())
                    .collect();
                (p.label.id(), metrics)
            })
            .collect();
        HistoryEntry {
            started_unix_s: run.meta.started_unix_s,
            points,
        }
    }
}

/// The runs on record for one benchmark, oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    pub entries: Vec<HistoryEntry>,
}

impl History {
    /// The history in `bench_dir` (the folder holding `new/`); empty when
    /// there is none. Lines that do not parse (a run cut off while being
    /// written, a newer format) are skipped: the history only ever widens
    /// intervals, and a lost entry costs one run of it.
    pub fn load(bench_dir: &Path) -> History {
        let Ok(f) = std::fs::File::open(bench_dir.join(HISTORY_FILE)) else {
            return History::default();
        };
        let entries = std::io::BufReader::new(f)
            .lines()
            .map_while(Result::ok)
            .filter_map(|l| serde_json::from_str(&l).ok())
            .collect();
        History { entries }
    }

    /// The runs on record other than the one started at `except` (the run
    /// being judged, which must not judge itself).
    pub fn others(&self, except: f64) -> impl Iterator<Item = &HistoryEntry> {
        // Two runs of one benchmark never start within a millisecond; the
        // tolerance spares the comparison any rounding of the JSON.
        self.entries
            .iter()
            .filter(move |e| (e.started_unix_s - except).abs() > 1e-3)
    }

    /// The run-to-run noise of `metric` at `point`, from every run on
    /// record but the one started at `except`; `None` with fewer than
    /// [`crate::stats::MIN_NOISE_RUNS`] runs that measured it.
    pub fn noise(&self, point: &str, metric: MetricId, except: f64) -> Option<RunNoise> {
        let runs: Vec<&[f64]> = self
            .others(except)
            .filter_map(|e| e.points.get(point)?.get(&metric).map(Vec::as_slice))
            .collect();
        run_noise(&runs)
    }
}

/// Append `run` to the history in `bench_dir`, keeping the newest
/// [`HISTORY_KEEP`] runs. Imported and interrupted runs are not measured
/// runs of this benchmark and are left out.
pub fn append_history(bench_dir: &Path, run: &RunData) -> Result<(), BaselineError> {
    History::load(bench_dir).append(bench_dir, run)
}

impl History {
    /// [`append_history`] to this history, already loaded from `bench_dir`.
    pub fn append(&mut self, bench_dir: &Path, run: &RunData) -> Result<(), BaselineError> {
        if run.meta.imported.is_some() || run.meta.interrupted {
            return Ok(());
        }
        self.entries.push(HistoryEntry::of(run));
        let skip = self.entries.len().saturating_sub(HISTORY_KEEP);
        self.entries.drain(..skip);
        save_entries(bench_dir, &self.entries)
    }
}

fn save_entries(bench_dir: &Path, entries: &[HistoryEntry]) -> Result<(), BaselineError> {
    let path = bench_dir.join(HISTORY_FILE);
    let io = |path: &PathBuf| {
        let path = path.clone();
        move |source| BaselineError::Io { path, source }
    };
    std::fs::create_dir_all(bench_dir).map_err(io(&bench_dir.to_path_buf()))?;
    let tmp = path.with_extension("jsonl.tmp");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp).map_err(io(&tmp))?);
    for e in entries {
        serde_json::to_writer(&mut f, e).map_err(|e| BaselineError::Corrupt {
            path: path.clone(),
            reason: format!("cannot serialise: {e}"),
        })?;
        f.write_all(b"\n").map_err(io(&tmp))?;
    }
    f.flush().map_err(io(&tmp))?;
    drop(f);
    std::fs::rename(&tmp, &path).map_err(io(&path))
}
