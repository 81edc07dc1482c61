//! The report root's index: every benchmark found as `<id>/new/run.json`
//! under the root (and every capacity search, `<id>/new/capacity.json`, and
//! latency test, `<id>/new/latency.json`), with its headline figures and
//! its verdicts against the baseline, linking to each run's page.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::render;
use crate::analysis::RunComparison;
use crate::baseline::{
    load_capacity, load_run_head, CAPACITY_FILE, COMPARISON_FILE, HTML_DIR, RUN_FILE,
};
use crate::metrics::{unix_now_s, PointSummary, RunKind};
use crate::report::error::{write_file, ReportError};
use crate::report::figures::{num, utc, verdict_counts, VerdictCounts};

/// What `servebench latency` writes in its run folder.
const LATENCY_FILE: &str = "latency.json";

/// Benchmark ids are at most this many folders deep.
const MAX_ID_DEPTH: usize = 3;

/// One benchmark on the index.
#[derive(Debug, Serialize)]
struct Entry {
    id: String,
    /// The run page, relative to the root, when it exists.
    href: Option<String>,
    data_href: String,
    /// The data file's name (`run.json`, or `latency.json`).
    data_name: &'static str,
    name: String,
    model: String,
    kind: &'static str,
    started: String,
    points: usize,
    best_out_tok_s: String,
    ttft_p50: String,
    tpot_p50: String,
    failed: usize,
    interrupted: bool,
    stopped_early: bool,
    notes: Vec<String>,
    baseline: Option<String>,
    verdicts: Option<VerdictCounts>,
    gate_fails: bool,
}

#[derive(Debug, Serialize)]
struct IndexPage {
    root: String,
    entries: Vec<Entry>,
    problems: Vec<String>,
    generated: String,
}

