//! `servebench plan` and `servebench run`: a load command written as a
//! versioned plan file that N workers (a Kubernetes Indexed Job, Slurm's
//! `srun`, or processes on one machine) each run a shard of, starting at
//! one agreed instant; `servebench merge` makes their folders one run.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::common::ShardOut;
use super::{Cli, CliError, Command};
use crate::run::{Shard, ShardRun};

/// `format` of a plan file.
pub const PLAN_FORMAT: &str = "servebench-plan";
/// Version of the plan file's layout.
pub const PLAN_VERSION: u64 = 1;
/// Default `--start-at` of `servebench plan`.
pub const DEFAULT_START_AT: &str = "+10s";

/// Flags of `servebench plan`.
#[derive(Debug, Clone, clap::Args)]
pub struct PlanArgs {
    /// The plan file to write.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
    /// When every worker starts: an RFC 3339 instant
    /// (2026-12-01T10:00:00Z) or a delay from now (+90s, +5m, +1h). Leave
    /// the workers time to start (pull an image, build prompts).
    #[arg(long, default_value = DEFAULT_START_AT, value_name = "WHEN")]
    pub start_at: String,
    /// Workers the plan is meant for (what `servebench run` takes with a
    /// rank from JOB_COMPLETION_INDEX; --shard R/N and SLURM_NTASKS must
    /// agree with it).
    #[arg(long, value_name = "N")]
    pub shards: Option<u32>,
    /// The load command and its flags: static, static-mm, serving, replay
    /// or sessions, as you would run it on one machine.
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    pub command: Vec<String>,
}

/// Flags of `servebench run`.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// The plan file (`servebench plan`).
    pub plan: PathBuf,
    /// This worker's rank and the number of workers, e.g. 0/4 (default:
    /// from JOB_COMPLETION_INDEX with --shards, or SLURM_PROCID and
    /// SLURM_NTASKS).
    #[arg(long, value_name = "R/N")]
    pub shard: Option<String>,
    /// Number of workers, with the rank from JOB_COMPLETION_INDEX (default:
    /// the plan's).
    #[arg(long, value_name = "N")]
    pub shards: Option<u32>,
    /// Results folder every worker shares: this worker writes `shard-R`
    /// there, and the workers align their epochs through `.sync/` in it
    /// (default: target-reports/shards/<plan name>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Start at this instant instead of the plan's (every worker must get
    /// the same): RFC 3339, or a delay (+90s) from now.
    #[arg(long, value_name = "WHEN")]
    pub start_at: Option<String>,
    /// Longest wait for the other workers at an epoch's start, seconds;
    /// after it a worker goes on without the late ones.
    #[arg(long, default_value_t = 600.0, value_name = "S")]
    pub sync_timeout: f64,
    /// Align only the start, not each epoch (for results folders that are
    /// not shared between the workers).
    #[arg(long)]
    pub no_sync: bool,
}

/// What a plan file holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanFile {
    /// [`PLAN_FORMAT`].
    pub format: String,
    /// [`PLAN_VERSION`].
    pub version: u64,
    /// The plan's id: a hash of its command, creation and start; each
    /// worker's run carries it, and `merge` takes only shards of one plan.
    pub id: String,
    /// The run's name (its `--name`, else the command's).
    pub name: String,
    /// When the plan was written, RFC 3339.
    pub created: String,
    /// When every worker starts, RFC 3339.
    pub start_at: String,
    /// The workers it is meant for, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shards: Option<u32>,
    /// The load command and its flags, as `servebench` takes them.
    pub command: Vec<String>,
    /// What the command will run, for people (not read back).
    pub description: PlanDescription,
}

/// What a plan's command runs, resolved from its flags.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanDescription {
    /// `static` or `dynamic`.
    pub kind: crate::metrics::RunKind,
    /// Where the load goes: a URL, or the embedded simulator.
    pub target: String,
    pub seed: u64,
    pub epochs: u32,
    /// Warm-up requests at each point (`None`: the command's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup: Option<usize>,
    pub slo: crate::metrics::Slo,
    /// The points, in order.
    pub points: Vec<String>,
}

