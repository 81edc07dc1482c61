//! A capacity benchmark under the harness: its search (with the flags'
//! reductions) run by the one engine, the capacity saved beside the other
//! benchmarks' runs, and compared with its baseline's by the intervals
//! ([`CapacityComparison`]).

use std::path::{Path, PathBuf};

use super::args::BenchArgs;
use super::execute::{validate, Plan};
use super::harness::BenchOutcome;
use super::sweep::Benchmark;
use super::{BenchError, Capacity};
use crate::analysis::CapacityComparison;
use crate::baseline::{keep_previous, load_capacity, save_capacity, ReportDir, HTML_DIR};
use crate::metrics::capacity::CapacityResult;
use crate::report::{write_capacity_csv, write_capacity_html, CAPACITY_CSV};
use crate::run::CapacitySearch;

/// Epochs of each probe under `--quick` (and at most this many more for an
/// uncertain probe, or at the boundary): [`QUICK_MAX_EPOCHS`].
const QUICK_EPOCHS: u32 = 2;
const QUICK_MAX_EPOCHS: u32 = 3;

/// The search `c` runs under `args`: `--epochs` (else the code's
/// `epochs`) for each probe's; `--quick` 2 epochs a probe, at most 3; smoke
/// mode (`cargo test --benches`) one probe at the lowest load, 2 epochs.
/// Checked; an error names the benchmark and the setting.
pub(crate) fn probe_search(
    args: &BenchArgs,
    id: &str,
    c: &Capacity,
) -> Result<CapacitySearch, BenchError> {
    let mut s = c.search_with_epochs(args.epochs.or(c.workload.settings.epochs));
    if args.smoke() {
        s.max = s.min;
        (s.epochs, s.max_epochs, s.boundary_epochs) = (2, 2, 2);
        s.max_probes = s.max_probes.max(2);
    } else if args.quick {
        s.epochs = QUICK_EPOCHS;
        s.max_epochs = s.max_epochs.clamp(QUICK_EPOCHS, QUICK_MAX_EPOCHS);
        s.boundary_epochs = s.boundary_epochs.clamp(QUICK_EPOCHS, QUICK_MAX_EPOCHS);
    }
    s.validate().map_err(|e| BenchError::Invalid {
        id: id.to_string(),
        reason: e.to_string(),
    })?;
    Ok(s)
}

/// Search (or load) one capacity benchmark, compare it with its baseline,
/// save it.
pub(crate) async fn run_capacity(
    args: &BenchArgs,
    reports: &ReportDir,
    plan: &Plan,
) -> BenchOutcome {
    let mut out = BenchOutcome::new(plan.id.clone());
    if let Err(e) = run_inner(args, reports, plan, &mut out).await {
        out.error = Some(e);
    }
    out
}

async fn run_inner(
    args: &BenchArgs,
    reports: &ReportDir,
    plan: &Plan,
    out: &mut BenchOutcome,
) -> Result<(), BenchError> {
    let Benchmark::Capacity(c) = &plan.bench else {
        return Err(BenchError::Invalid {
            id: plan.id.clone(),
            reason: "not a capacity benchmark".into(),
        });
    };
    validate(plan)?;
    if plan.ab.is_some() {
        return Err(BenchError::Invalid {
            id: plan.id.clone(),
            reason: "a capacity search runs against one endpoint: --ab (or Settings::ab) does \
                     not apply to it"
                .into(),
        });
    }
    let search = probe_search(args, &plan.id, c)?;
    let smoke = args.smoke();
    let saving = !smoke && !args.discard_baseline && args.load_baseline.is_none();
    let new_dir = reports.new_dir(&plan.id);
    let base = if smoke {
        None
    } else {
        super::baselines::pick(args, &|name| reports.capacity_file(&plan.id, name), &|p| {
            Ok(load_capacity(p)?)
        })?
    };
    let result = match &args.load_baseline {
        Some(name) if !smoke => load_capacity(&reports.capacity_file(&plan.id, name))?,
        _ => {
            if saving {
                keep_previous(&new_dir)?;
            }
            let mut probe = c.run_plan();
            probe.name = plan.id.clone();
            probe.warmup = plan.warmup;
            probe.seed = plan.seed;
            super::capacity::search_at(&plan.endpoint, &probe, &search, plan.quiet || smoke).await?
        }
    };
    let threshold = plan.bench.settings().compare_config(args).noise_threshold;
    let cmp = base.map(|(name, b)| CapacityComparison::of(&b, &result, &name, threshold));
    if saving {
        out.saved = save(reports, &new_dir, plan, args, &result, cmp.as_ref())?;
    }
    out.capacity = Some(result);
    out.capacity_comparison = cmp;
    Ok(())
}

/// `capacity.json`, `capacity.csv` and `report/index.html` in `new_dir`;
/// `capacity.json` again under `--save-baseline NAME`.
fn save(
    reports: &ReportDir,
    new_dir: &Path,
    plan: &Plan,
    args: &BenchArgs,
    c: &CapacityResult,
    cmp: Option<&CapacityComparison>,
) -> Result<Vec<PathBuf>, BenchError> {
    let mut saved = vec![save_capacity(new_dir, c)?];
    let csv = new_dir.join(CAPACITY_CSV);
    write_capacity_csv(&csv, c)?;
    saved.push(csv);
    match write_capacity_html(&new_dir.join(HTML_DIR), c, cmp, args.noplot) {
        Ok(p) => saved.push(p),
        Err(e) => eprintln!("warning: {}: the HTML report was not written: {e}", plan.id),
    }
    if let Some(name) = &args.save_baseline {
        saved.push(save_capacity(&reports.run_dir(&plan.id, name), c)?);
    }
    Ok(saved)
}
