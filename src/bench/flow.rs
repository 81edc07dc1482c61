//! One benchmark from plan to saved, compared run: which baseline, what
//! to measure (or load), what to save.

use std::path::{Path, PathBuf};

use super::args::BenchArgs;
use super::execute::{measure, Plan};
use super::harness::{BenchOutcome, Harness};
use super::sweep::Benchmark;
use super::BenchError;
use crate::analysis::{compare_runs_in_family, RunComparison};
use crate::baseline::{load_run, save_run, ReportDir};
use crate::metrics::RunData;
use crate::report::{ReportInput, Reports};

/// Epochs when nothing says otherwise.
pub const DEFAULT_EPOCHS: u32 = 5;
/// Epochs (at most) under `--quick`.
const QUICK_EPOCHS: u32 = 3;
/// Epochs a point under `--calibrate` without `--epochs`.
pub const CALIBRATION_EPOCHS: u32 = 10;
/// Smoke mode: prompts at most this long, outputs at most [`SMOKE_OUTPUT`].
const SMOKE_PROMPT: usize = 32;
const SMOKE_OUTPUT: usize = 4;

/// Resolve a registered benchmark into its plan: flags over settings, then
/// `--quick` or smoke-mode reductions.
pub(crate) fn reduce(h: &Harness, id: &str, b: &Benchmark) -> Plan {
    let args = &h.args;
    let s = b.settings();
    let mut notes = Vec::new();
    let mut problem = None;
    // Epochs: the flag, else (unless calibrating) this benchmark's saved
    // calibration, else the code, else the default.
    let calibrated = if args.smoke() || args.calibrate || args.epochs.is_some() {
        None
    } else {
        let dir = h.reports().root().join(id);
        match crate::baseline::load_calibration(&dir) {
            Ok(Some(c)) => {
                notes.push(format!(
                    "{} epochs a point, as calibrated in {} for an MDE of {:.1} %",
                    c.epochs_to_use(),
                    dir.join(crate::baseline::CALIBRATION_FILE).display(),
                    100.0 * c.target_mde
                ));
                Some(c.epochs_to_use())
            }
            Ok(None) => None,
            Err(e) => {
                problem = Some(format!(
                    "{e} (delete it or run `cargo bench -- --calibrate`)"
                ));
                None
            }
        }
    };
    let mut epochs = if args.calibrate {
        args.epochs.unwrap_or(CALIBRATION_EPOCHS)
    } else {
        args.epochs
            .or(calibrated)
            .or(s.epochs)
            .unwrap_or(DEFAULT_EPOCHS)
    };
    let mut warmup = args.warmup.or(s.warmup);
    let mut bench = b.clone();
    if args.quick {
        epochs = epochs.min(QUICK_EPOCHS);
        warmup = Some(warmup.unwrap_or(1).min(1));
    }
    if args.smoke() {
        epochs = 1;
        warmup = Some(0);
        match &mut bench {
            Benchmark::Static(st) => {
                let (p, o) = st
                    .pairs
                    .first()
                    .copied()
                    .unwrap_or((SMOKE_PROMPT, SMOKE_OUTPUT));
                st.pairs = vec![(p.clamp(1, SMOKE_PROMPT), o.clamp(1, SMOKE_OUTPUT))];
                st.concurrencies = vec![1];
                st.requests_per_worker = 1;
                st.shared_prefix_tokens = st.shared_prefix_tokens.min(SMOKE_PROMPT / 2);
            }
            // A capacity search's probes send its workload; the search
            // itself is shrunk by `capacity_flow::probe_search`.
            Benchmark::Dynamic(d) | Benchmark::Capacity(super::Capacity { workload: d, .. }) => {
                d.rates.truncate(1);
                d.num_prompts = d.num_prompts.min(2);
                let w = &mut d.workload;
                w.max_input = w
                    .max_input
                    .min(SMOKE_PROMPT)
                    .max(w.min_input.min(SMOKE_PROMPT));
                w.min_input = w.min_input.min(w.max_input);
                w.avg_input = w.avg_input.clamp(w.min_input as f64, w.max_input as f64);
                w.max_output = w.max_output.min(SMOKE_OUTPUT);
                w.min_output = w.min_output.min(w.max_output);
                w.avg_output = w.avg_output.clamp(w.min_output as f64, w.max_output as f64);
                if let Some(sp) = &mut d.shared_prefix {
                    // One group of two: the second finds the first's prefix.
                    sp.groups = sp.groups.min(1);
                    sp.prompts_per_group = sp.prompts_per_group.min(2);
                    sp.prefix_tokens = sp.prefix_tokens.min(SMOKE_PROMPT / 2);
                    sp.question_tokens = sp.question_tokens.min(SMOKE_PROMPT / 2);
                    sp.output_tokens = sp.output_tokens.min(SMOKE_OUTPUT);
                }
            }
            Benchmark::Sessions(s) => {
                s.rates.truncate(1);
                s.num_sessions = s.num_sessions.min(1);
                s.shape.turns = s.shape.turns.min(2);
                s.shape.user_tokens = s.shape.user_tokens.clamp(1, SMOKE_PROMPT);
                s.shape.output_tokens = s.shape.output_tokens.clamp(1, SMOKE_OUTPUT);
                s.think_time_ms = 0.0;
            }
            Benchmark::Replay(r) => {
                r.speedups.truncate(1);
                r.window.max_requests = Some(r.window.max_requests.unwrap_or(2).min(2));
            }
        }
    }
    if let Benchmark::Replay(r) = &mut bench {
        if let Err(e) = r.load() {
            problem.get_or_insert(e.to_string());
        }
    }
    // Adaptive epochs: not in smoke, --quick or --calibrate runs, whose
    // epochs are fixed.
    let precision = if args.smoke() || args.quick || args.calibrate {
        None
    } else {
        crate::run::Precision::from_flags(
            args.target_mde.or(s.target_mde),
            args.max_epochs.or(s.max_epochs),
            epochs,
            s.gated(args),
            s.compare_config(args).significance,
        )
        .unwrap_or_else(|(flag, reason)| {
            problem.get_or_insert(format!("{flag} (or the setting): {reason}"));
            None
        })
    };
    let endpoint = s.endpoint_args(&args.endpoint, &h.env);
    // Interleaved A/B (not in smoke runs, which measure once).
    let ab = match args.ab.as_ref().or(s.ab.as_ref()) {
        Some(_) if args.smoke() => None,
        Some(_) if s.ab.is_some() && (args.baseline.is_some() || args.save_baseline.is_some()) => {
            problem.get_or_insert(
                "runs as an A/B of two live endpoints (Settings::ab): no baseline to save or \
                 compare with"
                    .into(),
            );
            None
        }
        Some(b) => match crate::run::side_spec(&endpoint, b, "--ab (or Settings::ab)") {
            Ok(spec) => Some(spec),
            Err(e) => {
                problem.get_or_insert(e.to_string());
                None
            }
        },
        None => None,
    };
    Plan {
        id: id.to_string(),
        bench,
        precision,
        notes,
        problem,
        ab,
        endpoint,
        epochs,
        warmup,
        slo: s.slo.unwrap_or_default(),
        seed: s.seed.unwrap_or(0),
        quiet: args.quiet,
    }
}

