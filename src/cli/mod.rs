//! The command line: argument types and the commands behind them. `main.rs`
//! only parses and calls [`run`]; everything here is usable from tests.

mod common;
mod endpoint;
mod observer;
mod output;
mod static_cmd;

use clap::{Parser, Subcommand};

pub use common::CommonArgs;
pub use endpoint::{resolve_target, EndpointArgs, Target};
pub use output::{write_outputs, OutputPaths};
pub use static_cmd::{
    run_static_cmd, run_static_on, RunOutcome, StaticArgs, StaticOutcome, StaticSweepArgs,
};

/// Errors of a command, each naming the flag, file or URL at fault.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A flag has a bad value or flags disagree.
    #[error("{flag}: {reason}")]
    BadFlag { flag: String, reason: String },
    /// The tokenizer did not load.
    #[error(transparent)]
    Tokenizer(#[from] crate::workload::TokenizerError),
    /// Prompts could not be built.
    #[error(transparent)]
    Prompt(#[from] crate::workload::PromptError),
    /// Unknown backend.
    #[error(transparent)]
    Backend(#[from] crate::backend::UnknownBackend),
    /// The embedded simulator did not start or its settings are bad.
    #[error(transparent)]
    Sim(#[from] crate::sim::SimError),
    /// The HTTP client could not be built.
    #[error(transparent)]
    Client(#[from] crate::load::ClientError),
    /// An output file could not be written.
    #[error("cannot write {path}: {reason}")]
    Write { path: String, reason: String },
    /// CSV output failed.
    #[error(transparent)]
    Csv(#[from] crate::report::CsvError),
    /// JSON output failed.
    #[error(transparent)]
    Json(#[from] crate::report::JsonError),
}

impl CliError {
    /// The process exit code for this error: 2 for bad input, 3 for an
    /// endpoint or simulator problem, 4 for output that could not be written.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::BadFlag { .. }
            | CliError::Tokenizer(_)
            | CliError::Prompt(_)
            | CliError::Backend(_) => 2,
            CliError::Sim(_) | CliError::Client(_) => 3,
            CliError::Write { .. } | CliError::Csv(_) | CliError::Json(_) => 4,
        }
    }
}

/// servebench: benchmark LLM inference servers.
///
/// With no endpoint (`--url`, `--host`/`--port`), every benchmark runs
/// against the embedded simulated server.
#[derive(Debug, Parser)]
#[command(name = "servebench", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The sub-commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Static benchmark: every (prompt, output) pair x every concurrency,
    /// closed loop, warm-up then epochs (benchmark_parallel.py).
    ///
    /// Example: servebench static --parallel-num 1 4 16 --prompt-tokens 512 --output-tokens 128
    #[command(name = "static")]
    Static(StaticArgs),
    /// Run the simulated OpenAI-compatible server on its own.
    ///
    /// Example: servebench sim --port 8000 --decode-step-ms 12
    /// (settings also from SERVEBENCH_SIM="decode_step_ms=12,seed=7")
    Sim(crate::sim::SimArgs),
}

/// 0 when some request succeeded, 1 when every request failed.
fn exit_code_of(run: &crate::metrics::RunData) -> i32 {
    if run.points.iter().any(|p| p.summary.completed > 0) {
        0
    } else {
        1
    }
}

/// Run a parsed command line; returns the process exit code.
pub async fn run(cli: Cli) -> Result<i32, CliError> {
    match cli.command {
        Command::Static(args) => {
            let out = run_static_cmd(&args).await?;
            Ok(exit_code_of(&out.run))
        }
        Command::Sim(args) => {
            crate::sim::serve(&args, crate::workload::Tokenizer::default_embedded()).await?;
            Ok(0)
        }
    }
}
