//! The change of every compared metric against the baseline: a dot at the
//! relative change, a bar over its interval, the noise band shaded, coloured
//! by verdict.

use plotters::prelude::*;

use super::chart::{
    axis_num, draw_legend, shorten, Entry, Swatch, DESC_PX, LABEL_PX, SIZE, TITLE_PX,
};
use super::{Drawn, Inputs, Job};
use crate::report::figures::metric_title;
use crate::stats::Verdict;

/// Most rows one chart shows.
const MAX_ROWS: usize = 64;
const ROW_H: u32 = 22;
const FONT: &str = "sans-serif";
/// Width of the row names.
const NAMES_W: u32 = 260;

/// The colour of a verdict (the same as the page's CSS).
pub(crate) fn verdict_color(v: Verdict) -> RGBColor {
    match v {
        Verdict::Regressed => RGBColor(0xc6, 0x28, 0x28),
        Verdict::Improved => RGBColor(0x2e, 0x7d, 0x32),
        Verdict::WithinNoise | Verdict::NoChange => RGBColor(0x75, 0x75, 0x75),
        Verdict::Inconclusive => RGBColor(0xe0, 0x8e, 0x00),
    }
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// The change chart, when there is a comparison.
pub(crate) fn jobs<'a>(inp: &'a Inputs<'a>) -> Vec<Job<'a>> {
    if inp.cmp.is_none() {
        return Vec::new();
    }
    vec![Job::new(
        "change.svg",
        "Change against the baseline",
        move || draw(inp),
    )]
}

fn draw(inp: &Inputs<'_>) -> Result<Option<Drawn>, String> {
    let Some(cmp) = inp.cmp else { return Ok(None) };
    let finite = |m: &&crate::analysis::MetricComparison| {
        let c = &m.comparison;
        c.rel_change.is_finite() && c.ci_low.is_finite() && c.ci_high.is_finite()
    };
    let all: Vec<_> = cmp.metrics.iter().filter(finite).collect();
    let skipped = cmp.metrics.len() - all.len();
    let rows: Vec<_> = all.iter().take(MAX_ROWS).collect();
    if rows.is_empty() {
        return Ok(None);
    }
    let noise = cmp.config.noise_threshold * 100.0;
    let (mut lo, mut hi) = (-noise, noise);
    for m in &rows {
        let c = &m.comparison;
        lo = lo.min(c.ci_low * 100.0).min(c.rel_change * 100.0);
        hi = hi.max(c.ci_high * 100.0).max(c.rel_change * 100.0);
    }
    let pad = (hi - lo) * 0.08;
    let (lo, hi) = (lo - pad, hi + pad);
    let n = rows.len();
    let names: Vec<String> = rows
        .iter()
        .map(|m| shorten(&format!("{}  {}", m.point, metric_title(m.metric)), 32))
        .collect();
    let height = 110 + ROW_H * n as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (SIZE.0, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (plot, legend) = root.split_horizontally(SIZE.0 - 190);
        let mut chart = ChartBuilder::on(&plot)
            .caption(
                format!(
                    "Change against baseline {} ({:.0} % interval)",
                    shorten(&inp.base_name, 24),
                    cmp.config.confidence * 100.0
                ),
                (FONT, TITLE_PX),
            )
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(NAMES_W)
            .build_cartesian_2d(lo..hi, -0.5..(n as f64 - 0.5))
            .map_err(err)?;
        let y_name = |y: &f64| {
            let r = y.round();
            let i = n as f64 - 1.0 - r;
            if (y - r).abs() < 1e-6 && i >= 0.0 && (i as usize) < n {
                names[i as usize].clone()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .x_desc("change of the new run against the baseline (%)")
            .axis_desc_style((FONT, DESC_PX))
            .label_style((FONT, LABEL_PX))
            .x_label_formatter(&|x| axis_num(*x))
            .y_label_formatter(&y_name)
            .y_labels(n + 1)
            .disable_y_mesh()
            .bold_line_style(RGBColor(0xe2, 0xe2, 0xe2))
            .max_light_lines(0)
            .draw()
            .map_err(err)?;
        let band = RGBColor(0xe8, 0xe8, 0xe8).filled();
        chart
            .draw_series([Rectangle::new(
                [(-noise, -0.5), (noise, n as f64 - 0.5)],
                band,
            )])
            .map_err(err)?;
        chart
            .draw_series([PathElement::new(
                vec![(0.0, -0.5), (0.0, n as f64 - 0.5)],
                BLACK.stroke_width(1),
            )])
            .map_err(err)?;
        for (k, m) in rows.iter().enumerate() {
            let c = &m.comparison;
            let y = (n - 1 - k) as f64;
            let col = verdict_color(c.verdict);
            chart
                .draw_series([PathElement::new(
                    vec![(c.ci_low * 100.0, y), (c.ci_high * 100.0, y)],
                    col.stroke_width(3),
                )])
                .map_err(err)?;
            chart
                .draw_series([Circle::new((c.rel_change * 100.0, y), 5, col.filled())])
                .map_err(err)?;
        }
        let mut entries: Vec<Entry> = Vec::new();
        for (v, word) in [
            (Verdict::Regressed, "regressed"),
            (Verdict::Improved, "improved"),
            (Verdict::NoChange, "no change / noise"),
            (Verdict::Inconclusive, "inconclusive"),
        ] {
            entries.push(Entry {
                label: word.into(),
                color: verdict_color(v),
                swatch: Swatch::LineDot,
            });
        }
        entries.push(Entry {
            label: format!("noise ±{noise:.1} %"),
            color: RGBColor(0xe8, 0xe8, 0xe8),
            swatch: Swatch::Box,
        });
        draw_legend(&legend, &entries)?;
        root.present().map_err(err)?;
    }
    let mut caption = "Dot: relative change of the estimate; bar: its bootstrap interval; grey band: the noise threshold. For latencies right is worse, for throughputs right is better; the colour gives the verdict.".to_string();
    if skipped > 0 {
        caption.push_str(&format!(
            " {skipped} metric(s) without a finite change are left out."
        ));
    }
    if all.len() > MAX_ROWS {
        caption.push_str(&format!(
            " Only the first {MAX_ROWS} of {} rows are drawn; the table has them all.",
            all.len()
        ));
    }
    Ok(Some(Drawn { svg, caption }))
}
