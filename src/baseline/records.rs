//! The records file (`records.jsonl`) of a run, written as it goes: one line
//! opening each point, one line per measured request as soon as it
//! completes, and after each epoch one line with the tokenizer's counts of
//! outputs left uncounted while load ran. Every line is flushed, so a crash
//! loses nothing written; `servebench report` rebuilds a run from it.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use serde::Serialize;

use crate::metrics::{PointLabel, RequestRecord};

#[derive(Serialize)]
struct RecordLine<'a> {
    point: &'a str,
    #[serde(flatten)]
    record: &'a RequestRecord,
}

#[derive(Serialize)]
struct StartLine<'a> {
    start_point: StartPoint<'a>,
}

#[derive(Serialize)]
struct StartPoint<'a> {
    id: &'a str,
    label: &'a PointLabel,
}

#[derive(Serialize)]
struct CountedLine<'a> {
    counted: Counted<'a>,
}

#[derive(Serialize)]
struct Counted<'a> {
    point: &'a str,
    epoch: u32,
    tokens: &'a [(u64, u64)],
}

/// Appends a run's lines to its records file.
pub struct RecordsWriter {
    out: BufWriter<File>,
    point: String,
    error: Option<std::io::Error>,
}

impl RecordsWriter {
    /// Create (truncate) the file at `path`.
    pub fn create(path: &Path) -> std::io::Result<Self> {
        Ok(RecordsWriter {
            out: BufWriter::new(File::create(path)?),
            point: String::new(),
            error: None,
        })
    }

    /// The first error writing the file, if any (writing goes on: a full
    /// disk must not stop the measurement).
    pub fn take_error(&mut self) -> Option<std::io::Error> {
        self.error.take()
    }

    /// A point starts; the records that follow belong to it.
    pub fn start_point(&mut self, label: &PointLabel) {
        let id = label.id();
        self.write_line(&StartLine {
            start_point: StartPoint { id: &id, label },
        });
        self.point = id;
    }

    /// The id of the current point.
    pub fn point(&self) -> &str {
        &self.point
    }

    /// A measured request completed.
    pub fn record(&mut self, record: &RequestRecord) {
        let point = std::mem::take(&mut self.point);
        self.write_line(&RecordLine {
            point: &point,
            record,
        });
        self.point = point;
    }

    /// After an epoch: `(record id, tokens)` counted once load stopped.
    pub fn counted(&mut self, epoch: u32, tokens: &[(u64, u64)]) {
        if tokens.is_empty() {
            return;
        }
        let point = std::mem::take(&mut self.point);
        self.write_line(&CountedLine {
            counted: Counted {
                point: &point,
                epoch,
                tokens,
            },
        });
        self.point = point;
    }

    fn write_line<T: Serialize>(&mut self, line: &T) {
        let r = serde_json::to_writer(&mut self.out, line)
            .map_err(std::io::Error::from)
            .and_then(|_| self.out.write_all(b"\n"))
            .and_then(|_| self.out.flush());
        if let Err(e) = r {
            self.error.get_or_insert(e);
        }
    }
}
