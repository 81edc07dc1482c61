//! One worker's share of a run that N workers execute together
//! (`servebench run plan.json --shard R/N`): which requests it sends, how
//! its epochs are aligned with the other workers' (marker files in a
//! shared folder, every epoch started at one agreed wall-clock instant),
//! and its clock's offset to the target's.
//!
//! The split is exact: every worker builds the whole run's requests and
//! arrival schedule from the seed and keeps its part, so that the union of
//! the shards is the plan. Open loop: request `i` of an epoch goes to
//! worker `i mod N` (a trace's line, a session: the same rule on their
//! index). Closed loop: concurrency `C` becomes `C / N` per worker, the
//! remainder to the lowest ranks, each worker sending the consecutive block
//! of the epoch's requests its workers would have sent.

use std::collections::BTreeSet;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::RunError;
pub use crate::metrics::ShardMeta;

/// Worker `rank` of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub rank: u32,
    pub count: u32,
}

fn bad(flag: &str, reason: impl Into<String>) -> RunError {
    RunError::BadSetting {
        flag: flag.into(),
        reason: reason.into(),
    }
}

impl Shard {
    /// A checked shard: `count` at least 1, `rank` below it; `flag` names
    /// where the values came from.
    pub fn new(rank: u32, count: u32, flag: &str) -> Result<Shard, RunError> {
        if count == 0 {
            return Err(bad(flag, "the number of shards must be at least 1"));
        }
        if rank >= count {
            return Err(bad(
                flag,
                format!(
                    "rank {rank} is not below the number of shards {count} (ranks run 0..{count})"
                ),
            ));
        }
        Ok(Shard { rank, count })
    }

    /// `--shard R/N`.
    pub fn parse(s: &str) -> Result<Shard, RunError> {
        let flag = "--shard";
        let (r, n) = s
            .split_once('/')
            .ok_or_else(|| bad(flag, format!("`{s}`: give RANK/COUNT, e.g. 0/4")))?;
        let num = |v: &str, what: &str| {
            v.trim()
                .parse::<u32>()
                .map_err(|_| bad(flag, format!("`{s}`: {what} `{v}` is not a whole number")))
        };
        Shard::new(num(r, "rank")?, num(n, "count")?, flag)
    }

