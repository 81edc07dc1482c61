//! The command line: argument types and the commands behind them. `main.rs`
//! only parses and calls [`run`]; everything here is usable from tests.

mod ab_cmd;
mod all_cmd;
mod calibrate_cmd;
mod capacity_cmd;
mod common;
mod compare_cmd;
mod export_cmd;
mod gen_cmd;
mod import_cmd;
mod latency_cmd;
mod merge_cmd;
mod output;
mod plan_cmd;
mod replay_cmd;
mod report_cmd;
mod selftest_cmd;
mod selftest_proc;
mod serving_cmd;
mod sessions_cmd;
mod static_cmd;
mod static_mm_cmd;

use clap::{Parser, Subcommand};

/// The endpoint flags are the run engine's target spec.
pub use crate::run::TargetSpec as EndpointArgs;
pub use ab_cmd::{run_ab_cmd, AbArgs, AbOutcome};
pub use all_cmd::{run_all_cmd, AllArgs};
pub use calibrate_cmd::{
    run_calibrate_cmd, CalibrateArgs, CalibrateOutcome, DEFAULT_CALIBRATION_TARGET,
};
pub use capacity_cmd::{parse_slo, run_capacity_cmd, CapacityArgs, CapacityOutcome};
pub use common::{parse_percentile, CommonArgs, CsvFormat, PrecisionArgs};
pub use compare_cmd::{compare_cmd, run_compare_cmd, CompareArgs, JudgeArgs};
pub use export_cmd::{run_export_cmd, ExportArgs};
pub use gen_cmd::{run_gen_cmd, GenArgs};
pub use import_cmd::{run_import_cmd, ImportArgs};
pub use latency_cmd::{latency_table, run_latency_cmd, LatencyArgs, LatencyOutcome, LatencyRow};
pub use merge_cmd::{run_merge_cmd, MergeArgs, MergeOutcome};
pub use output::{write_outputs, OutputPaths, WriteOptions};
pub use plan_cmd::{
    command_plan, make_plan, parse_when, read_plan, run_plan_cmd, worker_command, PlanArgs,
    PlanDescription, PlanFile, RunArgs, DEFAULT_START_AT, PLAN_FORMAT, PLAN_VERSION,
};
pub use replay_cmd::{run_replay_cmd, ReplayArgs, TraceArgs};
pub use report_cmd::{rebuild_run, run_report_cmd, Rebuilt, ReportArgs};
pub use selftest_cmd::{run_selftest_cmd, SelftestArgs, SelftestRow};
pub use serving_cmd::{
    parse_goodput, run_serving_cmd, ServingArgs, ServingSweepArgs, DEFAULT_SERVING_EPOCHS,
    SHARED_PREFIX_DATASET_TYPE,
};
pub use sessions_cmd::{run_sessions_cmd, SessionsArgs};
pub use static_cmd::{
    run_static_cmd, run_static_on, ImageArgs, RunOutcome, StaticArgs, StaticDatasetArgs,
    StaticSweepArgs,
};
pub use static_mm_cmd::{run_static_mm_cmd, StaticMmArgs};

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
    /// The endpoint failed the check made before any load.
    #[error("preflight {url}: {reason}")]
    Preflight { url: String, reason: String },
    /// The HTTP client could not be built.
    #[error(transparent)]
    Client(#[from] crate::load::ClientError),
    /// An output file could not be written.
    #[error("cannot write {path}: {reason}")]
    Write { path: String, reason: String },
    /// CSV output failed.
    #[error(transparent)]
    Csv(#[from] crate::report::CsvError),
    /// A dataset could not be loaded.
    #[error(transparent)]
    Dataset(Box<crate::workload::DatasetError>),
    /// Synthetic requests could not be generated.
    #[error(transparent)]
    Generate(Box<crate::workload::GenerateError>),
    /// A trace could not be read or replayed.
    #[error(transparent)]
    Trace(Box<crate::workload::TraceError>),
    /// Another tool's result file could not be imported, or a run exported.
    #[error(transparent)]
    Interop(#[from] crate::interop::InteropError),
}

impl From<crate::workload::TraceError> for CliError {
    fn from(e: crate::workload::TraceError) -> Self {
        CliError::Trace(Box::new(e))
    }
}

impl From<crate::workload::DatasetError> for CliError {
    fn from(e: crate::workload::DatasetError) -> Self {
        CliError::Dataset(Box::new(e))
    }
}

impl From<crate::workload::GenerateError> for CliError {
    fn from(e: crate::workload::GenerateError) -> Self {
        CliError::Generate(Box::new(e))
    }
}

impl From<crate::run::RunError> for CliError {
    fn from(e: crate::run::RunError) -> Self {
        use crate::run::RunError as R;
        match e {
            R::BadSetting { flag, reason } => CliError::BadFlag { flag, reason },
            R::Tokenizer(e) => CliError::Tokenizer(e),
            R::Prompt(e) => CliError::Prompt(e),
            R::Backend(e) => CliError::Backend(e),
            R::Sim(e) => CliError::Sim(e),
            R::Preflight { url, reason } => CliError::Preflight { url, reason },
            R::Client(e) => CliError::Client(e),
            R::Dataset(e) => CliError::Dataset(e),
            R::Generate(e) => CliError::Generate(e),
            R::Trace(e) => CliError::Trace(e),
            R::Schedule(e) => CliError::BadFlag {
                flag: "--request-rate".into(),
                reason: e.to_string(),
            },
            R::Write { path, reason } => CliError::Write { path, reason },
            R::Records(e) => CliError::Write {
                path: "records.jsonl".into(),
                reason: e.to_string(),
            },
        }
    }
}

impl CliError {
    /// A file at `path` could not be written.
    pub(crate) fn write(path: &std::path::Path, e: impl std::fmt::Display) -> Self {
        CliError::Write {
            path: path.display().to_string(),
            reason: e.to_string(),
        }
    }

    /// The process exit code for this error: 2 for bad input, 3 for an
    /// endpoint or simulator problem, 4 for output that could not be written.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::BadFlag { .. }
            | CliError::Tokenizer(_)
            | CliError::Prompt(_)
            | CliError::Backend(_)
            | CliError::Dataset(_)
            | CliError::Generate(_)
            | CliError::Trace(_)
            | CliError::Interop(_) => 2,
            CliError::Sim(e) if e.is_bad_setting() => 2,
            CliError::Sim(_) | CliError::Client(_) | CliError::Preflight { .. } => 3,
            CliError::Write { .. } | CliError::Csv(_) => 4,
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

impl Cli {
    /// Parse the process's command line; also records whether `--epochs`
    /// was given or left at its default (which lets a saved calibration
    /// choose).
    pub fn parse_args() -> Cli {
        use clap::{CommandFactory, FromArgMatches};
        let matches = Cli::command().get_matches();
        let mut cli = match Cli::from_arg_matches(&matches) {
            Ok(c) => c,
            Err(e) => e.exit(),
        };
        let given = |name: &str| {
            matches.subcommand_matches(name).is_some_and(|m| {
                m.value_source("epochs") != Some(clap::parser::ValueSource::DefaultValue)
            })
        };
        match &mut cli.command {
            Command::Static(a) => a.sweep.epochs_explicit = given("static"),
            Command::StaticMm(a) => a.sweep.epochs_explicit = given("static-mm"),
            _ => {}
        }
        cli
    }
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
    /// Multimodal static benchmark: chat requests with N seeded images of a
    /// given size plus text of an exact token length; the static sweep
    /// (modal_benchmark_parallel.py).
    ///
    /// Example: servebench static-mm --num-images 2 --image-width 640 --image-height 480 --parallel-num 1 4 --prompt-tokens 256 --output-tokens 64
    StaticMm(StaticMmArgs),
    /// Dynamic benchmark: a dataset replayed at each request rate, open loop
    /// with Poisson (or gamma) arrivals (benchmark_serving.py).
    ///
    /// Example: servebench serving --dataset sharegpt.json --request-rate 1 4 inf --num-prompts 200
    Serving(ServingArgs),
    /// Capacity: the highest request rate (open loop) or concurrency
    /// (closed loop) at which the SLOs hold, found by bracketing and
    /// bisection with replicated epochs at the boundary, given as an
    /// interval [highest load passing, lowest load failing] with a point
    /// estimate; writes capacity.json, capacity.csv and an HTML report.
    ///
    /// Example: servebench capacity --slo ttft:500,tpot:50 ttft_p99:2000 --goodput-ratio 0.95 --random-input-len 256 --random-output-len 64 --min 2 --max 256 --precision 0.1
    Capacity(CapacityArgs),
    /// Replay a production trace (Mooncake JSONL, BurstGPT or Azure CSV) at
    /// its own send times, open loop, at one or more speeds; Mooncake
    /// prompts share exactly the blocks their hash ids share.
    ///
    /// Example: servebench replay --trace mooncake_trace.jsonl --speedup 1 2 --trace-duration 300
    Replay(ReplayArgs),
    /// Multi-turn sessions: ShareGPT conversations (or generated ones)
    /// replayed turn by turn, each turn carrying the conversation so far,
    /// sessions started open loop; TTFT by turn index, session duration.
    ///
    /// Example: servebench sessions --backend openai-chat --dataset sharegpt.json --session-rate 0.5 2 --num-sessions 50 --think-time-ms 2000
    Sessions(SessionsArgs),
    /// Both benchmarks in one go against one endpoint: the static sweep,
    /// then the dynamic one (benchmark.py). Takes the flags of both.
    ///
    /// Example: servebench all --parallel-num 1 8 --prompt-tokens 512 --output-tokens 64 --request-rate 2 8 --num-prompts 50
    All(AllArgs),
    /// Single-request latency test: non-streaming requests with
    /// "return_latency": true; the server's queue, prefill and decode times
    /// beside the client's end-to-end latency.
    ///
    /// Example: servebench latency --url http://10.0.0.5:8000 --num-requests 20 --prompt-tokens 2048
    Latency(LatencyArgs),
    /// Calibrate: A/A epochs of a static sweep against the endpoint; each
    /// gated metric's epoch-to-epoch noise, its MDE at 3, 5, 10 and 20
    /// epochs, the epochs a target MDE needs and a drift check, saved as
    /// <output-dir>/<name>/calibration.json. Later static and static-mm runs
    /// of that name without --epochs run the recommended epochs.
    ///
    /// Example: servebench calibrate --epochs 12 --target-mde 3% --parallel-num 8 --prompt-tokens 512 --output-tokens 128
    Calibrate(CalibrateArgs),
    /// Interleaved A/B of two live endpoints: at each point of the static
    /// sweep, epochs alternate A B, B A, ... (ABBA) with the same prompts
    /// for both members of a pair, and B is judged against A with paired
    /// statistics, so the machine's drift cancels; --gate as compare's.
    ///
    /// Example: servebench ab --a http://10.0.0.5:8000 --b http://10.0.0.5:8001 --epochs 6 --parallel-num 8 --prompt-tokens 512 --output-tokens 128 --gate
    Ab(AbArgs),
    /// Write a load command as a plan file that N workers run together
    /// (`servebench run`), each a shard of the load, all starting at one
    /// instant; `servebench merge` then makes their results one run.
    ///
    /// Example: servebench plan -o plan.json --shards 4 --start-at +60s serving --url http://10.0.0.5:8000 --request-rate 200 --num-prompts 20000 --epochs 3
    Plan(PlanArgs),
    /// Run one worker's shard of a plan: the rank from --shard R/N, or from
    /// JOB_COMPLETION_INDEX (Kubernetes Indexed Job, with --shards N) or
    /// SLURM_PROCID/SLURM_NTASKS (Slurm); its folder goes to
    /// <out>/shard-R, and the workers align every epoch through <out>/.sync.
    ///
    /// Example: servebench run plan.json --shard 0/4 --out /results
    Run(RunArgs),
    /// Merge the workers' folders of a plan into one run (every shard once,
    /// else an error naming it, unless --allow-partial), with every output;
    /// compare and report read it like any run.
    ///
    /// Example: servebench merge /results -o /results/merged
    Merge(MergeArgs),
    /// Rebuild CSV, JSON and reports from a run's records.jsonl, even for a
    /// run that was interrupted or crashed.
    ///
    /// Example: servebench report target-reports/serving/new
    Report(ReportArgs),
    /// Generate a dataset whose input and output lengths follow truncated
    /// normal distributions, prompts exact to the token (generate_dataset.py).
    ///
    /// Example: servebench gen-dataset --dataset data.json --num-requests 1000 --avg-input 1800 --std-input 300
    GenDataset(GenArgs),
    /// Run the simulated OpenAI-compatible server on its own.
    ///
    /// Example: servebench sim --port 8000 --decode-step-ms 12
    /// (settings also from SERVEBENCH_SIM="decode_step_ms=12,seed=7")
    Sim(crate::sim::SimArgs),
    /// Compare two saved runs (no load sent): per metric the change, its
    /// interval, p-value and verdict; `--gate` exits 1 on a regression.
    ///
    /// Example: servebench compare static/short/main static/short/new --gate
    Compare(CompareArgs),
    /// Import other tools' result files (vLLM --save-result JSON, aiperf
    /// profile_export_aiperf.json / profile_export.jsonl, guidellm
    /// benchmarks.json) as a servebench run that compare and report read;
    /// per-request records when the file has them, else the tool's summary
    /// figures, flagged as such.
    ///
    /// Example: servebench import vllm_result.json --name vllm/rate-4
    Import(ImportArgs),
    /// Export a saved run in vLLM's --save-result JSON shape or aiperf's
    /// profile_export shapes.
    ///
    /// Example: servebench export serving/new --format vllm -o vllm_result.json
    Export(ExportArgs),
    /// Measure the client itself on this machine against the simulator run
    /// as a separate process: CPU per streamed chunk, TTFT error against the
    /// server's own TTFT, open-loop send accuracy; a table of target,
    /// measured and pass/fail (always exits 0 once measured).
    ///
    /// Example: servebench selftest --quick --sim-settings num_scheduler_steps=1
    Selftest(SelftestArgs),
}

/// 0 when some request succeeded, 1 when every request failed, 5 when the
/// run stopped itself on its failure-rate limit, 130 when interrupted.
fn exit_code_of(run: &crate::metrics::RunData) -> i32 {
    if run.meta.interrupted {
        130
    } else if run.meta.stopped_early.is_some() {
        5
    } else if run.points.iter().any(|p| p.summary.completed > 0) {
        0
    } else {
        1
    }
}

pub use crate::run::STOP_GRACE;

/// Ctrl-C and SIGTERM: the first stops sending, gives in-flight requests
/// [`STOP_GRACE`], then cancels them; every output is still written from what
/// was measured and the run is marked interrupted. A second one exits at once
/// (the records file, flushed as requests complete, stays whole but for
/// a last line cut short, which reading it skips).
///
/// Signals are watched on a thread of their own (with its own runtime), so
/// that they are seen while the main thread computes statistics or writes
/// reports.
pub fn install_signal_handlers() {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("servebench: warning: Ctrl-C will not stop the run cleanly: {e}");
            return;
        }
    };
    let spawned = std::thread::Builder::new()
        .name("servebench-signals".into())
        .spawn(move || rt.block_on(watch_signals()));
    if let Err(e) = spawned {
        eprintln!("servebench: warning: Ctrl-C will not stop the run cleanly: {e}");
    }
}

/// The loop of [`install_signal_handlers`].
async fn watch_signals() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let mut count = 0;
    loop {
        tokio::select! {
            r = tokio::signal::ctrl_c() => if r.is_err() { return },
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
        }
        count += 1;
        if count > 1 {
            eprintln!(
                "\nservebench: interrupted again; exiting now (records.jsonl keeps what was \
                 flushed; `servebench report` rebuilds the outputs from it)"
            );
            std::process::exit(130);
        }
        eprintln!(
            "\nservebench: stopping: no new requests; in-flight ones get {} s, then are cancelled (again to exit at once)",
            STOP_GRACE.as_secs()
        );
        crate::load::interrupt::request_stop();
        tokio::spawn(async {
            tokio::time::sleep(STOP_GRACE).await;
            crate::load::interrupt::cancel_in_flight();
        });
    }
}