/// `--calibrate`: measure the plan's A/A epochs (saved as no run),
/// calibrate and save `<report-dir>/<id>/calibration.json`, which later runs
/// of the benchmark take their epochs from.
pub(crate) async fn calibrate_one(
    args: &BenchArgs,
    reports: &ReportDir,
    plan: &Plan,
) -> BenchOutcome {
    let mut out = BenchOutcome::new(plan.id.clone());
    let run = match measure(plan, None).await {
        Ok(run) => run,
        Err(e) => {
            out.error = Some(e);
            return out;
        }
    };
    let s = plan.bench.settings();
    let c = crate::analysis::calibrate(
        &run,
        &s.gated(args),
        args.target_mde
            .or(s.target_mde)
            .unwrap_or(crate::analysis::DEFAULT_TARGET_MDE),
        &s.compare_config(args),
        args.max_epochs
            .or(s.max_epochs)
            .unwrap_or(crate::run::DEFAULT_MAX_EPOCHS),
    );
    let dir = reports.root().join(&plan.id);
    match crate::baseline::save_calibration(&dir, &c) {
        Ok(path) => {
            if !args.quiet {
                crate::out!(
                    "{}: calibration ({} A/A epochs a point)\n{}saved {}\n",
                    plan.id,
                    plan.epochs,
                    crate::analysis::calibration_table(&c),
                    path.display()
                );
            }
            out.saved.push(path);
        }
        Err(e) => out.error = Some(e.into()),
    }
    out.run = Some(run);
    out
}

/// Measure (or load) one benchmark, compare it, save it. `family`: the
/// size of the gate's family across every benchmark (0: this one alone).
pub(crate) async fn run_one(
    args: &BenchArgs,
    reports: &ReportDir,
    plan: &Plan,
    family: usize,
) -> BenchOutcome {
    let mut out = BenchOutcome::new(plan.id.clone());
    if let Err(e) = run_one_inner(args, reports, plan, family, &mut out).await {
        out.error = Some(e);
    }
    out
}

