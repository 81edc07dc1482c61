//! `servebench merge`: the run folders of a plan's workers (`servebench
//! run --shard R/N`) made one run: every shard present once (else an
//! error naming the one missing or doubled, unless `--allow-partial`),
//! each point's epochs joined across workers, each worker's clock, start
//! lateness, send lateness and client-limited verdicts in the run's notes;
//! then every output, as for a run of one process, which `compare` and
//! `report` read like any other.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::output::{write_outputs, OutputPaths, WriteOptions};
use super::CliError;
use crate::baseline::{read_records, RecordsWriter, RECORDS_FILE, RUN_FILE};
use crate::metrics::{
    MergeInfo, PointData, PointLabel, RequestRecord, RunData, RunMeta, ShardMeta,
};
use crate::server_metrics::{EpochServer, ServerPoint};

/// Flags of `servebench merge`.
#[derive(Debug, Clone, clap::Args)]
pub struct MergeArgs {
    /// The workers' run folders, or the results folder holding them
    /// (`shard-*`).
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// The merged run's folder.
    #[arg(short = 'o', long = "output", value_name = "RUN")]
    pub output: PathBuf,
    /// Merge what is there when shards are missing or did not finish; the
    /// result is marked partial in every output.
    #[arg(long)]
    pub allow_partial: bool,
    /// No table on the terminal.
    #[arg(long, short)]
    pub quiet: bool,
    /// Skip the plots of the HTML report.
    #[arg(long)]
    pub noplot: bool,
}

/// What `merge` made.
pub struct MergeOutcome {
    pub run: RunData,
    pub paths: OutputPaths,
}

fn bad(path: &Path, reason: impl Into<String>) -> CliError {
    CliError::BadFlag {
        flag: path.display().to_string(),
        reason: reason.into(),
    }
}

/// One worker's folder read back.
struct ShardRead {
    dir: PathBuf,
    meta: RunMeta,
    /// The run wrote its `run.json` (it ended, however it ended).
    finished: bool,
    points: Vec<crate::baseline::ReadPoint>,
    warnings: Vec<String>,
}

/// The run folders `dirs` name: each one holding a records file, or the
/// `shard-*` folders inside one.
fn shard_dirs(dirs: &[PathBuf]) -> Result<Vec<PathBuf>, CliError> {
    let mut out = Vec::new();
    for d in dirs {
        if d.join(RECORDS_FILE).is_file() {
            out.push(d.clone());
            continue;
        }
        let entries = std::fs::read_dir(d).map_err(|e| bad(d, format!("cannot read: {e}")))?;
        let mut found: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("shard-"))
                    && p.is_dir()
            })
            .collect();
        found.sort();
        if found.is_empty() {
            return Err(bad(
                d,
                "neither a worker's run folder (records.jsonl) nor a results folder holding \
                 shard-* folders",
            ));
        }
        out.extend(found);
    }
    Ok(out)
}

/// The rank a `shard-R` folder's name gives.
fn rank_of_name(dir: &Path) -> Option<u32> {
    dir.file_name()?
        .to_str()?
        .strip_prefix("shard-")?
        .parse()
        .ok()
}

/// A worker's folder; `None` when it holds no run at all (its worker
/// stopped before any load: refused a late start, a bad dataset).
fn read_shard(dir: &Path) -> Result<Option<ShardRead>, CliError> {
    let run_file = dir.join(RUN_FILE);
    let finished = run_file.is_file();
    if !finished && !dir.join(crate::baseline::META_FILE).is_file() {
        return Ok(None);
    }
    let meta: RunMeta = match finished
        .then(|| crate::baseline::load_run(&run_file).ok())
        .flatten()
    {
        Some(r) => r.meta,
        None => {
            let p = dir.join(crate::baseline::META_FILE);
            let b = std::fs::read(&p).map_err(|e| bad(&p, format!("cannot read: {e}")))?;
            serde_json::from_slice(&b)
                .map_err(|e| bad(&p, format!("not a run's meta.json: {e}")))?
        }
    };
    if meta.shard.is_none() {
        return Err(bad(
            dir,
            "not a worker's run (no shard in its metadata): merge takes the folders that \
             `servebench run PLAN` wrote",
        ));
    }
    let read = read_records(&dir.join(RECORDS_FILE)).map_err(|e| bad(dir, e.to_string()))?;
    // What the worker's records show (its server view against its own
    // share, say) is shown again from the merged records: its notes keep
    // only what they alone know (a client-limited point, a warning).
    let mut scratch = Vec::new();
    let derived: std::collections::HashSet<String> = RunData {
        meta: RunMeta {
            notes: Vec::new(),
            ..meta.clone()
        },
        points: read
            .points
            .iter()
            .cloned()
            .map(|p| p.into_point(&meta.percentiles, &meta.slo, &mut scratch))
            .collect(),
    }
    .notes()
    .into_iter()
    .collect();
    let mut meta = meta;
    meta.notes.retain(|n| !derived.contains(n));
    Ok(Some(ShardRead {
        dir: dir.to_path_buf(),
        meta,
        finished,
        points: read.points,
        warnings: read.warnings,
    }))
}

