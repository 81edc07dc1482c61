//! `servebench ab --a URL --b URL`: an interleaved A/B of two live endpoints.
//! At each point of the static sweep, epochs alternate in ABBA order (A B,
//! B A, A B, ...), both members of a pair get the same prompts, and the
//! difference is judged with paired statistics on the pairs' epoch figures,
//! so drift of the machine that both members of a pair share cancels. No
//! saved baseline is needed: it compares two builds or two configurations
//! of a server running side by side (or one after the other on one port is
//! not possible: both must be up).

use std::path::PathBuf;

use super::common::CommonArgs;
use super::compare_cmd::JudgeArgs;
use super::static_cmd::StaticSweepArgs;
use super::{CliError, EndpointArgs};
use crate::analysis::{compare_runs_paired, RunComparison};
use crate::baseline::{save_comparison, save_run, RUN_FILE};
use crate::metrics::{PointData, RequestRecord, RunData};
use crate::report::{render_run, ColorChoice};
use crate::run::{execute, resolve_target, Output, Target};

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

/// The endpoint of one side: the shared settings with `side`'s URL or
/// simulator.
fn side_spec(shared: &EndpointArgs, side: &str, flag: &str) -> Result<EndpointArgs, CliError> {
    let mut spec = shared.clone();
    match side.strip_prefix("sim:") {
        Some(settings) => spec.sim = Some(settings.to_string()),
        None if side == "sim" => spec.sim = Some(String::new()),
        None if side.starts_with("http://") || side.starts_with("https://") => {
            spec.url = Some(side.to_string())
        }
        None => {
            return Err(CliError::BadFlag {
                flag: flag.into(),
                reason: format!(
                    "`{side}` is neither a URL (http://HOST:PORT) nor sim:KEY=VALUE,..."
                ),
            })
        }
    }
    Ok(spec)
}

/// Which side runs first in pair `k`: A B, B A, A B, ... (ABBA).
pub fn a_first(k: usize) -> bool {
    k % 2 == 0
}

/// One epoch of one point against `target`; its records, epoch set to `k`.
async fn one_epoch(
    target: &Target,
    sweep: &StaticSweepArgs,
    name: &str,
    seed: u64,
    k: usize,
) -> Result<(RunData, Vec<RequestRecord>), CliError> {
    let mut one = sweep.clone();
    one.epochs = 1;
    // The point's warm-up before its first pair only.
    if k > 0 {
        one.warmup = Some(0);
    }
    let plan = one.plan(name, seed, None);
    let mut run = execute(target, &plan, &Output::quiet()).await?;
    let mut recs = run
        .points
        .pop()
        .and_then(|mut p| p.epochs.pop())
        .unwrap_or_default();
    for r in &mut recs {
        r.epoch = k as u32;
    }
    Ok((run, recs))
}

/// Validate, start or reach both endpoints, run the pairs, judge, write.
pub async fn run_ab_cmd(a: &AbArgs) -> Result<AbOutcome, CliError> {
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
    let result = pairs(a, &ta, &tb, name).await;
    ta.stop().await;
    tb.stop().await;
    let (run_a, run_b) = result?;
    let comparison = compare_runs_paired(&run_a, &run_b, "A", &gated, &cfg);
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

/// Every point's pairs of epochs, A and B alternating ABBA.
async fn pairs(
    a: &AbArgs,
    ta: &Target,
    tb: &Target,
    name: &str,
) -> Result<(RunData, RunData), CliError> {
    let mut runs: [Option<RunData>; 2] = [None, None];
    for &(p, o) in a
        .sweep
        .prompt_tokens
        .iter()
        .zip(&a.sweep.output_tokens)
        .collect::<Vec<_>>()
        .iter()
    {
        for &c in &a.sweep.parallel_num {
            let point = StaticSweepArgs {
                parallel_num: vec![c],
                prompt_tokens: vec![*p],
                output_tokens: vec![*o],
                ..a.sweep.clone()
            };
            let mut epochs: [Vec<Vec<RequestRecord>>; 2] = [Vec::new(), Vec::new()];
            let mut meta = [None, None];
            for k in 0..a.sweep.epochs as usize {
                // Both members of a pair get the same prompts.
                let seed = a.common.seed ^ (k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                let order = if a_first(k) { [0, 1] } else { [1, 0] };
                for side in order {
                    let (t, n) = if side == 0 { (ta, "a") } else { (tb, "b") };
                    let (run, recs) = one_epoch(t, &point, &format!("{name}-{n}"), seed, k).await?;
                    meta[side].get_or_insert(run.meta);
                    epochs[side].push(recs);
                }
                if !a.common.quiet {
                    eprintln!(
                        "  prompt {p}, output {o}, concurrency {c}: pair {}/{} ({})",
                        k + 1,
                        a.sweep.epochs,
                        if a_first(k) { "A B" } else { "B A" }
                    );
                }
                if crate::load::interrupt::stopping() {
                    break;
                }
            }
            for side in 0..2 {
                let meta = meta[side].take().expect("one epoch ran");
                let label = crate::metrics::PointLabel::Static {
                    prompt_tokens: *p,
                    output_tokens: *o,
                    concurrency: c,
                };
                let pd = PointData::new(
                    label,
                    std::mem::take(&mut epochs[side]),
                    &meta.percentiles,
                    &meta.slo,
                );
                let run = runs[side].get_or_insert_with(|| RunData {
                    meta,
                    points: Vec::new(),
                });
                run.points.push(pd);
            }
        }
    }
    let [Some(mut ra), Some(mut rb)] = runs else {
        return Err(CliError::BadFlag {
            flag: "--parallel-num".into(),
            reason: "no point to measure".into(),
        });
    };
    let note = |other: &str, me: &str| {
        format!("A/B: epochs interleaved in ABBA order, {me}; the other side {other}")
    };
    ra.meta.notes.push(note(&a.b, &format!("side A {}", a.a)));
    rb.meta.notes.push(note(&a.a, &format!("side B {}", a.b)));
    Ok((ra, rb))
}