    /// The rank and count from the engine that started the worker: an
    /// explicit `--shard`, else `JOB_COMPLETION_INDEX` (a Kubernetes
    /// Indexed Job) with `shards` (`--shards`, or the plan's), else
    /// `SLURM_PROCID` with `SLURM_NTASKS` (or `shards`). `env` reads a
    /// variable (the process's environment in the command).
    pub fn resolve(
        explicit: Option<&str>,
        shards: Option<u32>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Shard, RunError> {
        if let Some(s) = explicit {
            let shard = Shard::parse(s)?;
            if let Some(n) = shards.filter(|&n| n != shard.count) {
                return Err(bad(
                    "--shard",
                    format!("{s} disagrees with --shards {n} (or the plan's shards)"),
                ));
            }
            return Ok(shard);
        }
        let num = |var: &str, v: String| {
            v.trim()
                .parse::<u32>()
                .map_err(|_| bad(var, format!("`{v}` is not a whole number")))
        };
        if let Some(v) = env("JOB_COMPLETION_INDEX") {
            let rank = num("JOB_COMPLETION_INDEX", v)?;
            let count = shards.ok_or_else(|| {
                bad(
                    "--shards",
                    "JOB_COMPLETION_INDEX gives the rank; give the number of workers with \
                     --shards N (the Job's completions), or write it in the plan",
                )
            })?;
            return Shard::new(rank, count, "JOB_COMPLETION_INDEX/--shards");
        }
        if let Some(v) = env("SLURM_PROCID") {
            let rank = num("SLURM_PROCID", v)?;
            let count = match env("SLURM_NTASKS") {
                Some(n) => {
                    let n = num("SLURM_NTASKS", n)?;
                    if let Some(s) = shards.filter(|&s| s != n) {
                        return Err(bad(
                            "--shards",
                            format!("{s} disagrees with SLURM_NTASKS={n}"),
                        ));
                    }
                    n
                }
                None => shards.ok_or_else(|| {
                    bad(
                        "--shards",
                        "SLURM_PROCID is set but not SLURM_NTASKS; give --shards N",
                    )
                })?,
            };
            return Shard::new(rank, count, "SLURM_PROCID/SLURM_NTASKS");
        }
        Err(bad(
            "--shard",
            "no worker rank: give --shard R/N, or run under a Kubernetes Indexed Job \
             (JOB_COMPLETION_INDEX, with --shards N) or Slurm's srun (SLURM_PROCID, SLURM_NTASKS)",
        ))
    }

    /// This worker's part of `total` (concurrency, warm-up requests):
    /// `total / count`, one more for the ranks below `total % count`.
    pub fn share(&self, total: usize) -> usize {
        let (n, r) = (self.count as usize, self.rank as usize);
        total / n + usize::from(r < total % n)
    }

    /// The consecutive block of `0..total` that [`Shard::share`] gives this
    /// worker (the blocks of all ranks tile `0..total` in rank order).
    pub fn block(&self, total: usize) -> Range<usize> {
        let (n, r) = (self.count as usize, self.rank as usize);
        let start = r * (total / n) + r.min(total % n);
        start..start + self.share(total)
    }

    /// Whether item `i` of an open-loop epoch (a request, a trace line, a
    /// session) is this worker's.
    pub fn owns(&self, i: usize) -> bool {
        i % self.count as usize == self.rank as usize
    }

    /// `rank/count`.
    pub fn describe(&self) -> String {
        format!("{}/{}", self.rank, self.count)
    }
}

/// How one worker runs its share: the shard, the plan it belongs to, the
/// instant every worker starts, and where the workers meet between epochs.
#[derive(Debug, Clone, PartialEq)]
pub struct ShardRun {
    pub shard: Shard,
    /// The plan's id (the same in every worker's run; `merge` checks it).
    pub plan_id: String,
    /// Unix time (s) at which every worker starts its first step.
    pub start_at_unix_s: f64,
    /// Folder of the marker files that align every later step (shared by
    /// all workers); `None`: only the start is aligned.
    pub sync_dir: Option<PathBuf>,
    /// How long a worker waits for the others at a step before it goes on
    /// without the late ones (which it then no longer waits for).
    pub sync_timeout: Duration,
}

/// A worker started this late after the start instant refuses to run.
pub const LATE_START_LIMIT_S: f64 = 1.0;
/// Between the last worker's arrival at a step and the step's start: time
/// for every worker to see the last marker.
pub const SYNC_MARGIN_S: f64 = 0.5;
/// How often a waiting worker looks for the others' markers.
const POLL: Duration = Duration::from_millis(20);

use crate::metrics::unix_now_s as now_s;

/// Sleep until Unix time `at` (a step's instant), finishing with a short
/// spin-free sleep so that the start is within a millisecond.
async fn sleep_until_unix(at: f64) {
    loop {
        let left = at - now_s();
        if left <= 0.0 {
            return;
        }
        if left > 0.05 {
            tokio::time::sleep(Duration::from_secs_f64(left - 0.02)).await;
        } else {
            std::thread::sleep(Duration::from_secs_f64(left));
        }
    }
}

/// Aligns one worker's steps with the others': before each step it waits
/// for the agreed instant. Dropping it tells the others this worker is done
/// (so that a worker that stops early or fails is not waited for).
pub(super) struct StepSync {
    run: ShardRun,
    step: u32,
    gone: BTreeSet<u32>,
    pub meta: ShardMeta,
}

fn marker(dir: &Path, step: u32, rank: u32) -> PathBuf {
    dir.join(format!("step-{step:05}-rank-{rank}"))
}

fn done_marker(dir: &Path, rank: u32) -> PathBuf {
    dir.join(format!("done-rank-{rank}"))
}

/// Write `text` to `path` whole (a temporary file renamed into place), so
/// that a reader never sees half of it.
fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

impl StepSync {
    /// A worker's sync, its marker folder created (and its own markers of
    /// an earlier attempt removed).
    pub fn new(run: &ShardRun) -> Result<StepSync, RunError> {
        if let Some(dir) = &run.sync_dir {
            std::fs::create_dir_all(dir).map_err(|e| RunError::write(dir, e))?;
            let _ = std::fs::remove_file(done_marker(dir, run.shard.rank));
        }
        Ok(StepSync {
            meta: ShardMeta {
                rank: run.shard.rank,
                count: run.shard.count,
                plan_id: run.plan_id.clone(),
                host: host_name(),
                start_at_unix_s: run.start_at_unix_s,
                ..ShardMeta::default()
            },
            run: run.clone(),
            step: 0,
            gone: BTreeSet::new(),
        })
    }