fn bad(flag: impl Into<String>, reason: impl Into<String>) -> CliError {
    CliError::BadFlag {
        flag: flag.into(),
        reason: reason.into(),
    }
}

use crate::metrics::unix_now_s as now_s;

/// `WHEN` of `--start-at`: an RFC 3339 instant, or `+N[s|m|h]` from `now`;
/// Unix seconds.
pub fn parse_when(s: &str, now: f64) -> Result<f64, CliError> {
    let flag = "--start-at";
    if let Some(rel) = s.strip_prefix('+') {
        let (num, unit) = match rel.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
            Some((i, _)) => rel.split_at(i),
            None => (rel, "s"),
        };
        let scale = match unit {
            "s" => 1.0,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad(flag, format!("`{s}`: the unit must be s, m or h"))),
        };
        let v: f64 = num
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite() && *v >= 0.0)
            .ok_or_else(|| bad(flag, format!("`{s}`: give a delay such as +90s or +5m")))?;
        return Ok(now + v * scale);
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp_micros() as f64 / 1e6)
        .map_err(|e| {
            bad(
                flag,
                format!(
                    "`{s}`: not an RFC 3339 instant (2026-12-01T10:00:00Z) nor a delay (+90s): {e}"
                ),
            )
        })
}

/// Unix seconds as RFC 3339 (UTC, milliseconds).
pub fn rfc3339(unix_s: f64) -> String {
    let micros = (unix_s * 1e6).round() as i64;
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_else(|| format!("{unix_s}"))
}

