//! `servebench static`: the static benchmark of `benchmark_parallel.py`.

use std::path::{Path, PathBuf};

use super::common::{parse_count, CommonArgs, PrecisionArgs};
use super::output::{check_csv_path, write_outputs, OutputPaths};
use super::{CliError, EndpointArgs};
use crate::backend::{RequestOptions, SpecDecode};
use crate::metrics::RunData;
use crate::run::StaticDataset;
use crate::run::{
    execute, resolve_target, Images, LoopShape, Output, Plan, StaticSweep, Sweep, Target,
};
use crate::workload::{DatasetType, ImageFormat};

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
    #[arg(long, default_value_t = 5, allow_negative_numbers = true, value_parser = parse_count::<u32>)]
    pub epochs: u32,
    /// Concurrency levels: N workers keep N requests in flight.
    #[arg(long, num_args = 1.., default_values_t = [1, 4, 8, 16, 32], allow_negative_numbers = true, value_parser = parse_count::<usize>)]
    pub parallel_num: Vec<usize>,
    /// Prompt lengths in tokens (paired element-wise with --output-tokens).
    #[arg(long, num_args = 1.., default_values_t = [1024, 2048], allow_negative_numbers = true, value_parser = parse_count::<usize>)]
    pub prompt_tokens: Vec<usize>,
    /// Output lengths in tokens, forced with ignore_eos and min_tokens.
    #[arg(long, num_args = 1.., default_values_t = [128, 256], allow_negative_numbers = true, value_parser = parse_count::<usize>)]
    pub output_tokens: Vec<usize>,
    /// Warm-up requests per point (default: one per worker).
    #[arg(long)]
    pub warmup: Option<usize>,
    /// Requests each worker sends per epoch.
    #[arg(long, default_value_t = 1)]
    pub requests_per_worker: usize,
    /// closed: N workers keep N requests in flight. wave: the seed tool's
    /// loop, N requests sent together and the next N once the slowest
    /// finished (--requests-per-worker waves an epoch).
    #[arg(long = "loop", value_enum, default_value_t = LoopShape::Closed)]
    pub loop_shape: LoopShape,
    /// The server has a prefix cache (bare, or True/False as the seed
    /// tool takes it). Every prompt gets a unique leading segment anyway so
    /// that no cache can serve it; recorded in the run's notes.
    #[arg(
        long,
        num_args = 0..=1,
        default_missing_value = "true",
        default_value = "false",
        value_parser = parse_seed_bool,
        value_name = "BOOL"
    )]
    pub enable_prefix_caching: bool,
    /// Give every prompt a common prefix of K tokens (to measure a prefix
    /// cache on purpose); the seed's --prefix-caching-num.
    #[arg(
        long,
        alias = "prefix-caching-num",
        default_value_t = 0,
        value_name = "K"
    )]
    pub shared_prefix_tokens: usize,
    /// The server decodes speculatively (the seed's flag): OpenAI requests
    /// ask for usage in every chunk (`continuous_usage_stats`), each chunk
    /// after the first is one decode step, and each point reports the
    /// tokens per step and, with --num-speculative-tokens, the acceptance
    /// rate (CSV, JSON, report).
    #[arg(long)]
    pub use_spec_decode: bool,
    /// With --use-spec-decode: the server's speculative (draft) tokens per
    /// step, as set on the server; the acceptance rate needs it (-1: not
    /// given).
    #[arg(long, default_value_t = -1, allow_negative_numbers = true, value_name = "K")]
    pub num_speculative_tokens: i64,
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
            loop_shape: LoopShape::Closed,
            enable_prefix_caching: false,
            shared_prefix_tokens: 0,
            use_spec_decode: false,
            num_speculative_tokens: -1,
            precision: PrecisionArgs::default(),
            epochs_explicit: true,
        }
    }
}

