//! `servebench replay`: a production trace (Mooncake, BurstGPT, Azure)
//! replayed at its own send times, open loop, at one or more speeds.

use std::path::PathBuf;
use std::sync::Arc;

use super::common::{parse_count, CommonArgs, PrecisionArgs};
use super::serving_cmd::{
    bad, parse_goodput, run_open_plan, OpenLoopOutput, DEFAULT_SERVING_EPOCHS,
};
use super::static_cmd::RunOutcome;
use super::{CliError, EndpointArgs};
use crate::run::{DynamicSweep, DynamicWorkload, Plan, Sweep, TraceReplay};
use crate::workload::{Trace, TraceFormat, TraceWindow};

/// Which trace, which part of it, and how fast.
#[derive(Debug, Clone, clap::Args)]
pub struct TraceArgs {
    /// The trace file.
    #[arg(long)]
    pub trace: PathBuf,
    /// Its format: mooncake (JSONL with timestamp in ms, input_length,
    /// output_length, hash_ids), burstgpt (CSV: Timestamp, Request tokens,
    /// Response tokens, ...) or azure (CSV: TIMESTAMP, ContextTokens,
    /// GeneratedTokens).
    #[arg(long, default_value = "mooncake")]
    pub trace_format: String,
    /// Speed factors, one point each: 2 sends the trace twice as fast
    /// (every offset halved).
    #[arg(long, num_args = 1.., default_values_t = [1.0])]
    pub speedup: Vec<f64>,
    /// Multiply the trace's times by this (2 = half as fast): the inverse
    /// of --speedup, one point.
    #[arg(long, conflicts_with = "speedup")]
    pub time_scale: Option<f64>,
    /// Skip the first S seconds of the trace (its own time, from its first row).
    #[arg(long, default_value_t = 0.0, value_name = "S")]
    pub trace_start: f64,
    /// Replay only S seconds of the trace from --trace-start.
    #[arg(long, value_name = "S")]
    pub trace_duration: Option<f64>,
    /// At most N requests (the first ones of the window).
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = parse_count::<usize>)]
    pub max_requests: Option<usize>,
    /// Tokens of one hash-id block of a Mooncake trace (512 in the
    /// published traces).
    #[arg(long, default_value_t = 512)]
    pub block_size: usize,
}

impl TraceArgs {
    /// The speed factors asked for, checked.
    fn speedups(&self) -> Result<Vec<f64>, CliError> {
        let (flag, v) = match self.time_scale {
            Some(t) if t.is_finite() && t > 0.0 => ("--time-scale", vec![1.0 / t]),
            Some(t) => {
                return Err(bad(
                    "--time-scale",
                    format!("{t}: must be a positive number"),
                ))
            }
            None => ("--speedup", self.speedup.clone()),
        };
        if v.is_empty() || v.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(bad(flag, "each factor must be a positive number"));
        }
        Ok(v)
    }

    /// Read the trace's window and check the settings (before any load).
    pub fn replay(&self) -> Result<TraceReplay, CliError> {
        let format: TraceFormat = self.trace_format.parse()?;
        let speedups = self.speedups()?;
        if self.block_size == 0 {
            return Err(bad("--block-size", "must be at least 1 token"));
        }
        let window = TraceWindow {
            start_s: self.trace_start,
            duration_s: self.trace_duration,
            max_requests: self.max_requests,
        };
        let trace = Trace::read(&self.trace, format, window)?;
        Ok(TraceReplay {
            trace: Arc::new(trace),
            speedups,
            block_tokens: self.block_size,
        })
    }
}

/// Flags of `servebench replay`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    pub endpoint: EndpointArgs,
    #[command(flatten)]
    pub trace: TraceArgs,
    /// At most this many requests in flight (later ones wait, and their
    /// send lateness shows it).
    #[arg(long)]
    pub max_concurrency: Option<usize>,
    /// Service-level objectives for goodput, e.g. `ttft:500 tpot:50 e2el:5000` (ms).
    #[arg(long, num_args = 1.., value_name = "METRIC:MS")]
    pub goodput: Vec<String>,
    /// Measured replays of the window per speed, each with prompts of its
    /// own (the same sharing, other text).
    #[arg(long, default_value_t = DEFAULT_SERVING_EPOCHS, allow_negative_numbers = true, value_parser = parse_count::<u32>)]
    pub epochs: u32,
    /// Warm-up requests per speed, sent at the window's mean rate and
    /// discarded (default 1).
    #[arg(long)]
    pub warmup: Option<usize>,
    #[command(flatten)]
    pub precision: PrecisionArgs,
    /// CSV output (default: <output-dir>/<name>/new/benchmark.csv).
    #[arg(long)]
    pub benchmark_csv: Option<PathBuf>,
    #[command(flatten)]
    pub common: CommonArgs,
}

impl ReplayArgs {
    /// The run plan, named `name`, with the trace read (before any load).
    pub fn plan(&self, name: &str) -> Result<Plan, CliError> {
        if self.epochs == 0 {
            return Err(bad("--epochs", "must be at least 1"));
        }
        if self.max_concurrency == Some(0) {
            return Err(bad("--max-concurrency", "must be at least 1"));
        }
        let slo = parse_goodput(&self.goodput)?;
        let replay = self.trace.replay()?;
        let sweep = DynamicSweep {
            rates: replay.rates(),
            burstiness: 1.0,
            per_arrival: Vec::new(),
            max_concurrency: self.max_concurrency,
            workload: DynamicWorkload::Trace(replay),
        };
        Ok(Plan {
            epochs: self.epochs,
            warmup: self.warmup,
            slo,
            seed: self.common.seed,
            ..Plan::new(name, Sweep::Dynamic(sweep))
        })
    }
}

/// `servebench replay`: read the trace, resolve the endpoint, run, write.
pub async fn run_replay_cmd(a: &ReplayArgs) -> Result<RunOutcome, CliError> {
    let name = a.common.name.as_deref().unwrap_or("replay");
    let plan = a.plan(name)?;
    let out = OpenLoopOutput {
        precision: &a.precision,
        epochs: a.epochs,
        csv: a.benchmark_csv.as_deref(),
        common: &a.common,
    };
    run_open_plan(&a.endpoint, plan, &out, "replay").await
}
