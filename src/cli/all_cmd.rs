//! `servebench all`: a static sweep and a dynamic sweep in one go, against
//! one endpoint (one embedded simulator when no endpoint is given), writing
//! both CSVs (`benchmark.py`).

use std::path::PathBuf;

use super::serving_cmd::run_serving_on;
use super::static_cmd::{run_static_on, RunOutcome};
use super::{
    resolve_target, CliError, CommonArgs, EndpointArgs, ServingSweepArgs, StaticSweepArgs,
};

/// Flags of `servebench all`: the endpoint once, then both sweeps' flags.
#[derive(Debug, Clone, clap::Args)]
pub struct AllArgs {
    #[command(flatten)]
    pub endpoint: EndpointArgs,
    #[command(flatten)]
    pub static_sweep: StaticSweepArgs,
    #[command(flatten)]
    pub serving_sweep: ServingSweepArgs,
    /// CSV of the static sweep (default: <output-dir>/<name>-static/new/benchmark.csv).
    #[arg(long)]
    pub static_csv: Option<PathBuf>,
    /// CSV of the dynamic sweep (default: <output-dir>/<name>-serving/new/benchmark.csv).
    #[arg(long)]
    pub serving_csv: Option<PathBuf>,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Run both sweeps; the static one first.
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
    let result = async {
        let s = run_static_on(
            &target,
            &a.static_sweep,
            &named("static"),
            a.static_csv.as_deref(),
        )
        .await?;
        let d = run_serving_on(
            &target,
            &a.serving_sweep,
            &named("serving"),
            a.serving_csv.as_deref(),
        )
        .await?;
        Ok((s, d))
    }
    .await;
    target.stop().await;
    result
}
