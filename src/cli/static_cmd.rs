//! `servebench static`: the static benchmark of `benchmark_parallel.py`.

use std::path::{Path, PathBuf};

use super::common::{CommonArgs, PrecisionArgs};
use super::output::{check_csv_path, write_outputs, OutputPaths};
use super::{CliError, EndpointArgs};
use crate::metrics::RunData;
use crate::run::{execute, resolve_target, Images, Output, Plan, StaticSweep, Sweep, Target};
use crate::workload::ImageFormat;

/// The images of a multimodal static sweep.
#[derive(Debug, Clone, clap::Args)]
pub struct ImageArgs {
    /// Images per request.
    #[arg(long, default_value_t = 1)]
    pub num_images: usize,
    /// Image width, pixels.
    #[arg(long = "image-width", default_value_t = 512)]
    pub width: u32,
    /// Image height, pixels.
    #[arg(long = "image-height", default_value_t = 512)]
    pub height: u32,
    /// Encoding: png or jpeg.
    #[arg(long = "image-format", default_value = "png")]
    pub format: ImageFormat,
}

impl ImageArgs {
    /// Check the flags before any load.
    pub fn validate(&self) -> Result<(), CliError> {
        if self.num_images == 0 || self.num_images > 64 {
            return Err(CliError::BadFlag {
                flag: "--num-images".into(),
                reason: format!("{}: must be between 1 and 64", self.num_images),
            });
        }
        let side = 1..=8192;
        if !side.contains(&self.width) || !side.contains(&self.height) {
            return Err(CliError::BadFlag {
                flag: "--image-width/--image-height".into(),
                reason: format!(
                    "{}x{}: each side must be 1 to 8192 pixels",
                    self.width, self.height
                ),
            });
        }
        Ok(())
    }

    /// The images of the plan.
    pub fn images(&self) -> Images {
        Images {
            per_request: self.num_images,
            width: self.width,
            height: self.height,
            format: self.format,
        }
    }
}

/// The sweep of a static benchmark.
#[derive(Debug, Clone, clap::Args)]
pub struct StaticSweepArgs {
    /// Measured rounds per point.
    #[arg(long, default_value_t = 5)]
    pub epochs: u32,
    /// Concurrency levels: N workers keep N requests in flight.
    #[arg(long, num_args = 1.., default_values_t = [1, 4, 8, 16, 32])]
    pub parallel_num: Vec<usize>,
    /// Prompt lengths in tokens (paired element-wise with --output-tokens).
    #[arg(long, num_args = 1.., default_values_t = [1024, 2048])]
    pub prompt_tokens: Vec<usize>,
    /// Output lengths in tokens, forced with ignore_eos and min_tokens.
    #[arg(long, num_args = 1.., default_values_t = [128, 256])]
    pub output_tokens: Vec<usize>,
    /// Warm-up requests per point (default: one per worker).
    #[arg(long)]
    pub warmup: Option<usize>,
    /// Requests each worker sends per epoch.
    #[arg(long, default_value_t = 1)]
    pub requests_per_worker: usize,
    /// The server has a prefix cache. Every prompt gets a unique leading
    /// segment anyway so that no cache can serve it; the flag is accepted for
    /// compatibility and recorded in the run's notes.
    #[arg(long)]
    pub enable_prefix_caching: bool,
    /// Give every prompt a common prefix of K tokens (to measure a prefix
    /// cache on purpose).
    #[arg(long, default_value_t = 0, value_name = "K")]
    pub shared_prefix_tokens: usize,
    #[command(flatten)]
    pub precision: PrecisionArgs,
    /// False when `--epochs` was left at its default on the command line
    /// ([`crate::cli::Cli::parse_args`]): a saved calibration of the run's
    /// name (`servebench calibrate`) then chooses the epochs.
    #[arg(skip = true)]
    pub epochs_explicit: bool,
}

impl Default for StaticSweepArgs {
    fn default() -> Self {
        StaticSweepArgs {
            epochs: 5,
            parallel_num: vec![1, 4, 8, 16, 32],
            prompt_tokens: vec![1024, 2048],
            output_tokens: vec![128, 256],
            warmup: None,
            requests_per_worker: 1,
            enable_prefix_caching: false,
            shared_prefix_tokens: 0,
            precision: PrecisionArgs::default(),
            epochs_explicit: true,
        }
    }
}

