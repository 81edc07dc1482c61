//! One way to draw a line chart as SVG: a fixed palette, labelled axes, and
//! the legend in its own panel on the right so that it never hides data.

use plotters::coord::Shift;
use plotters::prelude::*;

/// Width and height of every chart, pixels.
pub(crate) const SIZE: (u32, u32) = (760, 420);
/// Width of the legend panel.
pub(crate) const LEGEND_W: u32 = 220;
/// Font sizes of the title, the axis descriptions, the tick labels and the
/// legend.
pub(crate) const TITLE_PX: u32 = 20;
pub(crate) const DESC_PX: u32 = 16;
pub(crate) const LABEL_PX: u32 = 14;
const FONT: &str = "sans-serif";

/// Series colours, in order (Tableau 10 without its grey, which is the
/// baseline's).
pub(crate) const PALETTE: [RGBColor; 8] = [
    RGBColor(0x4e, 0x79, 0xa7),
    RGBColor(0xf2, 0x8e, 0x2b),
    RGBColor(0x59, 0xa1, 0x4f),
    RGBColor(0xe1, 0x57, 0x59),
    RGBColor(0xb0, 0x7a, 0xa1),
    RGBColor(0x76, 0xb7, 0xb2),
    RGBColor(0x9c, 0x75, 0x5f),
    RGBColor(0xff, 0x9d, 0xa7),
];

/// The baseline's colour when it has a single series.
pub(crate) const GREY: RGBColor = RGBColor(0x8c, 0x8c, 0x8c);

/// The colour of series `i`.
pub(crate) fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// The baseline twin of a series colour: the same hue, mostly grey.
pub(crate) fn baseline_color(c: RGBColor) -> RGBColor {
    let mix = |a: u8, b: u8| ((a as u16 * 2 + b as u16 * 3) / 5) as u8;
    RGBColor(mix(c.0, GREY.0), mix(c.1, GREY.1), mix(c.2, GREY.2))
}

/// One line of a chart.
#[derive(Debug, Clone)]
pub(crate) struct Line {
    /// Legend text; `None` keeps it out of the legend.
    pub label: Option<String>,
    pub color: RGBColor,
    pub points: Vec<(f64, f64)>,
    /// Baseline lines are dashed.
    pub dashed: bool,
    /// Draw a dot at each point (sweeps), or not (distributions).
    pub markers: bool,
    /// Text written beside each point (e.g. its concurrency), if any.
    pub tags: Vec<String>,
}

/// How a legend entry shows its series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Swatch {
    Line,
    Dashed,
    LineDot,
    DashedDot,
    Box,
}

/// One entry of a legend.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub label: String,
    pub color: RGBColor,
    pub swatch: Swatch,
}

/// The horizontal axis: numbers, or named categories at 0, 1, 2...
#[derive(Debug, Clone)]
pub(crate) enum XAxis {
    Numeric,
    Categories(Vec<String>),
}

/// A line chart.
#[derive(Debug, Clone)]
pub(crate) struct LineChart {
    pub title: String,
    pub x_desc: String,
    pub y_desc: String,
    pub x: XAxis,
    /// Fixed ranges; computed from the data (from zero) when `None`.
    pub x_range: Option<(f64, f64)>,
    pub y_range: Option<(f64, f64)>,
    pub lines: Vec<Line>,
}

/// `(lo, hi)` of `values`, from zero, with some room above.
pub(crate) fn range_from_zero(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((0.0f64, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(v), h.max(v))
        });
    if !hi.is_finite() || hi <= lo {
        return (lo, lo + 1.0);
    }
    (lo, hi + (hi - lo) * 0.08)
}

