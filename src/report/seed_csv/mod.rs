//! The seed tool's own CSV (`--csv-format seed` / `seed-n`): the file that
//! AscendCloud's `benchmark_parallel.py` (static) and `benchmark_serving.py`
//! (dynamic) write, rebuilt from servebench's per-request records with the
//! seed's own formulas, headers, units and rounding (SEED-TOOLS.md §1.7,
//! §2.7, §3.4). servebench's own `benchmark.csv` is written beside it.
//!
//! Each record becomes the seed's `time_record`: the send time, then each
//! token-carrying chunk's arrival repeated once per token it carried (capped
//! at the requested length, as the seed caps it), in seconds on the clock
//! of the record's epoch (`start_s` + the chunk's ms offset). Only
//! successful requests with at least one token enter: the seed has no
//! failure accounting. The seed's span T (first send to last credited
//! chunk) is taken per epoch and summed, because servebench's epochs each
//! have their own clock.

use std::path::{Path, PathBuf};

use super::fanout::{Report, ReportInput};
use super::{CsvError, ReportError};
use crate::metrics::{PointLabel, RunData, RunKind};

mod formulas;
mod headers;
#[cfg(test)]
mod tests;

pub use formulas::{
    decode_gaps_s, py_round_str, seed_requests, serving_row, span_s, static_mm_row_n, static_row,
    static_row_n, time_record, trim_leading_zeros, Cell, SeedRequest,
};
pub use headers::{
    SERVING_HEADER, SERVING_HEADER_N, SPEC_HEADER, SPEC_HEADER_N, STATIC_HEADER, STATIC_HEADER_N,
    STATIC_MM_HEADER, STATIC_MM_HEADER_N,
};

/// Which lineage of the seed tool's CSV to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedCsvFormat {
    /// The O/R lineage: Chinese headers with full-width parentheses, times
    /// in ms, floats rounded to 4 decimals.
    Seed,
    /// The N lineage (omni-infer): English headers, times in seconds
    /// rounded to 3 decimals, throughputs to 2.
    SeedN,
}

/// What the seed CSV needs beyond the run.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedCsvOptions {
    pub format: SeedCsvFormat,
    /// The dynamic CSV's first column (`--dataset-type`; `random` for
    /// synthetic prompts).
    pub dataset: String,
}

/// The seed's own file name of a run kind's CSV (its `--benchmark-csv`
/// default): `benchmark_parallel.csv` or `benchmark_serving.csv`.
pub fn default_file_name(kind: RunKind) -> &'static str {
    match kind {
        RunKind::Static => "benchmark_parallel.csv",
        RunKind::Dynamic => "benchmark_serving.csv",
    }
}

/// The header of the seed CSV of `kind` in `format` (`images`: a
/// multimodal static run, `modal_benchmark_parallel.py`'s header).
pub fn header(kind: RunKind, format: SeedCsvFormat, images: bool) -> &'static [&'static str] {
    match (kind, format) {
        (RunKind::Static, SeedCsvFormat::Seed) if images => &STATIC_MM_HEADER,
        (RunKind::Static, SeedCsvFormat::SeedN) if images => &STATIC_MM_HEADER_N,
        (RunKind::Static, SeedCsvFormat::Seed) => &STATIC_HEADER,
        (RunKind::Static, SeedCsvFormat::SeedN) => &STATIC_HEADER_N,
        (RunKind::Dynamic, SeedCsvFormat::Seed) => &SERVING_HEADER,
        (RunKind::Dynamic, SeedCsvFormat::SeedN) => &SERVING_HEADER_N,
    }
}

/// The seed's optional acceptance-rate columns, when `run` has them: a
/// static run with `--use-spec-decode` and `--num-speculative-tokens`
/// (the seed adds them only then).
pub fn spec_columns(run: &RunData, format: SeedCsvFormat) -> Option<&'static [&'static str]> {
    let k = run.meta.spec_decode?.num_speculative_tokens?;
    if run.meta.kind != RunKind::Static || run.meta.images.is_some() || k == 0 {
        return None;
    }
    Some(match format {
        SeedCsvFormat::Seed => &SPEC_HEADER,
        SeedCsvFormat::SeedN => &SPEC_HEADER_N,
    })
}

/// P90, P99, max, min and mean of a point's per-request acceptance rates,
/// as fractions (4 decimals in O, 3 in N).
fn spec_cells(p: &crate::metrics::PointData, format: SeedCsvFormat) -> Vec<Cell> {
    let dp = match format {
        SeedCsvFormat::Seed => 4,
        SeedCsvFormat::SeedN => 3,
    };
    let a = p.summary.spec_decode.as_ref().map(|s| &s.acceptance_rate);
    let get = |f: fn(&crate::stats::Summary) -> Option<f64>| {
        a.and_then(f).map_or(Cell::Empty, |x| Cell::Float(x, dp))
    };
    vec![
        get(|s| s.p(90.0)),
        get(|s| s.p(99.0)),
        get(|s| s.max),
        get(|s| s.min),
        get(|s| s.mean),
    ]
}