/// p99 of a worker's send lateness (open loop: start minus scheduled
/// send time), ms.
fn send_late_p99_ms(points: &[crate::baseline::ReadPoint]) -> Option<f64> {
    let mut late: Vec<f64> = points
        .iter()
        .flat_map(|p| p.epochs.iter().flatten())
        .filter_map(|r| r.scheduled_s.map(|s| (r.start_s - s) * 1000.0))
        .collect();
    late.sort_by(f64::total_cmp);
    crate::stats::percentile(&late, 99.0)
}

/// A clock this far from the target's, or a step begun this late, is
/// called out in the worker's line.
const SKEW_WARN_MS: f64 = 100.0;
const STEP_LATE_WARN_MS: f64 = 20.0;

/// One line on a worker: where it ran, its clock against the target's,
/// how late its steps began, its send lateness.
fn worker_line(m: &ShardMeta, dir: &Path) -> String {
    let clock = match m.clock_offset_ms {
        Some((lo, hi)) => {
            let warn = if lo > SKEW_WARN_MS || hi < -SKEW_WARN_MS {
                " (SKEWED: this worker's wall clock is off, so were its start instants)"
            } else {
                ""
            };
            format!("clock minus the target's (HTTP Date) in [{lo:+.0}, {hi:+.0}] ms{warn}")
        }
        None => "clock offset unknown (no usable Date header)".into(),
    };
    let worst = m.step_late_ms.iter().copied().fold(0.0, f64::max);
    let steps = format!(
        "{} step(s), begun at most {worst:.1} ms after their instant{}",
        m.step_late_ms.len(),
        if worst > STEP_LATE_WARN_MS {
            " (LATE)"
        } else {
            ""
        }
    );
    let send = m
        .send_late_p99_ms
        .map(|l| format!(", send lateness p99 {l:.2} ms"))
        .unwrap_or_default();
    let gave_up = if m.gave_up_on.is_empty() {
        String::new()
    } else {
        format!(", stopped waiting for shard(s) {:?}", m.gave_up_on)
    };
    format!(
        "shard {}/{} on {} ({}): {clock}; {steps}{send}{gave_up}",
        m.rank,
        m.count,
        m.host,
        dir.display()
    )
}

