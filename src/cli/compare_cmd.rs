//! `servebench compare A B`: compare two saved runs without sending load.

use std::path::PathBuf;

use super::CliError;
use crate::analysis::{compare_runs_in_family, GateVerdict, MetricId, RunComparison};
use crate::baseline::{load_run, save_comparison, ReportDir};
use crate::report::{render_run, wrap, ColorChoice, WIDTH};
use crate::stats::CompareConfig;

/// Flags of `servebench compare`.
///
/// Example: servebench compare static/short/main static/short/new --gate
#[derive(Debug, Clone, clap::Args)]
pub struct CompareArgs {
    /// The baseline run: a run.json, a folder holding one, or
    /// `<benchmark id>/<baseline name>` under the report folder.
    pub baseline: String,
    /// The new run, named the same ways (e.g. `static/short/new`).
    pub new: String,
    /// Report folder that `<id>/<name>` references are read from
    /// (default: SERVEBENCH_REPORT_DIR, else target-reports).
    #[arg(long)]
    pub report_dir: Option<PathBuf>,
    #[command(flatten)]
    pub judge: JudgeArgs,
    /// Also write the comparison as <DIR>/comparison.json.
    #[arg(long, value_name = "DIR")]
    pub save_comparison: Option<PathBuf>,
    /// Also write a Markdown summary (fit for a PR comment) to FILE.
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
}

/// How a comparison is judged (`compare`, `ab`): the gate and the
/// statistics.
#[derive(Debug, Clone, clap::Args)]
pub struct JudgeArgs {
    /// Exit 1 when a gated metric regressed, 6 when a gated metric, point
    /// or the whole comparison could not be judged.
    #[arg(long)]
    pub gate: bool,
    /// Under --gate, let what could not be judged pass (exit 0, not 6).
    #[arg(long)]
    pub gate_allow_inconclusive: bool,
    /// Gated metrics, comma-separated (default: medians and throughputs).
    #[arg(long, value_name = "LIST")]
    pub gate_metrics: Option<String>,
    /// Relative changes within +-F are noise.
    #[arg(long, value_name = "F")]
    pub noise_threshold: Option<f64>,
    /// Confidence level of intervals.
    #[arg(long, value_name = "F")]
    pub confidence_level: Option<f64>,
    /// Family-wise significance level.
    #[arg(long, value_name = "F")]
    pub significance_level: Option<f64>,
    /// Bootstrap resamples.
    #[arg(long, value_name = "N")]
    pub nresamples: Option<usize>,
    /// auto, always or never.
    #[arg(long, default_value = "auto")]
    pub color: String,
}

impl Default for JudgeArgs {
    fn default() -> Self {
        JudgeArgs {
            gate: false,
            gate_allow_inconclusive: false,
            gate_metrics: None,
            noise_threshold: None,
            confidence_level: None,
            significance_level: None,
            nresamples: None,
            color: "auto".into(),
        }
    }
}

fn bad(flag: &str, reason: impl ToString) -> CliError {
    CliError::BadFlag {
        flag: flag.into(),
        reason: reason.to_string(),
    }
}

/// A fraction flag: inside `(lo, hi)` (`lo` itself allowed when
/// `lo_closed`).
fn fraction(flag: &str, v: Option<f64>, lo: f64, hi: f64, lo_closed: bool) -> Result<(), CliError> {
    match v {
        Some(x) if !(x < hi && (x > lo || (lo_closed && x == lo))) => Err(bad(
            flag,
            format!(
                "`{x}` is not a number in {}{lo}, {hi})",
                if lo_closed { "[" } else { "(" }
            ),
        )),
        _ => Ok(()),
    }
}

impl JudgeArgs {
    /// The statistics flags, checked, over the defaults; and the gated
    /// metrics.
    pub fn config(&self) -> Result<(CompareConfig, Vec<MetricId>), CliError> {
        stat_config(self)
    }

    /// The gate's verdict over `cmp`, printed; its exit code (0 without
    /// `--gate`).
    pub fn gate_exit(&self, cmp: &RunComparison) -> i32 {
        if !self.gate {
            return 0;
        }
        let g = GateVerdict::of([("", Some(cmp))], self.gate_allow_inconclusive);
        crate::out!("{}", wrap(&g.line(), "", "  ", WIDTH));
        if let GateVerdict::Inconclusive { reasons } = &g {
            for r in reasons {
                crate::out!("{}", wrap(&format!("- {r}"), "  ", "    ", WIDTH));
            }
        }
        g.exit_code()
    }
}