/// Where the static benchmark's prompts come from (the seed's
/// `--dataset-type`, `--dataset-path`, `--use-real-dataset-output-tokens`).
#[derive(Debug, Clone, clap::Args)]
pub struct StaticDatasetArgs {
    /// Prompts: random (synthetic, exactly --prompt-tokens long), or a
    /// dataset file (--dataset-path) of type sharegpt, human-eval, alpaca,
    /// custom or jsonl, sent in a seeded order.
    #[arg(long = "dataset-type", default_value = "random")]
    pub dataset_type: String,
    /// The dataset file of --dataset-type.
    #[arg(long)]
    pub dataset_path: Option<PathBuf>,
    /// Ask for each dataset entry's own output length instead of
    /// --output-tokens.
    #[arg(long)]
    pub use_real_dataset_output_tokens: bool,
}

impl Default for StaticDatasetArgs {
    fn default() -> Self {
        StaticDatasetArgs {
            dataset_type: "random".into(),
            dataset_path: None,
            use_real_dataset_output_tokens: false,
        }
    }
}

impl StaticDatasetArgs {
    /// The dataset of the flags (`None`: synthetic prompts), checked.
    pub fn dataset(&self) -> Result<Option<StaticDataset>, CliError> {
        let bad = |flag: &str, reason: String| CliError::BadFlag {
            flag: flag.into(),
            reason,
        };
        if self.dataset_type.trim().eq_ignore_ascii_case("random") {
            if let Some(p) = &self.dataset_path {
                return Err(bad(
                    "--dataset-path",
                    format!(
                        "{}: --dataset-type random makes its own prompts; give the file's type \
                         (sharegpt, human-eval, alpaca, custom or jsonl)",
                        p.display()
                    ),
                ));
            }
            if self.use_real_dataset_output_tokens {
                return Err(bad(
                    "--use-real-dataset-output-tokens",
                    "only applies with a dataset (--dataset-type and --dataset-path)".into(),
                ));
            }
            return Ok(None);
        }
        let kind: DatasetType = self
            .dataset_type
            .parse()
            .map_err(|e: crate::workload::DatasetError| bad("--dataset-type", e.to_string()))?;
        let path = self.dataset_path.clone().ok_or_else(|| {
            bad(
                "--dataset-path",
                format!("--dataset-type {kind} needs the dataset file"),
            )
        })?;
        if !path.is_file() {
            return Err(bad(
                "--dataset-path",
                format!("{}: no such file", path.display()),
            ));
        }
        Ok(Some(StaticDataset {
            path,
            kind,
            real_output: self.use_real_dataset_output_tokens,
        }))
    }
}

