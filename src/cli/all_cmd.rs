//! `servebench all`: a static sweep and a dynamic sweep in one go, against
//! one endpoint (one embedded simulator when no endpoint is given), writing
//! both CSVs (`benchmark.py`).

use std::path::PathBuf;

use super::static_cmd::{run_plan_on, RunOutcome};
use super::{CliError, CommonArgs, EndpointArgs, ServingSweepArgs, StaticSweepArgs};
use crate::run::resolve_target;

/// Flags of `servebench all`: the endpoint once, then both sweeps' flags.
#[derive(Debug, Clone, clap::Args)]
pub struct AllArgs {
    #[command(flatten)]
    pub endpoint: EndpointArgs,
    #[command(flatten)]
    pub static_sweep: StaticSweepArgs,
    #[command(flatten)]
    pub serving_sweep: ServingSweepArgs,
    /// CSV of the static sweep (default: <output-dir>/static/new/benchmark.csv,
    /// or <output-dir>/<name>-static/... with --name); also taken as
    /// --benchmark-csv, the static seed tool's flag.
    #[arg(long, visible_alias = "benchmark-csv")]
    pub static_csv: Option<PathBuf>,
    /// CSV of the dynamic sweep (default: <output-dir>/serving/new/benchmark.csv,
    /// or <output-dir>/<name>-serving/... with --name).
    #[arg(long)]
    pub serving_csv: Option<PathBuf>,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Run both sweeps; the static one first. `--epochs`, `--warmup`,
/// `--target-mde` and `--max-epochs` apply to both.
pub async fn run_all_cmd(a: &AllArgs) -> Result<(RunOutcome, RunOutcome), CliError> {
    a.static_sweep.validate()?;
    a.serving_sweep.validate()?;
    super::output::check_csv_path(a.static_csv.as_deref())?;
    super::output::check_csv_path(a.serving_csv.as_deref())?;
    let target = resolve_target(&a.endpoint).await?;
    let named = |suffix: &str| CommonArgs {
        name: Some(match &a.common.name {
            Some(n) => format!("{n}-{suffix}"),
            None => suffix.to_string(),
        }),
        ..a.common.clone()
    };
    let (sc, dc) = (named("static"), named("serving"));
    let seed = a.common.seed;
    let s_plan = a
        .static_sweep
        .plan(sc.name.as_deref().unwrap_or("static"), seed, None);
    let mut d_plan = a.serving_sweep.plan(
        dc.name.as_deref().unwrap_or("serving"),
        seed,
        a.static_sweep.epochs,
        a.static_sweep.warmup,
    )?;
    d_plan.precision = s_plan.precision.clone();
    let result = async {
        let s = run_plan_on(&target, &s_plan, &sc, a.static_csv.as_deref()).await?;
        let d = run_plan_on(&target, &d_plan, &dc, a.serving_csv.as_deref()).await?;
        Ok((s, d))
    }
    .await;
    target.stop().await;
    result
}
