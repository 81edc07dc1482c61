//! Figures against load: each metric against concurrency (static) or
//! request rate (dynamic), one line per series, the baseline dashed; and the
//! latency-throughput trade-off.

use super::chart::{baseline_color, color, draw_lines, Line, LineChart, XAxis, GREY};
use super::{Drawn, Inputs, Job};
use crate::metrics::{PointData, PointLabel, PointSummary, RunData, RunKind};

type Get = fn(&PointSummary) -> Option<f64>;

/// Where a point sits on the load axis: its sort key and its tick label.
fn load_of(l: &PointLabel) -> (f64, String) {
    match l {
        PointLabel::Static { concurrency, .. } => (*concurrency as f64, concurrency.to_string()),
        PointLabel::Dynamic { request_rate, .. } => (request_rate.0, request_rate.to_string()),
        PointLabel::Replay { request_rate, .. } => {
            (request_rate.0, format!("{:.3}", request_rate.0))
        }
        PointLabel::Sessions { session_rate, .. } => (session_rate.0, session_rate.to_string()),
    }
}

/// Which line a point belongs to.
fn series_of(l: &PointLabel) -> String {
    match l {
        PointLabel::Static {
            prompt_tokens,
            output_tokens,
            ..
        } => format!("{prompt_tokens} in / {output_tokens} out"),
        PointLabel::Dynamic {
            burstiness,
            max_concurrency,
            ..
        } => {
            let mut s = String::from("this run");
            if *burstiness != 1.0 {
                s = format!("burstiness {burstiness}");
            }
            if let Some(c) = max_concurrency {
                s.push_str(&format!(", max conc {c}"));
            }
            s
        }
        PointLabel::Replay {
            trace,
            max_concurrency,
            ..
        } => match max_concurrency {
            Some(c) => format!("{trace}, max conc {c}"),
            None => trace.clone(),
        },
        PointLabel::Sessions { max_active, .. } => match max_active {
            Some(c) => format!("sessions, at most {c} active"),
            None => "sessions".to_string(),
        },
    }
}

/// The series of a run in first-seen order, each with its points by load.
fn series(run: &RunData) -> Vec<(String, Vec<&PointData>)> {
    let mut out: Vec<(String, Vec<&PointData>)> = Vec::new();
    for p in &run.points {
        let k = series_of(&p.label);
        match out.iter_mut().find(|(s, _)| *s == k) {
            Some((_, v)) => v.push(p),
            None => out.push((k, vec![p])),
        }
    }
    for (_, v) in &mut out {
        v.sort_by(|a, b| load_of(&a.label).0.total_cmp(&load_of(&b.label).0));
    }
    out
}

/// The load categories of both runs, in order.
fn categories(runs: &[&RunData]) -> Vec<(f64, String)> {
    let mut c: Vec<(f64, String)> = runs
        .iter()
        .flat_map(|r| r.points.iter().map(|p| load_of(&p.label)))
        .collect();
    c.sort_by(|a, b| a.0.total_cmp(&b.0));
    c.dedup_by(|a, b| a.0 == b.0);
    c
}

/// Lines of `get` against load (x = category index) or, with `x_get`,
/// against another figure (each dot then tagged with its load).
fn lines(inp: &Inputs<'_>, get: Get, x_get: Option<Get>, cats: &[(f64, String)]) -> Vec<Line> {
    let x_of = |p: &PointData| -> Option<f64> {
        match x_get {
            Some(g) => g(&p.summary),
            None => {
                let k = load_of(&p.label).0;
                cats.iter().position(|c| c.0 == k).map(|i| i as f64)
            }
        }
    };
    let line = |v: &[&PointData], label: Option<String>, color, dashed: bool| {
        let kept: Vec<&&PointData> = v
            .iter()
            .filter(|p| x_of(p).is_some() && get(&p.summary).is_some())
            .collect();
        Line {
            label,
            color,
            points: kept
                .iter()
                .filter_map(|p| Some((x_of(p)?, get(&p.summary)?)))
                .collect(),
            dashed,
            markers: true,
            tags: if x_get.is_some() && !dashed {
                kept.iter().map(|p| load_tag(&p.label)).collect()
            } else {
                Vec::new()
            },
        }
    };
    let new = series(inp.run);
    let mut out: Vec<Line> = new
        .iter()
        .enumerate()
        .map(|(i, (name, v))| line(v, Some(name.clone()), color(i), false))
        .collect();
    if let Some(base) = inp.base {
        let single = new.len() <= 1;
        for (j, (name, v)) in series(base).iter().enumerate() {
            let i = new
                .iter()
                .position(|(n, _)| n == name)
                .unwrap_or(new.len() + j);
            let (label, c) = if single {
                (format!("baseline {}", inp.base_name), GREY)
            } else {
                (format!("{name} (baseline)"), baseline_color(color(i)))
            };
            out.push(line(v, Some(label), c, true));
        }
    }
    out
}

