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
use crate::metrics::{PointData, PointLabel, RequestRecord, RunData, RunKind};
use crate::stats::percentile;

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

/// The O/R static header (`benchmark_parallel.py`), verbatim.
pub const STATIC_HEADER: [&str; 12] = [
    "输入长度",
    "输出长度",
    "并发数",
    "输出tokens总吞吐",
    "首tokens时延TP90（ms）",
    "首tokens时延TP99（ms）",
    "最大首tokens时延（ms）",
    "平均首tokens时延（ms）",
    "增量时延TP90（ms）",
    "增量时延TP99（ms）",
    "最大增量时延（ms）",
    "平均增量时延（ms）",
];

/// The N static header (41 columns), verbatim.
pub const STATIC_HEADER_N: [&str; 41] = [
    "Input_Length",
    "Output_Length",
    "Concurrency",
    "Total_Token_Throughput(tokens/s)",
    "Output_Token_Throughput(tokens/s)",
    "TP75_TTFT(s)",
    "TP90_TTFT(s)",
    "TP95_TTFT(s)",
    "TP99_TTFT(s)",
    "MAX_TTFT(s)",
    "AVG_TTFT(s)",
    "TP75_TPOT(s)",
    "TP90_TPOT(s)",
    "TP95_TPOT(s)",
    "TP99_TPOT(s)",
    "MAX_TPOT(s)",
    "AVG_TPOT(s)",
    "TP90_TPOT_SEC(s)",
    "TP95_TPOT_SEC(s)",
    "TP99_TPOT_SEC(s)",
    "MAX_TPOT_SEC(s)",
    "AVG_TPOT_SEC(s)",
    "TP90_TIME_BETWEEN_FIRST_AND_SECOND_TOKEN(s)",
    "TP95_TIME_BETWEEN_FIRST_AND_SECOND_TOKEN(s)",
    "TP99_TIME_BETWEEN_FIRST_AND_SECOND_TOKEN(s)",
    "MIN_TIME_BETWEEN_FIRST_AND_SECOND_TOKEN(s)",
    "MAX_TIME_BETWEEN_FIRST_AND_SECOND_TOKEN(s)",
    "AVG_TIME_BETWEEN_FIRST_AND_SECOND_TOKEN(s)",
    "TP75_E2E(s)",
    "TP90_E2E(s)",
    "TP95_E2E(s)",
    "TP99_E2E(s)",
    "MAX_E2E(s)",
    "AVG_E2E(s)",
    "Total_Time(s)",
    "QPS",
    "Fail_Rate",
    "Backend",
    "Temperature",
    "Top_k",
    "Top_p",
];

/// The multimodal static header (`modal_benchmark_parallel.py`, R), verbatim:
/// [`STATIC_HEADER`] with `P90`/`P99` for `TP90`/`TP99`.
pub const STATIC_MM_HEADER: [&str; 12] = [
    "输入长度",
    "输出长度",
    "并发数",
    "输出tokens总吞吐",
    "首tokens时延P90（ms）",
    "首tokens时延P99（ms）",
    "最大首tokens时延（ms）",
    "平均首tokens时延（ms）",
    "增量时延P90（ms）",
    "增量时延P99（ms）",
    "最大增量时延（ms）",
    "平均增量时延（ms）",
];

/// The multimodal static header of N (18 columns), verbatim; its values
/// are all in seconds, even where the header says ms (as N writes them).
pub const STATIC_MM_HEADER_N: [&str; 18] = [
    "输入长度",
    "输出长度",
    "并发数",
    "image_shape(h,w)",
    "输出tokens总吞吐",
    "首tokens时延P90（ms）",
    "首tokens时延P99（ms）",
    "最大首tokens时延（ms）",
    "平均首tokens时延（ms）",
    "增量时延P90（ms）",
    "增量时延P99（ms）",
    "最大增量时延（ms）",
    "平均增量时延（ms）",
    "端到端时延P90（s）",
    "端到端时延p95（s）",
    "端到端时延P99（s）",
    "最大端到端时延（s）",
    "平均端到端时延（s）",
];

