//! The harness a bench binary drives: benchmarks are registered (directly
//! or through groups), then [`Harness::run`] selects, measures, compares,
//! saves and reports them according to the command line.

use crate::load::spawner::block_on_task;
use std::path::PathBuf;

use super::args::{BenchArgs, HELP};
use super::execute::Plan;
use super::settings::Settings;
use super::sweep::Benchmark;
use super::{gate, reduce, run_one, terminal, BenchError};
use crate::analysis::{CapacityComparison, GateVerdict, RunComparison};
use crate::baseline::{sanitize_id, ReportDir, DEFAULT_REPORT_DIR, REPORT_DIR_ENV};
use crate::metrics::capacity::{num, CapacityResult};
use crate::metrics::RunData;

/// Registered benchmarks and the parsed command line.
///
/// ```no_run
/// use servebench::bench::{BenchArgs, Configure, Harness, Settings, StaticSweep};
/// let mut h = Harness::new(BenchArgs::parse(["--bench"]).unwrap());
/// h.report_dir("/tmp/reports");
/// h.group("static")
///     .settings(Settings::new().sim("time_scale=0.2").epochs(3))
///     .bench(StaticSweep::new("short").pair(64, 8).concurrencies([1, 2]));
/// let outcome = h.run();
/// std::process::exit(outcome.exit_code());
/// ```
pub struct Harness {
    pub(crate) args: BenchArgs,
    settings: Settings,
    report_dir: Option<PathBuf>,
    benches: Vec<(String, Benchmark)>,
    problems: Vec<BenchError>,
    pub(crate) env: fn(&str) -> Option<String>,
}

/// A set of benchmarks sharing an id prefix and settings.
pub struct Group<'a> {
    harness: &'a mut Harness,
    name: String,
    settings: Settings,
}

impl Group<'_> {
    /// Settings for the benchmarks registered after this call (over those
    /// already given to the group).
    pub fn settings(&mut self, s: Settings) -> &mut Self {
        self.settings = s.over(&self.settings);
        self
    }

    /// Register a benchmark as `group/name[/param]`.
    pub fn bench(&mut self, b: impl Into<Benchmark>) -> &mut Self {
        let mut b = b.into();
        let base = self.settings.over(&self.harness.settings);
        *b.settings_mut() = b.settings().over(&base);
        let id = format!("{}/{}", self.name, b.local_id());
        self.harness.register(id, b);
        self
    }
}

/// What happened to one benchmark.
#[derive(Debug)]
pub struct BenchOutcome {
    pub id: String,
    pub run: Option<RunData>,
    /// The run against its baseline, when there was one.
    pub comparison: Option<RunComparison>,
    pub error: Option<BenchError>,
    /// Files written.
    pub saved: Vec<PathBuf>,
    /// What a capacity benchmark found (it has no `run`).
    pub capacity: Option<CapacityResult>,
    /// Its capacity against the baseline's, when there was one.
    pub capacity_comparison: Option<CapacityComparison>,
}

impl BenchOutcome {
    /// The outcome of benchmark `id` before anything happened.
    pub fn new(id: String) -> Self {
        BenchOutcome {
            id,
            run: None,
            comparison: None,
            error: None,
            saved: Vec::new(),
            capacity: None,
            capacity_comparison: None,
        }
    }
}

/// What a whole harness run did.
#[derive(Debug, Default)]
pub struct Outcome {
    pub benches: Vec<BenchOutcome>,
    /// Said before any load: what the gate will not be able to judge.
    pub warnings: Vec<String>,
    /// `--gate` was given.
    pub gated: bool,
    /// `--gate-allow-inconclusive` was given.
    pub allow_inconclusive: bool,
    /// The gate summary, when written.
    pub gate_summary: Option<PathBuf>,
}

impl Outcome {
    /// The gate's verdict over every benchmark (`None` without `--gate`):
    /// runs by their comparisons, capacity searches by their intervals.
    pub fn gate(&self) -> Option<GateVerdict> {
        self.gated.then(|| gate::verdict(self))
    }

    /// True when `--gate` was given and a gated metric regressed.
    pub fn gate_fails(&self) -> bool {
        matches!(self.gate(), Some(GateVerdict::Failed { .. }))
    }

    /// The errors, one per failed benchmark.
    pub fn errors(&self) -> impl Iterator<Item = (&str, &BenchError)> {
        self.benches
            .iter()
            .filter_map(|b| b.error.as_ref().map(|e| (b.id.as_str(), e)))
    }

    /// 0 all well; 1 the gate failed; 2 a benchmark could not run or
    /// compare; 6 the gate could not judge something (see
    /// [`crate::analysis::GATE_INCONCLUSIVE`]).
    pub fn exit_code(&self) -> i32 {
        if self.errors().next().is_some() {
            2
        } else {
            self.gate().map_or(0, |g| g.exit_code())
        }
    }
}

