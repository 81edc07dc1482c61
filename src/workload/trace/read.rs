//! Reading the three trace formats into the requests of a window.

use std::io::{BufRead, BufReader};
use std::path::Path;

use serde::Deserialize;

use super::{TraceError, TraceFormat, TraceRequest, TraceWindow};

/// One row as read: its time (seconds, the trace's own clock) and lengths.
struct Row {
    t_s: f64,
    input: u64,
    output: u64,
    hash_ids: Vec<u64>,
}

/// Keeps the rows of a window, times made relative to its start.
struct Window<'a> {
    w: &'a TraceWindow,
    path: &'a Path,
    first: Option<f64>,
    last: f64,
    kept: Vec<TraceRequest>,
    skipped: usize,
}

impl Window<'_> {
    /// Take one row; `false` once the window is full or over (the rest of
    /// the file need not be read).
    fn push(&mut self, line: u64, row: Row) -> Result<bool, TraceError> {
        if !row.t_s.is_finite() {
            return Err(self.bad(line, format!("timestamp {} is not a number", row.t_s)));
        }
        let t0 = *self.first.get_or_insert(row.t_s);
        if row.t_s < self.last {
            return Err(self.bad(
                line,
                format!(
                    "timestamp goes backwards ({} s after the first row, the row before was at {} s); \
                     a trace must be in time order",
                    row.t_s - t0,
                    self.last - t0
                ),
            ));
        }
        self.last = row.t_s;
        let at = row.t_s - t0 - self.w.start_s;
        if at < 0.0 {
            return Ok(true);
        }
        if self.w.duration_s.is_some_and(|d| at >= d) {
            return Ok(false);
        }
        if row.input == 0 || row.output == 0 {
            self.skipped += 1;
            return Ok(true);
        }
        let (Ok(input_tokens), Ok(output_tokens)) =
            (usize::try_from(row.input), usize::try_from(row.output))
        else {
            return Err(self.bad(line, "token count out of range".into()));
        };
        self.kept.push(TraceRequest {
            at_s: at,
            input_tokens,
            output_tokens,
            hash_ids: row.hash_ids,
        });
        Ok(self.w.max_requests.is_none_or(|m| self.kept.len() < m))
    }

    fn bad(&self, line: u64, reason: String) -> TraceError {
        TraceError::Line {
            path: self.path.to_path_buf(),
            line,
            reason,
        }
    }
}

/// The requests of `window` in the trace at `path`, and the rows skipped.
pub(super) fn read(
    path: &Path,
    format: TraceFormat,
    window: &TraceWindow,
) -> Result<(Vec<TraceRequest>, usize), TraceError> {
    let file = std::fs::File::open(path).map_err(|source| TraceError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut win = Window {
        w: window,
        path,
        first: None,
        last: f64::NEG_INFINITY,
        kept: Vec::new(),
        skipped: 0,
    };
    let reader = BufReader::with_capacity(1 << 16, file);
    match format {
        TraceFormat::Mooncake => mooncake(reader, &mut win)?,
        TraceFormat::BurstGpt => csv_rows::<BurstRow>(reader, &mut win)?,
        TraceFormat::Azure => csv_rows::<AzureRow>(reader, &mut win)?,
    }
    Ok((win.kept, win.skipped))
}

#[derive(Deserialize)]
struct MooncakeLine {
    timestamp: f64,
    input_length: u64,
    output_length: u64,
    #[serde(default)]
    hash_ids: Vec<u64>,
}

fn mooncake(mut reader: impl BufRead, win: &mut Window<'_>) -> Result<(), TraceError> {
    let mut buf = Vec::new();
    let mut line = 0u64;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|source| TraceError::Io {
                path: win.path.to_path_buf(),
                source,
            })?;
        if n == 0 {
            return Ok(());
        }
        line += 1;
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let m: MooncakeLine = serde_json::from_slice(&buf).map_err(|e| {
            win.bad(
                line,
                format!(
                    "{e} (expected {{\"timestamp\": ms, \"input_length\": N, \
                     \"output_length\": M, \"hash_ids\": [..]}})"
                ),
            )
        })?;
        let row = Row {
            t_s: m.timestamp / 1000.0,
            input: m.input_length,
            output: m.output_length,
            hash_ids: m.hash_ids,
        };
        if !win.push(line, row)? {
            return Ok(());
        }
    }
}

/// A CSV row of one of the CSV formats.
trait CsvRow: for<'de> Deserialize<'de> {
    /// The row's time and lengths.
    fn row(self) -> Result<Row, String>;
}

#[derive(Deserialize)]
struct BurstRow {
    #[serde(rename = "Timestamp")]
    timestamp: f64,
    #[serde(rename = "Request tokens")]
    request: u64,
    #[serde(rename = "Response tokens")]
    response: u64,
}

impl CsvRow for BurstRow {
    fn row(self) -> Result<Row, String> {
        Ok(Row {
            t_s: self.timestamp,
            input: self.request,
            output: self.response,
            hash_ids: Vec::new(),
        })
    }
}

#[derive(Deserialize)]
struct AzureRow {
    #[serde(rename = "TIMESTAMP")]
    timestamp: String,
    #[serde(rename = "ContextTokens")]
    context: u64,
    #[serde(rename = "GeneratedTokens")]
    generated: u64,
}

impl CsvRow for AzureRow {
    fn row(self) -> Result<Row, String> {
        let ts = self.timestamp.trim();
        let dt = chrono::NaiveDateTime::parse_from_str(ts, "%Y-%m-%d %H:%M:%S%.f")
            .or_else(|_| chrono::NaiveDateTime::parse_from_str(ts, "%Y-%m-%dT%H:%M:%S%.f"))
            .map_err(|e| {
                format!("TIMESTAMP {ts:?}: {e} (expected e.g. 2023-11-16 18:15:46.6805900)")
            })?;
        let micros = dt.and_utc().timestamp_micros();
        Ok(Row {
            t_s: micros as f64 / 1e6,
            input: self.context,
            output: self.generated,
            hash_ids: Vec::new(),
        })
    }
}

fn csv_rows<R: CsvRow>(reader: impl std::io::Read, win: &mut Window<'_>) -> Result<(), TraceError> {
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(reader);
    let headers = csv
        .headers()
        .map_err(|e| win.bad(1, format!("cannot read the header row: {e}")))?
        .clone();
    let mut rec = csv::StringRecord::new();
    loop {
        match csv.read_record(&mut rec) {
            Ok(false) => return Ok(()),
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                return Err(win.bad(line, e.to_string()));
            }
        }
        let line = rec.position().map_or(0, |p| p.line());
        let row = rec
            .deserialize::<R>(Some(&headers))
            .map_err(|e| e.to_string())
            .and_then(R::row)
            .map_err(|reason| win.bad(line, reason))?;
        if !win.push(line, row)? {
            return Ok(());
        }
    }
}
