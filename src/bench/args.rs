//! The flags a bench binary takes after `cargo bench --`: Criterion's, plus
//! servebench's own (`--gate`, `--epochs`, endpoint overrides).

use std::path::PathBuf;

use crate::analysis::MetricId;
use crate::baseline::check_baseline_name;

/// A flag that cannot be used as given; the message names it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{flag}: {reason}")]
pub struct ArgsError {
    pub flag: String,
    pub reason: String,
}

pub use crate::report::ColorChoice;

/// Endpoint settings given on the command line; they beat the code and
/// the `SERVEBENCH_*` environment variables.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EndpointFlags {
    pub url: Option<String>,
    pub backend: Option<String>,
    pub model: Option<String>,
    pub api_key_env: Option<String>,
    pub sim: Option<String>,
    pub tokenizer: Option<PathBuf>,
}

/// Parsed command line of a bench binary.
///
/// ```
/// use servebench::bench::BenchArgs;
/// let a = BenchArgs::parse(["--bench", "--baseline", "main", "--gate", "static"]).unwrap();
/// assert!(a.bench && a.gate);
/// assert_eq!(a.baseline.as_deref(), Some("main"));
/// assert_eq!(a.filters, ["static"]);
/// assert!(BenchArgs::parse(["--frobnicate"]).unwrap_err().to_string().contains("--frobnicate"));
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BenchArgs {
    /// `--bench`: cargo bench is running us; without it (`cargo test
    /// --benches`) every benchmark runs once, tiny, and nothing is saved.
    pub bench: bool,
    /// `--help`.
    pub help: bool,
    /// `--list`: print the benchmark ids and exit.
    pub list: bool,
    /// `--exact`: filters must equal an id.
    pub exact: bool,
    /// Positional arguments: substrings of the ids to run.
    pub filters: Vec<String>,
    pub save_baseline: Option<String>,
    pub baseline: Option<String>,
    /// Compare only when the baseline exists (`--baseline-lenient [NAME]`).
    pub baseline_lenient: bool,
    pub load_baseline: Option<String>,
    pub discard_baseline: bool,
    /// At most 3 epochs and 1 warm-up request.
    pub quick: bool,
    pub noplot: bool,
    pub noise_threshold: Option<f64>,
    pub confidence_level: Option<f64>,
    pub significance_level: Option<f64>,
    pub nresamples: Option<usize>,
    pub color: ColorChoice,
    /// Exit non-zero when a gated metric regressed.
    pub gate: bool,
    /// Under `--gate`, let what could not be judged pass (exit 0).
    pub gate_allow_inconclusive: bool,
    pub gate_metrics: Option<Vec<MetricId>>,
    pub epochs: Option<u32>,
    pub warmup: Option<usize>,
    /// `--target-mde`: adaptive epochs (see [`crate::run::Precision`]).
    pub target_mde: Option<f64>,
    /// `--max-epochs`: the cap of adaptive epochs.
    pub max_epochs: Option<u32>,
    /// `--calibrate`: A/A epochs only; save each benchmark's calibration.
    pub calibrate: bool,
    /// `--ab B`: every benchmark as an interleaved A/B against side B.
    pub ab: Option<String>,
    pub report_dir: Option<PathBuf>,
    /// `--emit-plan DIR`: send no load; write each selected benchmark as a
    /// plan file for a sharded run (`servebench run`).
    pub emit_plan: Option<PathBuf>,
    pub endpoint: EndpointFlags,
    pub quiet: bool,
    pub verbose: bool,
}

/// `--help` text.
pub const HELP: &str = "\
servebench bench harness (run through `cargo bench -- [OPTIONS] [FILTER]...`)

Baselines:
  --save-baseline NAME     also save this run as baseline NAME
  --baseline NAME          compare with baseline NAME; error if a benchmark lacks it
  --baseline-lenient NAME  compare with baseline NAME where it exists
  --load-baseline NAME     send no load: analyse saved run NAME (vs --baseline)
  --discard-baseline       save nothing
  --gate                   exit 1 when a gated metric regressed, 6 when something
                           gated could not be judged; write gate-summary.md
  --gate-allow-inconclusive  under --gate, let what could not be judged pass
  --gate-metrics LIST      gated metrics, e.g. ttft_p50,tpot_p50 (default: medians
                           and throughputs)
Statistics:
  --noise-threshold F      relative changes within +-F are noise (default 0.02)
  --confidence-level F     confidence of intervals (default 0.95)
  --significance-level F   family-wise significance (default 0.05)
  --nresamples N           bootstrap resamples (default 10000)