fn std_env(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

impl Harness {
    /// A harness for these flags, with no benchmark yet.
    pub fn new(args: BenchArgs) -> Self {
        Harness {
            args,
            settings: Settings::default(),
            report_dir: None,
            benches: Vec::new(),
            problems: Vec::new(),
            env: std_env,
        }
    }

    /// The flags.
    pub fn args(&self) -> &BenchArgs {
        &self.args
    }

    /// Put reports under `dir` (`--report-dir` still wins; this beats
    /// `SERVEBENCH_REPORT_DIR`).
    pub fn report_dir(&mut self, dir: impl Into<PathBuf>) -> &mut Self {
        self.report_dir = Some(dir.into());
        self
    }

    /// Read `SERVEBENCH_*` variables through `lookup` instead of the process
    /// environment (tests use `|_| None`).
    pub fn env_lookup(&mut self, lookup: fn(&str) -> Option<String>) -> &mut Self {
        self.env = lookup;
        self
    }

    /// The report folder: `--report-dir`, else [`Harness::report_dir`], else
    /// `SERVEBENCH_REPORT_DIR`, else `target-reports`.
    pub fn reports(&self) -> ReportDir {
        let env = (self.env)(REPORT_DIR_ENV).filter(|v| !v.is_empty());
        match (&self.args.report_dir, &self.report_dir, env) {
            (Some(d), _, _) | (None, Some(d), _) => ReportDir::new(d),
            (None, None, Some(e)) => ReportDir::new(e),
            (None, None, None) => ReportDir::new(DEFAULT_REPORT_DIR),
        }
    }

    /// Settings for benchmarks registered after this call.
    pub fn settings(&mut self, s: Settings) -> &mut Self {
        self.settings = s.over(&self.settings);
        self
    }

    /// Run `f` with `s` over the current settings, then restore them (what
    /// `group!(name = ...; config = ...; targets = ...)` does).
    pub fn with_settings(&mut self, s: Settings, f: impl FnOnce(&mut Harness)) {
        let saved = self.settings.clone();
        self.settings = s.over(&saved);
        f(self);
        self.settings = saved;
    }

    /// A group: benchmarks registered through it get ids `name/...`.
    pub fn group(&mut self, name: impl Into<String>) -> Group<'_> {
        Group {
            harness: self,
            name: name.into(),
            settings: Settings::default(),
        }
    }

    /// Register a benchmark with id `name[/param]`.
    pub fn bench(&mut self, b: impl Into<Benchmark>) -> &mut Self {
        let mut b = b.into();
        *b.settings_mut() = b.settings().over(&self.settings);
        self.register(b.local_id(), b);
        self
    }

    fn register(&mut self, id: String, b: Benchmark) {
        let id = sanitize_id(&id);
        if self.benches.iter().any(|(i, _)| *i == id) {
            self.problems.push(BenchError::Invalid {
                id,
                reason: "registered twice; ids must be unique".into(),
            });
            return;
        }
        self.benches.push((id, b));
    }

    /// Every registered id, in registration order.
    pub fn ids(&self) -> Vec<&str> {
        self.benches.iter().map(|(i, _)| i.as_str()).collect()
    }

    /// The ids the filters select.
    pub fn selected(&self) -> Vec<&str> {
        self.ids()
            .into_iter()
            .filter(|id| self.args.selects(id))
            .collect()
    }

    /// The resolved plan of each selected benchmark (smoke and quick
    /// reductions applied; endpoint layers resolved).
    pub fn plans(&self) -> Vec<Plan> {
        self.benches
            .iter()
            .filter(|(id, _)| self.args.selects(id))
            .map(|(id, b)| reduce(self, id, b))
            .collect()
    }

    /// What `--list` prints: libtest's `<id>: benchmark` line for each
    /// selected benchmark (what tools parse), each followed by the ids of
    /// its points, indented.
    pub fn list(&self) -> Vec<String> {
        self.plans()
            .iter()
            .flat_map(|plan| {
                let points = match &plan.bench {
                    Benchmark::Capacity(c) => format!(
                        "a capacity search of the {} from {} to {} {}",
                        c.search.mode.load_name(),
                        num(c.search.min),
                        num(c.search.max),
                        c.search.mode.unit()
                    ),
                    _ => {
                        let labels = plan.run_plan().labels();
                        let ids: Vec<String> = labels.iter().map(|l| l.id()).collect();
                        ids.join(" ")
                    }
                };
                [
                    format!("{}: benchmark", plan.id),
                    format!("    points: {points}"),
                ]
            })
            .collect()
    }

    /// Run the selected benchmarks as the flags say (`--help` and `--list`
    /// only print). Builds its own Tokio runtime: call it outside one.
    pub fn run(&mut self) -> Outcome {
        let mut outcome = Outcome {
            gated: self.args.gate && !self.args.smoke(),
            allow_inconclusive: self.args.gate_allow_inconclusive,
            ..Default::default()
        };
        if self.args.help {
            crate::out!("{HELP}");
            return outcome;
        }
        if self.args.list {
            for line in self.list() {
                crate::outln!("{line}");
            }
            return outcome;
        }
        for e in self.problems.drain(..) {
            let id = match &e {
                BenchError::Invalid { id, .. } => id.clone(),
                _ => String::new(),
            };
            outcome.benches.push(failed(id, e));
        }
        if !outcome.benches.is_empty() {
            return report_errors(outcome);
        }
        let color = self.args.color.enabled();
        let reports = self.reports();
        let plans = self.plans();
        if let Some(dir) = self.args.emit_plan.clone() {
            for plan in &plans {
                if let Err(e) = emit_plan(&dir, plan) {
                    outcome.benches.push(failed(plan.id.clone(), e));
                }
            }
            return report_errors(outcome);
        }
        if plans.is_empty() && !self.args.filters.is_empty() && !self.benches.is_empty() {
            let ids: Vec<&str> = self.benches.iter().map(|(id, _)| id.as_str()).collect();
            eprintln!(
                "warning: no benchmark of this binary matches {} (its ids: {}){}",
                self.args.filters.join(" "),
                ids.join(", "),
                if outcome.gated {
                    "; --gate: nothing was judged (exit 6)"
                } else {
                    ""
                }
            );
        }
        if self.args.smoke() && !self.args.quiet {
            crate::outln!(
                "servebench: smoke mode (no --bench flag, as under `cargo test --benches`): \
                 each benchmark once, tiny; nothing saved"
            );
        }
        if let Some(missing) = super::missing_baselines(&self.args, &reports, &plans) {
            outcome.benches = missing;
            return report_errors(outcome);
        }
        outcome.warnings = super::baselines::gate_preflight(&self.args, &reports, &plans);
        for w in &outcome.warnings {
            eprint!(
                "{}",
                crate::report::wrap(&format!("warning: {w}"), "", "  ", crate::report::WIDTH)
            );
        }
        // The binary's runtime (load thread 0), so that `cargo bench` and
        // the command line load a server the same way.
        let rt = crate::load::spawner::main_runtime().expect("start the Tokio runtime");
        // Under --gate, every gated metric of every benchmark is one family.
        let family = if outcome.gated {
            plans
                .iter()
                .map(|p| super::baselines::gated_hypotheses(&self.args, p))
                .sum()
        } else {
            0
        };
        for plan in &plans {
            let calibrate = self.args.calibrate && !self.args.smoke();
            if calibrate && matches!(plan.bench, Benchmark::Capacity(_)) {
                crate::outln!(
                    "{}: a capacity search is not calibrated (its probes' epochs are its own); \
                     skipped",
                    plan.id
                );
                continue;
            }
            let (args, reports, plan) = (self.args.clone(), reports.clone(), plan.clone());
            let b = block_on_task(&rt, async move {
                match &plan.bench {
                    Benchmark::Capacity(_) => {
                        super::capacity_flow::run_capacity(&args, &reports, &plan).await
                    }
                    _ if calibrate => super::flow::calibrate_one(&args, &reports, &plan).await,
                    _ => run_one(&args, &reports, &plan, family).await,
                }
            });
            if !self.args.quiet || b.error.is_some() {
                crate::out!("{}", terminal::render_outcome(&b, self.args.smoke(), color));
            }
            outcome.benches.push(b);
        }
        drop(rt);
        let saved = outcome.benches.iter().any(|b| !b.saved.is_empty());
        if saved {
            // A user's crate gets the report folder out of git at once.
            let _ = reports.ensure_gitignore();
            if let Err(e) = crate::report::write_index(reports.root()) {
                outcome
                    .benches
                    .push(failed("report index".into(), e.into()));
            }
        }
        if outcome.gated {
            match gate::write_summary(&reports, &outcome, (self.env)("GITHUB_STEP_SUMMARY")) {
                Ok(p) => outcome.gate_summary = Some(p),
                Err(e) => outcome.benches.push(failed("gate-summary".into(), e)),
            }
            if !self.args.quiet {
                crate::outln!("{}", gate::verdict_line(&outcome, color));
            }
        }
        report_errors(outcome)
    }
}

/// Write `plan` as a plan file in `dir` (`--emit-plan`).
fn emit_plan(dir: &std::path::Path, plan: &super::execute::Plan) -> Result<(), BenchError> {
    let invalid = |reason: String| BenchError::Invalid {
        id: plan.id.clone(),
        reason,
    };
    let command = super::emit::command(plan).map_err(|e| invalid(e.reason))?;
    let args = crate::cli::PlanArgs {
        output: super::emit::plan_path(dir, &plan.id),
        start_at: crate::cli::DEFAULT_START_AT.into(),
        shards: None,
        command,
    };
    crate::cli::run_plan_cmd(&args).map_err(|e| invalid(e.to_string()))?;
    Ok(())
}

fn failed(id: String, e: BenchError) -> BenchOutcome {
    BenchOutcome {
        error: Some(e),
        ..BenchOutcome::new(id)
    }
}

fn report_errors(o: Outcome) -> Outcome {
    for (id, e) in o.errors() {
        if id.is_empty() || e.to_string().starts_with(id) {
            eprintln!("error: {e}");
        } else {
            eprintln!("error: {id}: {e}");
        }
    }
    o
}
