//! The server's time series over the run, from its `/metrics`: its queue
//! and running batch, and its KV-cache use and prefix-cache hit rate, each
//! measured epoch a segment at its place in the run.

use super::chart::{color, draw_lines, Line, LineChart, XAxis};
use super::{Drawn, Inputs, Job};
use crate::metrics::RunData;
use crate::server_metrics::SeriesPoint;

type Get = fn(&SeriesPoint) -> Option<f64>;

/// One line per (series, epoch), at seconds since the run's first scrape;
/// only each series' first segment is in the legend.
fn segments(run: &RunData, series: &[(&str, Get, f64)]) -> Vec<Line> {
    let epochs: Vec<_> = run
        .points
        .iter()
        .filter_map(|p| p.server.as_ref())
        .flat_map(|s| s.epochs.iter())
        .collect();
    let Some(t0) = epochs.iter().map(|e| e.start_unix_s).min_by(f64::total_cmp) else {
        return Vec::new();
    };
    let mut lines = Vec::new();
    for (i, &(name, get, scale)) in series.iter().enumerate() {
        let mut labelled = false;
        for e in &epochs {
            let points: Vec<(f64, f64)> = e
                .series
                .iter()
                .filter_map(|p| get(p).map(|v| (e.start_unix_s - t0 + p.t_s, v * scale)))
                .collect();
            if points.is_empty() {
                continue;
            }
            lines.push(Line {
                label: (!labelled).then(|| name.to_string()),
                color: color(i),
                points,
                dashed: false,
                markers: true,
                tags: Vec::new(),
            });
            labelled = true;
        }
    }
    lines
}

fn job<'a>(
    inp: &'a Inputs<'a>,
    file: &str,
    title: &'static str,
    y_desc: &'static str,
    series: &'static [(&'static str, Get, f64)],
    caption: &'static str,
) -> Job<'a> {
    Job::new(file, title, move || {
        let lines = segments(inp.run, series);
        if lines.is_empty() {
            return Ok(None);
        }
        let chart = LineChart {
            title: title.into(),
            x_desc: "seconds since the first measured epoch began".into(),
            y_desc: y_desc.into(),
            x: XAxis::Numeric,
            x_range: None,
            y_range: None,
            lines,
        };
        Ok(Some(Drawn {
            svg: draw_lines(&chart)?,
            caption: caption.into(),
        }))
    })
}

const QUEUE: &[(&str, Get, f64)] = &[
    ("running", |p| p.running, 1.0),
    ("waiting", |p| p.waiting, 1.0),
];
const CACHE: &[(&str, Get, f64)] = &[
    ("KV-cache use", |p| p.kv_usage, 100.0),
    ("prefix-cache hit rate", |p| p.prefix_hit_rate, 100.0),
];

/// The server's figures, when its metrics were read.
pub(crate) fn jobs<'a>(inp: &'a Inputs<'a>) -> Vec<Job<'a>> {
    vec![
        job(
            inp,
            "server_queue.svg",
            "Server: running and waiting requests",
            "requests",
            QUEUE,
            "As the server's /metrics showed them at each scrape of each measured epoch (gaps \
             between segments: warm-ups and the time between points). A waiting line that keeps \
             climbing is a server past its capacity.",
        ),
        job(
            inp,
            "server_cache.svg",
            "Server: KV-cache use and prefix-cache hit rate",
            "%",
            CACHE,
            "KV-cache use at each scrape; prefix-cache hit rate over the tokens looked up since \
             the previous scrape.",
        ),
    ]
}