Load:
  --epochs N  --warmup N   override every benchmark's epochs / warm-up requests
  --target-mde X           adaptive epochs: add epochs at each point until every
                           gated metric could show a change of X (3% or 0.03)
  --max-epochs N           with --target-mde: at most N epochs a point (default 20)
  --calibrate              measure A/A epochs (--epochs, default 10) and save each
                           benchmark's noise, MDE and recommended epochs for the
                           target MDE (default 3%); later runs use them
  --ab B                   interleaved A/B: each benchmark's endpoint (A) against B
                           (a URL or sim:KEY=VALUE,...), ABBA epochs, paired verdicts
  --quick                  at most 3 epochs, 1 warm-up request
  --url URL  --backend B  --model M  --api-key-env VAR  --tokenizer PATH
                           endpoint (also SERVEBENCH_URL, SERVEBENCH_BACKEND,
                           SERVEBENCH_MODEL, SERVEBENCH_API_KEY_ENV); none: the
                           embedded simulator
  --sim KEY=VALUE,...      embedded simulator settings (after SERVEBENCH_SIM)
Selection and output:
  FILTER...                run ids containing a FILTER (--exact: equal to one)
  --list                   list benchmark ids
  --emit-plan DIR          send no load: write each benchmark as a plan file
                           DIR/<id>.json for a sharded run (`servebench run`)
  --report-dir DIR         report folder (default target-reports, or
                           SERVEBENCH_REPORT_DIR)
  --color auto|always|never  --noplot  --quiet  --verbose
";

fn err(flag: &str, reason: impl Into<String>) -> ArgsError {
    ArgsError {
        flag: flag.to_string(),
        reason: reason.into(),
    }
}

fn fraction(flag: &str, v: &str, lo_open: f64, hi_open: f64) -> Result<f64, ArgsError> {
    match v.parse::<f64>() {
        Ok(x) if x > lo_open && x < hi_open => Ok(x),
        _ => Err(err(
            flag,
            format!("`{v}` is not a number in ({lo_open}, {hi_open})"),
        )),
    }
}

fn count<T: std::str::FromStr + PartialOrd + Default>(
    flag: &str,
    v: &str,
    min: T,
) -> Result<T, ArgsError> {
    match v.parse::<T>() {
        Ok(x) if x >= min => Ok(x),
        _ => Err(err(flag, format!("`{v}` is not a whole number that large"))),
    }
}

fn metrics(flag: &str, v: &str) -> Result<Vec<MetricId>, ArgsError> {
    MetricId::parse_list(v).map_err(|reason| err(flag, reason))
}

fn baseline_name(flag: &str, v: &str) -> Result<String, ArgsError> {
    check_baseline_name(flag, v).map_err(|e| err(flag, e.to_string()))?;
    Ok(v.to_string())
}

