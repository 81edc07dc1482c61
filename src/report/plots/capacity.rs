//! The figures of a capacity search: the goodput ratio and the latency
//! percentiles against the load, with the objectives as dashed lines and
//! the capacity interval's ends marked.

use super::chart::{color, draw_lines, Line, LineChart, XAxis, GREY};
use crate::metrics::capacity::{num, CapacityResult, LatencyMetric, ProbeEpoch, Tail};

fn flat(label: String, x: (f64, f64), y: f64, c: plotters::style::RGBColor) -> Line {
    Line {
        label: Some(label),
        color: c,
        points: vec![(x.0, y), (x.1, y)],
        dashed: true,
        markers: false,
        tags: Vec::new(),
    }
}

fn vertical(label: String, x: f64, y: (f64, f64)) -> Line {
    Line {
        label: Some(label),
        color: GREY,
        points: vec![(x, y.0), (x, y.1)],
        dashed: true,
        markers: false,
        tags: Vec::new(),
    }
}

fn x_range(c: &CapacityResult) -> (f64, f64) {
    let hi = c.probes.iter().map(|p| p.load).fold(0.0, f64::max);
    (0.0, hi * 1.08 + 1e-9)
}

/// The interval's ends as vertical lines over `y`.
fn ends(c: &CapacityResult, y: (f64, f64)) -> Vec<Line> {
    let mut v = Vec::new();
    if let Some(lo) = c.lo {
        v.push(vertical(format!("passed at {}", num(lo)), lo, y));
    }
    if let Some(hi) = c.hi {
        v.push(vertical(format!("failed at {}", num(hi)), hi, y));
    }
    v
}

/// The goodput ratio (mean over epochs, and the interval's ends) against
/// the load, with the target.
pub(crate) fn goodput_svg(c: &CapacityResult) -> Result<String, String> {
    let xr = x_range(c);
    let pts = |f: &dyn Fn(&crate::metrics::capacity::Objective) -> f64| -> Vec<(f64, f64)> {
        c.probes
            .iter()
            .filter_map(|p| {
                let o = p.objectives.iter().find(|o| o.name == "goodput_ratio")?;
                let y = f(o);
                y.is_finite().then_some((p.load, y.clamp(0.0, 1.0)))
            })
            .collect()
    };
    let line = |label: &str, i: usize, points: Vec<(f64, f64)>, markers: bool| Line {
        label: Some(label.to_string()),
        color: color(i),
        points,
        dashed: !markers,
        markers,
        tags: Vec::new(),
    };
    let mut lines = vec![
        line("goodput ratio (mean)", 0, pts(&|o| o.interval.mean), true),
        line("interval, low end", 1, pts(&|o| o.interval.lo), false),
    ];
    lines.push(flat(
        format!("target {}", num(c.slo.goodput_ratio)),
        xr,
        c.slo.goodput_ratio,
        color(3),
    ));
    lines.extend(ends(c, (0.0, 1.05)));
    draw_lines(&LineChart {
        title: "Goodput ratio against load".into(),
        x_desc: format!("{} ({})", c.mode.load_name(), c.mode.unit()),
        y_desc: "share of requests meeting the SLOs".into(),
        x: XAxis::Numeric,
        x_range: Some(xr),
        y_range: Some((0.0, 1.05)),
        lines,
    })
}

/// `metric`'s p50, p90 and p99 (means over epochs) against the load, with
/// its per-request and percentile objectives.
pub(crate) fn latency_svg(c: &CapacityResult, metric: LatencyMetric) -> Result<String, String> {
    let xr = x_range(c);
    let tail = |e: &ProbeEpoch| -> Tail {
        match metric {
            LatencyMetric::Ttft => e.ttft_ms,
            LatencyMetric::Tpot => e.tpot_ms,
            LatencyMetric::E2el => e.e2el_ms,
        }
    };
    let mut lines = Vec::new();
    let mut top: f64 = 0.0;
    for (i, (name, f)) in [
        ("p50", (|t: Tail| t.p50) as fn(Tail) -> Option<f64>),
        ("p90", |t: Tail| t.p90),
        ("p99", |t: Tail| t.p99),
    ]
    .into_iter()
    .enumerate()
    {
        let points: Vec<(f64, f64)> = c
            .probes
            .iter()
            .filter_map(|p| Some((p.load, p.mean_of(|e| f(tail(e)))?)))
            .collect();
        top = points.iter().map(|p| p.1).fold(top, f64::max);
        lines.push(Line {
            label: Some(format!("{} {name}", metric.name())),
            color: color(i),
            points,
            dashed: false,
            markers: true,
            tags: Vec::new(),
        });
    }
    let per_request = match metric {
        LatencyMetric::Ttft => c.slo.per_request.ttft_ms,
        LatencyMetric::Tpot => c.slo.per_request.tpot_ms,
        LatencyMetric::E2el => c.slo.per_request.e2el_ms,
    };
    let mut limits: Vec<(String, f64)> = per_request
        .map(|l| (format!("SLO {} {} ms", metric.name(), num(l)), l))
        .into_iter()
        .collect();
    for p in c.slo.percentiles.iter().filter(|p| p.metric == metric) {
        limits.push((
            format!("SLO {} {} ms", p.name(), num(p.limit_ms)),
            p.limit_ms,
        ));
    }
    for (k, (label, y)) in limits.iter().enumerate() {
        top = top.max(*y);
        lines.push(flat(label.clone(), xr, *y, color(3 + k)));
    }
    // Latency explodes past saturation: keep the SLO lines readable.
    let cap = limits.iter().map(|l| l.1).fold(0.0, f64::max) * 4.0;
    let y_hi = if cap > 0.0 { top.min(cap) } else { top } * 1.08 + 1e-9;
    lines.extend(ends(c, (0.0, y_hi)));
    draw_lines(&LineChart {
        title: format!("{} against load", metric.name().to_uppercase()),
        x_desc: format!("{} ({})", c.mode.load_name(), c.mode.unit()),
        y_desc: format!("{} (ms, mean of epochs)", metric.name()),
        x: XAxis::Numeric,
        x_range: Some(xr),
        y_range: Some((0.0, y_hi)),
        lines,
    })
}