/// A tick label: few digits, no trailing noise.
pub(crate) fn axis_num(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if a >= 10_000.0 {
        format!("{:.0}k", v / 1000.0)
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else {
        let s = if a >= 1.0 {
            format!("{v:.1}")
        } else {
            format!("{v:.3}")
        };
        let s = s.trim_end_matches('0').trim_end_matches('.');
        if s == "-0" {
            "0".into()
        } else {
            s.to_string()
        }
    }
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Cut `s` to `n` characters, with an ellipsis.
pub(crate) fn shorten(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// Draw the legend `entries` in `area`, one per line.
pub(crate) fn draw_legend(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    entries: &[Entry],
) -> Result<(), String> {
    let x = 8;
    for (i, e) in entries.iter().enumerate() {
        let y = 56 + 26 * i as i32;
        let style = ShapeStyle::from(&e.color).stroke_width(2);
        match e.swatch {
            Swatch::Dashed | Swatch::DashedDot => {
                for k in 0..3 {
                    let x0 = x + k * 10;
                    area.draw(&PathElement::new(vec![(x0, y), (x0 + 6, y)], style))
                        .map_err(err)?;
                }
            }
            Swatch::Line | Swatch::LineDot => {
                area.draw(&PathElement::new(vec![(x, y), (x + 26, y)], style))
                    .map_err(err)?;
            }
            Swatch::Box => {
                area.draw(&Rectangle::new(
                    [(x + 4, y - 7), (x + 22, y + 7)],
                    e.color.filled(),
                ))
                .map_err(err)?;
            }
        }
        if matches!(e.swatch, Swatch::LineDot | Swatch::DashedDot) {
            area.draw(&Circle::new((x + 13, y), 4, e.color.filled()))
                .map_err(err)?;
        }
        let text = shorten(&e.label, 28);
        area.draw(&Text::new(text, (x + 34, y - 8), (FONT, LABEL_PX)))
            .map_err(err)?;
    }
    Ok(())
}

/// Render `c` as an SVG document.
pub(crate) fn draw_lines(c: &LineChart) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let entries: Vec<Entry> = c
            .lines
            .iter()
            .filter_map(|l| {
                let swatch = match (l.dashed, l.markers) {
                    (false, false) => Swatch::Line,
                    (true, false) => Swatch::Dashed,
                    (false, true) => Swatch::LineDot,
                    (true, true) => Swatch::DashedDot,
                };
                l.label.clone().map(|label| Entry {
                    label,
                    color: l.color,
                    swatch,
                })
            })
            .collect();
        let (plot, legend) = root.split_horizontally(SIZE.0 - LEGEND_W);
        let cats = match &c.x {
            XAxis::Categories(v) => v.clone(),
            XAxis::Numeric => Vec::new(),
        };
        let (x0, x1) = match (&c.x, c.x_range) {
            (_, Some(r)) => r,
            (XAxis::Categories(v), None) => (-0.5, v.len().max(1) as f64 - 0.5),
            (XAxis::Numeric, None) => {
                range_from_zero(c.lines.iter().flat_map(|l| l.points.iter().map(|p| p.0)))
            }
        };
        let (y0, y1) = c.y_range.unwrap_or_else(|| {
            range_from_zero(c.lines.iter().flat_map(|l| l.points.iter().map(|p| p.1)))
        });
        let mut chart = ChartBuilder::on(&plot)
            .caption(&c.title, (FONT, TITLE_PX))
            .margin(14)
            .x_label_area_size(52)
            .y_label_area_size(72)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(err)?;
        let x_fmt = |x: &f64| -> String {
            if cats.is_empty() {
                return axis_num(*x);
            }
            let r = x.round();
            if (x - r).abs() < 1e-6 && r >= 0.0 && (r as usize) < cats.len() {
                cats[r as usize].clone()
            } else {
                String::new()
            }
        };
        let y_fmt = |y: &f64| axis_num(*y);
        let mut mesh = chart.configure_mesh();
        mesh.x_desc(c.x_desc.as_str())
            .y_desc(c.y_desc.as_str())
            .axis_desc_style((FONT, DESC_PX))
            .label_style((FONT, LABEL_PX))
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .bold_line_style(RGBColor(0xe2, 0xe2, 0xe2))
            .max_light_lines(0);
        if !cats.is_empty() {
            mesh.x_labels(cats.len().max(2));
        }
        mesh.draw().map_err(err)?;
        for l in &c.lines {
            let pts: Vec<(f64, f64)> = l
                .points
                .iter()
                .copied()
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .collect();
            let style = ShapeStyle::from(&l.color).stroke_width(2);
            if l.dashed {
                chart
                    .draw_series(DashedLineSeries::new(pts.clone(), 7, 5, style))
                    .map_err(err)?;
            } else {
                chart
                    .draw_series(LineSeries::new(pts.clone(), style))
                    .map_err(err)?;
            }
            if l.markers {
                let fill = l.color.filled();
                chart
                    .draw_series(pts.iter().map(|p| Circle::new(*p, 3, fill)))
                    .map_err(err)?;
            }
            for (p, tag) in l.points.iter().zip(&l.tags) {
                if p.0.is_finite() && p.1.is_finite() {
                    let style = TextStyle::from((FONT, 12)).color(&l.color);
                    chart
                        .draw_series([
                            EmptyElement::at(*p) + Text::new(tag.clone(), (5, -16), style)
                        ])
                        .map_err(err)?;
                }
            }
        }
        draw_legend(&legend, &entries)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_and_ranges() {
        assert_eq!(axis_num(0.0), "0");
        assert_eq!(axis_num(2.0), "2");
        assert_eq!(axis_num(2.5), "2.5");
        assert_eq!(axis_num(0.25), "0.25");
        assert_eq!(axis_num(0.99999), "1");
        assert_eq!(axis_num(1e-17), "0");
        assert_eq!(axis_num(25_000.0), "25k");
        let (lo, hi) = range_from_zero([1.0, 2.0].into_iter());
        assert!(lo == 0.0 && (hi - 2.16).abs() < 1e-12);
        assert_eq!(range_from_zero(std::iter::empty()), (0.0, 1.0));
        assert_eq!(shorten("abcdef", 4), "abc…");
    }
}