    /// The worker's shard.
    pub fn shard(&self) -> Shard {
        self.run.shard
    }

    /// Refuse a start instant already past (before any load).
    pub fn check_start(&self) -> Result<(), RunError> {
        let late = now_s() - self.run.start_at_unix_s;
        if late > LATE_START_LIMIT_S {
            return Err(bad(
                "--start-at",
                format!(
                    "the plan's start instant passed {late:.1} s ago, before this worker was \
                     ready: a worker starting late would send out of step with the others. \
                     Write the plan again with a later --start-at (or give every worker the \
                     same later `servebench run --start-at`)"
                ),
            ));
        }
        Ok(())
    }

    /// Wait for the next step's agreed instant: the plan's start for the
    /// first; for a later one, every worker's marker (or the timeout), then
    /// the last arrival plus [`SYNC_MARGIN_S`].
    pub async fn step(&mut self) -> Result<(), RunError> {
        let k = self.step;
        self.step += 1;
        let at = if k == 0 {
            self.check_start()?;
            self.run.start_at_unix_s
        } else {
            match self.run.sync_dir.clone() {
                Some(dir) => self.meet(&dir, k).await?,
                // Unsynchronised: each step starts when the worker is ready.
                None => now_s(),
            }
        };
        sleep_until_unix(at).await;
        let late_ms = ((now_s() - at) * 1000.0).max(0.0);
        self.meta
            .step_late_ms
            .push((late_ms * 1000.0).round() / 1000.0);
        Ok(())
    }