/// Run a parsed command line; returns the process exit code.
pub async fn run(cli: Cli) -> Result<i32, CliError> {
    match cli.command {
        Command::Static(args) => {
            let out = run_static_cmd(&args).await?;
            Ok(exit_code_of(&out.run))
        }
        Command::StaticMm(args) => {
            let out = run_static_mm_cmd(&args).await?;
            Ok(exit_code_of(&out.run))
        }
        Command::Serving(args) => {
            let out = run_serving_cmd(&args).await?;
            Ok(exit_code_of(&out.run))
        }
        Command::Capacity(args) => {
            let out = run_capacity_cmd(&args).await?;
            Ok(if crate::load::interrupt::stopping() {
                130
            } else {
                i32::from(out.result.lo.is_none() && out.result.hi.is_none())
            })
        }
        Command::Replay(args) => {
            let out = run_replay_cmd(&args).await?;
            Ok(exit_code_of(&out.run))
        }
        Command::Sessions(args) => {
            let out = run_sessions_cmd(&args).await?;
            Ok(exit_code_of(&out.run))
        }
        Command::All(args) => {
            let (s, d) = run_all_cmd(&args).await?;
            Ok(exit_code_of(&s.run).max(exit_code_of(&d.run)))
        }
        Command::Calibrate(args) => {
            let out = run_calibrate_cmd(&args).await?;
            Ok(exit_code_of(&out.run.run))
        }
        Command::Ab(args) => {
            let out = run_ab_cmd(&args).await?;
            Ok(if args.judge.gate {
                out.gate_code
            } else {
                exit_code_of(&out.a).max(exit_code_of(&out.b))
            })
        }
        Command::Latency(args) => {
            let out = run_latency_cmd(&args).await?;
            Ok(if out.rows.iter().all(|r| r.error.is_some()) {
                1
            } else {
                0
            })
        }
        Command::Report(args) => {
            run_report_cmd(&args)?;
            Ok(0)
        }
        Command::Plan(args) => {
            run_plan_cmd(&args)?;
            Ok(0)
        }
        Command::Run(args) => {
            let (command, plan, shard) = worker_command(&args)?;
            // Written however the command ends, so that no worker waits
            // for this one in vain.
            let _done = shard.done_on_drop();
            eprintln!(
                "servebench run: shard {} of plan {} ({}), starting at {}",
                shard.shard.describe(),
                plan.id,
                plan.name,
                args.start_at.as_deref().unwrap_or(&plan.start_at)
            );
            Box::pin(run(Cli { command })).await
        }
        Command::Merge(args) => {
            run_merge_cmd(&args)?;
            Ok(0)
        }
        Command::GenDataset(args) => {
            run_gen_cmd(&args)?;
            Ok(0)
        }
        Command::Sim(args) => {
            crate::load::check_env().map_err(|(var, reason)| CliError::BadFlag {
                flag: format!("environment variable {var}"),
                reason,
            })?;
            crate::sim::serve(&args, crate::workload::Tokenizer::default_embedded()).await?;
            Ok(0)
        }
        Command::Compare(args) => run_compare_cmd(&args),
        Command::Import(args) => {
            run_import_cmd(&args)?;
            Ok(0)
        }
        Command::Export(args) => {
            run_export_cmd(&args)?;
            Ok(0)
        }
        Command::Selftest(args) => {
            run_selftest_cmd(&args).await?;
            Ok(0)
        }
    }
}