/// 64-bit FNV-1a of `parts` (the plan's id: stable across builds, unlike
/// the standard library's hasher).
fn fnv(parts: &[&str]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// The load command of a plan, parsed as `servebench` parses it.
fn parse_command(command: &[String]) -> Result<Command, CliError> {
    use clap::Parser;
    let argv = std::iter::once("servebench".to_string()).chain(command.iter().cloned());
    let cli = Cli::try_parse_from(argv).map_err(|e| {
        let text = e.render().to_string();
        bad(
            format!(
                "plan command `{}`",
                command.first().map_or("", |s| s.as_str())
            ),
            text.lines()
                .next()
                .unwrap_or("does not parse")
                .trim()
                .to_string(),
        )
    })?;
    match cli.command {
        c @ (Command::Static(_)
        | Command::StaticMm(_)
        | Command::Serving(_)
        | Command::Replay(_)
        | Command::Sessions(_)) => Ok(c),
        _ => Err(bad(
            "plan command",
            format!(
                "`{}` cannot be sharded: a plan runs static, static-mm, serving, replay or sessions",
                command.first().map_or("", |s| s.as_str())
            ),
        )),
    }
}

/// The run plan a load command makes (its flags checked, its files read),
/// with its common flags and endpoint.
fn resolve(
    cmd: &Command,
) -> Result<
    (
        crate::run::Plan,
        &super::CommonArgs,
        &crate::run::TargetSpec,
    ),
    CliError,
> {
    let name = |c: &super::CommonArgs, d: &str| c.name.clone().unwrap_or_else(|| d.to_string());
    Ok(match cmd {
        Command::Static(a) => {
            a.sweep.validate()?;
            let plan = a
                .sweep
                .plan(&name(&a.common, "static"), a.common.seed, None);
            (plan, &a.common, &a.endpoint)
        }
        Command::StaticMm(a) => {
            a.sweep.validate()?;
            a.images.validate()?;
            let images = Some(a.images.images());
            let plan = a
                .sweep
                .plan(&name(&a.common, "static-mm"), a.common.seed, images);
            (plan, &a.common, &a.endpoint)
        }
        Command::Serving(a) => {
            let n = name(&a.common, "serving");
            let plan = a.sweep.plan(&n, a.common.seed, a.epochs, a.warmup)?;
            (plan, &a.common, &a.endpoint)
        }
        Command::Replay(a) => (a.plan(&name(&a.common, "replay"))?, &a.common, &a.endpoint),
        Command::Sessions(a) => (
            a.plan(&name(&a.common, "sessions"))?,
            &a.common,
            &a.endpoint,
        ),
        _ => unreachable!("parse_command admits only the load commands"),
    })
}

/// The run plan of a load command line (`static ...`, `serving ...`), as
/// `servebench run` would execute it.
pub fn command_plan(command: &[String]) -> Result<crate::run::Plan, CliError> {
    let cmd = parse_command(command)?;
    Ok(resolve(&cmd)?.0)
}

/// Refuse what a sharded run cannot do, naming the flag.
fn check_shardable(cmd: &Command) -> Result<(), CliError> {
    let precision = match cmd {
        Command::Serving(a) => a.precision.target_mde,
        Command::Replay(a) => a.precision.target_mde,
        Command::Sessions(a) => a.precision.target_mde,
        Command::Static(a) => a.sweep.precision.target_mde,
        Command::StaticMm(a) => a.sweep.precision.target_mde,
        _ => None,
    };
    let (endpoint, csv) = match cmd {
        Command::Serving(a) => (&a.endpoint, &a.benchmark_csv),
        Command::Replay(a) => (&a.endpoint, &a.benchmark_csv),
        Command::Sessions(a) => (&a.endpoint, &a.benchmark_csv),
        Command::Static(a) => (&a.endpoint, &a.benchmark_csv),
        Command::StaticMm(a) => (&a.endpoint, &a.benchmark_csv),
        _ => unreachable!("parse_command admits only the load commands"),
    };
    if !endpoint.source_addresses.is_empty() {
        return Err(bad(
            "--source-addresses",
            "the addresses are one machine's, and every worker runs the plan's command: \
             leave it out of the plan (each worker spreads over loopback addresses itself, \
             and a worker needing more is refused with what to do)",
        ));
    }
    if csv.is_some() {
        return Err(bad(
            "--benchmark-csv",
            "every worker would write the same file; each writes its folder's \
             benchmark.csv, and `merge` the merged run's",
        ));
    }
    if precision.is_some() {
        return Err(bad(
            "--target-mde",
            "the workers of a plan must run the same epochs; adaptive epochs would let each \
             decide on its own: give --epochs instead",
        ));
    }
    Ok(())
}

/// Build the plan file of `a` (its command parsed and checked, its
/// workload resolved, nothing sent).
pub fn make_plan(a: &PlanArgs, now: f64) -> Result<PlanFile, CliError> {
    if a.shards == Some(0) {
        return Err(bad("--shards", "must be at least 1"));
    }
    let cmd = parse_command(&a.command)?;
    check_shardable(&cmd)?;
    let (plan, _common, endpoint) = resolve(&cmd)?;
    let start = parse_when(&a.start_at, now)?;
    if start < now {
        return Err(bad(
            "--start-at",
            format!("{} is already past", rfc3339(start)),
        ));
    }
    let target = match (&endpoint.url, &endpoint.host) {
        (Some(u), _) => u.clone(),
        (None, Some(h)) => format!("http://{h}:{}", endpoint.port.unwrap_or(8000)),
        (None, None) => "embedded simulator (each worker starts its own)".into(),
    };
    let (created, start_at) = (rfc3339(now), rfc3339(start));
    let mut parts: Vec<&str> = vec![&created, &start_at];
    parts.extend(a.command.iter().map(|s| s.as_str()));
    Ok(PlanFile {
        format: PLAN_FORMAT.into(),
        version: PLAN_VERSION,
        id: fnv(&parts),
        name: plan.name.clone(),
        created,
        start_at,
        shards: a.shards,
        command: a.command.clone(),
        description: PlanDescription {
            kind: plan.kind(),
            target,
            seed: plan.seed,
            epochs: plan.epochs,
            warmup: plan.warmup,
            slo: plan.slo,
            points: plan.labels().iter().map(|l| l.describe()).collect(),
        },
    })
}

/// `servebench plan`: write the plan file.
pub fn run_plan_cmd(a: &PlanArgs) -> Result<PlanFile, CliError> {
    let plan = make_plan(a, now_s())?;
    let text = serde_json::to_string_pretty(&plan).map_err(|e| CliError::write(&a.output, e))?;
    if let Some(d) = a.output.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(d).map_err(|e| CliError::write(d, e))?;
    }
    std::fs::write(&a.output, text + "\n").map_err(|e| CliError::write(&a.output, e))?;
    eprintln!(
        "servebench plan: {} ({}; {} point(s), {} epoch(s)), every worker starts at {}; id {}",
        a.output.display(),
        plan.name,
        plan.description.points.len(),
        plan.description.epochs,
        plan.start_at,
        plan.id
    );
    Ok(plan)
}

