//! `servebench capacity`: the highest request rate (open loop) or
//! concurrency (closed loop) at which the SLOs hold, as an interval, found
//! by bracketing and bisection over probes run by the one engine.

use std::path::PathBuf;

use super::common::{parse_count, CommonArgs};
use super::serving_cmd::{bad, ServingSweepArgs};
use super::{CliError, EndpointArgs};
use crate::analysis::CapacityComparison;
use crate::baseline::{
    check_baseline_name, keep_previous, load_capacity, save_capacity, ReportDir, HTML_DIR,
};
use crate::metrics::capacity::{
    CapacityMode, CapacityResult, CapacitySlo, LatencyMetric, PercentileSlo,
};
use crate::metrics::{Rate, Slo};
use crate::report::{capacity_table, write_capacity_csv, write_capacity_html, CAPACITY_CSV};
use crate::run::{find_capacity, resolve_target, CapacitySearch};

/// Flags of `servebench capacity`: the endpoint and workload flags of
/// `servebench serving`, and the search's own.
#[derive(Debug, Clone, clap::Args)]
pub struct CapacityArgs {
    #[command(flatten)]
    pub endpoint: EndpointArgs,
    #[command(flatten)]
    pub sweep: ServingSweepArgs,
    /// What to search: `rate` (open loop, requests/s) or `concurrency`
    /// (closed loop, requests in flight).
    #[arg(long, value_enum, default_value_t = CapacityMode::Rate)]
    pub mode: CapacityMode,
    /// Objectives, ms, comma- or space-separated: `ttft:500,tpot:50`
    /// (per request, counted in the goodput ratio) and per-percentile ones
    /// such as `ttft_p99:2000` or `e2el_p90:3000` (the epoch's percentile).
    #[arg(long, num_args = 1.., required = true, value_name = "METRIC:MS")]
    pub slo: Vec<String>,
    /// Share of each epoch's requests that must meet the per-request SLOs.
    #[arg(
        long,
        default_value_t = 0.95,
        allow_negative_numbers = true,
        value_name = "F"
    )]
    pub goodput_ratio: f64,
    /// First (lowest) load probed: req/s, or a concurrency.
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    pub min: f64,
    /// Highest load probed.
    #[arg(long, default_value_t = 1024.0, allow_negative_numbers = true)]
    pub max: f64,
    /// Bisection stops when the interval's width is at most this fraction
    /// of its low end.
    #[arg(
        long,
        default_value_t = 0.1,
        allow_negative_numbers = true,
        value_name = "F"
    )]
    pub precision: f64,
    /// Factor between the loads of the bracketing probes.
    #[arg(
        long,
        default_value_t = 2.0,
        allow_negative_numbers = true,
        value_name = "F"
    )]
    pub growth: f64,
    /// Requests of each probe epoch (a shared-prefix workload: G x P).
    #[arg(long, default_value_t = 100, allow_negative_numbers = true, value_parser = parse_count::<usize>)]
    pub probe_requests: usize,
    /// Epochs of each probe before it is judged (at least 2).
    #[arg(long, default_value_t = 3, allow_negative_numbers = true, value_parser = parse_count::<u32>)]
    pub epochs: u32,
    /// An uncertain probe gets more epochs, one at a time, up to this many.
    #[arg(long, default_value_t = 6, allow_negative_numbers = true, value_parser = parse_count::<u32>)]
    pub max_epochs: u32,
    /// Epochs of the two probes at the boundary once bisection ends.
    #[arg(long, default_value_t = 5, allow_negative_numbers = true, value_parser = parse_count::<u32>)]
    pub boundary_epochs: u32,
    /// Two-sided confidence level of each probe's intervals.
    #[arg(
        long,
        default_value_t = 0.95,
        allow_negative_numbers = true,
        value_name = "F"
    )]
    pub confidence_level: f64,
    /// Most distinct loads probed.
    #[arg(long, default_value_t = 30, allow_negative_numbers = true, value_parser = parse_count::<usize>)]
    pub max_probes: usize,
    /// Warm-up requests before each probe (default 1).
    #[arg(long)]
    pub warmup: Option<usize>,
    /// Also save the result as the baseline NAME
    /// (<output-dir>/<name>/<NAME>/capacity.json), for `servebench compare`.
    #[arg(long, value_name = "NAME")]
    pub save_baseline: Option<String>,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// What `servebench capacity` found and wrote.
