//! Follows a run: a progress bar per point, and the records file, to which
//! every measured request is appended (one JSON line) as soon as it completes.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::load::{PointKey, PointRun, SweepObserver};
use crate::metrics::{PointLabel, RequestRecord, RunMeta};

/// A record line of `records.jsonl`: the point's id and the record.
#[derive(Serialize)]
struct Line<'a> {
    point: &'a str,
    #[serde(flatten)]
    record: &'a RequestRecord,
}

/// The line that opens a point in `records.jsonl`.
#[derive(Serialize)]
struct StartLine<'a> {
    start_point: StartPoint<'a>,
}

#[derive(Serialize)]
struct StartPoint<'a> {
    id: &'a str,
    label: &'a PointLabel,
}

/// Progress bar and records file of a run.
pub struct RunObserver {
    bar: Option<ProgressBar>,
    quiet: bool,
    point: String,
    records: BufWriter<File>,
    write_error: Option<std::io::Error>,
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
            point: String::new(),
            records: BufWriter::new(File::create(path)?),
            write_error: None,
        })
    }

    /// The first error writing the records file, if any.
    pub fn take_error(&mut self) -> Option<std::io::Error> {
        self.write_error.take()
    }

    /// A point starts: `requests` in all (warm-up included).
    pub fn start_point(&mut self, label: &PointLabel, requests: usize) {
        let id = label.id();
        self.write_line(&StartLine {
            start_point: StartPoint { id: &id, label },
        });
        self.point = id;
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
        let point = std::mem::take(&mut self.point);
        self.write_line(&Line {
            point: &point,
            record,
        });
        self.point = point;
    }

    /// Append one JSON line and flush it, so a crash loses nothing written.
    fn write_line<T: Serialize>(&mut self, line: &T) {
        let r = serde_json::to_writer(&mut self.records, line)
            .map_err(std::io::Error::from)
            .and_then(|_| self.records.write_all(b"\n"))
            .and_then(|_| self.records.flush());
        if let Err(e) = r {
            self.write_error.get_or_insert(e);
        }
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

    fn point_finished(&mut self, _run: &PointRun) {
        self.finish_point();
    }
}
