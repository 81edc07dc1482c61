//! Follows a run: on a terminal, a bar for the whole run (done/total,
//! rate, ETA) above a bar per point; when stderr is not a terminal (CI
//! logs), one line per measured epoch (the point's place in the run,
//! requests, rate, the run's ETA) and one per finished point. And the
//! records file, to which every measured request is appended as soon as it
//! completes.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

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
    /// The whole run's progress.
    run: RunProgress,
    /// The terminal's bars: the run's, above the point's.
    multi: Option<(MultiProgress, ProgressBar)>,
}

/// Where the whole run stands.
struct RunProgress {
    /// Points planned, and the index (1-based) of the current one.
    points: usize,
    index: usize,
    /// Measured epochs planned a point.
    epochs: u32,
    /// Requests planned (warm-up included; grows when epochs are added),
    /// and finished.
    planned: u64,
    done: u64,
    started: Instant,
    /// The current epoch's start and its requests finished so far.
    epoch_start: Instant,
    epoch_done: usize,
}

impl RunProgress {
    /// Seconds left at the run's pace so far (`None` before any request).
    fn eta_s(&self) -> Option<f64> {
        let elapsed = self.started.elapsed().as_secs_f64();
        (self.done > 0)
            .then(|| elapsed / self.done as f64 * self.planned.saturating_sub(self.done) as f64)
    }
}

/// `12 s`, `3 min 20 s`, `1 h 05 min`.
fn duration_text(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
    }
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
        let now = Instant::now();
        Ok(Observer {
            bar: None,
            quiet,
            lines: !std::io::stderr().is_terminal(),
            point: None,
            records,
            run: RunProgress {
                points: 0,
                index: 0,
                epochs: 0,
                planned: 0,
                done: 0,
                started: now,
                epoch_start: now,
                epoch_done: 0,
            },
            multi: None,
        })
    }

    /// The run's plan: `points` points of `epochs` measured epochs each,
    /// `requests` in all (warm-up included), for the ETA and the run's bar.
    pub fn plan(&mut self, points: usize, epochs: u32, requests: u64) {
        self.run.points = points;
        self.run.epochs = epochs;
        self.run.planned = requests;
        self.run.started = Instant::now();
        if self.quiet || self.lines {
            return;
        }
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let overall = multi.add(ProgressBar::new(requests));
        overall.set_style(
            ProgressStyle::with_template(
                "  {prefix:<36} [{bar:30}] {pos}/{len} {per_sec} ETA {eta}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        overall.set_prefix(format!("run: {points} points"));
        self.multi = Some((multi, overall));
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
        self.run.index += 1;
        self.run.epoch_start = Instant::now();
        self.run.epoch_done = 0;
        if self.quiet || self.lines {
            return;
        }
        let bar = match &self.multi {
            Some((m, _)) => m.add(ProgressBar::new(requests as u64)),
            None => {
                ProgressBar::with_draw_target(Some(requests as u64), ProgressDrawTarget::stderr())
            }
        };
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
        self.run.planned += requests as u64;
        if let Some((_, o)) = &self.multi {
            o.inc_length(requests as u64);
        }
    }

    /// Requests that finished together; measured ones go to the records
    /// file, flushed once for the batch.
    pub fn records(&mut self, batch: &[RequestRecord], warmup: bool) {
        for r in batch {
            self.record(r, warmup);
        }
        if let Some((_, w)) = self.records.as_mut() {
            w.flush();
        }
    }

    /// A request finished; a measured one goes to the records file (not
    /// flushed: [`Observer::records`] does, once a batch).
    fn record(&mut self, record: &RequestRecord, warmup: bool) {
        if let Some(b) = &self.bar {
            b.inc(1);
        }
        if let Some((_, o)) = &self.multi {
            o.inc(1);
        }
        self.run.done += 1;
        if warmup {
            // The first measured epoch starts after the warm-up.
            self.run.epoch_start = Instant::now();
            return;
        }
        self.run.epoch_done += 1;
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
        self.end_epoch(epoch);
    }

    /// A measured epoch ended: in lines mode, where the run stands.
    fn end_epoch(&mut self, epoch: u32) {
        let r = &mut self.run;
        let secs = r.epoch_start.elapsed().as_secs_f64();
        let n = std::mem::take(&mut r.epoch_done);
        r.epoch_start = Instant::now();
        if !self.lines || self.quiet {
            return;
        }
        let Some((label, ..)) = &self.point else {
            return;
        };
        let of = if epoch < r.epochs {
            format!("{}/{}", epoch + 1, r.epochs)
        } else {
            format!("{} (added)", epoch + 1)
        };
        let pct = 100.0 * r.done as f64 / r.planned.max(1) as f64;
        let eta = r.eta_s().map_or_else(|| "unknown".into(), duration_text);
        eprintln!(
            "  [{}/{}] {label}: epoch {of}, {n} requests, {:.1} req/s; run {:.0} % done, ETA {eta}",
            r.index,
            r.points.max(r.index),
            n as f64 / secs.max(1e-9),
            pct.min(100.0),
        );
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

    /// What the server's metrics showed over a measured epoch.
    pub fn server(&mut self, view: &crate::server_metrics::EpochServer, engine: &str, url: &str) {
        if let Some((_, w)) = self.records.as_mut() {
            w.server(view, engine, url);
        }
    }

    /// The point finished.
    pub fn finish_point(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
            if let Some((m, _)) = &self.multi {
                m.remove(&b);
            }
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

impl Drop for Observer {
    fn drop(&mut self) {
        if let Some((_, o)) = self.multi.take() {
            o.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::duration_text;

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(duration_text(12.4), "12 s");
        assert_eq!(duration_text(200.0), "3 min 20 s");
        assert_eq!(duration_text(3900.0), "1 h 05 min");
    }
}
