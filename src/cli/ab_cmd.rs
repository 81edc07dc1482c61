//! `servebench ab --a URL --b URL`: an interleaved A/B of two live endpoints.
//! At each point of the static sweep, epochs alternate in ABBA order (A B,
//! B A, A B, ...), both members of a pair get the same prompts, and the
//! difference is judged with paired statistics on the pairs' epoch figures,
//! so drift of the machine that both members of a pair share cancels. No
//! saved baseline is needed: it compares two builds or two configurations
//! of a server, both up at once (on two ports or two hosts).

use std::path::PathBuf;

use super::common::CommonArgs;
use super::compare_cmd::JudgeArgs;
use super::static_cmd::StaticSweepArgs;
use super::{CliError, EndpointArgs};
use crate::analysis::{compare_runs_paired, RunComparison};
use crate::baseline::{save_comparison, save_run, RUN_FILE};
use crate::metrics::RunData;
use crate::report::{render_run, ColorChoice};
use crate::run::{execute_ab, resolve_target, side_spec};

/// Flags of `servebench ab`.
#[derive(Debug, Clone, clap::Args)]
pub struct AbArgs {
    /// Endpoint A (the reference): a URL, or `sim:KEY=VALUE,...` for an
    /// embedded simulator with those settings.
    #[arg(long = "a", value_name = "URL|sim:SETTINGS")]
    pub a: String,
    /// Endpoint B (the candidate), named the same ways.
    #[arg(long = "b", value_name = "URL|sim:SETTINGS")]
    pub b: String,
    /// Settings both endpoints share (backend, model, tokenizer, timeouts);
    /// the endpoints themselves are --a and --b.
    #[command(flatten)]
    pub endpoint: EndpointArgs,
    /// The sweep; --epochs is the number of epochs a side (pairs), at least 3.
    #[command(flatten)]
    pub sweep: StaticSweepArgs,
    #[command(flatten)]
    pub judge: JudgeArgs,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// What an A/B produced.
#[derive(Debug)]
pub struct AbOutcome {
    pub a: RunData,
    pub b: RunData,
    /// B against A, paired.
    pub comparison: RunComparison,
    /// `<output-dir>/<name>/` (`a/run.json`, `b/run.json`,
    /// `comparison.json`).
    pub dir: PathBuf,
    /// The gate's exit code (0 without `--gate`).
    pub gate_code: i32,
}

/// Validate, start or reach both endpoints, run the pairs, judge, write.
pub async fn run_ab_cmd(a: &AbArgs) -> Result<AbOutcome, CliError> {
    a.common.refuse_csv_flags("ab")?;
    if a.endpoint.url.is_some() || a.endpoint.host.is_some() || a.endpoint.port.is_some() {
        return Err(CliError::BadFlag {
            flag: "--url/--host/--port".into(),
            reason: "give the two endpoints as --a and --b".into(),
        });
    }
    if a.endpoint.sim.is_some() {
        return Err(CliError::BadFlag {
            flag: "--sim".into(),
            reason: "give each side's simulator as --a sim:KEY=VALUE,... and --b sim:...".into(),
        });
    }
    let (spec_a, spec_b) = (
        side_spec(&a.endpoint, &a.a, "--a")?,
        side_spec(&a.endpoint, &a.b, "--b")?,
    );
    a.sweep.validate()?;
    if a.sweep.epochs < 3 {
        return Err(CliError::BadFlag {
            flag: "--epochs".into(),
            reason: format!(
                "{} pairs cannot be judged: an A/B needs at least 3 epochs a side",
                a.sweep.epochs
            ),
        });
    }
    if a.sweep.precision.target_mde.is_some() {
        return Err(CliError::BadFlag {
            flag: "--target-mde".into(),
            reason: "does not apply to ab, whose epochs come in fixed pairs".into(),
        });
    }
    let (cfg, gated) = a.judge.config()?;
    let color: ColorChoice = a.judge.color.parse().map_err(|r| CliError::BadFlag {
        flag: "--color".into(),
        reason: r,
    })?;
    let name = a.common.name.as_deref().unwrap_or("ab");
    let dir = a.common.name_dir(name)?;
    let ta = resolve_target(&spec_a).await?;
    let tb = match resolve_target(&spec_b).await {
        Ok(t) => t,
        Err(e) => {
            ta.stop().await;
            return Err(e.into());
        }
    };
    let plan = a.sweep.plan(name, a.common.seed, None);
    let result = execute_ab(&ta, &tb, &plan, a.common.quiet).await;
    ta.stop().await;
    tb.stop().await;
    let (run_a, run_b) = result?;
    let comparison = compare_runs_paired(&run_a, &run_b, "A", &gated, &cfg, 0);
    for (side, run) in [("a", &run_a), ("b", &run_b)] {
        let p = dir.join(side).join(RUN_FILE);
        save_run(&p, run).map_err(|e| CliError::write(&p, e))?;
    }
    save_comparison(&dir, &comparison).map_err(|e| CliError::write(&dir, e))?;
    if !a.common.quiet {
        crate::out!(
            "{}",
            render_run(
                &format!("{name}: B vs A (paired, ABBA)"),
                &run_b,
                Some(&comparison),
                color.enabled()
            )
        );
        crate::outln!("A: {}\nB: {}\nsaved in {}", a.a, a.b, dir.display());
    }
    let gate_code = a.judge.gate_exit(&comparison);
    Ok(AbOutcome {
        a: run_a,
        b: run_b,
        comparison,
        dir,
        gate_code,
    })
}
