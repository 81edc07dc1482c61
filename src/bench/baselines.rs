//! Which baseline a benchmark is judged against, and what can be known
//! about the gate before any load: the baselines a strict `--baseline`
//! lacks, the benchmarks too few epochs can never judge, and the size of the
//! run's one family of gated hypotheses.

use std::path::{Path, PathBuf};

use super::args::BenchArgs;
use super::execute::Plan;
use super::harness::BenchOutcome;
use super::sweep::Benchmark;
use super::BenchError;
use crate::baseline::{load_run, BaselineError, ReportDir, NEW_RUN};
use crate::metrics::RunData;

/// Under a strict `--baseline NAME`: the benchmarks lacking it, as errors
/// (checked before any load is sent). `None` when nothing is missing.
pub(crate) fn missing_baselines(
    args: &BenchArgs,
    reports: &ReportDir,
    plans: &[Plan],
) -> Option<Vec<BenchOutcome>> {
    let name = args.baseline.as_deref()?;
    if args.baseline_lenient || args.smoke() {
        return None;
    }
    let missing: Vec<BenchOutcome> = plans
        .iter()
        .filter(|p| !baseline_file(reports, p, name).is_file())
        .map(|p| BenchOutcome {
            error: Some(
                BaselineError::Missing {
                    path: baseline_file(reports, p, name),
                    hint: Some(format!(
                        "baseline `{name}` of {} was never saved; run `cargo bench -- --save-baseline {name}` first, or use --baseline-lenient",
                        p.id
                    )),
                }
                .into(),
            ),
            ..BenchOutcome::new(p.id.clone())
        })
        .collect();
    (!missing.is_empty()).then_some(missing)
}

/// The file holding baseline `name` of `plan`: its `run.json`, or the
/// `capacity.json` of a capacity search.
fn baseline_file(reports: &ReportDir, plan: &Plan, name: &str) -> PathBuf {
    match &plan.bench {
        Benchmark::Capacity(_) => reports.capacity_file(&plan.id, name),
        _ => reports.run_file(&plan.id, name),
    }
}

/// Under `--gate` with `--baseline NAME`, before any load: the benchmarks
/// the gate cannot judge whatever is measured, because this run plans, or
/// the saved baseline holds, fewer epochs a point than a verdict needs;
/// each line says how many would do.
pub(crate) fn gate_preflight(args: &BenchArgs, reports: &ReportDir, plans: &[Plan]) -> Vec<String> {
    let Some(name) = args
        .baseline
        .as_deref()
        .filter(|_| args.gate && !args.smoke())
    else {
        return Vec::new();
    };
    let mut why = Vec::new();
    // A capacity search is judged by its interval, whatever its epochs.
    let runs = plans
        .iter()
        .filter(|p| p.ab.is_none() && !matches!(p.bench, Benchmark::Capacity(_)));
    for p in runs {
        let need = p.bench.settings().compare_config(args).min_epochs.max(2);
        if (p.epochs as usize) < need {
            why.push(format!(
                "{}: {} epoch(s) a point cannot be judged (a verdict needs {need} a side): \
                 the gate will be inconclusive; run --epochs {need} or more",
                p.id, p.epochs
            ));
        }
        let Ok(head) = crate::baseline::load_run_head(&reports.run_file(&p.id, name)) else {
            continue;
        };
        if let Some(few) = head.points.iter().map(|h| h.summary.epochs).min() {
            if few < need {
                why.push(format!(
                    "{}: baseline `{name}` holds {few} epoch(s) at a point (a verdict needs \
                     {need} a side): the gate will be inconclusive; save it again with \
                     --epochs {need} or more",
                    p.id
                ));
            }
        }
    }
    why
}

/// The baseline to compare with, loaded: `--baseline`, else the previous
/// `--save-baseline NAME` run, else the previous run (`new`).
pub(super) fn pick_baseline(
    args: &BenchArgs,
    reports: &ReportDir,
    id: &str,
) -> Result<Option<(String, RunData)>, BenchError> {
    pick(args, &|name| reports.run_file(id, name), &|p| {
        Ok(load_run(p)?)
    })
}

/// [`pick_baseline`] of any saved file: `file(name)` is where run `name`
/// would be, `read` loads it.
pub(super) fn pick<T>(
    args: &BenchArgs,
    file: &dyn Fn(&str) -> PathBuf,
    read: &dyn Fn(&Path) -> Result<T, BenchError>,
) -> Result<Option<(String, T)>, BenchError> {
    let load = |name: &str, label: &str| -> Result<Option<(String, T)>, BenchError> {
        let path = file(name);
        if path.is_file() {
            Ok(Some((label.to_string(), read(&path)?)))
        } else {
            Ok(None)
        }
    };
    if let Some(b) = &args.baseline {
        let found = load(b, b)?;
        if found.is_none() && !args.baseline_lenient {
            return Err(BaselineError::Missing {
                path: file(b),
                hint: Some(format!("save it with --save-baseline {b}")),
            }
            .into());
        }
        return Ok(found);
    }
    if args.load_baseline.is_some() {
        return Ok(None);
    }
    if let Some(s) = &args.save_baseline {
        if let Some(found) = load(s, s)? {
            return Ok(Some(found));
        }
    }
    load(NEW_RUN, "previous run")
}

/// Gated hypotheses `plan` will put to the gate: its points times its
/// gated metrics (known before any load).
pub(crate) fn gated_hypotheses(args: &BenchArgs, plan: &Plan) -> usize {
    let points = match &plan.bench {
        Benchmark::Static(s) => s.pairs.len() * s.concurrencies.len(),
        Benchmark::Dynamic(d) => d.rates.len(),
        Benchmark::Replay(r) => r.speedups.len(),
        Benchmark::Sessions(s) => s.rates.len(),
        // Judged by its interval, not by a test of hypotheses.
        Benchmark::Capacity(_) => 0,
    };
    points * plan.bench.settings().gated(args).len()
}