#[derive(Debug, Clone)]
pub struct CapacityOutcome {
    pub result: CapacityResult,
    /// The run folder, `<output-dir>/<name>/new`.
    pub dir: PathBuf,
    pub json: PathBuf,
    pub csv: PathBuf,
    pub html: Option<PathBuf>,
}

/// Parse `--slo`: items split on commas and spaces, each `METRIC:MS`
/// (per request) or `METRIC_pNN:MS` (a percentile of the epoch).
pub fn parse_slo(items: &[String]) -> Result<(Slo, Vec<PercentileSlo>), CliError> {
    let mut slo = Slo::default();
    let mut pcts: Vec<PercentileSlo> = Vec::new();
    let words = items
        .iter()
        .flat_map(|i| i.split([',', ' ']))
        .map(str::trim)
        .filter(|w| !w.is_empty());
    for item in words {
        let (k, v) = item.split_once(':').ok_or_else(|| {
            bad(
                "--slo",
                format!("`{item}`: expected METRIC:MS, e.g. ttft:500 or ttft_p99:2000"),
            )
        })?;
        let ms: f64 = v
            .trim()
            .parse()
            .ok()
            .filter(|x: &f64| x.is_finite() && *x > 0.0)
            .ok_or_else(|| {
                bad(
                    "--slo",
                    format!("`{item}`: `{v}` is not a positive number of ms"),
                )
            })?;
        let unknown = || {
            bad(
                "--slo",
                format!(
                    "`{k}`: unknown objective (ttft, tpot, e2el, or one with _pNN, e.g. ttft_p99)"
                ),
            )
        };
        let dup = || bad("--slo", format!("`{k}` given twice"));
        match k.split_once("_p") {
            None => {
                let slot = match LatencyMetric::from_name(k).ok_or_else(unknown)? {
                    LatencyMetric::Ttft => &mut slo.ttft_ms,
                    LatencyMetric::Tpot => &mut slo.tpot_ms,
                    LatencyMetric::E2el => &mut slo.e2el_ms,
                };
                if slot.replace(ms).is_some() {
                    return Err(dup());
                }
            }
            Some((m, p)) => {
                let metric = LatencyMetric::from_name(m).ok_or_else(unknown)?;
                let percentile: f64 = p
                    .parse()
                    .ok()
                    .filter(|p: &f64| *p > 0.0 && *p <= 100.0)
                    .ok_or_else(|| {
                        bad(
                            "--slo",
                            format!("`{k}`: `{p}` is not a percentile in (0, 100]"),
                        )
                    })?;
                let s = PercentileSlo {
                    metric,
                    percentile,
                    limit_ms: ms,
                };
                if pcts.iter().any(|o| o.name() == s.name()) {
                    return Err(dup());
                }
                pcts.push(s);
            }
        }
    }
    Ok((slo, pcts))
}

impl CapacityArgs {
    /// Every flag checked, before any load: the search and the base plan
    /// of its probes.
    pub fn search_and_plan(&self) -> Result<(CapacitySearch, crate::run::Plan), CliError> {
        let d = ServingSweepArgs::default();
        let s = &self.sweep;
        if s.request_rate.len() != 1 || !s.request_rate[0].is_inf() {
            return Err(bad(
                "--request-rate",
                "the capacity search chooses the loads itself; bound it with --min and --max",
            ));
        }
        if s.num_prompts != d.num_prompts {
            return Err(bad(
                "--num-prompts",
                "the requests of each probe epoch are --probe-requests",
            ));
        }
        if !s.goodput.is_empty() {
            return Err(bad("--goodput", "give the objectives with --slo"));
        }
        if self.mode == CapacityMode::Concurrency && s.max_concurrency.is_some() {
            return Err(bad(
                "--max-concurrency",
                "--mode concurrency sets the requests in flight itself",
            ));
        }
        if self.probe_requests == 0 {
            return Err(bad("--probe-requests", "must be at least 1"));
        }
        self.common.refuse_csv_flags("capacity")?;
        let (per_request, percentiles) = parse_slo(&self.slo)?;
        let search = CapacitySearch {
            mode: self.mode,
            slo: CapacitySlo {
                per_request,
                goodput_ratio: self.goodput_ratio,
                percentiles,
            },
            min: self.min,
            max: self.max,
            growth: self.growth,
            precision: self.precision,
            epochs: self.epochs,
            max_epochs: self.max_epochs,
            boundary_epochs: self.boundary_epochs,
            confidence: self.confidence_level,
            max_probes: self.max_probes,
        };
        search.validate()?;
        let mut sweep = s.clone();
        sweep.request_rate = vec![Rate(self.min)];
        if sweep.shared_prefix()?.is_none() {
            sweep.num_prompts = vec![self.probe_requests];
        }
        let name = self.common.name.as_deref().unwrap_or("capacity");
        let mut plan = sweep.plan(name, self.common.seed, 1, self.warmup)?;
        plan.slo = search.slo.per_request;
        if let Some(b) = &self.save_baseline {
            check_baseline_name("--save-baseline", b)
                .map_err(|e| bad("--save-baseline", e.to_string()))?;
        }
        Ok((search, plan))
    }
}