/// Flags of `servebench static`.
#[derive(Debug, Clone, clap::Args)]
pub struct StaticArgs {
    #[command(flatten)]
    pub endpoint: EndpointArgs,
    #[command(flatten)]
    pub sweep: StaticSweepArgs,
    #[command(flatten)]
    pub dataset: StaticDatasetArgs,
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

/// A boolean flag value as the seed tools' `type=bool` flags are written:
/// true/false, 1/0, yes/no, on/off (any case). Unlike the seed's (where any
/// non-empty string, `False` included, is true), `False` means false.
pub fn parse_seed_bool(v: &str) -> Result<bool, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(format!(
            "`{v}` is not true or false (True/False, 1/0, yes/no)"
        )),
    }
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
        if self.num_speculative_tokens >= 0 && !self.use_spec_decode {
            return Err(CliError::BadFlag {
                flag: "--num-speculative-tokens".into(),
                reason: "only applies with --use-spec-decode".into(),
            });
        }
        if self.num_speculative_tokens > 1024 {
            return Err(CliError::BadFlag {
                flag: "--num-speculative-tokens".into(),
                reason: format!("{}: must be at most 1024", self.num_speculative_tokens),
            });
        }
        if self.num_speculative_tokens < -1 {
            return Err(CliError::BadFlag {
                flag: "--num-speculative-tokens".into(),
                reason: format!("{}: must be 0 or more", self.num_speculative_tokens),
            });
        }
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

    /// Speculative decoding as the flags give it (`None` without
    /// --use-spec-decode).
    pub fn spec_decode(&self) -> Option<SpecDecode> {
        self.use_spec_decode.then(|| SpecDecode {
            num_speculative_tokens: u32::try_from(self.num_speculative_tokens).ok(),
        })
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
        if self.loop_shape == LoopShape::Wave {
            notes.push(
                "--loop wave: each concurrency's requests were sent together in waves, the \
                 next wave once the slowest request of the last finished (the seed tool's \
                 loop); throughput includes the waits for the slowest"
                    .into(),
            );
        }
        if self.use_spec_decode {
            notes.push(format!(
                "speculative decoding on the server{}: each chunk after the first is one \
                 decode step, its tokens from the server's usage in every chunk (else the \
                 tokenizer's count of its text), so TPOT and ITL count accepted tokens",
                if self.num_speculative_tokens >= 0 {
                    format!(
                        " ({} speculative tokens a step)",
                        self.num_speculative_tokens
                    )
                } else {
                    String::new()
                }
            ));
        }
        if self.shared_prefix_tokens > 0 {
            notes.push(crate::workload::static_shared_prefix_note(
                self.shared_prefix_tokens,
                &self.prompt_tokens,
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
                    loop_shape: self.loop_shape,
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
    // The run before this one of the same name is kept, not lost (a
    // shard's folder is its plan's, rewritten by a rerun).
    if common.shard.is_none() {
        crate::baseline::keep_previous(&dir).map_err(|e| CliError::Write {
            path: dir.display().to_string(),
            reason: e.to_string(),
        })?;
    } else {
        // An earlier attempt's run must not pass for this one's in `merge`.
        for f in [
            crate::baseline::RUN_FILE,
            crate::baseline::META_FILE,
            crate::baseline::RECORDS_FILE,
        ] {
            let p = dir.join(f);
            if p.exists() {
                std::fs::remove_file(&p).map_err(|e| CliError::write(&p, e))?;
            }
        }
    }
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
    // The run joins its name's history (`<output-dir>/<name>/history.jsonl`),
    // from which `servebench compare` estimates the run-to-run noise (a
    // shard's part is not a run of its own: the merged run is).
    if let Some(bench_dir) = dir.parent().filter(|_| common.shard.is_none()) {
        crate::baseline::append_history(bench_dir, &run).map_err(|e| CliError::Write {
            path: bench_dir
                .join(crate::baseline::HISTORY_FILE)
                .display()
                .to_string(),
            reason: e.to_string(),
        })?;
    }
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
    run_static_from(target, sweep, None, common, csv).await
}

/// [`run_static_on`], the prompts from `dataset` when given.
async fn run_static_from(
    target: &Target,
    sweep: &StaticSweepArgs,
    dataset: Option<StaticDataset>,
    common: &CommonArgs,
    csv: Option<&Path>,
) -> Result<RunOutcome, CliError> {
    sweep.validate()?;
    let name = common.name.as_deref().unwrap_or("static");
    let mut plan = sweep.plan(name, common.seed, None);
    if let (Some(d), Sweep::Static(s)) = (dataset, &mut plan.sweep) {
        if s.shared_prefix_tokens > 0 {
            return Err(CliError::BadFlag {
                flag: "--shared-prefix-tokens/--dataset-path".into(),
                reason: "a shared prefix is built on synthetic prompts; use one of them".into(),
            });
        }
        plan.notes.push(format!(
            "prompts from {} ({}, the seed's static filter){}: --prompt-tokens only labels the \
             point; mean_input_tokens has the real prompt lengths",
            d.path.display(),
            d.kind,
            if d.real_output {
                ", each asking for its own output length"
            } else {
                ""
            }
        ));
        s.dataset = Some(d);
    }
    super::calibrate_cmd::apply_calibration(sweep, common, &mut plan)?;
    run_plan_on(target, &plan, common, csv).await
}

/// `servebench static`: validate, resolve the endpoint, run, write.
pub async fn run_static_cmd(a: &StaticArgs) -> Result<RunOutcome, CliError> {
    a.sweep.validate()?;
    let dataset = a.dataset.dataset()?;
    check_csv_path(a.benchmark_csv.as_deref())?;
    a.common.run_dir("static")?;
    let mut target = resolve_target(&a.endpoint).await?;
    if let Some(spec) = a.sweep.spec_decode() {
        let opts = RequestOptions {
            spec_decode: Some(spec),
            ..target.client.options().clone()
        };
        target.client = std::sync::Arc::new(target.client.with_options(opts));
    }
    let out = run_static_from(
        &target,
        &a.sweep,
        dataset,
        &a.common,
        a.benchmark_csv.as_deref(),
    )
    .await;
    target.stop().await;
    out
}
