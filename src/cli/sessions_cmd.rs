//! `servebench sessions`: multi-turn conversations, each turn carrying the
//! conversation so far, sessions started open loop at each session rate.

use std::path::PathBuf;
use std::time::Duration;

use super::common::{parse_count, CommonArgs, PrecisionArgs};
use super::serving_cmd::{
    bad, parse_goodput, run_open_plan, OpenLoopOutput, DEFAULT_SERVING_EPOCHS,
};
use super::static_cmd::RunOutcome;
use super::{CliError, EndpointArgs};
use crate::metrics::Rate;
use crate::run::{DynamicSweep, DynamicWorkload, Plan, SessionSource, SessionsWorkload, Sweep};
use crate::workload::SessionShape;

/// Flags of `servebench sessions` (`--backend openai`, the default, is
/// taken as `openai-chat`: sessions send chat messages).
#[derive(Debug, Clone, clap::Args)]
pub struct SessionsArgs {
    #[command(flatten)]
    pub endpoint: EndpointArgs,
    /// ShareGPT file whose conversations are replayed (every human/assistant
    /// pair a turn); without it, generated sessions (--turns ...).
    #[arg(long)]
    pub dataset: Option<PathBuf>,
    /// ShareGPT: only conversations of at least this many turns.
    #[arg(long, default_value_t = 2)]
    pub min_turns: usize,
    /// ShareGPT: replay at most this many turns of a conversation.
    #[arg(long, default_value_t = 8)]
    pub max_turns: usize,
    /// Generated sessions: turns per session.
    #[arg(long, default_value_t = 4)]
    pub turns: usize,
    /// Generated sessions: tokens of each user message.
    #[arg(long, default_value_t = 128)]
    pub turn_input_len: usize,
    /// Generated sessions: output tokens of each answer.
    #[arg(long, default_value_t = 64)]
    pub turn_output_len: usize,
    /// Sessions started per second, one point each (`inf`: all at once).
    #[arg(long, num_args = 1.., default_values = ["1"])]
    pub session_rate: Vec<Rate>,
    /// Sessions per rate and epoch.
    #[arg(long, default_value_t = 20, allow_negative_numbers = true, value_parser = parse_count::<usize>)]
    pub num_sessions: usize,
    /// Gamma shape of the gaps between session starts (1 = Poisson).
    #[arg(long, default_value_t = 1.0)]
    pub burstiness: f64,
    /// At most this many sessions active at once.
    #[arg(long)]
    pub max_active_sessions: Option<usize>,
    /// Pause between an answer and the session's next turn, ms.
    #[arg(long, default_value_t = 0.0)]
    pub think_time_ms: f64,
    /// Put the dataset's replies (ShareGPT's assistant turns; generated
    /// words) in the history instead of the model's answers.
    #[arg(long)]
    pub dataset_replies: bool,
    /// Service-level objectives, e.g. `ttft:500 tpot:50` (ms): goodput per
    /// request, and per session (every turn met them).
    #[arg(long, num_args = 1.., value_name = "METRIC:MS")]
    pub goodput: Vec<String>,
    /// Measured rounds per rate, each with sessions of its own.
    #[arg(long, default_value_t = DEFAULT_SERVING_EPOCHS, allow_negative_numbers = true, value_parser = parse_count::<u32>)]
    pub epochs: u32,
    /// Warm-up requests per rate (single-turn, discarded; default 1).
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

impl SessionsArgs {
    /// The run plan, named `name` (flags checked, before any load).
    pub fn plan(&self, name: &str) -> Result<Plan, CliError> {
        if self.epochs == 0 {
            return Err(bad("--epochs", "must be at least 1"));
        }
        if self.num_sessions == 0 {
            return Err(bad("--num-sessions", "must be at least 1"));
        }
        if self.max_active_sessions == Some(0) {
            return Err(bad("--max-active-sessions", "must be at least 1"));
        }
        if self.burstiness.is_nan() || self.burstiness <= 0.0 {
            return Err(bad("--burstiness", "must be a positive number (or inf)"));
        }
        if !(self.think_time_ms.is_finite() && self.think_time_ms >= 0.0) {
            return Err(bad("--think-time-ms", "must be 0 or more"));
        }
        let source = match &self.dataset {
            Some(path) => {
                if !path.is_file() {
                    return Err(bad(
                        "--dataset",
                        format!("{}: no such file", path.display()),
                    ));
                }
                if self.min_turns == 0 || self.max_turns < self.min_turns {
                    return Err(bad(
                        "--min-turns/--max-turns",
                        "need 1 <= --min-turns <= --max-turns",
                    ));
                }
                SessionSource::ShareGpt {
                    path: path.clone(),
                    min_turns: self.min_turns,
                    max_turns: self.max_turns,
                }
            }
            None => {
                if self.turns == 0 || self.turn_input_len == 0 || self.turn_output_len == 0 {
                    return Err(bad(
                        "--turns/--turn-input-len/--turn-output-len",
                        "must be at least 1",
                    ));
                }
                SessionSource::Generated(SessionShape {
                    turns: self.turns,
                    user_tokens: self.turn_input_len,
                    output_tokens: self.turn_output_len,
                })
            }
        };
        let sweep = DynamicSweep {
            rates: self
                .session_rate
                .iter()
                .map(|&r| (r, self.num_sessions))
                .collect(),
            burstiness: self.burstiness,
            per_arrival: Vec::new(),
            max_concurrency: self.max_active_sessions,
            workload: DynamicWorkload::Sessions(SessionsWorkload {
                source,
                think_time: Duration::from_secs_f64(self.think_time_ms / 1e3),
                dataset_replies: self.dataset_replies,
            }),
        };
        Ok(Plan {
            epochs: self.epochs,
            warmup: self.warmup,
            slo: parse_goodput(&self.goodput)?,
            seed: self.common.seed,
            ..Plan::new(name, Sweep::Dynamic(sweep))
        })
    }
}

/// `servebench sessions`: check, resolve the endpoint, run, write.
pub async fn run_sessions_cmd(a: &SessionsArgs) -> Result<RunOutcome, CliError> {
    let name = a.common.name.as_deref().unwrap_or("sessions");
    let plan = a.plan(name)?;
    let out = OpenLoopOutput {
        precision: &a.precision,
        epochs: a.epochs,
        csv: a.benchmark_csv.as_deref(),
        common: &a.common,
    };
    // Sessions send chat messages: the OpenAI API means its chat endpoint
    // (the command's default backend, `openai`, is the completions one).
    let mut endpoint = a.endpoint.clone();
    if endpoint.backend == "openai" {
        endpoint.backend = "openai-chat".into();
    }
    run_open_plan(&endpoint, plan, &out, "sessions").await
}