/// The O/R dynamic header (`benchmark_serving.py`), verbatim.
pub const SERVING_HEADER: [&str; 10] = [
    "数据集",
    "输入平均长度（tokens）",
    "输出平均长度（tokens）",
    "请求频率（req/s）",
    "请求吞吐（req/s）",
    "请求平均时延（s）",
    "平均输出tokens吞吐（tokens/s）",
    "单请求每tokens平均时延（ms）",
    "首tokens平均时延（ms）",
    "输出tokens总吞吐（tokens/s）",
];

/// The N dynamic header, verbatim (same order and formulas as
/// [`SERVING_HEADER`]).
pub const SERVING_HEADER_N: [&str; 10] = [
    "DATASET",
    "AVG_Input_Length",
    "AVG_Output_Length",
    "REQ_RATE",
    "QPS",
    "AVG_REQ_LATENCY",
    "AVG_PER_REQ_OUTPUT_TOKEN_THROUGHPUT",
    "AVG_LATENCY_PER_TOKEN_FOR_A_SINGLE_REQ",
    "AVG_TTFT",
    "AVG_OUTPUT_TOKEN_THROUGHPUT",
];

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

/// One cell of a seed row, written as Python's csv writer writes it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// An integer, as is.
    Int(i64),
    /// A float rounded to this many decimals, then written as Python's
    /// `str(float)` (`256.0`, `0.1`, `inf`).
    Float(f64, usize),
    /// A string, as is.
    Text(String),
    /// Nothing to compute from (no successful request): empty.
    Empty,
}

impl Cell {
    /// The cell's text.
    pub fn text(&self) -> String {
        match self {
            Cell::Int(i) => i.to_string(),
            Cell::Float(x, dp) => py_round_str(*x, *dp),
            Cell::Text(s) => s.clone(),
            Cell::Empty => String::new(),
        }
    }

    fn float(v: Option<f64>, dp: usize) -> Cell {
        v.map_or(Cell::Empty, |x| Cell::Float(x, dp))
    }
}

/// `str(round(x, dp))` in Python: correctly rounded, then the shortest
/// text that reads back, always with a decimal point.
pub fn py_round_str(x: f64, dp: usize) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.into();
    }
    let r: f64 = format!("{x:.dp$}").parse().unwrap_or(x);
    let s = r.to_string();
    if s.contains('.') {
        s
    } else {
        format!("{s}.0")
    }
}

/// One request as the seed sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedRequest {
    /// Prompt tokens (`prompt_len`).
    pub p: f64,
    /// Requested output tokens (`output_len`).
    pub o: f64,
    /// The seed's `time_record`, seconds on the epoch's clock: the send,
    /// then one entry per credited token.
    pub t: Vec<f64>,
}

/// The seed's `time_record` of `r`: `start_s`, then each chunk's arrival
/// once per token it carried (at least one), at most the requested length.
pub fn time_record(r: &RequestRecord) -> Vec<f64> {
    let cap = match r.requested_output_tokens {
        0 => usize::MAX,
        n => n as usize,
    };
    let mut t = vec![r.start_s];
    'chunks: for &(ms, k) in &r.chunks {
        for _ in 0..k.max(1) {
            if t.len() > cap {
                break 'chunks;
            }
            t.push(r.start_s + ms / 1e3);
        }
    }
    t
}

/// The requests of one epoch that enter the seed's figures: successful,
/// with at least one token.
pub fn seed_requests(epoch: &[RequestRecord]) -> Vec<SeedRequest> {
    epoch
        .iter()
        .filter(|r| r.ok())
        .map(|r| SeedRequest {
            p: r.input_tokens as f64,
            o: r.requested_output_tokens as f64,
            t: time_record(r),
        })
        .filter(|s| s.t.len() >= 2)
        .collect()
}

/// The seed's T of one epoch: last credited token minus first send, s.
pub fn span_s(reqs: &[SeedRequest]) -> f64 {
    let first = reqs.iter().map(|r| r.t[0]).fold(f64::INFINITY, f64::min);
    let last = reqs
        .iter()
        .map(|r| r.t[r.t.len() - 1])
        .fold(f64::NEG_INFINITY, f64::max);
    if first.is_finite() && last.is_finite() {
        last - first
    } else {
        0.0
    }
}

