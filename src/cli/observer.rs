//! Follows a run: a progress bar per point, and the records file, to which
//! every measured request is appended (one JSON line) as soon as it completes.

use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};

use crate::load::{PointKey, PointRun, SweepObserver};
use crate::metrics::{PointLabel, RequestRecord, RunMeta};
use crate::report::RecordsWriter;

/// Progress bar and records file of a run.
pub struct RunObserver {
    bar: Option<ProgressBar>,
    quiet: bool,
    records: RecordsWriter,
}

/// The label of a static sweep point.
pub fn static_label(k: &PointKey) -> PointLabel {
    PointLabel::Static {
        prompt_tokens: k.prompt_tokens,
        output_tokens: k.output_tokens,
        concurrency: k.concurrency,
    }
}

impl RunObserver {
    /// Create the records file at `path` (truncating it), and write the
    /// run's metadata beside it (`meta.json`), so that `servebench report`
    /// can rebuild every output from these two files even after a crash.
    pub fn create(path: &Path, quiet: bool, meta: &RunMeta) -> std::io::Result<Self> {
        let meta_path = path.with_file_name("meta.json");
        std::fs::write(&meta_path, serde_json::to_vec_pretty(meta)?)?;
        // A previous run's results must not pass for this one's.
        let _ = std::fs::remove_file(path.with_file_name("run.json"));
        Ok(RunObserver {
            bar: None,
            quiet,
            records: RecordsWriter::create(path)?,
        })
    }

    /// The first error writing the records file, if any.
    pub fn take_error(&mut self) -> Option<std::io::Error> {
        self.records.take_error()
    }

    /// A point starts: `requests` in all (warm-up included).
    pub fn start_point(&mut self, label: &PointLabel, requests: usize) {
        self.records.start_point(label);
        if self.quiet {
            return;
        }
        let bar = ProgressBar::new(requests as u64);
        bar.set_style(
            ProgressStyle::with_template("{prefix:>40} [{bar:30}] {pos}/{len} {elapsed_precise}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(label.describe());
        self.bar = Some(bar);
    }

    /// A request finished; measured ones go to the records file.
    pub fn on_record(&mut self, record: &RequestRecord, warmup: bool) {
        if let Some(b) = &self.bar {
            b.inc(1);
        }
        if warmup {
            return;
        }
        self.records.record(record);
    }

    /// After an epoch: the tokenizer's counts of its outputs that were left
    /// for after the load (see `Client::count_outputs`).
    pub fn counted(&mut self, epoch: u32, tokens: &[(u64, u64)]) {
        self.records.counted(epoch, tokens);
    }

    /// The point finished.
    pub fn finish_point(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish();
        }
    }
}

impl SweepObserver for RunObserver {
    fn point_started(&mut self, key: &PointKey, requests: usize) {
        self.start_point(&static_label(key), requests);
    }

    fn record(&mut self, _key: &PointKey, record: &RequestRecord, warmup: bool) {
        self.on_record(record, warmup);
    }

    fn counted(&mut self, _key: &PointKey, epoch: u32, counts: &[(u64, u64)]) {
        RunObserver::counted(self, epoch, counts);
    }

    fn point_finished(&mut self, _run: &PointRun) {
        self.finish_point();
    }
}
