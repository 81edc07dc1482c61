//! Benchmarks as code: what a `benches/*.rs` file (with `harness = false`)
//! sees.
//!
//! A bench file registers benchmarks on a [`Harness`], grouped by
//! [`group!`](crate::group) and run by [`main!`](crate::main):
//!
//! ```no_run
//! use servebench::bench::{Configure, Harness, Settings, StaticSweep};
//!
//! fn static_sweep(c: &mut Harness) {
//!     c.group("static")
//!         .settings(Settings::new().sim("time_scale=0.2").epochs(5).warmup(1))
//!         .bench(StaticSweep::new("short").pair(128, 32).concurrencies([1, 4]));
//! }
//!
//! servebench::group!(benches, static_sweep);
//! servebench::main!(benches);
//! ```
//!
//! `cargo bench` then measures every benchmark (against the embedded
//! simulator unless the code, `SERVEBENCH_URL` or `--url` names a server),
//! saves it under `target-reports/<id>/new/`, compares it with its baseline
//! and prints the verdicts; `cargo bench -- --help` lists the flags.
//! `cargo test --benches` runs each benchmark once, tiny, saving nothing.

mod args;
mod baselines;
mod capacity;
mod capacity_flow;
mod emit;
mod execute;
mod flow;
mod gate;
mod harness;
mod settings;
mod sweep;
mod terminal;

pub use args::{ArgsError, BenchArgs, ColorChoice, EndpointFlags, HELP};
pub use capacity::Capacity;
pub use execute::{measure, validate, Plan};
pub use flow::DEFAULT_EPOCHS;
pub use gate::{summary_markdown, verdict_line};
pub use harness::{BenchOutcome, Group, Harness, Outcome};
pub use settings::{Configure, Settings, API_KEY_ENV_ENV, BACKEND_ENV, MODEL_ENV, URL_ENV};
pub use sweep::{Benchmark, DynamicSweep, Replay, Sessions, StaticSweep};

pub(crate) use baselines::missing_baselines;
pub(crate) use flow::{reduce, run_one};

use crate::baseline::BaselineError;

/// Why a benchmark could not run, compare or save; each names the
/// benchmark, file, flag or URL at fault.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The benchmark's declaration is unusable.
    #[error("{id}: {reason}")]
    Invalid { id: String, reason: String },
    /// Every request of a point failed: nothing to measure.
    #[error("{id}: every request of point {point} failed (first: {first})")]
    AllFailed {
        id: String,
        point: String,
        first: String,
    },
    /// The endpoint, tokenizer, simulator or workload could not be set
    /// up, or the records could not be written.
    #[error(transparent)]
    Run(Box<crate::run::RunError>),
    /// A saved run could not be read or written.
    #[error(transparent)]
    Baseline(#[from] BaselineError),
    #[error(transparent)]
    Csv(#[from] crate::report::CsvError),
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
    /// A file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

impl From<crate::run::RunError> for BenchError {
    fn from(e: crate::run::RunError) -> Self {
        BenchError::Run(Box::new(e))
    }
}

/// The body of [`main!`](crate::main): parse `std::env::args`, register
/// the groups, run, exit with the outcome's code (2 on a bad flag).
pub fn main_with(groups: &[fn(&mut Harness)]) -> ! {
    let args = match BenchArgs::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let mut h = Harness::new(args);
    for g in groups {
        g(&mut h);
    }
    let outcome = h.run();
    std::process::exit(outcome.exit_code())
}

/// Declare a group of benchmark functions, like `criterion_group!`.
///
/// Each target is a `fn(&mut servebench::bench::Harness)` that registers
/// benchmarks. The second form applies settings to the group's targets:
///
/// ```no_run
/// use servebench::bench::{Configure, Harness, Settings, StaticSweep};
/// fn a(c: &mut Harness) { c.bench(StaticSweep::new("a").pair(64, 8).concurrencies([1])); }
/// fn b(c: &mut Harness) { c.bench(StaticSweep::new("b").pair(64, 8).concurrencies([2])); }
/// servebench::group!(plain, a);
/// servebench::group! {
///     name = tuned;
///     config = Settings::new().sim("time_scale=0.2").epochs(3);
///     targets = b
/// }
/// servebench::main!(plain, tuned);
/// ```
#[macro_export]
macro_rules! group {
    (name = $name:ident; config = $config:expr; targets = $($target:path),+ $(,)?) => {
        pub fn $name(h: &mut $crate::bench::Harness) {
            h.with_settings($config, |h| {
                $( $target(h); )+
            });
        }
    };
    ($name:ident, $($target:path),+ $(,)?) => {
        pub fn $name(h: &mut $crate::bench::Harness) {
            $( $target(h); )+
        }
    };
}

/// The `main` of a bench file (`[[bench]] harness = false`), like
/// `criterion_main!`: runs the given groups with the command line's flags.
#[macro_export]
macro_rules! main {
    ($($group:path),+ $(,)?) => {
        fn main() {
            $crate::bench::main_with(&[$($group),+]);
        }
    };
}
