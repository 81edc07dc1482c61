//! Follows a run: a progress bar per point (or, when stderr is not a
//! terminal, one line per finished point), and the records file, to which
//! every measured request is appended as soon as it completes.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::RunError;
use crate::baseline::RecordsWriter;
use crate::load::Keep;
use crate::metrics::{ClientLoad, PointLabel, RunMeta};
use crate::record::RequestRecord;

/// Progress and records file of one run.
pub(super) struct Observer {
    bar: Option<ProgressBar>,
    quiet: bool,
    /// Progress as plain lines (stderr is not a terminal).
    lines: bool,
    point: Option<(String, Instant, usize, usize)>,
    records: Option<(PathBuf, RecordsWriter)>,
}

impl Observer {
    /// Create the records file at `records` (truncating it) and write the
    /// run's metadata beside it (`meta.json`), so that `servebench report`
    /// can rebuild every output from these two files even after a crash. A
    /// previous run's `run.json` there is removed, so that it cannot pass
    /// for this one's.
    pub fn create(records: Option<&Path>, quiet: bool, meta: &RunMeta) -> Result<Self, RunError> {
        let records = match records {
            None => None,
            Some(path) => {
                if let Some(d) = path.parent() {
                    std::fs::create_dir_all(d).map_err(|e| RunError::write(d, e))?;
                }
                crate::baseline::write_meta(path, meta).map_err(|e| RunError::write(path, e))?;
                let w = RecordsWriter::create(path).map_err(|e| RunError::write(path, e))?;
                Some((path.to_path_buf(), w))
            }
        };
        Ok(Observer {
            bar: None,
            quiet,
            lines: !std::io::stderr().is_terminal(),
            point: None,
            records,
        })
    }

    /// The first error writing the records file, if any.
    pub fn check(&mut self) -> Result<(), RunError> {
        match self.records.as_mut() {
            Some((p, w)) => match w.take_error() {
                Some(e) => Err(RunError::write(p, e)),
                None => Ok(()),
            },
            None => Ok(()),
        }
    }

    /// A point starts: `requests` in all (warm-up included).
    pub fn start_point(&mut self, label: &PointLabel, requests: usize) {
        if let Some((_, w)) = self.records.as_mut() {
            w.start_point(label);
        }
        self.point = Some((label.describe(), Instant::now(), 0, 0));
        if self.quiet || self.lines {
            return;
        }
        let bar =
            ProgressBar::with_draw_target(Some(requests as u64), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("  {prefix:<36} [{bar:30}] {pos}/{len} {elapsed_precise}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(label.describe());
        self.bar = Some(bar);
    }

    /// The point got `requests` more than it started with (an epoch that
    /// `--target-mde` added).
    pub fn extend_point(&mut self, requests: usize) {
        if let Some(b) = &self.bar {
            b.inc_length(requests as u64);
        }
    }

    /// A request finished; measured ones go to the records file.
    pub fn record(&mut self, record: &RequestRecord, warmup: bool) {
        if let Some(b) = &self.bar {
            b.inc(1);
        }
        if warmup {
            return;
        }
        if let Some((_, _, ok, failed)) = self.point.as_mut() {
            if record.failure.is_some() {
                *failed += 1;
            } else {
                *ok += 1;
            }
        }
        if let Some((_, w)) = self.records.as_mut() {
            w.record(record);
        }
    }

    /// After an epoch: the tokenizer's counts of its outputs that were left
    /// for after the load (see `Client::count_outputs`).
    pub fn counted(&mut self, epoch: u32, tokens: &[(u64, u64)]) {
        if let Some((_, w)) = self.records.as_mut() {
            w.counted(epoch, tokens);
        }
    }

    /// Whether the load loops keep records in memory: not when they go to
    /// a records file, which the run's outputs are built from afterwards.
    pub fn keep(&self) -> Keep {
        if self.records.is_some() {
            Keep::Forward
        } else {
            Keep::Records
        }
    }

    /// The client's load over the point's measured epochs.
    pub fn client(&mut self, load: &ClientLoad) {
        if let Some((_, w)) = self.records.as_mut() {
            w.client(load);
        }
    }

    /// The point finished.
    pub fn finish_point(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
        if let Some((label, t0, ok, failed)) = self.point.take() {
            if self.lines && !self.quiet {
                eprintln!(
                    "  {label}: {ok} ok, {failed} failed, {:.1} s",
                    t0.elapsed().as_secs_f64()
                );
            }
        }
    }
}
