//! `servebench static`: the static benchmark of `benchmark_parallel.py`.

use std::path::PathBuf;

use super::observer::{static_label, RunObserver};
use super::output::{write_outputs, OutputPaths};
use super::{resolve_target, CliError, EndpointArgs};
use crate::load::{run_static, StaticPlan};
use crate::metrics::{PointData, RunData, RunKind, Slo};
use crate::workload::PromptSynth;

/// Flags of `servebench static`.
#[derive(Debug, Clone, clap::Args)]
pub struct StaticArgs {
    #[command(flatten)]
    pub endpoint: EndpointArgs,
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
    /// The server has a prefix cache: every prompt already gets a unique
    /// leading segment so the cache cannot serve it; this flag is accepted
    /// for compatibility and recorded.
    #[arg(long)]
    pub enable_prefix_caching: bool,
    /// Give every prompt a common prefix of K tokens (to measure a prefix
    /// cache on purpose).
    #[arg(long, default_value_t = 0, value_name = "K")]
    pub shared_prefix_tokens: usize,
    /// CSV output (default: <output-dir>/static/benchmark.csv).
    #[arg(long)]
    pub benchmark_csv: Option<PathBuf>,
    /// Report folder.
    #[arg(long, default_value = "target-reports")]
    pub output_dir: PathBuf,
    /// Seed of the prompt text.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// No progress bars or table.
    #[arg(long, short)]
    pub quiet: bool,
}

/// What a static run produced.
#[derive(Debug)]
pub struct StaticOutcome {
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

/// Check the flags that need no endpoint.
pub fn validate_static(a: &StaticArgs) -> Result<(), CliError> {
    positive("--parallel-num", &a.parallel_num)?;
    positive("--prompt-tokens", &a.prompt_tokens)?;
    positive("--output-tokens", &a.output_tokens)?;
    if a.prompt_tokens.len() != a.output_tokens.len() {
        return Err(CliError::BadFlag {
            flag: "--prompt-tokens/--output-tokens".into(),
            reason: format!(
                "{} prompt lengths but {} output lengths; they pair element-wise",
                a.prompt_tokens.len(),
                a.output_tokens.len()
            ),
        });
    }
    if a.epochs == 0 {
        return Err(CliError::BadFlag {
            flag: "--epochs".into(),
            reason: "must be at least 1".into(),
        });
    }
    if a.requests_per_worker == 0 {
        return Err(CliError::BadFlag {
            flag: "--requests-per-worker".into(),
            reason: "must be at least 1".into(),
        });
    }
    if a.prompt_tokens.iter().any(|&p| a.shared_prefix_tokens >= p) && a.shared_prefix_tokens > 0 {
        return Err(CliError::BadFlag {
            flag: "--shared-prefix-tokens".into(),
            reason: "must be smaller than every --prompt-tokens".into(),
        });
    }
    Ok(())
}

fn write_err(path: &std::path::Path, e: impl std::fmt::Display) -> CliError {
    CliError::Write {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

/// Run the static benchmark and write its JSON, CSV and records.
pub async fn run_static_cmd(a: &StaticArgs) -> Result<StaticOutcome, CliError> {
    validate_static(a)?;
    let target = resolve_target(&a.endpoint).await?;
    let synth = PromptSynth::new(&target.tokenizer)?;
    let dir = a.output_dir.join("static");
    std::fs::create_dir_all(&dir).map_err(|e| write_err(&dir, e))?;
    let records = dir.join("records.jsonl");
    let mut observer =
        RunObserver::create(&records, a.quiet).map_err(|e| write_err(&records, e))?;
    if !a.quiet {
        eprintln!("servebench static: {}", target.describe());
    }
    let plan = StaticPlan {
        pairs: a
            .prompt_tokens
            .iter()
            .copied()
            .zip(a.output_tokens.iter().copied())
            .collect(),
        concurrencies: a.parallel_num.clone(),
        epochs: a.epochs,
        warmup_requests: a.warmup,
        requests_per_worker: a.requests_per_worker,
        unique_prefix: true,
        shared_prefix_tokens: a.shared_prefix_tokens,
        seed: a.seed,
    };
    let meta = target.meta(RunKind::Static, "static", Slo::default());
    let runs = run_static(target.client.clone(), &synth, &plan, &mut observer).await?;
    target.stop().await;
    if let Some(e) = observer.take_error() {
        return Err(write_err(&records, e));
    }
    let points = runs
        .into_iter()
        .map(|run| {
            let epochs = run.epochs.into_iter().map(|e| e.records).collect();
            PointData::new(static_label(&run.key), epochs, &meta.percentiles, &meta.slo)
        })
        .collect();
    let run = RunData { meta, points };
    let paths = write_outputs(&dir, a.benchmark_csv.as_deref(), &run, a.quiet)?;
    Ok(StaticOutcome { run, paths })
}
