//! What the run page shows, as plain strings for `templates/report.html`.
//! Every string from a run goes to the template unescaped here; the template
//! engine escapes it (autoescape is on for `.html` templates).

use std::path::Path;

use serde::Serialize;

use crate::analysis::{MetricId, RunComparison};
use crate::metrics::{failure_counts, unix_now_s, RunData, RunKind};
use crate::report::figures::{
    headline_rows, metric_title, num, utc, verdict_counts, warnings, ChangeRow, HeadlineRow,
    VerdictCounts,
};
use crate::report::plots::{breakdown_rows, BreakdownRow, Figures};

/// The comparison part of the page.
#[derive(Debug, Serialize)]
pub(crate) struct ComparisonView {
    pub baseline: String,
    pub counts: VerdictCounts,
    pub gate_fails: bool,
    pub confidence: String,
    pub noise: String,
    pub rows: Vec<ChangeRow>,
    /// The gated metrics that regressed.
    pub regressions: Vec<ChangeRow>,
    /// Metric titles: the matrix's columns.
    pub metrics: Vec<String>,
    /// One row per point: the change of each metric.
    pub matrix: Vec<MatrixRow>,
    pub unmatched: Vec<String>,
    /// Whether the intervals count run-to-run noise, and from how many runs.
    pub run_noise: Option<String>,
}

/// One point of the change matrix.
#[derive(Debug, Serialize)]
pub(crate) struct MatrixRow {
    pub point: String,
    /// One cell per column of `metrics`; `None` where not compared.
    pub cells: Vec<Option<ChangeRow>>,
}

/// Failures of one point by category.
#[derive(Debug, Serialize)]
pub(crate) struct FailureRow {
    pub point: String,
    pub counts: Vec<usize>,
    pub total: usize,
}

/// One epoch of one point.
#[derive(Debug, Serialize)]
pub(crate) struct EpochRow {
    pub point: String,
    pub epoch: u32,
    pub wall_s: String,
    pub completed: usize,
    pub failed: usize,
    pub req_s: String,
    pub out_tok_s: String,
}

/// A link to a raw data file next to the report folder.
#[derive(Debug, Serialize)]
pub(crate) struct RawLink {
    pub href: String,
    pub name: String,
}

/// The whole run page.
#[derive(Debug, Serialize)]
pub(crate) struct Page {
    pub name: String,
    pub meta: Vec<(String, String)>,
    pub warnings: Vec<String>,
    pub dynamic: bool,
    pub goodput: bool,
    pub headline: Vec<HeadlineRow>,
    pub failure_kinds: Vec<String>,
    pub failures: Vec<FailureRow>,
    pub epochs: Vec<EpochRow>,
    pub breakdown: Vec<BreakdownRow>,
    /// What the server's own metrics showed.
    pub server: super::server::ServerSection,
    pub comparison: Option<ComparisonView>,
    pub plots: bool,
    pub figures: Figures,
    pub raw: Vec<RawLink>,
    pub generated: String,
}

fn meta_rows(run: &RunData) -> Vec<(String, String)> {
    let m = &run.meta;
    let mut v = vec![
        ("Model".to_string(), m.model.clone()),
        (
            "Server".into(),
            if m.embedded_sim {
                format!("embedded simulator ({})", m.base_url)
            } else {
                m.base_url.clone()
            },
        ),
        ("Backend".into(), m.backend.clone()),
        (
            "Benchmark".into(),
            match m.kind {
                RunKind::Static => "static: closed loop, fixed concurrency".into(),
                RunKind::Dynamic => "dynamic: open loop, request rate".into(),
            },
        ),
        ("Tokenizer".into(), m.tokenizer.clone()),
        ("Started".into(), utc(m.started_unix_s)),
        ("Points".into(), run.points.len().to_string()),
    ];
    let pcts: Vec<String> = m.percentiles.iter().map(|p| format!("p{p}")).collect();
    v.push(("Percentiles".into(), pcts.join(", ")));
    if !m.slo.is_empty() {
        let mut slo = Vec::new();
        for (name, val) in [
            ("TTFT", m.slo.ttft_ms),
            ("TPOT", m.slo.tpot_ms),
            ("E2EL", m.slo.e2el_ms),
        ] {
            if let Some(x) = val {
                slo.push(format!("{name} ≤ {x} ms"));
            }
        }
        v.push(("SLOs (goodput)".into(), slo.join(", ")));
    }
    v.push(("servebench".into(), m.servebench_version.clone()));
    v
}