/// `servebench capacity`: check every flag, search, write `capacity.json`,
/// `capacity.csv` and the HTML report into `<output-dir>/<name>/new`.
pub async fn run_capacity_cmd(a: &CapacityArgs) -> Result<CapacityOutcome, CliError> {
    let (search, plan) = a.search_and_plan()?;
    let dir = a.common.run_dir("capacity")?;
    keep_previous(&dir).map_err(|e| CliError::write(&dir, e))?;
    let target = resolve_target(&a.endpoint).await?;
    if !a.common.quiet {
        eprintln!("servebench capacity: {}", target.describe());
    }
    let res = find_capacity(&target, &plan, &search, a.common.quiet).await;
    target.stop().await;
    let result = res?;
    let json = save_capacity(&dir, &result).map_err(|e| CliError::write(&dir, e))?;
    let csv = dir.join(CAPACITY_CSV);
    write_capacity_csv(&csv, &result).map_err(|e| CliError::write(&csv, e))?;
    let html_dir = dir.join(HTML_DIR);
    let html = match write_capacity_html(&html_dir, &result, None, a.common.noplot) {
        Ok(p) => Some(p),
        Err(e) => {
            eprintln!("warning: the HTML report was not written: {e}");
            None
        }
    };
    if let Some(b) = &a.save_baseline {
        let bdir = a.common.name_dir("capacity")?.join(b);
        save_capacity(&bdir, &result).map_err(|e| CliError::write(&bdir, e))?;
    }
    // The runs index lists capacity searches beside the benchmarks.
    let index = crate::report::write_index(&a.common.output_dir);
    if !a.common.quiet {
        crate::out!("{}", capacity_table(&result, None));
        crate::outln!("JSON: {}", json.display());
        crate::outln!("CSV: {}", csv.display());
        if let Some(h) = &html {
            crate::outln!("report: {}", h.display());
        }
        match &index {
            Ok(p) => crate::outln!("index: {}", p.display()),
            Err(e) => eprintln!("warning: runs index: {e}"),
        }
    }
    Ok(CapacityOutcome {
        result,
        dir,
        json,
        csv,
        html,
    })
}

/// `servebench compare` of two capacity files: the table of the new one,
/// the verdict, and under `--gate` its exit code (1 regressed, 6
/// inconclusive, 0 otherwise). `None` when the references are not both
/// capacities.
pub(super) fn compare_capacities(
    a: &super::CompareArgs,
    reports: &ReportDir,
) -> Result<Option<i32>, CliError> {
    let (Some(b), Some(n)) = (
        reports.resolve_capacity(&a.baseline),
        reports.resolve_capacity(&a.new),
    ) else {
        return Ok(None);
    };
    let base = load_capacity(&b).map_err(|e| bad("BASELINE", e.to_string()))?;
    let new = load_capacity(&n).map_err(|e| bad("NEW", e.to_string()))?;
    let cmp = CapacityComparison::of(
        &base,
        &new,
        &a.baseline,
        a.judge.config()?.0.noise_threshold,
    );
    crate::out!("{}", capacity_table(&new, Some(&cmp)));
    if let Some(dir) = &a.save_comparison {
        std::fs::create_dir_all(dir).map_err(|e| CliError::write(dir, e))?;
        let path = dir.join("capacity-comparison.json");
        let text = serde_json::to_string_pretty(&cmp).map_err(|e| CliError::write(&path, e))?;
        std::fs::write(&path, text).map_err(|e| CliError::write(&path, e))?;
    }
    if !a.judge.gate {
        return Ok(Some(0));
    }
    let g = cmp.gate(a.judge.gate_allow_inconclusive);
    crate::outln!("{}", g.line());
    if let crate::analysis::GateVerdict::Inconclusive { reasons } = &g {
        for r in reasons {
            crate::outln!(
                "{}",
                crate::report::wrap(&format!("- {r}"), "  ", "    ", crate::report::WIDTH)
            );
        }
    }
    Ok(Some(g.exit_code()))
}