/// The statistics flags, checked, over the defaults; and the gated metrics.
fn stat_config(a: &JudgeArgs) -> Result<(CompareConfig, Vec<MetricId>), CliError> {
    fraction("--noise-threshold", a.noise_threshold, 0.0, 1.0, true)?;
    fraction("--confidence-level", a.confidence_level, 0.0, 1.0, false)?;
    fraction(
        "--significance-level",
        a.significance_level,
        0.0,
        1.0,
        false,
    )?;
    if a.nresamples == Some(0) {
        return Err(bad("--nresamples", "`0` is not a whole number that large"));
    }
    let d = CompareConfig::default();
    let cfg = CompareConfig {
        confidence: a.confidence_level.unwrap_or(d.confidence),
        significance: a.significance_level.unwrap_or(d.significance),
        noise_threshold: a.noise_threshold.unwrap_or(d.noise_threshold),
        nresamples: a.nresamples.unwrap_or(d.nresamples),
        ..d
    };
    let gated = match &a.gate_metrics {
        Some(list) => MetricId::parse_list(list).map_err(|r| bad("--gate-metrics", r))?,
        None => MetricId::DEFAULT_GATED.to_vec(),
    };
    Ok((cfg, gated))
}

/// Compare the two runs, print the table; returns the comparison.
pub fn compare_cmd(a: &CompareArgs) -> Result<RunComparison, CliError> {
    let (cfg, gated) = a.judge.config()?;
    let color: ColorChoice = a.judge.color.parse().map_err(|r| bad("--color", r))?;
    let reports = a
        .report_dir
        .clone()
        .map(ReportDir::new)
        .unwrap_or_else(ReportDir::from_env);
    let load = |flag: &str, r: &str| {
        let path = reports.resolve(r).map_err(|e| bad(flag, e))?;
        Ok::<_, CliError>((load_run(&path).map_err(|e| bad(flag, e))?, path))
    };
    let (base, _) = load("BASELINE", &a.baseline)?;
    let (new, new_path) = load("NEW", &a.new)?;
    refuse_summary_only("BASELINE", &a.baseline, &base)?;
    refuse_summary_only("NEW", &a.new, &new)?;
    // NEW's benchmark folder (`<id>/<run>/run.json` → `<id>/`) holds the
    // history of its runs, whose run-to-run noise the intervals count.
    let history = new_path
        .parent()
        .and_then(std::path::Path::parent)
        .filter(|d| d.join(crate::baseline::HISTORY_FILE).is_file())
        .map(crate::baseline::History::load);
    let cmp = compare_runs_in_family(&base, &new, &a.baseline, &gated, &cfg, 0, history.as_ref());
    crate::out!(
        "{}",
        render_run(&new.meta.name, &new, Some(&cmp), color.enabled())
    );
    if cmp.metrics.is_empty() {
        eprintln!(
            "warning: the runs share no benchmark point ({} vs {}); nothing compared",
            a.baseline, a.new
        );
    }
    if let Some(dir) = &a.save_comparison {
        save_comparison(dir, &cmp).map_err(|e| bad("--save-comparison", e))?;
    }
    if let Some(md) = &a.markdown {
        crate::report::write_markdown(md, &new, Some(&cmp)).map_err(|e| bad("--markdown", e))?;
    }
    Ok(cmp)
}

/// A run imported from another tool's summary has no per-request records
/// and no epochs: a statistical verdict on it would be made up, so compare
/// refuses it by name.
fn refuse_summary_only(
    flag: &str,
    reference: &str,
    run: &crate::metrics::RunData,
) -> Result<(), CliError> {
    let only = crate::interop::summary_only_points(run);
    if only.is_empty() {
        return Ok(());
    }
    let tool = run.meta.imported.as_ref().map_or("", |i| i.tool.as_str());
    Err(bad(
        flag,
        format!(
            "{reference} was imported from {tool}'s summary only (point(s) {}): no per-request \
             records and no epochs, so no change or verdict can be judged; import the tool's \
             per-request file instead (vLLM --save-detailed, aiperf profile_export.jsonl, \
             guidellm benchmarks.json with requests), or read its figures with \
             `servebench report`",
            only.join(", ")
        ),
    ))
}

/// `servebench compare`: under `--gate`, exit 1 when a gated metric
/// regressed and 6 when something gated could not be judged.
pub fn run_compare_cmd(a: &CompareArgs) -> Result<i32, CliError> {
    let reports = a
        .report_dir
        .clone()
        .map(ReportDir::new)
        .unwrap_or_else(ReportDir::from_env);
    if let Some(code) = super::capacity_cmd::compare_capacities(a, &reports)? {
        return Ok(code);
    }
    let cmp = compare_cmd(a)?;
    Ok(a.judge.gate_exit(&cmp))
}
