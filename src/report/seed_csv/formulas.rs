//! The seed's formulas, one row per point, from servebench's records; and
//! how Python's csv writer prints each value.

use crate::metrics::{PointData, RequestRecord};
use crate::stats::percentile;

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

/// N's per-request TPOT, `(last − first token) / (asked − 1)` (0 when one
/// token was asked for), in seconds.
fn tpot_n(reqs: &[SeedRequest]) -> Dist {
    let last = |r: &SeedRequest| r.t[r.t.len() - 1];
    Dist::new(
        reqs.iter().map(|r| {
            if r.o > 1.0 {
                (last(r) - r.t[1]) / (r.o - 1.0)
            } else {
                0.0
            }
        }),
        1.0,
    )
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
pub fn static_row_n(
    point: &PointData,
    concurrency: usize,
    backend: &str,
    sampling: crate::backend::Sampling,
) -> Vec<Cell> {
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
    let tpot = tpot_n(&reqs);
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
    // What was sent; top-k and top-p left to the server are empty.
    row.push(Cell::Float(sampling.temperature, 4));
    row.push(sampling.top_k.map_or(Cell::Empty, Cell::Int));
    row.push(sampling.top_p.map_or(Cell::Empty, |p| Cell::Float(p, 4)));
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
    let tpot = tpot_n(&reqs);
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
