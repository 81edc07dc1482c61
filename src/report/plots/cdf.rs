//! Distributions: the empirical CDFs of TTFT, TPOT and ITL for a few points
//! of the run (the baseline's dashed), downsampled so that a run of any size
//! draws in a moment.

use super::chart::{baseline_color, color, draw_lines, Line, LineChart, XAxis};
use super::{Drawn, Inputs, Job};
use crate::metrics::{Dist, PointData, PointLabel, RequestRecord, RunData};
use crate::stats::percentile;

/// At most this many points per CDF line.
pub const MAX_CDF_POINTS: usize = 1000;
/// ITL values gathered per point at most; beyond, every k-th request is used.
const MAX_VALUES: usize = 2_000_000;
/// The x axis stops at this percentile of the widest line (a few stalls,
/// e.g. decode steps that waited for another request's prefill, would
/// otherwise stretch it far past the data).
const X_CUT_PERCENTILE: f64 = 99.0;
/// ... and starts at this percentile of the lowest line, unless that is
/// close enough to 0 to start at 0.
const X_LOW_PERCENTILE: f64 = 0.5;

/// The x range of lines whose values span `[low, high]` (the percentiles
/// above): fitted to the data, starting at 0 when the data start below a
/// quarter of the top.
fn fitted_range(low: f64, high: f64) -> (f64, f64) {
    if high.is_nan() || high <= 0.0 {
        return (0.0, 1.0);
    }
    let pad = 0.05 * (high - low.min(high));
    let top = high + pad.max(0.02 * high);
    if low < 0.25 * high {
        (0.0, top)
    } else {
        ((low - pad).max(0.0), top)
    }
}

/// The empirical CDF of **sorted** `values` as at most `max` (x, y) points:
/// the order statistics at evenly spaced ranks, first and last included.
pub fn cdf_points(sorted: &[f64], max: usize) -> Vec<(f64, f64)> {
    let n = sorted.len();
    let y = |i: usize| (i + 1) as f64 / n as f64;
    if n <= max.max(2) {
        return sorted.iter().enumerate().map(|(i, v)| (*v, y(i))).collect();
    }
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(max);
    for k in 0..max {
        let i = (k as f64 * (n - 1) as f64 / (max - 1) as f64).round() as usize;
        if out.last().is_none_or(|l| l.1 < y(i)) {
            out.push((sorted[i], y(i)));
        }
    }
    out
}

/// The metric's sorted values over the point's completed requests, and a
/// note when only a sample of the requests was used.
fn values(p: &PointData, m: Dist) -> (Vec<f64>, Option<String>) {
    let ok: Vec<&RequestRecord> = p.epochs.iter().flatten().filter(|r| r.ok()).collect();
    let mut note = None;
    // Per-token distributions of a huge run: every k-th request.
    let per_token = matches!(m, Dist::Itl | Dist::ChunkGap);
    let total: usize = ok.iter().map(|r| r.output_tokens as usize).sum();
    let stride = if per_token {
        total.div_ceil(MAX_VALUES).max(1)
    } else {
        1
    };
    if stride > 1 {
        note = Some(format!(
            "{} of {} drawn from every {stride}th request.",
            m.name().to_uppercase(),
            p.label.id()
        ));
    }
    let mut v = m.values(ok.into_iter().step_by(stride));
    v.retain(|x| x.is_finite());
    v.sort_unstable_by(f64::total_cmp);
    (v, note)
}

/// Up to `n` points spread over the run, the highest load always included.
fn chosen(run: &RunData, n: usize) -> Vec<&PointData> {
    let k = run.points.len();
    if k <= n {
        return run.points.iter().collect();
    }
    let mut idx: Vec<usize> = (0..n).map(|j| (j * (k - 1)).div_ceil(n - 1)).collect();
    idx.dedup();
    idx.into_iter().map(|i| &run.points[i]).collect()
}

/// A short legend label for a point.
fn short(run: &RunData, l: &PointLabel) -> String {
    let pairs = {
        let mut v: Vec<(usize, usize)> = run
            .points
            .iter()
            .filter_map(|p| match p.label {
                PointLabel::Static {
                    prompt_tokens,
                    output_tokens,
                    ..
                } => Some((prompt_tokens, output_tokens)),
                _ => None,
            })
            .collect();
        v.sort_unstable();
        v.dedup();
        v.len()
    };
    match l {
        PointLabel::Static {
            prompt_tokens,
            output_tokens,
            concurrency,
        } if pairs > 1 => format!("{prompt_tokens} in / {output_tokens} out, c{concurrency}"),
        PointLabel::Static { concurrency, .. } => format!("concurrency {concurrency}"),
        PointLabel::Dynamic { request_rate, .. } => format!("rate {request_rate} req/s"),
        PointLabel::Replay { speedup, .. } => format!("trace at {speedup}x"),
        PointLabel::Sessions { session_rate, .. } => format!("{session_rate} sessions/s"),
    }
}