/// Flags of `servebench static`.
#[derive(Debug, Clone, clap::Args)]
pub struct StaticArgs {
    #[command(flatten)]
    pub endpoint: EndpointArgs,
    #[command(flatten)]
    pub sweep: StaticSweepArgs,
    /// CSV output (default: <output-dir>/<name>/new/benchmark.csv).
    #[arg(long)]
    pub benchmark_csv: Option<PathBuf>,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// What a benchmark run produced.
#[derive(Debug)]
pub struct RunOutcome {
    pub run: RunData,
    pub paths: OutputPaths,
}

fn positive(flag: &str, v: &[usize]) -> Result<(), CliError> {
    if v.is_empty() || v.contains(&0) {
        return Err(CliError::BadFlag {
            flag: flag.into(),
            reason: "needs one or more values, each at least 1".into(),
        });
    }
    Ok(())
}

fn at_least_one(flag: &str, v: usize) -> Result<(), CliError> {
    if v == 0 {
        return Err(CliError::BadFlag {
            flag: flag.into(),
            reason: "must be at least 1".into(),
        });
    }
    Ok(())
}

impl StaticSweepArgs {
    /// Check the flags that need no endpoint.
    pub fn validate(&self) -> Result<(), CliError> {
        positive("--parallel-num", &self.parallel_num)?;
        positive("--prompt-tokens", &self.prompt_tokens)?;
        positive("--output-tokens", &self.output_tokens)?;
        if self.prompt_tokens.len() != self.output_tokens.len() {
            return Err(CliError::BadFlag {
                flag: "--prompt-tokens/--output-tokens".into(),
                reason: format!(
                    "{} prompt lengths but {} output lengths; they pair element-wise",
                    self.prompt_tokens.len(),
                    self.output_tokens.len()
                ),
            });
        }
        at_least_one("--epochs", self.epochs as usize)?;
        self.precision.rule(self.epochs)?;
        at_least_one("--requests-per-worker", self.requests_per_worker)?;
        if self.shared_prefix_tokens > 0
            && self
                .prompt_tokens
                .iter()
                .any(|&p| self.shared_prefix_tokens >= p)
        {
            return Err(CliError::BadFlag {
                flag: "--shared-prefix-tokens".into(),
                reason: "must be smaller than every --prompt-tokens".into(),
            });
        }
        Ok(())
    }

    /// The run plan of this sweep, named `name`, with `images` attached to
    /// every request when given.
    pub fn plan(&self, name: &str, seed: u64, images: Option<Images>) -> Plan {
        let mut notes = Vec::new();
        if self.enable_prefix_caching {
            notes.push(
                "server prefix caching enabled: every prompt had a unique leading segment".into(),
            );
        }
        if self.shared_prefix_tokens > 0 {
            notes.push(format!(
                "every prompt shared a {}-token prefix (prefix cache measured on purpose)",
                self.shared_prefix_tokens
            ));
        }
        let pairs = self
            .prompt_tokens
            .iter()
            .copied()
            .zip(self.output_tokens.iter().copied())
            .collect();
        Plan {
            epochs: self.epochs,
            warmup: self.warmup,
            seed,
            notes,
            // Checked by `validate`.
            precision: self.precision.rule(self.epochs).ok().flatten(),
            ..Plan::new(
                name,
                Sweep::Static(StaticSweep {
                    requests_per_worker: self.requests_per_worker,
                    shared_prefix_tokens: self.shared_prefix_tokens,
                    images,
                    ..StaticSweep::new(pairs, self.parallel_num.clone())
                }),
            )
        }
    }
}

/// Execute `plan` against `target`, its records going to the run folder
/// `<output-dir>/<name>/new/` as they complete, then write every output
/// there (the one path of every load-generating command).
pub(super) async fn run_plan_on(
    target: &Target,
    plan: &Plan,
    common: &CommonArgs,
    csv: Option<&Path>,
) -> Result<RunOutcome, CliError> {
    let dir = common.run_dir(&plan.name)?;
    // The run before this one of the same name is kept, not lost.
    crate::baseline::keep_previous(&dir).map_err(|e| CliError::Write {
        path: dir.display().to_string(),
        reason: e.to_string(),
    })?;
    let records = dir.join(crate::baseline::RECORDS_FILE);
    if !common.quiet {
        eprintln!("servebench {}: {}", plan.name, target.describe());
    }
    let out = Output {
        records: Some(&records),
        quiet: common.quiet,
    };
    let plan = &common.apply(plan);
    let run = execute(target, plan, &out).await?;
    let paths = write_outputs(&dir, csv, &run, &common.write_options(plan))?;
    Ok(RunOutcome { run, paths })
}

/// Run a static sweep against an already resolved target and write its
/// records (as they complete), JSON, CSV and table.
pub async fn run_static_on(
    target: &Target,
    sweep: &StaticSweepArgs,
    common: &CommonArgs,
    csv: Option<&Path>,
) -> Result<RunOutcome, CliError> {
    sweep.validate()?;
    let name = common.name.as_deref().unwrap_or("static");
    let mut plan = sweep.plan(name, common.seed, None);
    super::calibrate_cmd::apply_calibration(sweep, common, &mut plan)?;
    run_plan_on(target, &plan, common, csv).await
}

/// `servebench static`: validate, resolve the endpoint, run, write.
pub async fn run_static_cmd(a: &StaticArgs) -> Result<RunOutcome, CliError> {
    a.sweep.validate()?;
    check_csv_path(a.benchmark_csv.as_deref())?;
    a.common.run_dir("static")?;
    let target = resolve_target(&a.endpoint).await?;
    let out = run_static_on(&target, &a.sweep, &a.common, a.benchmark_csv.as_deref()).await;
    target.stop().await;
    out
}