    /// Write this worker's marker for step `k`, wait for the others', and
    /// return the step's instant.
    async fn meet(&mut self, dir: &Path, k: u32) -> Result<f64, RunError> {
        let me = self.run.shard.rank;
        let ready = now_s();
        let path = marker(dir, k, me);
        write_atomic(&path, &format!("{ready:.6}")).map_err(|e| RunError::write(&path, e))?;
        let mut last = ready;
        let mut waiting: BTreeSet<u32> = (0..self.run.shard.count)
            .filter(|r| *r != me && !self.gone.contains(r))
            .collect();
        let deadline = ready + self.run.sync_timeout.as_secs_f64();
        loop {
            waiting.retain(|&r| {
                if let Some(t) = std::fs::read_to_string(marker(dir, k, r))
                    .ok()
                    .and_then(|s| s.trim().parse::<f64>().ok())
                {
                    last = last.max(t);
                    return false;
                }
                if done_marker(dir, r).exists() {
                    self.gone.insert(r);
                    return false;
                }
                true
            });
            if waiting.is_empty() {
                break;
            }
            if now_s() > deadline || crate::load::interrupt::stopping() {
                for r in &waiting {
                    eprintln!(
                        "servebench: warning: shard {r}/{} did not reach step {k} within {:.0} s; \
                         going on without it",
                        self.run.shard.count,
                        self.run.sync_timeout.as_secs_f64()
                    );
                    self.gone.insert(*r);
                }
                self.meta.gave_up_on = self.gone.iter().copied().collect();
                break;
            }
            tokio::time::sleep(POLL).await;
        }
        Ok(last + SYNC_MARGIN_S)
    }
}

/// Tells the other workers this one is done when dropped (a worker that
/// fails before its first step, a bad dataset or a refused start, must not
/// be waited for); `servebench run` holds one for the whole command.
pub struct DoneOnDrop(Option<(PathBuf, u32)>);

impl ShardRun {
    /// A guard writing this worker's done marker when dropped.
    pub fn done_on_drop(&self) -> DoneOnDrop {
        DoneOnDrop(self.sync_dir.clone().map(|d| (d, self.shard.rank)))
    }
}

impl Drop for DoneOnDrop {
    fn drop(&mut self) {
        if let Some((dir, rank)) = &self.0 {
            if std::fs::create_dir_all(dir).is_ok() {
                let _ = write_atomic(&done_marker(dir, *rank), &format!("{:.6}", now_s()));
            }
        }
    }
}

impl Drop for StepSync {
    fn drop(&mut self) {
        if let Some(dir) = &self.run.sync_dir {
            let _ = write_atomic(
                &done_marker(dir, self.run.shard.rank),
                &format!("{:.6}", now_s()),
            );
        }
    }
}

/// This machine's host name (Kubernetes: the pod's; Slurm: the node's).
pub fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// The worker's clock minus the target's, ms, as an interval: each response
/// says the server's time was in `[D, D + 1 s)` somewhere between sending
/// and receiving, so `offset ∈ [send - D - 1 s, recv - D]`; the responses'
/// intervals intersect. Requests 25 ms apart over 1.1 s put two of them
/// around a change of second, which narrows the interval to about the
/// spacing plus the round trip.
pub async fn clock_offset_ms(base_url: &str) -> Option<(f64, f64)> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .ok()?;
    let (mut lo, mut hi) = (f64::NEG_INFINITY, f64::INFINITY);
    for _ in 0..45 {
        let sent = now_s();
        let Ok(resp) = http.get(format!("{base_url}/v1/models")).send().await else {
            return None;
        };
        let recv = now_s();
        let date = resp
            .headers()
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| chrono::DateTime::parse_from_rfc2822(v).ok())
            .map(|d| d.timestamp() as f64)?;
        lo = lo.max(sent - date - 1.0);
        hi = hi.min(recv - date);
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    (lo <= hi).then_some((lo * 1000.0, hi * 1000.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| vars.iter().find(|v| v.0 == k).map(|v| v.1.to_string())
    }

    #[test]
    fn shares_and_blocks_tile_the_whole() {
        for n in 1..7u32 {
            for total in 0..40usize {
                let shards: Vec<Shard> = (0..n).map(|r| Shard::new(r, n, "t").unwrap()).collect();
                let sum: usize = shards.iter().map(|s| s.share(total)).sum();
                assert_eq!(sum, total);
                let mut next = 0;
                for s in &shards {
                    let b = s.block(total);
                    assert_eq!(b.start, next);
                    assert_eq!(b.len(), s.share(total));
                    next = b.end;
                }
                assert_eq!(next, total);
                // Remainder to the lowest ranks.
                assert!(shards
                    .windows(2)
                    .all(|w| w[0].share(total) >= w[1].share(total)));
                for i in 0..total {
                    assert_eq!(shards.iter().filter(|s| s.owns(i)).count(), 1);
                }
            }
        }
        let s = Shard::new(1, 4, "t").unwrap();
        assert_eq!((s.share(10), s.block(10)), (3, 3..6));
    }

    #[test]
    fn bad_shards_are_refused_with_the_flag() {
        for bad in ["4/4", "1/0", "a/2", "3", "-1/2"] {
            let e = Shard::parse(bad).unwrap_err().to_string();
            assert!(e.starts_with("--shard:"), "{bad}: {e}");
        }
        assert_eq!(Shard::parse("2/5").unwrap(), Shard { rank: 2, count: 5 });
        let e = Shard::resolve(None, None, env(&[]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("JOB_COMPLETION_INDEX") && e.contains("SLURM_PROCID"),
            "{e}"
        );
        let e = Shard::resolve(None, None, env(&[("JOB_COMPLETION_INDEX", "1")]))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("--shards:"), "{e}");
        let e = Shard::resolve(None, Some(4), env(&[("JOB_COMPLETION_INDEX", "4")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("rank 4"), "{e}");
        let e = Shard::resolve(
            None,
            Some(3),
            env(&[("SLURM_PROCID", "0"), ("SLURM_NTASKS", "4")]),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("SLURM_NTASKS=4"), "{e}");
        assert!(Shard::resolve(Some("1/4"), Some(3), env(&[])).is_err());
    }

    #[test]
    fn rank_from_kubernetes_and_slurm_is_the_flags_rank() {
        let flag = Shard::resolve(Some("2/4"), None, env(&[])).unwrap();
        let k8s = Shard::resolve(None, Some(4), env(&[("JOB_COMPLETION_INDEX", "2")])).unwrap();
        let slurm = Shard::resolve(
            None,
            None,
            env(&[("SLURM_PROCID", "2"), ("SLURM_NTASKS", "4")]),
        )
        .unwrap();
        assert_eq!(flag, k8s);
        assert_eq!(flag, slurm);
        // An explicit --shard wins over the environment.
        let both = Shard::resolve(Some("1/4"), None, env(&[("SLURM_PROCID", "3")])).unwrap();
        assert_eq!(both.rank, 1);
    }

    #[tokio::test]
    async fn workers_meet_at_one_instant_and_a_gone_worker_is_not_waited_for() {
        let dir = tempfile::tempdir().unwrap();
        let start = now_s() + 0.2;
        let run = |rank| ShardRun {
            shard: Shard::new(rank, 3, "t").unwrap(),
            plan_id: "p".into(),
            start_at_unix_s: start,
            sync_dir: Some(dir.path().to_path_buf()),
            sync_timeout: Duration::from_secs(20),
        };
        let mut a = StepSync::new(&run(0)).unwrap();
        let mut b = StepSync::new(&run(1)).unwrap();
        let c = StepSync::new(&run(2)).unwrap();
        // Rank 2 ends at once: the others must not wait for it.
        drop(c);
        let t0 = std::time::Instant::now();
        let (ra, rb) = tokio::join!(
            async {
                a.step().await.unwrap();
                a.step().await.unwrap();
                now_s()
            },
            async {
                b.step().await.unwrap();
                // Arrives late at step 1: a waits for it.
                tokio::time::sleep(Duration::from_millis(300)).await;
                b.step().await.unwrap();
                now_s()
            }
        );
        assert!((ra - rb).abs() < 0.05, "steps began {:.3} s apart", ra - rb);
        assert!(t0.elapsed() < Duration::from_secs(5));
        assert!(a.gone.contains(&2));
        assert_eq!(a.meta.step_late_ms.len(), 2);
        assert!(
            a.meta.step_late_ms.iter().all(|&l| l < 50.0),
            "{:?}",
            a.meta.step_late_ms
        );
    }

    #[test]
    fn a_start_instant_already_past_is_refused() {
        let run = ShardRun {
            shard: Shard::new(0, 1, "t").unwrap(),
            plan_id: "p".into(),
            start_at_unix_s: now_s() - 10.0,
            sync_dir: None,
            sync_timeout: Duration::from_secs(1),
        };
        let e = StepSync::new(&run)
            .unwrap()
            .check_start()
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("--start-at:") && e.contains("passed"), "{e}");
    }
}