/// The rows of `run`'s seed CSV, in the seed's order: static rows sorted
/// by input length, output length, concurrency (prompts are synthetic, the
/// seed's `random` dataset); dynamic rows in the run's order (O/R) or by
/// rate (N).
pub fn rows(run: &RunData, opts: &SeedCsvOptions) -> Vec<Vec<Cell>> {
    let mut keyed: Vec<((f64, f64, f64), Vec<Cell>)> = run
        .points
        .iter()
        .map(|p| match &p.label {
            PointLabel::Static {
                prompt_tokens,
                output_tokens,
                concurrency,
            } => {
                let images = run.meta.images.as_ref();
                let mut row = match (opts.format, images) {
                    (SeedCsvFormat::Seed, _) => static_row(p, *concurrency),
                    (SeedCsvFormat::SeedN, Some(i)) => {
                        static_mm_row_n(p, *concurrency, (i.height, i.width))
                    }
                    (SeedCsvFormat::SeedN, None) => {
                        static_row_n(p, *concurrency, &run.meta.backend, run.meta.sampling)
                    }
                };
                if spec_columns(run, opts.format).is_some() {
                    row.extend(spec_cells(p, opts.format));
                }
                // The seed sorts on the row's means; with no request to
                // average, the point's asked lengths stand in.
                let num = |c: &Cell, d: usize| match c {
                    Cell::Float(x, _) => *x,
                    _ => d as f64,
                };
                let key = (
                    num(&row[0], *prompt_tokens),
                    num(&row[1], *output_tokens),
                    *concurrency as f64,
                );
                (key, row)
            }
            PointLabel::Dynamic { request_rate, .. }
            | PointLabel::Replay { request_rate, .. }
            | PointLabel::Sessions {
                session_rate: request_rate,
                ..
            } => {
                let rate = request_rate.0;
                ((rate, 0.0, 0.0), serving_row(p, &opts.dataset, rate))
            }
        })
        .collect();
    let sort = match run.meta.kind {
        RunKind::Static => true,
        RunKind::Dynamic => opts.format == SeedCsvFormat::SeedN,
    };
    if sort {
        keyed.sort_by(|a, b| {
            a.0 .0
                .total_cmp(&b.0 .0)
                .then(a.0 .1.total_cmp(&b.0 .1))
                .then(a.0 .2.total_cmp(&b.0 .2))
        });
    }
    keyed.into_iter().map(|(_, r)| r).collect()
}

/// Write `run`'s seed CSV to `path` (parent folders created, an existing
/// file replaced): UTF-8 with a byte-order mark, the seed's header, one row
/// per point.
pub fn write_seed_csv(path: &Path, run: &RunData, opts: &SeedCsvOptions) -> Result<(), CsvError> {
    let err = |e: &dyn std::fmt::Display| CsvError {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| err(&e))?;
    }
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let head = header(run.meta.kind, opts.format, run.meta.images.is_some());
    let spec = spec_columns(run, opts.format).unwrap_or_default();
    w.write_record(head.iter().chain(spec))
        .map_err(|e| err(&e))?;
    for row in rows(run, opts) {
        w.write_record(row.iter().map(Cell::text))
            .map_err(|e| err(&e))?;
    }
    let body = w.into_inner().map_err(|e| err(&e))?;
    let mut bytes = Vec::with_capacity(body.len() + 3);
    bytes.extend_from_slice(b"\xEF\xBB\xBF");
    bytes.extend_from_slice(&body);
    std::fs::write(path, bytes).map_err(|e| err(&e))
}

/// The seed CSV as a [`Report`]: at `path`, else the seed's file name
/// ([`default_file_name`]) in the run folder.
pub struct SeedCsvReport {
    pub path: Option<PathBuf>,
    pub options: SeedCsvOptions,
}

impl Report for SeedCsvReport {
    fn name(&self) -> &'static str {
        "seed CSV"
    }
    fn write(&self, i: &ReportInput<'_>) -> Result<Option<PathBuf>, ReportError> {
        let path = self
            .path
            .clone()
            .unwrap_or_else(|| i.dir.join(default_file_name(i.run.meta.kind)));
        write_seed_csv(&path, i.run, &self.options)?;
        Ok(Some(path))
    }
}