/// A point's load as a short tag: `c8`, `4/s`.
fn load_tag(l: &PointLabel) -> String {
    match l {
        PointLabel::Static { concurrency, .. } => format!("c{concurrency}"),
        PointLabel::Dynamic { request_rate, .. } => format!("{request_rate}/s"),
        PointLabel::Replay { speedup, .. } => format!("{speedup}x"),
        PointLabel::Sessions { session_rate, .. } => format!("{session_rate} sess/s"),
    }
}

fn has_data(lines: &[Line]) -> bool {
    lines.iter().any(|l| !l.points.is_empty())
}

fn sweep_job<'a>(
    inp: &'a Inputs<'a>,
    file: &str,
    title: &str,
    y_desc: &'static str,
    get: Get,
    caption: &'static str,
) -> Job<'a> {
    let title = title.to_string();
    Job::new(file, &title.clone(), move || {
        let mut runs = vec![inp.run];
        runs.extend(inp.base);
        let cats = categories(&runs);
        let lines = lines(inp, get, None, &cats);
        if !has_data(&lines) {
            return Ok(None);
        }
        let (x_desc, cat_names) = match inp.run.meta.kind {
            RunKind::Static => (
                "concurrency (requests in flight; one step per level, not to scale)",
                cats,
            ),
            RunKind::Dynamic => ("request rate (req/s; inf = all at once)", cats),
        };
        let chart = LineChart {
            title,
            x_desc: x_desc.into(),
            y_desc: y_desc.into(),
            x: XAxis::Categories(cat_names.into_iter().map(|c| c.1).collect()),
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

/// The sweep figures of the run.
pub(crate) fn jobs<'a>(inp: &'a Inputs<'a>) -> Vec<Job<'a>> {
    let out_tp: Get = |s| Some(s.output_throughput);
    let ttft: Get = |s| s.ttft_ms.p(50.0);
    let tpot: Get = |s| s.tpot_ms.p(50.0);
    let e2el: Get = |s| s.e2el_ms.p(50.0);
    let tp_caption = "Output tokens of completed requests per second of wall time.";
    let ttft_caption =
        "Median time to first token: start of request to first token-carrying chunk.";
    let tpot_caption = "Median time per output token: (E2EL - TTFT) / (output tokens - 1).";
    let mut v = match inp.run.meta.kind {
        RunKind::Static => vec![
            sweep_job(
                inp,
                "throughput_vs_concurrency.svg",
                "Output throughput vs concurrency",
                "output throughput (tok/s)",
                out_tp,
                tp_caption,
            ),
            sweep_job(
                inp,
                "ttft_vs_concurrency.svg",
                "TTFT p50 vs concurrency",
                "TTFT p50 (ms)",
                ttft,
                ttft_caption,
            ),
            sweep_job(
                inp,
                "tpot_vs_concurrency.svg",
                "TPOT p50 vs concurrency",
                "TPOT p50 (ms)",
                tpot,
                tpot_caption,
            ),
        ],
        RunKind::Dynamic => vec![
            sweep_job(
                inp,
                "throughput_vs_rate.svg",
                "Output throughput vs request rate",
                "output throughput (tok/s)",
                out_tp,
                tp_caption,
            ),
            sweep_job(
                inp,
                "ttft_vs_rate.svg",
                "TTFT p50 vs request rate",
                "TTFT p50 (ms)",
                ttft,
                ttft_caption,
            ),
            sweep_job(
                inp,
                "tpot_vs_rate.svg",
                "TPOT p50 vs request rate",
                "TPOT p50 (ms)",
                tpot,
                tpot_caption,
            ),
            sweep_job(
                inp,
                "e2el_vs_rate.svg",
                "E2EL p50 vs request rate",
                "E2EL p50 (ms)",
                e2el,
                "Median end-to-end latency: start of request to last token.",
            ),
        ],
    };
    if inp.run.meta.kind == RunKind::Dynamic && !inp.run.meta.slo.is_empty() {
        v.push(sweep_job(
            inp,
            "goodput_vs_rate.svg",
            "Goodput vs request rate",
            "goodput (req/s meeting every SLO)",
            |s| s.goodput,
            "Requests per second that met every service-level objective set for the run.",
        ));
    }
    v.push(tradeoff_job(inp));
    v
}

fn tradeoff_job<'a>(inp: &'a Inputs<'a>) -> Job<'a> {
    Job::new("tradeoff.svg", "Latency-throughput trade-off", move || {
        let lines = lines(
            inp,
            |s| s.tpot_ms.p(50.0),
            Some(|s| Some(s.output_throughput)),
            &[],
        );
        if !has_data(&lines) {
            return Ok(None);
        }
        let chart = LineChart {
            title: "Latency-throughput trade-off".into(),
            x_desc: "output throughput (tok/s)".into(),
            y_desc: "TPOT p50 (ms)".into(),
            x: XAxis::Numeric,
            x_range: None,
            y_range: None,
            lines,
        };
        Ok(Some(Drawn {
            svg: draw_lines(&chart)?,
            caption: "Each dot is a point of the sweep, tagged with its load (c = concurrency, /s = request rate) and joined in order of load: further right is more throughput, higher is slower per token for each user.".into(),
        }))
    })
}