/// Merge the shards in `a.dirs` into the run folder `a.output`.
pub fn run_merge_cmd(a: &MergeArgs) -> Result<MergeOutcome, CliError> {
    let dirs = shard_dirs(&a.dirs)?;
    let mut shards: Vec<ShardRead> = Vec::new();
    let mut empty: Vec<&PathBuf> = Vec::new();
    for d in &dirs {
        match read_shard(d)? {
            Some(s) => shards.push(s),
            None => empty.push(d),
        }
    }
    if shards.is_empty() {
        return Err(bad(
            &dirs[0],
            "no worker's run in any of the folders (every worker stopped before any load)",
        ));
    }
    shards.sort_by_key(|s| s.meta.shard.as_ref().map_or(0, |m| m.rank));
    let first = shards[0].meta.shard.clone().expect("checked");
    let count = first.count;
    // One plan, each rank once.
    let mut by_rank: BTreeMap<u32, &Path> = BTreeMap::new();
    for s in &shards {
        let m = s.meta.shard.as_ref().expect("checked");
        if m.start_at_unix_s != first.start_at_unix_s {
            return Err(bad(
                &s.dir,
                format!(
                    "shard {}/{} started at {}, but {} at {}: two attempts of the plan are \
                     mixed; merge the folders of one attempt",
                    m.rank,
                    m.count,
                    super::plan_cmd::rfc3339(m.start_at_unix_s),
                    shards[0].dir.display(),
                    super::plan_cmd::rfc3339(first.start_at_unix_s)
                ),
            ));
        }
        if m.plan_id != first.plan_id || m.count != count {
            return Err(bad(
                &s.dir,
                format!(
                    "shard {}/{} of plan {}, but {} is shard {}/{} of plan {}: merge the \
                     shards of one plan",
                    m.rank,
                    m.count,
                    m.plan_id,
                    shards[0].dir.display(),
                    first.rank,
                    count,
                    first.plan_id
                ),
            ));
        }
        if let Some(other) = by_rank.insert(m.rank, &s.dir) {
            return Err(bad(
                &s.dir,
                format!(
                    "shard {}/{count} twice: here and in {}; keep one of them",
                    m.rank,
                    other.display()
                ),
            ));
        }
    }
    let missing: Vec<u32> = (0..count).filter(|r| !by_rank.contains_key(r)).collect();
    let unfinished: Vec<String> = shards
        .iter()
        .filter(|s| !s.finished || s.meta.interrupted || s.meta.stopped_early.is_some())
        .map(|s| {
            let m = s.meta.shard.as_ref().expect("checked");
            let why = if !s.finished {
                "did not finish (no run.json: killed or crashed)"
            } else if s.meta.interrupted {
                "was interrupted"
            } else {
                "stopped early on its failure-rate limit"
            };
            format!("shard {}/{count} ({}) {why}", m.rank, s.dir.display())
        })
        .collect();
    let mut problems: Vec<String> = missing
        .iter()
        .map(
            |r| match empty.iter().find(|d| rank_of_name(d) == Some(*r)) {
                Some(d) => format!(
                    "shard {r}/{count} ({}) holds no run: its worker stopped before any load",
                    d.display()
                ),
                None => format!("shard {r}/{count} is missing"),
            },
        )
        .collect();
    problems.extend(unfinished.iter().cloned());
    if !problems.is_empty() && !a.allow_partial {
        return Err(CliError::BadFlag {
            flag: "merge".into(),
            reason: format!(
                "{} (plan {}); merge the complete set, or pass --allow-partial to merge what \
                 is there as a partial result",
                problems.join("; "),
                first.plan_id
            ),
        });
    }
    let partial = !problems.is_empty();
    let base = shards[0].meta.clone();
    // What must be read first: a partial result, lost alignment.
    let mut lead: Vec<String> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    if partial {
        lead.push(format!(
            "PARTIAL RESULT: {}; this run holds only part of the plan's load",
            problems.join("; ")
        ));
    }
    // Workers of one plan measure one target; embedded simulators (a plan
    // without --url) are one each, and the merged figures mix them.
    let targets: std::collections::BTreeSet<&str> =
        shards.iter().map(|s| s.meta.base_url.as_str()).collect();
    if targets.len() > 1 {
        notes.push(format!(
            "the workers measured {} different targets ({}){}: the merged figures mix them",
            targets.len(),
            targets.iter().copied().collect::<Vec<_>>().join(", "),
            if base.embedded_sim {
                " (each worker's own embedded simulator: the plan has no --url)"
            } else {
                ""
            }
        ));
    }
    notes.push(format!(
        "merged from {} worker(s) of plan {} ({} shard(s))",
        shards.len(),
        first.plan_id,
        count
    ));
    // Notes every worker has (the target's, the plan's) once; a worker's
    // own (a client-limited point, a warning) with its rank.
    let common: Vec<String> = base
        .notes
        .iter()
        .filter(|n| shards.iter().all(|s| s.meta.notes.contains(n)))
        .cloned()
        .collect();
    let mut workers = Vec::new();
    let mut warnings = Vec::new();
    for s in &shards {
        let mut m = s.meta.shard.clone().expect("checked");
        warnings.extend(s.warnings.iter().cloned());
        notes.extend(
            s.meta
                .notes
                .iter()
                .filter(|n| !common.contains(n))
                .map(|n| format!("shard {}/{count}: {n}", m.rank)),
        );
        m.send_late_p99_ms = send_late_p99_ms(&s.points);
        if !m.gave_up_on.is_empty() {
            lead.push(format!(
                "EPOCHS NOT ALIGNED: shard {}/{count} stopped waiting for shard(s) {:?} (late \
                 beyond --sync-timeout, or gone); from then on their epochs did not start \
                 together",
                m.rank, m.gave_up_on
            ));
        }
        notes.push(worker_line(&m, &s.dir));
        workers.push(m);
    }
    // Points in the order the workers ran them, epochs joined.
    let mut order: Vec<(String, PointLabel)> = Vec::new();
    let mut epochs: BTreeMap<String, BTreeMap<u32, Vec<RequestRecord>>> = BTreeMap::new();
    // Every worker read the same server over its own epoch windows, which
    // start together: per epoch, the window that ended last covers all.
    type Views = (String, String, BTreeMap<u32, EpochServer>);
    let mut servers: BTreeMap<String, Views> = BTreeMap::new();
    for s in shards {
        for p in s.points {
            let id = p.label.id();
            if !order.iter().any(|(i, _)| *i == id) {
                order.push((id.clone(), p.label.clone()));
            }
            if let Some(v) = p.server {
                let e = servers
                    .entry(id.clone())
                    .or_insert_with(|| (v.engine.clone(), v.url.clone(), BTreeMap::new()));
                for ep in v.epochs {
                    match e.2.get(&ep.epoch) {
                        Some(have) if have.end_unix_s >= ep.end_unix_s => {}
                        _ => {
                            e.2.insert(ep.epoch, ep);
                        }
                    }
                }
            }
            let by_epoch = epochs.entry(id).or_default();
            for recs in p.epochs {
                for r in recs {
                    by_epoch.entry(r.epoch).or_default().push(r);
                }
            }
        }
    }
    let meta = RunMeta {
        started_unix_s: workers
            .iter()
            .map(|w| w.start_at_unix_s)
            .fold(f64::INFINITY, f64::min)
            .min(base.started_unix_s),
        interrupted: false,
        stopped_early: None,
        shard: None,
        merged: Some(MergeInfo {
            count,
            workers,
            missing,
            partial,
        }),
        notes: lead.into_iter().chain(common).chain(notes).collect(),
        ..base
    };
    std::fs::create_dir_all(&a.output).map_err(|e| CliError::write(&a.output, e))?;
    let records = a.output.join(RECORDS_FILE);
    crate::baseline::write_meta(&records, &meta).map_err(|e| CliError::write(&records, e))?;
    let mut w = RecordsWriter::create(&records).map_err(|e| CliError::write(&records, e))?;
    let mut points = Vec::new();
    for (id, label) in order {
        let by_epoch = epochs.remove(&id).unwrap_or_default();
        w.start_point(&label);
        for recs in by_epoch.values() {
            for r in recs {
                w.record(r);
            }
        }
        let server = servers
            .remove(&id)
            .map(|(engine, url, eps)| ServerPoint::new(&engine, &url, eps.into_values().collect()));
        if let Some(v) = &server {
            for e in &v.epochs {
                w.server(e, &v.engine, &v.url);
            }
        }
        let eps: Vec<Vec<RequestRecord>> = by_epoch.into_values().collect();
        points.push(PointData::new(label, eps, &meta.percentiles, &meta.slo).with_server(server));
    }
    if let Some(e) = w.take_error() {
        return Err(CliError::write(&records, e));
    }
    drop(w);
    for warning in &warnings {
        eprintln!("servebench merge: warning: {warning}");
    }
    let mut run = RunData { meta, points };
    run.summarize_spec_decode();
    let opts = WriteOptions {
        quiet: a.quiet,
        noplot: a.noplot,
        seed: None,
    };
    let paths = write_outputs(&a.output, None, &run, &opts)?;
    Ok(MergeOutcome { run, paths })
}