fn comparison_view(c: &RunComparison) -> ComparisonView {
    let rows: Vec<ChangeRow> = c.metrics.iter().map(ChangeRow::of).collect();
    let regressions: Vec<ChangeRow> = rows
        .iter()
        .filter(|r| r.gated && r.verdict == "regressed")
        .cloned()
        .collect();
    let ids: Vec<MetricId> = MetricId::ALL
        .into_iter()
        .filter(|m| c.metrics.iter().any(|x| x.metric == *m))
        .collect();
    let mut matrix: Vec<MatrixRow> = Vec::new();
    for (m, r) in c.metrics.iter().zip(&rows) {
        if matrix.last().is_none_or(|x| x.point != m.point) {
            matrix.push(MatrixRow {
                point: m.point.clone(),
                cells: vec![None; ids.len()],
            });
        }
        if let (Some(row), Some(col)) = (matrix.last_mut(), ids.iter().position(|i| *i == m.metric))
        {
            row.cells[col] = Some(r.clone());
        }
    }
    ComparisonView {
        regressions,
        metrics: ids.iter().map(|m| metric_title(*m).to_string()).collect(),
        matrix,
        baseline: c.baseline.clone(),
        counts: verdict_counts(c),
        gate_fails: c.gate_fails(),
        confidence: format!("{:.0} %", c.config.confidence * 100.0),
        noise: format!("±{:.1} %", c.config.noise_threshold * 100.0),
        rows,
        unmatched: c.unmatched_points.clone(),
        run_noise: c.run_noise_note(),
    }
}

/// Data files beside the report folder (`../run.json`, CSVs, Markdown).
fn raw_links(dir: &Path) -> Vec<RawLink> {
    let Some(parent) = dir.parent() else {
        return Vec::new();
    };
    let Ok(rd) = std::fs::read_dir(parent) else {
        return Vec::new();
    };
    let mut v: Vec<RawLink> = rd
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| {
            [".json", ".csv", ".md", ".jsonl"]
                .iter()
                .any(|x| n.ends_with(x))
        })
        .map(|n| RawLink {
            href: format!("../{n}"),
            name: n,
        })
        .collect();
    v.sort_by(|a, b| a.name.cmp(&b.name));
    v
}

/// Everything the run page shows.
pub(crate) fn page(
    dir: &Path,
    run: &RunData,
    comparison: Option<&RunComparison>,
    plots: bool,
    figures: Figures,
) -> Page {
    let kinds = crate::metrics::FailureKind::ALL;
    let failures: Vec<FailureRow> = run
        .points
        .iter()
        .filter(|p| p.summary.failed > 0)
        .map(|p| FailureRow {
            point: p.label.id(),
            counts: failure_counts(&p.summary)
                .into_iter()
                .map(|(_, n)| n)
                .collect(),
            total: p.summary.failed,
        })
        .collect();
    let epochs = run
        .points
        .iter()
        .flat_map(|p| {
            p.summary.per_epoch.iter().map(move |e| EpochRow {
                point: p.label.id(),
                epoch: e.epoch,
                wall_s: num(Some(e.wall_s)),
                completed: e.completed,
                failed: e.failed,
                req_s: num(Some(e.request_throughput)),
                out_tok_s: num(Some(e.output_throughput)),
            })
        })
        .collect();
    Page {
        name: run.meta.name.clone(),
        meta: meta_rows(run),
        warnings: warnings(run),
        dynamic: run.meta.kind == RunKind::Dynamic,
        goodput: !run.meta.slo.is_empty(),
        headline: headline_rows(run),
        failure_kinds: kinds.iter().map(|k| k.as_str().to_string()).collect(),
        failures,
        epochs,
        breakdown: breakdown_rows(run),
        server: super::server::server_section(run),
        comparison: comparison.map(comparison_view),
        plots,
        figures,
        raw: raw_links(dir),
        generated: utc(unix_now_s()),
    }
}