/// Read and check a plan file.
pub fn read_plan(path: &Path) -> Result<PlanFile, CliError> {
    let flag = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| bad(&flag, format!("cannot read: {e}")))?;
    let v: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| bad(&flag, format!("not JSON: {e}")))?;
    if v["format"] != PLAN_FORMAT {
        return Err(bad(
            &flag,
            format!("not a servebench plan (its format is not `{PLAN_FORMAT}`); write one with `servebench plan`"),
        ));
    }
    let version = v["version"].as_u64().unwrap_or(0);
    if version != PLAN_VERSION {
        return Err(bad(
            &flag,
            format!("plan version {version}: this servebench reads version {PLAN_VERSION}"),
        ));
    }
    serde_json::from_value(v).map_err(|e| bad(&flag, format!("not a valid plan: {e}")))
}

/// `servebench run`: the worker's shard, its folder and its start, then
/// the plan's command with them.
pub fn worker_command(a: &RunArgs) -> Result<(Command, PlanFile, ShardRun), CliError> {
    let plan = read_plan(&a.plan)?;
    let shard = Shard::resolve(a.shard.as_deref(), a.shards.or(plan.shards), |k| {
        std::env::var(k).ok().filter(|v| !v.is_empty())
    })?;
    if let Some(n) = plan.shards.filter(|&n| n != shard.count) {
        return Err(bad(
            "--shard",
            format!(
                "{} workers, but the plan {} was written for {n} (--shards)",
                shard.count,
                a.plan.display()
            ),
        ));
    }
    if !(a.sync_timeout.is_finite() && a.sync_timeout > 0.0) {
        return Err(bad(
            "--sync-timeout",
            "must be a positive number of seconds",
        ));
    }
    let start = match &a.start_at {
        Some(w) if w.starts_with('+') && shard.count > 1 => {
            return Err(bad(
                "--start-at",
                format!(
                    "`{w}`: a delay resolves against each worker's own start, so the workers \
                     would not agree; give every worker the same RFC 3339 instant \
                     (e.g. 2026-12-01T10:00:00Z)"
                ),
            ))
        }
        Some(w) => parse_when(w, now_s())?,
        None => parse_when(&plan.start_at, 0.0)
            .map_err(|e| bad(a.plan.display().to_string(), format!("start_at: {e}")))?,
    };
    let mut cmd = parse_command(&plan.command)?;
    check_shardable(&cmd)?;
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("target-reports/shards").join(&plan.name));
    let run = ShardRun {
        shard,
        plan_id: plan.id.clone(),
        start_at_unix_s: start,
        // One folder per plan and start, so that a rerun never meets an
        // earlier attempt's markers.
        sync_dir: (!a.no_sync).then(|| {
            out.join(".sync")
                .join(format!("{}-{}", plan.id, (start * 1000.0).round() as i64))
        }),
        sync_timeout: Duration::from_secs_f64(a.sync_timeout),
    };
    let shard_out = ShardOut {
        run: run.clone(),
        dir: out.join(format!("shard-{}", shard.rank)),
    };
    let common = match &mut cmd {
        Command::Static(a) => &mut a.common,
        Command::StaticMm(a) => &mut a.common,
        Command::Serving(a) => &mut a.common,
        Command::Replay(a) => &mut a.common,
        Command::Sessions(a) => &mut a.common,
        _ => unreachable!("parse_command admits only the load commands"),
    };
    common.shard = Some(shard_out);
    Ok((cmd, plan, run))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(cmd: &str) -> PlanArgs {
        PlanArgs {
            output: "plan.json".into(),
            start_at: "+30s".into(),
            shards: Some(4),
            command: cmd.split_whitespace().map(String::from).collect(),
        }
    }

    #[test]
    fn when_is_an_instant_or_a_delay() {
        assert_eq!(parse_when("+90s", 1000.0).unwrap(), 1090.0);
        assert_eq!(parse_when("+5m", 0.0).unwrap(), 300.0);
        assert_eq!(parse_when("+1.5h", 0.0).unwrap(), 5400.0);
        assert_eq!(parse_when("+20", 0.0).unwrap(), 20.0);
        let t = parse_when("2026-12-01T10:00:00Z", 0.0).unwrap();
        assert_eq!(rfc3339(t), "2026-12-01T10:00:00.000Z");
        for bad in ["+5d", "+x", "tomorrow", "+-3s"] {
            let e = parse_when(bad, 0.0).unwrap_err().to_string();
            assert!(e.starts_with("--start-at:"), "{bad}: {e}");
        }
    }

    #[test]
    fn a_plan_holds_the_resolved_run_and_is_read_back() {
        let p = make_plan(
            &args("serving --request-rate 4 8 --num-prompts 40 --epochs 3 --seed 9"),
            1_800_000_000.0,
        )
        .unwrap();
        assert_eq!(p.name, "serving");
        assert_eq!((p.description.epochs, p.description.seed), (3, 9));
        assert_eq!(p.description.points.len(), 2);
        assert_eq!(p.start_at, rfc3339(1_800_000_030.0));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.json");
        std::fs::write(&path, serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(read_plan(&path).unwrap(), p);
        // Same command and times, same id; another command, another id.
        let q = make_plan(
            &args("serving --request-rate 4 8 --num-prompts 41 --epochs 3 --seed 9"),
            1_800_000_000.0,
        )
        .unwrap();
        assert_ne!(p.id, q.id);
    }

    #[test]
    fn bad_plans_are_refused_before_any_load() {
        let e = |cmd: &str| make_plan(&args(cmd), 0.0).unwrap_err().to_string();
        assert!(e("compare a b").contains("cannot be sharded"));
        assert!(e("static --parallel-num 0").contains("--parallel-num"));
        assert!(e("serving --request-rate 4 --target-mde 3%").starts_with("--target-mde"));
        assert!(e("serving --no-such-flag").contains("no-such-flag"));
        assert!(e("serving --source-addresses 10.0.0.7").starts_with("--source-addresses"));
        assert!(e("static --benchmark-csv x.csv").starts_with("--benchmark-csv"));
        let mut a = args("serving --request-rate 1");
        a.start_at = "2000-01-01T00:00:00Z".into();
        assert!(make_plan(&a, 1e9)
            .unwrap_err()
            .to_string()
            .contains("already past"));
        a.start_at = "+1s".into();
        a.shards = Some(0);
        assert!(make_plan(&a, 0.0)
            .unwrap_err()
            .to_string()
            .starts_with("--shards"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.json");
        std::fs::write(&path, r#"{"format":"servebench-run"}"#).unwrap();
        assert!(read_plan(&path)
            .unwrap_err()
            .to_string()
            .contains("not a servebench plan"));
    }
}
