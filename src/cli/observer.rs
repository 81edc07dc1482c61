//! Follows a run: a progress bar per point, and the records file, to which
//! every measured request is appended (one JSON line) as soon as it completes.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::load::{PointKey, PointRun, SweepObserver};
use crate::metrics::RequestRecord;

/// One line of `records.jsonl`.
#[derive(Serialize)]
struct Line<'a> {
    prompt_tokens: usize,
    output_tokens: usize,
    concurrency: usize,
    #[serde(flatten)]
    record: &'a RequestRecord,
}

/// Progress bar and records file of a static sweep.
pub struct RunObserver {
    bar: Option<ProgressBar>,
    quiet: bool,
    records: BufWriter<File>,
    write_error: Option<std::io::Error>,
}

impl RunObserver {
    /// Create the records file at `path` (truncating it).
    pub fn create(path: &Path, quiet: bool) -> std::io::Result<Self> {
        Ok(RunObserver {
            bar: None,
            quiet,
            records: BufWriter::new(File::create(path)?),
            write_error: None,
        })
    }

    /// The first error writing the records file, if any.
    pub fn take_error(&mut self) -> Option<std::io::Error> {
        self.write_error.take()
    }
}

impl SweepObserver for RunObserver {
    fn point_started(&mut self, key: &PointKey, requests: usize) {
        if self.quiet {
            return;
        }
        let bar = ProgressBar::new(requests as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix:>28} [{bar:30}] {pos}/{len} requests {elapsed_precise}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_prefix(format!(
            "prompt {} out {} conc {}",
            key.prompt_tokens, key.output_tokens, key.concurrency
        ));
        self.bar = Some(bar);
    }

    fn record(&mut self, key: &PointKey, record: &RequestRecord, warmup: bool) {
        if let Some(b) = &self.bar {
            b.inc(1);
        }
        if warmup {
            return;
        }
        let line = Line {
            prompt_tokens: key.prompt_tokens,
            output_tokens: key.output_tokens,
            concurrency: key.concurrency,
            record,
        };
        let r = serde_json::to_writer(&mut self.records, &line)
            .map_err(std::io::Error::from)
            .and_then(|_| self.records.write_all(b"\n"))
            .and_then(|_| self.records.flush());
        if let Err(e) = r {
            self.write_error.get_or_insert(e);
        }
    }

    fn point_finished(&mut self, _run: &PointRun) {
        if let Some(b) = self.bar.take() {
            b.finish();
        }
    }
}
