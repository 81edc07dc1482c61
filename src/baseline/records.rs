//! The records file (`records.jsonl`) of a run, written as it goes: one line
//! opening each point, one line per measured request as soon as it
//! completes, and after each epoch one line with the tokenizer's counts of
//! outputs left uncounted while load ran. Every line is flushed, so a crash
//! loses nothing written; after each point, one line with the client's own
//! load over it. A run's outputs are built from this file once its load
//! ends ([`read_records`]), and `servebench report` rebuilds them from it
//! after a crash.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::BaselineError;
use crate::metrics::{ClientLoad, PointLabel, RequestRecord};
use crate::server_metrics::{EpochServer, ServerPoint};

#[derive(Serialize)]
struct RecordLine<'a> {
    point: &'a str,
    #[serde(flatten)]
    record: &'a RequestRecord,
}

#[derive(Serialize)]
struct ClientLine<'a> {
    client: PointClient<'a>,
}

#[derive(Serialize)]
struct PointClient<'a> {
    point: &'a str,
    load: &'a ClientLoad,
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
struct ServerLine<'a> {
    server: PointServer<'a>,
}

#[derive(Serialize)]
struct PointServer<'a> {
    point: &'a str,
    engine: &'a str,
    url: &'a str,
    epoch: &'a EpochServer,
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
    /// disk must not stop the measurement), once the buffered lines are
    /// written out.
    pub fn take_error(&mut self) -> Option<std::io::Error> {
        self.flush();
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

    /// A measured request completed. Its line is buffered: call
    /// [`RecordsWriter::flush`] after a batch of them (every other line is
    /// flushed at once).
    pub fn record(&mut self, record: &RequestRecord) {
        let point = std::mem::take(&mut self.point);
        self.buffer_line(&RecordLine {
            point: &point,
            record,
        });
        self.point = point;
    }

    /// Write out the buffered lines.
    pub fn flush(&mut self) {
        if let Err(e) = self.out.flush() {
            self.error.get_or_insert(e);
        }
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

    /// After a point: the client's own load over its measured epochs.
    pub fn client(&mut self, load: &ClientLoad) {
        let point = std::mem::take(&mut self.point);
        self.write_line(&ClientLine {
            client: PointClient {
                point: &point,
                load,
            },
        });
        self.point = point;
    }

    /// After a measured epoch: what the server's metrics showed over it.
    pub fn server(&mut self, epoch: &EpochServer, engine: &str, url: &str) {
        let point = std::mem::take(&mut self.point);
        self.write_line(&ServerLine {
            server: PointServer {
                point: &point,
                engine,
                url,
                epoch,
            },
        });
        self.point = point;
    }

    fn write_line<T: Serialize>(&mut self, line: &T) {
        self.buffer_line(line);
        self.flush();
    }

    fn buffer_line<T: Serialize>(&mut self, line: &T) {
        let r = serde_json::to_writer(&mut self.out, line)
            .map_err(std::io::Error::from)
            .and_then(|_| self.out.write_all(b"\n"));
        if let Err(e) = r {
            self.error.get_or_insert(e);
        }
    }
}

/// A point read back from a records file.
#[derive(Debug, Clone)]
pub struct ReadPoint {
    pub label: PointLabel,
    /// Its records by epoch, in epoch order, the tokenizer's counts applied.
    pub epochs: Vec<Vec<RequestRecord>>,
    /// The client's load over the point, when the run got to write it.
    pub client: Option<ClientLoad>,
    /// What the server's metrics showed over its epochs, when read.
    pub server: Option<ServerPoint>,
}

impl ReadPoint {
    /// The point summarised, the client's load judged (a client-limited
    /// point says so in `notes`) and the server's view attached.
    pub fn into_point(
        self,
        percentiles: &[f64],
        slo: &crate::metrics::Slo,
        notes: &mut Vec<String>,
    ) -> crate::metrics::PointData {
        let d = crate::metrics::PointData::new(self.label, self.epochs, percentiles, slo)
            .with_server(self.server);
        match self.client {
            Some(load) => d.with_client(load, notes),
            None => d,
        }
    }
}

/// What [`read_records`] found.
#[derive(Debug, Clone)]
pub struct RecordsRead {
    /// The points in the order they started (points without a record are
    /// left out).
    pub points: Vec<ReadPoint>,
    /// Lines skipped (a truncated last line after a crash, a bad line).
    pub warnings: Vec<String>,
}

/// The lines of a records file, as [`RecordsWriter`] writes them.
#[derive(Deserialize)]
#[serde(untagged)]
enum Line {
    Start {
        start_point: StartRead,
    },
    Counted {
        counted: CountedRead,
    },
    Client {
        client: ClientRead,
    },
    Server {
        server: ServerRead,
    },
    Record {
        point: String,
        #[serde(flatten)]
        record: Box<RequestRecord>,
    },
}

#[derive(Deserialize)]
struct StartRead {
    id: String,
    label: PointLabel,
}

#[derive(Deserialize)]
struct CountedRead {
    point: String,
    epoch: u32,
    tokens: Vec<(u64, u64)>,
}

#[derive(Deserialize)]
struct ServerRead {
    point: String,
    engine: String,
    url: String,
    epoch: EpochServer,
}

#[derive(Deserialize)]
struct ClientRead {
    point: String,
    load: ClientLoad,
}

/// Read a records file back, line by line (the file is never held whole
/// in memory). A line that does not parse is skipped with a warning; a file
/// without any point line is not a records file.
pub fn read_records(path: &Path) -> Result<RecordsRead, BaselineError> {
    let bad = |reason: String| BaselineError::BadRecords {
        path: path.to_path_buf(),
        reason,
    };
    let f = File::open(path).map_err(|e| bad(format!("cannot read: {e}")))?;
    let mut labels: Vec<(String, PointLabel)> = Vec::new();
    let mut by_point: BTreeMap<String, BTreeMap<u32, Vec<RequestRecord>>> = BTreeMap::new();
    let mut counted: Vec<CountedRead> = Vec::new();
    let mut clients: BTreeMap<String, ClientLoad> = BTreeMap::new();
    let mut servers: BTreeMap<String, (String, String, Vec<EpochServer>)> = BTreeMap::new();
    let mut warnings = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (i, line) in BufReader::new(f).split(b'\n').enumerate() {
        let line = line.map_err(|e| bad(format!("cannot read: {e}")))?;
        if line.trim_ascii().is_empty() {
            continue;
        }
        // A bad line is reported once the next one shows it was not the last.
        if let Some((n, w)) = pending.take() {
            warnings.push(format!(
                "{}: line {n}: unreadable line skipped ({w})",
                path.display()
            ));
        }
        let parsed = serde_json::from_slice::<Line>(&line)
            .map_err(|e| e.to_string())
            .and_then(|l| match l {
                Line::Record { point, record } => {
                    record.check().map(|()| Line::Record { point, record })
                }
                other => Ok(other),
            });
        match parsed {
            Ok(Line::Start { start_point: sp }) => {
                if !labels.iter().any(|(id, _)| *id == sp.id) {
                    labels.push((sp.id, sp.label));
                }
            }
            Ok(Line::Counted { counted: c }) => counted.push(c),
            Ok(Line::Client { client: c }) => {
                clients.insert(c.point, c.load);
            }
            Ok(Line::Server { server: v }) => {
                let e = servers
                    .entry(v.point)
                    .or_insert_with(|| (v.engine, v.url, Vec::new()));
                e.2.push(v.epoch);
            }
            Ok(Line::Record { point, record }) => by_point
                .entry(point)
                .or_default()
                .entry(record.epoch)
                .or_default()
                .push(*record),
            Err(e) => pending = Some((i + 1, e)),
        }
    }
    if let Some((n, e)) = pending {
        warnings.push(format!(
            "{}: line {n}: truncated last line skipped ({e})",
            path.display()
        ));
    }
    if labels.is_empty() {
        return Err(bad(
            "not a servebench records file (no point line in it); nothing was written. \
             Give a run folder or the records.jsonl a run wrote"
                .into(),
        ));
    }
    for c in counted {
        let Some(recs) = by_point.get_mut(&c.point).and_then(|e| e.get_mut(&c.epoch)) else {
            continue;
        };
        let n: BTreeMap<u64, u64> = c.tokens.into_iter().collect();
        for r in recs {
            if let Some(&t) = n.get(&r.id) {
                r.counted_output_tokens = Some(t);
            }
        }
    }
    let mut points = Vec::new();
    for (id, label) in labels {
        let epochs: Vec<Vec<RequestRecord>> = by_point
            .remove(&id)
            .map(|m| m.into_values().collect())
            .unwrap_or_default();
        if epochs.is_empty() {
            continue;
        }
        let client = clients.remove(&id);
        let server = servers
            .remove(&id)
            .map(|(engine, url, epochs)| ServerPoint::new(&engine, &url, epochs));
        points.push(ReadPoint {
            label,
            epochs,
            client,
            server,
        });
    }
    for id in by_point.keys() {
        warnings.push(format!(
            "{}: records of point `{id}` have no start line; skipped",
            path.display()
        ));
    }
    Ok(RecordsRead { points, warnings })
}

/// The records file of `path`: the file itself, or `records.jsonl` in the
/// run folder it names.
pub fn records_file(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join(super::RECORDS_FILE)
    } else {
        path.to_path_buf()
    }
}