/// Every `new/` folder holding a `run.json`, with its benchmark id.
fn find_runs(root: &Path) -> Vec<(String, PathBuf)> {
    fn walk(dir: &Path, rel: &[String], out: &mut Vec<(String, PathBuf)>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        let mut subs: Vec<(String, PathBuf)> = rd
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| Some((e.file_name().into_string().ok()?, e.path())))
            .collect();
        subs.sort();
        for (name, path) in subs {
            let run = [RUN_FILE, CAPACITY_FILE, LATENCY_FILE]
                .iter()
                .any(|f| path.join(f).is_file());
            if name == "new" && !rel.is_empty() && run {
                out.push((rel.join("/"), path));
            } else if rel.len() < MAX_ID_DEPTH && name != "new" {
                let mut r = rel.to_vec();
                r.push(name);
                walk(&path, &r, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, &[], &mut out);
    out
}

/// `lo–hi` of a figure over the points, or the one value.
fn span(v: impl Iterator<Item = Option<f64>>) -> String {
    let v: Vec<f64> = v.flatten().filter(|x| x.is_finite()).collect();
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if v.is_empty() {
        "-".into()
    } else if lo == hi {
        num(Some(lo))
    } else {
        format!("{} – {}", num(Some(lo)), num(Some(hi)))
    }
}

fn entry(
    root: &Path,
    id: String,
    new_dir: &Path,
    problems: &mut Vec<String>,
) -> Result<Entry, String> {
    let file = new_dir.join(RUN_FILE);
    if !file.is_file() {
        if new_dir.join(CAPACITY_FILE).is_file() {
            return capacity_entry(root, id, new_dir);
        }
        return latency_entry(root, id, new_dir);
    }
    let run = load_run_head(&file).map_err(|e| format!("not a servebench run: {e}"))?;
    let cmp_file = new_dir.join(COMPARISON_FILE);
    let cmp: Option<RunComparison> = if cmp_file.is_file() {
        match std::fs::read(&cmp_file)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
        {
            Ok(c) => Some(c),
            Err(e) => {
                problems.push(format!("{}: cannot read ({e})", cmp_file.display()));
                None
            }
        }
    } else {
        None
    };
    let rel = |p: &Path| relative(root, p);
    let page = new_dir.join(HTML_DIR).join("index.html");
    let s: Vec<&PointSummary> = run.points.iter().map(|p| &p.summary).collect();
    Ok(Entry {
        id,
        href: page.is_file().then(|| rel(&page)),
        data_href: rel(&file),
        data_name: RUN_FILE,
        name: run.meta.name.clone(),
        model: run.meta.model.clone(),
        kind: match run.meta.kind {
            RunKind::Static => "static",
            RunKind::Dynamic => "dynamic",
        },
        started: utc(run.meta.started_unix_s),
        points: run.points.len(),
        best_out_tok_s: num(s.iter().map(|s| s.output_throughput).reduce(f64::max)),
        ttft_p50: span(s.iter().map(|s| s.ttft_ms.p(50.0))),
        tpot_p50: span(s.iter().map(|s| s.tpot_ms.p(50.0))),
        failed: s.iter().map(|s| s.failed).sum(),
        interrupted: run.meta.interrupted,
        stopped_early: run.meta.stopped_early.is_some(),
        notes: run.meta.notes.clone(),
        baseline: cmp.as_ref().map(|c| c.baseline.clone()),
        verdicts: cmp.as_ref().map(verdict_counts),
        gate_fails: cmp.as_ref().is_some_and(|c| c.gate_fails()),
    })
}

/// `path` relative to `root`, with `/` separators.
fn relative(root: &Path, p: &Path) -> String {
    p.strip_prefix(root)
        .unwrap_or(p)
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// The entry of a capacity search (`servebench capacity`, a capacity
/// benchmark): its probes, their failures and the answer with its interval.
fn capacity_entry(root: &Path, id: String, new_dir: &Path) -> Result<Entry, String> {
    let file = new_dir.join(CAPACITY_FILE);
    let c = load_capacity(&file).map_err(|e| format!("not a servebench capacity search: {e}"))?;
    let page = new_dir.join(HTML_DIR).join("index.html");
    let mut notes = vec![c.headline()];
    notes.extend(c.notes.iter().cloned());
    Ok(Entry {
        id,
        href: page.is_file().then(|| relative(root, &page)),
        data_href: relative(root, &file),
        data_name: CAPACITY_FILE,
        name: c.name.clone(),
        model: c.model.clone(),
        kind: "capacity",
        started: utc(c.started_unix_s),
        points: c.probes.len(),
        best_out_tok_s: "-".into(),
        ttft_p50: "-".into(),
        tpot_p50: "-".into(),
        failed: c
            .probes
            .iter()
            .flat_map(|p| &p.epochs)
            .map(|e| e.failed)
            .sum(),
        interrupted: false,
        stopped_early: false,
        notes,
        baseline: None,
        verdicts: None,
        gate_fails: false,
    })
}

/// The entry of a latency test (`servebench latency`): its requests,
/// failures and the client's and the server's end-to-end medians.
fn latency_entry(root: &Path, id: String, new_dir: &Path) -> Result<Entry, String> {
    let file = new_dir.join(LATENCY_FILE);
    let rows: Vec<serde_json::Value> = std::fs::read(&file)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
        .map_err(|e| format!("{}: not a servebench latency test: {e}", file.display()))?;
    let ok: Vec<&serde_json::Value> = rows.iter().filter(|r| r["error"].is_null()).collect();
    let median = |get: &dyn Fn(&serde_json::Value) -> Option<f64>| {
        let mut v: Vec<f64> = ok.iter().filter_map(|r| get(r)).collect();
        v.sort_by(f64::total_cmp);
        crate::stats::percentile(&v, 50.0)
    };
    let client = median(&|r| r["client_e2e_ms"].as_f64());
    let server = median(&|r| r["server"]["request_latency"].as_f64());
    let started = std::fs::metadata(&file)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0.0, |d| d.as_secs_f64());
    let mut note = format!(
        "single-request latency test: client end-to-end p50 {} ms",
        num(client)
    );
    if server.is_some() {
        note.push_str(&format!(", server request latency p50 {} ms", num(server)));
    }
    Ok(Entry {
        name: id.clone(),
        id,
        href: None,
        data_href: relative(root, &file),
        data_name: LATENCY_FILE,
        model: "-".into(),
        kind: "latency",
        started: utc(started),
        points: rows.len(),
        best_out_tok_s: "-".into(),
        ttft_p50: "-".into(),
        tpot_p50: "-".into(),
        failed: rows.len() - ok.len(),
        interrupted: false,
        stopped_early: false,
        notes: vec![note],
        baseline: None,
        verdicts: None,
        gate_fails: false,
    })
}

/// Write `root/index.html`, listing every benchmark found as
/// `root/<id>/new/run.json`, `capacity.json` or `latency.json` (ids up to
/// three folders deep) with its headline
/// figures and, when `root/<id>/new/comparison.json` exists, its verdicts.
/// Files that cannot be read are listed on the page, not fatal.
pub fn write_index(root: &Path) -> Result<PathBuf, ReportError> {
    let mut entries = Vec::new();
    let mut problems = Vec::new();
    for (id, dir) in find_runs(root) {
        match entry(root, id, &dir, &mut problems) {
            Ok(e) => entries.push(e),
            Err(p) => problems.push(p),
        }
    }
    let page = IndexPage {
        root: root.display().to_string(),
        entries,
        problems,
        generated: utc(unix_now_s()),
    };
    let html = render("index.html", &page)?;
    let path = root.join("index.html");
    write_file(&path, &html)?;
    Ok(path)
}