fn cdf_job<'a>(inp: &'a Inputs<'a>, m: Dist, file: &str, name: &'static str) -> Job<'a> {
    let title = format!("{name} distribution");
    Job::new(file, &title.clone(), move || {
        let limit = if inp.base.is_some() { 3 } else { 6 };
        let mut lines = Vec::new();
        let mut notes = Vec::new();
        let mut cut = 0.0f64;
        let mut low = f64::INFINITY;
        for (i, p) in chosen(inp.run, limit).into_iter().enumerate() {
            let (v, note) = values(p, m);
            notes.extend(note);
            if v.is_empty() {
                continue;
            }
            cut = cut.max(percentile(&v, X_CUT_PERCENTILE).unwrap_or(0.0));
            low = low.min(percentile(&v, X_LOW_PERCENTILE).unwrap_or(0.0));
            lines.push(Line {
                label: Some(short(inp.run, &p.label)),
                color: color(i),
                points: cdf_points(&v, MAX_CDF_POINTS),
                dashed: false,
                markers: false,
                tags: Vec::new(),
            });
            let twin = inp
                .base
                .and_then(|b| b.points.iter().find(|q| q.label.id() == p.label.id()));
            if let Some(bp) = twin {
                let (bv, _) = values(bp, m);
                if !bv.is_empty() {
                    cut = cut.max(percentile(&bv, X_CUT_PERCENTILE).unwrap_or(0.0));
                    low = low.min(percentile(&bv, X_LOW_PERCENTILE).unwrap_or(0.0));
                    lines.push(Line {
                        label: Some(format!("{} (baseline)", short(inp.run, &bp.label))),
                        color: baseline_color(color(i)),
                        points: cdf_points(&bv, MAX_CDF_POINTS),
                        dashed: true,
                        markers: false,
                        tags: Vec::new(),
                    });
                }
            }
        }
        if lines.is_empty() {
            return Ok(None);
        }
        let x_range = fitted_range(low, cut);
        let chart = LineChart {
            title,
            x_desc: format!("{name} (ms)"),
            y_desc: match m {
                Dist::Itl | Dist::ChunkGap => "fraction of tokens at or below",
                _ => "fraction of requests at or below",
            }
            .into(),
            x: XAxis::Numeric,
            x_range: Some(x_range),
            y_range: Some((0.0, 1.0)),
            lines,
        };
        let mut caption = format!(
            "Empirical CDF over the completed requests of every epoch; the x axis spans the data from the {X_LOW_PERCENTILE}th to the {X_CUT_PERCENTILE}th percentile (the tables give the tail)."
        );
        for n in notes {
            caption.push(' ');
            caption.push_str(&n);
        }
        Ok(Some(Drawn {
            svg: draw_lines(&chart)?,
            caption,
        }))
    })
}

/// The distribution figures of the run.
pub(crate) fn jobs<'a>(inp: &'a Inputs<'a>) -> Vec<Job<'a>> {
    vec![
        cdf_job(inp, Dist::Ttft, "cdf_ttft.svg", "TTFT"),
        cdf_job(inp, Dist::Tpot, "cdf_tpot.svg", "TPOT"),
        cdf_job(inp, Dist::Itl, "cdf_itl.svg", "ITL"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downsampled_cdf_keeps_ends_and_is_monotone() {
        let v: Vec<f64> = (0..100_000).map(|i| i as f64).collect();
        let c = cdf_points(&v, MAX_CDF_POINTS);
        assert!(c.len() <= MAX_CDF_POINTS);
        assert_eq!(c[0], (0.0, 1e-5));
        assert_eq!(*c.last().unwrap(), (99_999.0, 1.0));
        assert!(c.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 < w[1].1));
        assert_eq!(cdf_points(&[1.0, 2.0], 1000), vec![(1.0, 0.5), (2.0, 1.0)]);
        assert!(cdf_points(&[], 10).is_empty());
    }
}

#[cfg(test)]
mod range_tests {
    use super::fitted_range;

    #[test]
    fn the_x_axis_fits_the_data() {
        // ITL at 7-12 ms: the axis spans them, not 0-110 ms.
        let (lo, hi) = fitted_range(7.0, 12.0);
        assert!(lo > 6.0 && lo < 7.0 && hi > 12.0 && hi < 13.0, "{lo} {hi}");
        // Data from near 0 start at 0.
        assert_eq!(fitted_range(0.5, 40.0).0, 0.0);
        assert!(fitted_range(0.5, 40.0).1 < 42.1);
        assert_eq!(fitted_range(0.0, 0.0), (0.0, 1.0));
    }
}