async fn run_one_inner(
    args: &BenchArgs,
    reports: &ReportDir,
    plan: &Plan,
    family: usize,
    out: &mut BenchOutcome,
) -> Result<(), BenchError> {
    let smoke = args.smoke();
    let saving = !smoke && !args.discard_baseline && args.load_baseline.is_none();
    let new_dir = reports.new_dir(&plan.id);
    if let Some(spec_b) = &plan.ab {
        return run_ab(args, reports, plan, spec_b, family, saving, out).await;
    }
    let base = if smoke {
        None
    } else {
        super::baselines::pick_baseline(args, reports, &plan.id)?
    };
    let run = match &args.load_baseline {
        Some(name) if !smoke => load_run(&reports.run_file(&plan.id, name))?,
        _ => {
            if saving {
                // The previous run (already loaded as the baseline when it
                // is one) is kept in `previous/`.
                crate::baseline::keep_previous(&new_dir)?;
            }
            let records = saving.then(|| new_dir.join(crate::baseline::RECORDS_FILE));
            measure(plan, records.as_deref()).await?
        }
    };
    if let Some(p) = run.points.iter().find(|p| p.summary.completed == 0) {
        let first = p
            .epochs
            .iter()
            .flatten()
            .find_map(|r| r.failure.as_ref())
            .map(|f| format!("{f:?}"))
            .unwrap_or_else(|| "no request sent".into());
        return Err(BenchError::AllFailed {
            id: plan.id.clone(),
            point: p.label.id(),
            first,
        });
    }
    let bench_dir = reports.bench_dir(&plan.id);
    let mut history = crate::baseline::History::load(&bench_dir);
    let comparison = base.as_ref().map(|(name, b)| {
        let s = plan.bench.settings();
        compare_runs_in_family(
            b,
            &run,
            name,
            &s.gated(args),
            &s.compare_config(args),
            family,
            Some(&history),
        )
    });
    if saving {
        out.saved = save_all(
            reports,
            &new_dir,
            plan,
            args,
            &run,
            comparison.as_ref(),
            base.as_ref().map(|b| &b.1),
        )?;
        history.append(&bench_dir, &run)?;
    }
    out.run = Some(run);
    out.comparison = comparison;
    Ok(())
}

/// A benchmark as an interleaved A/B: its endpoint (A) against `spec_b`,
/// ABBA epochs, B judged against A with paired statistics; B's run is the
/// benchmark's new run, saved with the comparison.
async fn run_ab(
    args: &BenchArgs,
    reports: &ReportDir,
    plan: &Plan,
    spec_b: &crate::run::TargetSpec,
    family: usize,
    saving: bool,
    out: &mut BenchOutcome,
) -> Result<(), BenchError> {
    super::execute::validate(plan)?;
    let ta = crate::run::resolve_target(&plan.endpoint).await?;
    let tb = match crate::run::resolve_target(spec_b).await {
        Ok(t) => t,
        Err(e) => {
            ta.stop().await;
            return Err(e.into());
        }
    };
    let result = crate::run::execute_ab(&ta, &tb, &plan.run_plan(), plan.quiet).await;
    ta.stop().await;
    tb.stop().await;
    let (run_a, run_b) = result?;
    let s = plan.bench.settings();
    let cmp = crate::analysis::compare_runs_paired(
        &run_a,
        &run_b,
        "A",
        &s.gated(args),
        &s.compare_config(args),
        family,
    );
    if saving {
        let new_dir = reports.new_dir(&plan.id);
        crate::baseline::keep_previous(&new_dir)?;
        out.saved = save_all(
            reports,
            &new_dir,
            plan,
            args,
            &run_b,
            Some(&cmp),
            Some(&run_a),
        )?;
    }
    out.run = Some(run_b);
    out.comparison = Some(cmp);
    Ok(())
}

fn save_all(
    reports: &ReportDir,
    new_dir: &Path,
    plan: &Plan,
    args: &BenchArgs,
    run: &RunData,
    cmp: Option<&RunComparison>,
    base: Option<&RunData>,
) -> Result<Vec<PathBuf>, BenchError> {
    // The index of every run is refreshed once, after the last benchmark,
    // and the terminal report is printed by the harness.
    let input = ReportInput {
        dir: new_dir,
        root: None,
        id: &plan.id,
        run,
        comparison: cmp.zip(base),
    };
    let written = Reports::standard(None, args.noplot, None).write(&input)?;
    for w in &written.warnings {
        eprintln!("warning: {}: {w}", plan.id);
    }
    let mut saved = written.files;
    if let Some(name) = &args.save_baseline {
        let p = reports.run_file(&plan.id, name);
        save_run(&p, run)?;
        saved.push(p);
    }
    Ok(saved)
}
