//! Where the client's TTFT goes, when the server returned its own latency
//! figures: time in the server's queue, prefill, and the rest (network and
//! client), as a table and a stacked bar chart.

use plotters::prelude::*;
use serde::Serialize;

use super::chart::{
    axis_num, color, draw_legend, range_from_zero, Entry, Swatch, DESC_PX, LABEL_PX, LEGEND_W,
    SIZE, TITLE_PX,
};
use super::{Drawn, Inputs, Job};
use crate::metrics::RunData;
use crate::report::figures::num;

const FONT: &str = "sans-serif";

/// One point's split of the mean client TTFT, ms.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct BreakdownRow {
    pub point: String,
    /// Requests that carried server figures / completed requests.
    pub requests: String,
    pub client_ttft: String,
    pub queue: String,
    pub prefill: String,
    pub rest: String,
    #[serde(skip)]
    pub parts: [f64; 3],
}

/// The TTFT split of every point that has server figures.
pub(crate) fn breakdown_rows(run: &RunData) -> Vec<BreakdownRow> {
    run.points
        .iter()
        .filter_map(|p| {
            let s = &p.summary;
            let server = s.server.as_ref()?;
            let ttft = s.ttft_ms.mean?;
            let queue = server.time_in_queue_ms.unwrap_or(0.0);
            let prefill_total = server.prefill_latency_ms?;
            let prefill = prefill_total - queue;
            let rest = ttft - prefill_total;
            Some(BreakdownRow {
                point: p.label.id(),
                requests: format!("{} / {}", server.requests, s.completed),
                client_ttft: num(Some(ttft)),
                queue: num(server.time_in_queue_ms),
                prefill: num(Some(prefill)),
                rest: num(Some(rest)),
                parts: [queue.max(0.0), prefill.max(0.0), rest.max(0.0)],
            })
        })
        .collect()
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// The stacked bar chart, when the server returned latency figures.
pub(crate) fn jobs<'a>(inp: &'a Inputs<'a>) -> Vec<Job<'a>> {
    if inp.run.points.iter().all(|p| p.summary.server.is_none()) {
        return Vec::new();
    }
    vec![Job::new(
        "ttft_breakdown.svg",
        "Where TTFT goes",
        move || draw(inp.run),
    )]
}

fn draw(run: &RunData) -> Result<Option<Drawn>, String> {
    let rows = breakdown_rows(run);
    if rows.is_empty() {
        return Ok(None);
    }
    let n = rows.len();
    let (_, top) = range_from_zero(rows.iter().map(|r| r.parts.iter().sum::<f64>()));
    let names = ["queue (server)", "prefill (server)", "network + client"];
    let colors = [color(1), color(0), color(5)];
    let height = (110 + 34 * n as u32).max(300);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (SIZE.0, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (plot, legend) = root.split_horizontally(SIZE.0 - LEGEND_W);
        let mut chart = ChartBuilder::on(&plot)
            .caption("Where the client's TTFT goes (means)", (FONT, TITLE_PX))
            .margin(14)
            .x_label_area_size(52)
            .y_label_area_size(120)
            .build_cartesian_2d(0.0..top, -0.5..(n as f64 - 0.5))
            .map_err(err)?;
        // The first point on top.
        let y_of = |i: usize| (n - 1 - i) as f64;
        let y_name = |y: &f64| {
            let r = y.round();
            let i = n as f64 - 1.0 - r;
            if (y - r).abs() < 1e-6 && i >= 0.0 && (i as usize) < n {
                rows[i as usize].point.clone()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .x_desc("mean time to first token (ms)")
            .axis_desc_style((FONT, DESC_PX))
            .label_style((FONT, LABEL_PX))
            .y_labels(n + 1)
            .y_label_formatter(&y_name)
            .x_label_formatter(&|x| axis_num(*x))
            .disable_y_mesh()
            .bold_line_style(RGBColor(0xe2, 0xe2, 0xe2))
            .max_light_lines(0)
            .draw()
            .map_err(err)?;
        for (i, r) in rows.iter().enumerate() {
            let y = y_of(i);
            let mut base = 0.0;
            for (part, c) in r.parts.iter().zip(colors) {
                chart
                    .draw_series([Rectangle::new(
                        [(base, y - 0.32), (base + part, y + 0.32)],
                        c.filled(),
                    )])
                    .map_err(err)?;
                base += part;
            }
        }
        let entries: Vec<Entry> = names
            .iter()
            .zip(colors)
            .map(|(n, c)| Entry {
                label: n.to_string(),
                color: c,
                swatch: Swatch::Box,
            })
            .collect();
        draw_legend(&legend, &entries)?;
        root.present().map_err(err)?;
    }
    Ok(Some(Drawn {
        svg,
        caption: "Mean client TTFT split with the server's own figures: queue = time_in_queue; prefill = prefill_latency - time_in_queue; network + client = client TTFT - prefill_latency. Negative parts (clock or averaging differences) are drawn as zero; the table shows them.".into(),
    }))
}