impl BenchArgs {
    /// Parse the arguments after the program name. Values go as `--flag V`
    /// or `--flag=V`.
    pub fn parse<I, S>(args: I) -> Result<BenchArgs, ArgsError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let args: Vec<String> = args.into_iter().map(Into::into).collect();
        let mut a = BenchArgs::default();
        let mut i = 0;
        while i < args.len() {
            let arg = args[i].clone();
            i += 1;
            if !arg.starts_with('-') || arg == "-" {
                a.filters.push(arg);
                continue;
            }
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
                _ => (arg.clone(), None),
            };
            let value = |i: &mut usize| -> Result<String, ArgsError> {
                if let Some(v) = &inline {
                    return Ok(v.clone());
                }
                match args.get(*i) {
                    Some(v) if !v.starts_with("--") => {
                        *i += 1;
                        Ok(v.clone())
                    }
                    _ => Err(err(&flag, "needs a value")),
                }
            };
            let f = flag.as_str();
            match f {
                "--bench" => a.bench = true,
                "--test" => a.bench = false,
                "-h" | "--help" => a.help = true,
                "--list" => a.list = true,
                "--exact" => a.exact = true,
                "--save-baseline" | "-s" => {
                    a.save_baseline = Some(baseline_name(f, &value(&mut i)?)?)
                }
                "--baseline" | "-b" => a.baseline = Some(baseline_name(f, &value(&mut i)?)?),
                "--baseline-lenient" => {
                    a.baseline_lenient = true;
                    // Criterion's form takes the name; alone, it relaxes --baseline.
                    let has_value =
                        inline.is_some() || args.get(i).is_some_and(|v| !v.starts_with('-'));
                    if has_value {
                        a.baseline = Some(baseline_name(f, &value(&mut i)?)?);
                    }
                }
                "--load-baseline" => a.load_baseline = Some(baseline_name(f, &value(&mut i)?)?),
                "--discard-baseline" => a.discard_baseline = true,
                "--quick" => a.quick = true,
                "-n" | "--noplot" => a.noplot = true,
                "--noise-threshold" => {
                    let v = value(&mut i)?;
                    a.noise_threshold = match v.parse::<f64>() {
                        Ok(x) if (0.0..1.0).contains(&x) => Some(x),
                        _ => return Err(err(f, format!("`{v}` is not a number in [0, 1)"))),
                    }
                }
                "--confidence-level" => {
                    a.confidence_level = Some(fraction(f, &value(&mut i)?, 0.0, 1.0)?)
                }
                "--significance-level" => {
                    a.significance_level = Some(fraction(f, &value(&mut i)?, 0.0, 1.0)?)
                }
                "--nresamples" => a.nresamples = Some(count(f, &value(&mut i)?, 1usize)?),
                "--color" | "--colour" | "-c" => {
                    a.color = match value(&mut i)?.as_str() {
                        "auto" => ColorChoice::Auto,
                        "always" => ColorChoice::Always,
                        "never" => ColorChoice::Never,
                        other => {
                            return Err(err(f, format!("`{other}`: use auto, always or never")))
                        }
                    }
                }
                "--gate" => a.gate = true,
                "--gate-allow-inconclusive" => a.gate_allow_inconclusive = true,
                "--gate-metrics" => a.gate_metrics = Some(metrics(f, &value(&mut i)?)?),
                "--epochs" => a.epochs = Some(count(f, &value(&mut i)?, 1u32)?),
                "--warmup" => a.warmup = Some(count(f, &value(&mut i)?, 0usize)?),
                "--target-mde" => {
                    a.target_mde =
                        Some(crate::run::parse_target_mde(&value(&mut i)?).map_err(|r| err(f, r))?)
                }
                "--max-epochs" => a.max_epochs = Some(count(f, &value(&mut i)?, 2u32)?),
                "--calibrate" => a.calibrate = true,
                "--ab" => a.ab = Some(value(&mut i)?),
                "--report-dir" => a.report_dir = Some(PathBuf::from(value(&mut i)?)),
                "--emit-plan" => a.emit_plan = Some(PathBuf::from(value(&mut i)?)),
                "--url" => a.endpoint.url = Some(value(&mut i)?),
                "--backend" => a.endpoint.backend = Some(value(&mut i)?),
                "--model" => a.endpoint.model = Some(value(&mut i)?),
                "--api-key-env" => a.endpoint.api_key_env = Some(value(&mut i)?),
                "--sim" => a.endpoint.sim = Some(value(&mut i)?),
                "--tokenizer" => a.endpoint.tokenizer = Some(PathBuf::from(value(&mut i)?)),
                "-q" | "--quiet" => a.quiet = true,
                "-v" | "--verbose" => a.verbose = true,
                // libtest flags that cargo or IDEs may pass: harmless here.
                "--nocapture" | "--show-output" | "--ignored" | "--include-ignored" => {}
                "--format" | "--test-threads" => {
                    value(&mut i)?;
                }
                _ => {
                    return Err(err(
                        f,
                        "unknown flag (see `cargo bench -- --help` for the flags servebench takes)",
                    ))
                }
            }
        }
        if a.discard_baseline && a.save_baseline.is_some() {
            return Err(err(
                "--discard-baseline",
                "cannot be used with --save-baseline",
            ));
        }
        if a.baseline_lenient && a.baseline.is_none() {
            return Err(err(
                "--baseline-lenient",
                "needs a baseline name (--baseline-lenient NAME)",
            ));
        }
        if a.ab.is_some() {
            let clash = [
                ("--save-baseline", a.save_baseline.is_some()),
                ("--baseline", a.baseline.is_some()),
                ("--load-baseline", a.load_baseline.is_some()),
                ("--calibrate", a.calibrate),
            ];
            if let Some((other, _)) = clash.iter().find(|c| c.1) {
                return Err(err(
                    "--ab",
                    format!("compares two live endpoints, not a saved baseline; drop {other}"),
                ));
            }
        }
        if a.calibrate {
            let clash = [
                ("--save-baseline", a.save_baseline.is_some()),
                ("--baseline", a.baseline.is_some()),
                ("--load-baseline", a.load_baseline.is_some()),
                ("--gate", a.gate),
                ("--quick", a.quick),
            ];
            if let Some((other, _)) = clash.iter().find(|c| c.1) {
                return Err(err(
                    "--calibrate",
                    format!("measures A/A epochs only and saves no run; drop {other}"),
                ));
            }
            if a.epochs
                .is_some_and(|e| e < crate::analysis::MIN_CALIBRATION_EPOCHS)
            {
                return Err(err(
                    "--epochs",
                    format!(
                        "calibrate with at least {} epochs (10 or more recommended)",
                        crate::analysis::MIN_CALIBRATION_EPOCHS
                    ),
                ));
            }
        }
        Ok(a)
    }

    /// Smoke mode: no `--bench` (as under `cargo test --benches`): every
    /// benchmark once, tiny, nothing saved.
    pub fn smoke(&self) -> bool {
        !self.bench
    }

    /// True when `id` passes the filters.
    ///
    /// ```
    /// let a = servebench::bench::BenchArgs::parse(["--exact", "g/a"]).unwrap();
    /// assert!(a.selects("g/a") && !a.selects("g/ab"));
    /// ```
    pub fn selects(&self, id: &str) -> bool {
        self.filters.is_empty()
            || self.filters.iter().any(|f| {
                if self.exact {
                    id == f
                } else {
                    id.contains(f.as_str())
                }
            })
    }
}
