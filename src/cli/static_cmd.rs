//! `servebench static`: the static benchmark of `benchmark_parallel.py`.

use std::path::{Path, PathBuf};

use super::common::CommonArgs;
use super::observer::{static_label, RunObserver};
use super::output::{check_csv_path, write_outputs, OutputPaths};
use super::{resolve_target, CliError, EndpointArgs, Target};
use crate::load::{run_static_with, StaticPlan};
use crate::metrics::{ImageInfo, PointData, RunData, RunKind, Slo};
use crate::workload::{image_data_url, ImageFormat, PromptSynth, RequestSpec};

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

/// Old name of [`RunOutcome`].
pub type StaticOutcome = RunOutcome;

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

    /// The load plan of this sweep.
    pub fn plan(&self, seed: u64) -> StaticPlan {
        StaticPlan {
            pairs: self
                .prompt_tokens
                .iter()
                .copied()
                .zip(self.output_tokens.iter().copied())
                .collect(),
            concurrencies: self.parallel_num.clone(),
            epochs: self.epochs,
            warmup_requests: self.warmup,
            requests_per_worker: self.requests_per_worker,
            unique_prefix: true,
            shared_prefix_tokens: self.shared_prefix_tokens,
            seed,
        }
    }
}

pub(super) fn write_err(path: &Path, e: impl std::fmt::Display) -> CliError {
    CliError::Write {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

/// Run a static sweep against an already resolved target and write its
/// records (as they complete), JSON, CSV and table.
pub async fn run_static_on(
    target: &Target,
    sweep: &StaticSweepArgs,
    common: &CommonArgs,
    csv: Option<&Path>,
) -> Result<RunOutcome, CliError> {
    run_sweep_on(target, sweep, common, csv, None).await
}

/// The static sweep, text only or (with `images`) multimodal.
pub(super) async fn run_sweep_on(
    target: &Target,
    sweep: &StaticSweepArgs,
    common: &CommonArgs,
    csv: Option<&Path>,
    images: Option<&ImageArgs>,
) -> Result<RunOutcome, CliError> {
    sweep.validate()?;
    let synth = PromptSynth::new(&target.tokenizer)?;
    let most = sweep.parallel_num.iter().copied().max().unwrap_or(1);
    target.ensure_streams(most, "--parallel-num")?;
    let default_name = if images.is_some() {
        "static-mm"
    } else {
        "static"
    };
    let dir = common.run_dir(default_name)?;
    let records = dir.join("records.jsonl");
    if !common.quiet {
        eprintln!("servebench {default_name}: {}", target.describe());
    }
    let mut meta = target.meta(
        RunKind::Static,
        common.name.as_deref().unwrap_or(default_name),
        Slo::default(),
    );
    if sweep.enable_prefix_caching {
        meta.notes.push(
            "server prefix caching enabled: every prompt had a unique leading segment".into(),
        );
    }
    if sweep.shared_prefix_tokens > 0 {
        meta.notes.push(format!(
            "every prompt shared a {}-token prefix (prefix cache measured on purpose)",
            sweep.shared_prefix_tokens
        ));
    }
    let mut observer =
        RunObserver::create(&records, common.quiet, &meta).map_err(|e| write_err(&records, e))?;
    let encoded = std::sync::atomic::AtomicU64::new(0);
    let count = std::sync::atomic::AtomicU64::new(0);
    let prepare = |c: &crate::load::Client, spec: &RequestSpec| match images {
        None => c.prepare(spec),
        Some(img) => {
            let urls: Vec<String> = (0..img.num_images as u64)
                .map(|k| {
                    let seed = common.seed ^ spec.id.wrapping_mul(1_000_003).wrapping_add(k);
                    let (url, n) = image_data_url(img.width, img.height, img.format, seed)
                        .expect("image size validated before the run");
                    encoded.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
                    count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    url
                })
                .collect();
            c.prepare_multimodal(spec, &urls)
                .expect("backend checked to take images")
        }
    };
    let runs = run_static_with(
        target.client.clone(),
        &synth,
        &sweep.plan(common.seed),
        &prepare,
        &mut observer,
    )
    .await?;
    if let Some(img) = images {
        let n = count.load(std::sync::atomic::Ordering::Relaxed).max(1);
        meta.images = Some(ImageInfo {
            per_request: img.num_images,
            width: img.width,
            height: img.height,
            format: img.format,
            mean_encoded_bytes: encoded.load(std::sync::atomic::Ordering::Relaxed) as f64
                / n as f64,
        });
    }
    if let Some(e) = observer.take_error() {
        return Err(write_err(&records, e));
    }
    let mut notes = Vec::new();
    let points = runs
        .into_iter()
        .map(|run| {
            let load = target.client_load(run.client_cpu_s, run.wall_s, &run.epochs);
            let epochs = run.epochs.into_iter().map(|e| e.records).collect();
            PointData::new(static_label(&run.key), epochs, &meta.percentiles, &meta.slo)
                .with_client(load, &mut notes)
        })
        .collect();
    meta.notes.extend(notes);
    meta.interrupted = crate::load::interrupt::stopping();
    meta.stopped_early = target.client.guard().tripped();
    let run = RunData { meta, points };
    let paths = write_outputs(&dir, csv, &run, common.quiet, common.noplot)?;
    Ok(RunOutcome { run, paths })
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