/// O's 增量时延 gaps of one epoch, seconds, in the seed's order: for each
/// request, `t[j+1] - t[j]` for `j >= 1`, unless the interval
/// `[t[j], t[j+1]]` touches any request's prefill window `[t[0], t[1]]`
/// (bounds included, the request's own window too, so its first decode gap
/// always goes).
pub fn decode_gaps_s(reqs: &[SeedRequest]) -> Vec<f64> {
    let windows: Vec<(f64, f64)> = reqs.iter().map(|r| (r.t[0], r.t[1])).collect();
    let touches = |s: f64, e: f64| windows.iter().any(|w| s <= w.1 && e >= w.0);
    reqs.iter()
        .flat_map(|r| r.t[1..].windows(2).map(|w| (w[0], w[1])))
        .filter(|&(s, e)| !touches(s, e))
        .map(|(s, e)| e - s)
        .collect()
}

/// Drop the leading zero gaps of a pooled list (up to the first positive
/// one; none when no gap is positive), as the seed does.
pub fn trim_leading_zeros(gaps: &mut Vec<f64>) {
    if let Some(i) = gaps.iter().position(|g| *g > 0.0) {
        gaps.drain(..i);
    }
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// P90, P99, max, mean (numpy's default percentiles) of `v`, scaled.
struct Dist {
    sorted: Vec<f64>,
}

impl Dist {
    fn new(v: impl IntoIterator<Item = f64>, scale: f64) -> Self {
        let mut sorted: Vec<f64> = v.into_iter().map(|x| x * scale).collect();
        sorted.sort_by(f64::total_cmp);
        Dist { sorted }
    }
    fn p(&self, q: f64) -> Option<f64> {
        percentile(&self.sorted, q)
    }
    fn max(&self) -> Option<f64> {
        self.sorted.last().copied()
    }
    fn min(&self) -> Option<f64> {
        self.sorted.first().copied()
    }
    fn mean(&self) -> Option<f64> {
        mean(&self.sorted)
    }
}

/// A point's requests (every epoch's), its T (the epochs' spans summed)
/// and, when `with_gaps`, O's pooled decode gaps (each epoch's, leading
/// zeros trimmed).
fn point_requests(point: &PointData, with_gaps: bool) -> (Vec<SeedRequest>, f64, Vec<f64>) {
    let (mut all, mut t, mut gaps) = (Vec::new(), 0.0, Vec::new());
    for e in &point.epochs {
        let reqs = seed_requests(e);
        t += span_s(&reqs);
        if with_gaps {
            gaps.extend(decode_gaps_s(&reqs));
        }
        all.extend(reqs);
    }
    trim_leading_zeros(&mut gaps);
    (all, t, gaps)
}

fn per_s(x: f64, t: f64) -> Option<f64> {
    (t > 0.0).then(|| x / t)
}

/// The O/R static row of one point (12 columns).
pub fn static_row(point: &PointData, concurrency: usize) -> Vec<Cell> {
    let (reqs, t, gaps) = point_requests(point, true);
    let ttft = Dist::new(reqs.iter().map(|r| r.t[1] - r.t[0]), 1e3);
    let itl = Dist::new(gaps, 1e3);
    let ps: Vec<f64> = reqs.iter().map(|r| r.p).collect();
    let os: Vec<f64> = reqs.iter().map(|r| r.o).collect();
    let f = |v| Cell::float(v, 4);
    vec![
        f(mean(&ps)),
        f(mean(&os)),
        Cell::Int(concurrency as i64),
        f(per_s(os.iter().sum(), t).filter(|_| !reqs.is_empty())),
        f(ttft.p(90.0)),
        f(ttft.p(99.0)),
        f(ttft.max()),
        f(ttft.mean()),
        f(itl.p(90.0)),
        f(itl.p(99.0)),
        f(itl.max()),
        f(itl.mean()),
    ]
}

/// Round like Python's `round(x, dp)`.
fn py_round(x: f64, dp: usize) -> f64 {
    format!("{x:.dp$}").parse().unwrap_or(x)
}

/// The N static row of one point (41 columns); `backend` is echoed.
pub fn static_row_n(point: &PointData, concurrency: usize, backend: &str) -> Vec<Cell> {
    let (reqs, t_raw, _) = point_requests(point, false);
    let t = py_round(t_raw, 3);
    let ps: Vec<f64> = reqs.iter().map(|r| r.p).collect();
    let os: Vec<f64> = reqs.iter().map(|r| r.o).collect();
    let tp = |x: f64| {
        per_s(x, t)
            .filter(|_| !reqs.is_empty())
            .map(|v| py_round(v, 2))
    };
    let ttft = Dist::new(reqs.iter().map(|r| r.t[1] - r.t[0]), 1.0);
    let last = |r: &SeedRequest| r.t[r.t.len() - 1];
    let at = |r: &SeedRequest, i: usize| r.t.get(i).copied().unwrap_or(last(r));
    let tpot = Dist::new(
        reqs.iter().map(|r| {
            if r.o > 1.0 {
                (last(r) - r.t[1]) / (r.o - 1.0)
            } else {
                0.0
            }
        }),
        1.0,
    );
    let tpot_sec = Dist::new(
        reqs.iter().map(|r| {
            if r.o > 2.0 {
                (last(r) - at(r, 2)) / (r.o - 2.0)
            } else {
                0.0
            }
        }),
        1.0,
    );
    let first_second = Dist::new(
        reqs.iter()
            .map(|r| if r.o > 1.0 { at(r, 2) - r.t[1] } else { 0.0 }),
        1.0,
    );
    let e2e = Dist::new(reqs.iter().map(|r| last(r) - r.t[0]), 1.0);
    let s = |v: Option<f64>| Cell::float(v, 3);
    let mut row = vec![
        Cell::float(mean(&ps), 4),
        Cell::float(mean(&os), 4),
        Cell::Int(concurrency as i64),
        Cell::float(tp(ps.iter().sum::<f64>() + os.iter().sum::<f64>()), 2),
        Cell::float(tp(os.iter().sum()), 2),
    ];
    for (d, qs) in [
        (&ttft, &[75.0, 90.0, 95.0, 99.0][..]),
        (&tpot, &[75.0, 90.0, 95.0, 99.0][..]),
    ] {
        row.extend(qs.iter().map(|q| s(d.p(*q))));
        row.push(s(d.max()));
        row.push(s(d.mean()));
    }
    row.extend([90.0, 95.0, 99.0].iter().map(|q| s(tpot_sec.p(*q))));
    row.push(s(tpot_sec.max()));
    row.push(s(tpot_sec.mean()));
    row.extend([90.0, 95.0, 99.0].iter().map(|q| s(first_second.p(*q))));
    row.push(s(first_second.min()));
    row.push(s(first_second.max()));
    row.push(s(first_second.mean()));
    row.extend([75.0, 90.0, 95.0, 99.0].iter().map(|q| s(e2e.p(*q))));
    row.push(s(e2e.max()));
    row.push(s(e2e.mean()));
    row.push(if reqs.is_empty() {
        Cell::Empty
    } else {
        Cell::Float(t, 3)
    });
    row.push(Cell::float(tp(reqs.len() as f64), 2));
    row.push(Cell::Int(0));
    row.push(Cell::Text(backend.to_string()));
    // servebench sends temperature 0 and neither top_k nor top_p.
    row.push(Cell::Float(0.0, 4));
    row.push(Cell::Empty);
    row.push(Cell::Empty);
    row
}

/// N's multimodal static row (18 columns): `image_shape` is `"h,w"`; TTFT,
/// TPOT and E2E in seconds rounded to 3 decimals, the throughput to 2.
pub fn static_mm_row_n(point: &PointData, concurrency: usize, shape: (u32, u32)) -> Vec<Cell> {
    let (reqs, t_raw, _) = point_requests(point, false);
    let t = py_round(t_raw, 3);
    let last = |r: &SeedRequest| r.t[r.t.len() - 1];
    let ps: Vec<f64> = reqs.iter().map(|r| r.p).collect();
    let os: Vec<f64> = reqs.iter().map(|r| r.o).collect();
    let ttft = Dist::new(reqs.iter().map(|r| r.t[1] - r.t[0]), 1.0);
    let tpot = Dist::new(
        reqs.iter().map(|r| {
            if r.o > 1.0 {
                (last(r) - r.t[1]) / (r.o - 1.0)
            } else {
                0.0
            }
        }),
        1.0,
    );
    let e2e = Dist::new(reqs.iter().map(|r| last(r) - r.t[0]), 1.0);
    let s = |v: Option<f64>| Cell::float(v, 3);
    let tput = per_s(os.iter().sum(), t)
        .filter(|_| !reqs.is_empty())
        .map(|v| py_round(v, 2));
    let mut row = vec![
        Cell::float(mean(&ps), 4),
        Cell::float(mean(&os), 4),
        Cell::Int(concurrency as i64),
        Cell::Text(format!("{},{}", shape.0, shape.1)),
        Cell::float(tput, 2),
    ];
    for d in [&ttft, &tpot] {
        row.extend([s(d.p(90.0)), s(d.p(99.0)), s(d.max()), s(d.mean())]);
    }
    row.extend([90.0, 95.0, 99.0].iter().map(|q| s(e2e.p(*q))));
    row.push(s(e2e.max()));
    row.push(s(e2e.mean()));
    row
}

/// The dynamic row of one rate (10 columns, the same in both lineages).
pub fn serving_row(point: &PointData, dataset: &str, rate: f64) -> Vec<Cell> {
    let (reqs, t, _) = point_requests(point, false);
    let last = |r: &SeedRequest| r.t[r.t.len() - 1];
    let ps: Vec<f64> = reqs.iter().map(|r| r.p).collect();
    let os: Vec<f64> = reqs.iter().map(|r| r.o).collect();
    let lat: Vec<f64> = reqs.iter().map(|r| last(r) - r.t[0]).collect();
    let per_req_tput: Vec<f64> = reqs
        .iter()
        .filter(|r| last(r) > r.t[1])
        .map(|r| r.o / (last(r) - r.t[1]))
        .collect();
    let per_token_ms: Vec<f64> = reqs
        .iter()
        .filter(|r| r.o > 0.0)
        .map(|r| (last(r) - r.t[1]) / r.o * 1e3)
        .collect();
    let ttft_ms: Vec<f64> = reqs.iter().map(|r| (r.t[1] - r.t[0]) * 1e3).collect();
    let tp = |x: f64| per_s(x, t).filter(|_| !reqs.is_empty());
    let f = |v| Cell::float(v, 4);
    vec![
        Cell::Text(dataset.to_string()),
        f(mean(&ps)),
        f(mean(&os)),
        Cell::Float(rate, 4),
        f(tp(reqs.len() as f64)),
        f(mean(&lat)),
        f(mean(&per_req_tput)),
        f(mean(&per_token_ms)),
        f(mean(&ttft_ms)),
        f(tp(os.iter().sum())),
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
                let row = match (opts.format, images) {
                    (SeedCsvFormat::Seed, _) => static_row(p, *concurrency),
                    (SeedCsvFormat::SeedN, Some(i)) => {
                        static_mm_row_n(p, *concurrency, (i.height, i.width))
                    }
                    (SeedCsvFormat::SeedN, None) => {
                        static_row_n(p, *concurrency, &run.meta.backend)
                    }
                };
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
            PointLabel::Dynamic { request_rate, .. } => {
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
    w.write_record(header(
        run.meta.kind,
        opts.format,
        run.meta.images.is_some(),
    ))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Failure, FailureKind, Rate, RunMeta, Slo};

    /// A successful request sent at `start_s` (its epoch's clock) asking
    /// for `out` tokens of a `input`-token prompt, its chunks at ms offsets.
    fn rec(start_s: f64, input: u64, out: u64, chunks: &[(f64, u32)]) -> RequestRecord {
        RequestRecord {
            id: 0,
            epoch: 0,
            start_s,
            scheduled_s: None,
            ttft_ms: chunks.first().map(|c| c.0),
            e2el_ms: chunks.last().map(|c| c.0),
            done_ms: chunks.last().map_or(0.0, |c| c.0 + 1.0),
            output_tokens: out,
            input_tokens: input,
            requested_output_tokens: out,
            usage_output_tokens: Some(out),
            usage_input_tokens: None,
            counted_output_tokens: None,
            chunks: chunks.to_vec(),
            server: None,
            failure: None,
            resent: 0,
        }
    }

    /// Epoch 0: B (sent at 0.16 s: tokens at 0.19, then two at 0.25) then
    /// A (sent at 0: tokens at 0.10, 0.15, 0.20, 0.26), and a failed
    /// request; epoch 1 (its own clock): C (sent at 0: 0.04, 0.07, 0.12).
    ///
    /// O's decode gaps, by hand: B's 0.19→0.25 touches its own window
    /// (dropped), its 0.25→0.25 is 0 (kept); A's 0.10→0.15 touches its own
    /// window, 0.15→0.20 overlaps B's prefill window [0.16, 0.19] (dropped:
    /// the cross-request rule), 0.20→0.26 = 0.06 (kept); C's 0.04→0.07
    /// touches its own window, 0.07→0.12 = 0.05 is kept (A's window [0, 0.10]
    /// is on epoch 0's clock and must not reach it). Pooled [0, 0.06, 0.05],
    /// the leading 0 trimmed: [60, 50] ms.
    fn epochs() -> Vec<Vec<RequestRecord>> {
        let b = rec(0.16, 20, 3, &[(30.0, 1), (90.0, 2)]);
        let a = rec(
            0.0,
            10,
            4,
            &[(100.0, 1), (150.0, 1), (200.0, 1), (260.0, 1)],
        );
        let mut bad = rec(0.0, 999, 9, &[(1.0, 1), (5000.0, 8)]);
        bad.failure = Some(Failure {
            kind: FailureKind::HttpStatus,
            message: "HTTP 500".into(),
        });
        let c = rec(0.0, 10, 3, &[(40.0, 1), (70.0, 1), (120.0, 1)]);
        vec![vec![b, a, bad], vec![c]]
    }

    fn static_point() -> PointData {
        let label = PointLabel::Static {
            prompt_tokens: 10,
            output_tokens: 3,
            concurrency: 2,
        };
        PointData::new(label, epochs(), &[50.0], &Slo::default())
    }

    fn texts(row: &[Cell]) -> Vec<String> {
        row.iter().map(Cell::text).collect()
    }

    fn meta(kind: RunKind) -> RunMeta {
        RunMeta {
            kind,
            name: "t".into(),
            servebench_version: "0".into(),
            started_unix_s: 0.0,
            base_url: "x".into(),
            embedded_sim: true,
            backend: "openai".into(),
            model: "m".into(),
            tokenizer: "t".into(),
            percentiles: vec![50.0],
            slo: Slo::default(),
            interrupted: false,
            stopped_early: None,
            notes: Vec::new(),
            images: None,
            assumed_tokens_per_chunk: 1,
        }
    }

    #[test]
    fn python_float_text() {
        assert_eq!(py_round_str(256.0, 4), "256.0");
        assert_eq!(py_round_str(3_633.003_94, 4), "3633.0039");
        assert_eq!(py_round_str(0.1, 4), "0.1");
        assert_eq!(py_round_str(56.666_666, 4), "56.6667");
        assert_eq!(py_round_str(0.056_66, 3), "0.057");
        assert_eq!(py_round_str(f64::INFINITY, 4), "inf");
        assert_eq!(py_round_str(0.000_01, 4), "0.0");
    }

    #[test]
    fn time_record_expands_bursts_and_caps_at_the_asked_length() {
        // One token at 250 ms, two at 500 ms, three at 750 ms: 4 asked.
        let r = rec(1.5, 8, 4, &[(250.0, 1), (500.0, 2), (750.0, 3)]);
        assert_eq!(time_record(&r), vec![1.5, 1.75, 2.0, 2.0, 2.25]);
    }

    #[test]
    fn o_static_row_by_hand() {
        let p = static_point();
        // TTFT ms [30, 40, 100]: P90 = 40 + 0.8 * 60 = 88, P99 = 98.8,
        // mean 56.6667. Gaps [50, 60]: P90 59, P99 59.9, max 60, mean 55.
        // T = 0.26 (epoch 0) + 0.12 (epoch 1) = 0.38 s; Σo = 10 → 26.3158.
        assert_eq!(
            texts(&static_row(&p, 2)),
            [
                "13.3333", "3.3333", "2", "26.3158", "88.0", "98.8", "100.0", "56.6667", "59.0",
                "59.9", "60.0", "55.0"
            ]
        );
    }

    #[test]
    fn n_static_row_by_hand() {
        let row = texts(&static_row_n(&static_point(), 2, "openai"));
        assert_eq!(row.len(), STATIC_HEADER_N.len());
        let at = |name: &str| row[STATIC_HEADER_N.iter().position(|h| *h == name).unwrap()].clone();
        assert_eq!(at("Input_Length"), "13.3333");
        // (40 + 10) / 0.38 and 10 / 0.38, 2 dp.
        assert_eq!(at("Total_Token_Throughput(tokens/s)"), "131.58");
        assert_eq!(at("Output_Token_Throughput(tokens/s)"), "26.32");
        assert_eq!(at("AVG_TTFT(s)"), "0.057");
        assert_eq!(at("MAX_TTFT(s)"), "0.1");
        // TPOT: A 0.16/3, B 0.06/2, C 0.08/2: max 0.053, mean 0.041.
        assert_eq!(at("MAX_TPOT(s)"), "0.053");
        assert_eq!(at("AVG_TPOT(s)"), "0.041");
        // First to second token: A 0.05, B 0.06, C 0.03.
        assert_eq!(at("MIN_TIME_BETWEEN_FIRST_AND_SECOND_TOKEN(s)"), "0.03");
        assert_eq!(at("MAX_TIME_BETWEEN_FIRST_AND_SECOND_TOKEN(s)"), "0.06");
        // E2E: A 0.26, B 0.09, C 0.12.
        assert_eq!(at("MAX_E2E(s)"), "0.26");
        assert_eq!(at("Total_Time(s)"), "0.38");
        assert_eq!(at("QPS"), "7.89");
        assert_eq!(at("Fail_Rate"), "0");
        assert_eq!(at("Backend"), "openai");
    }

    #[test]
    fn n_multimodal_row_by_hand() {
        let row = texts(&static_mm_row_n(&static_point(), 2, (256, 512)));
        assert_eq!(row.len(), STATIC_MM_HEADER_N.len());
        // TTFT s [0.03, 0.04, 0.1]: P90 0.088, max 0.1; TPOT max 0.053;
        // E2E [0.09, 0.12, 0.26]: P95 0.246 → 0.246, mean 0.1567 → 0.157.
        assert_eq!(
            row[..6],
            ["13.3333", "3.3333", "2", "256,512", "26.32", "0.088"]
        );
        assert_eq!(row[7], "0.1");
        assert_eq!(row[11], "0.053");
        assert_eq!(row[14], "0.246");
        assert_eq!(row[17], "0.157");
    }

    #[test]
    fn serving_row_by_hand() {
        let label = PointLabel::Dynamic {
            request_rate: Rate(2.0),
            burstiness: 1.0,
            max_concurrency: None,
            num_prompts: 3,
        };
        let p = PointData::new(label, epochs(), &[50.0], &Slo::default());
        // Latency s: 0.09, 0.26, 0.12; o / decode time: 50, 25, 37.5;
        // decode ms per token: 20, 40, 26.6667; TTFT ms 30, 100, 40.
        assert_eq!(
            texts(&serving_row(&p, "sharegpt", 2.0)),
            [
                "sharegpt", "13.3333", "3.3333", "2.0", "7.8947", "0.1567", "37.5", "28.8889",
                "56.6667", "26.3158"
            ]
        );
    }

    #[test]
    fn file_has_bom_exact_header_and_sorted_rows() {
        let mut small = static_point();
        small.label = PointLabel::Static {
            prompt_tokens: 10,
            output_tokens: 3,
            concurrency: 1,
        };
        let run = RunData {
            meta: meta(RunKind::Static),
            points: vec![static_point(), small],
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/benchmark_parallel.csv");
        let opts = SeedCsvOptions {
            format: SeedCsvFormat::Seed,
            dataset: "random".into(),
        };
        write_seed_csv(&path, &run, &opts).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let head = "输入长度,输出长度,并发数,输出tokens总吞吐,首tokens时延TP90\u{FF08}ms\u{FF09},\
                    首tokens时延TP99\u{FF08}ms\u{FF09},最大首tokens时延\u{FF08}ms\u{FF09},\
                    平均首tokens时延\u{FF08}ms\u{FF09},增量时延TP90\u{FF08}ms\u{FF09},\
                    增量时延TP99\u{FF08}ms\u{FF09},最大增量时延\u{FF08}ms\u{FF09},\
                    平均增量时延\u{FF08}ms\u{FF09}\r\n";
        let mut want = b"\xEF\xBB\xBF".to_vec();
        want.extend_from_slice(head.as_bytes());
        assert_eq!(&bytes[..want.len()], &want[..]);
        let text = String::from_utf8(bytes[want.len()..].to_vec()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        // Same lengths: sorted by concurrency.
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("13.3333,3.3333,1,"), "{}", lines[0]);
        assert!(lines[1].starts_with("13.3333,3.3333,2,"), "{}", lines[1]);
    }
}
