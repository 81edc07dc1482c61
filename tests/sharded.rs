//! Sharded runs (`servebench plan`, `run --shard`, `merge`): worker
//! processes on this machine stand in for a Kubernetes Indexed Job's pods
//! or Slurm's tasks, against one `servebench sim` process.

mod common {
    pub mod sim;
}

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};

use common::sim::SimProcess;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_servebench"))
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `servebench plan -o DIR/plan.json --start-at +3s ARGS...`.
fn plan(dir: &Path, args: &[&str]) -> PathBuf {
    let path = dir.join("plan.json");
    let o = bin()
        .args(["plan", "-o"])
        .arg(&path)
        .args(["--start-at", "+3s"])
        .args(args)
        .output()
        .unwrap();
    assert!(o.status.success(), "plan: {}", text(&o));
    path
}

/// A worker process: `servebench run PLAN --out OUT EXTRA...` with `env`.
fn worker(plan: &Path, out: &Path, extra: &[&str], env: &[(&str, &str)]) -> Child {
    let mut c = bin();
    c.arg("run").arg(plan).arg("--out").arg(out).args(extra);
    for v in ["JOB_COMPLETION_INDEX", "SLURM_PROCID", "SLURM_NTASKS"] {
        c.env_remove(v);
    }
    c.envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(c: Child) -> Output {
    let o = c.wait_with_output().unwrap();
    assert!(o.status.success(), "worker: {}", text(&o));
    o
}

fn merge(out: &Path, into: &Path, extra: &[&str]) -> Output {
    bin()
        .arg("merge")
        .arg(out)
        .arg("-o")
        .arg(into)
        .args(["-q", "--noplot"])
        .args(extra)
        .output()
        .unwrap()
}

/// Every measured record of a records file.
fn measured(records: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(records)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v.get("point").is_some())
        .collect()
}

/// `(epoch, id, scheduled send time in µs)` of every measured record.
fn schedule(records: &Path) -> BTreeSet<(u64, u64, i64)> {
    measured(records)
        .iter()
        .map(|v| {
            (
                v["epoch"].as_u64().unwrap(),
                v["id"].as_u64().unwrap(),
                v["scheduled_s"]
                    .as_f64()
                    .map_or(-1, |s| (s * 1e6).round() as i64),
            )
        })
        .collect()
}

/// An RFC 3339 instant 2 s from now (`run --start-at`).
fn in_two_seconds() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    chrono::DateTime::from_timestamp_millis(now.as_millis() as i64 + 2000)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn run_json(dir: &Path) -> serde_json::Value {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("run.json")).unwrap()).unwrap();
    v["run"].clone()
}

const SERVING: &[&str] = &[
    "--request-rate",
    "60",
    "--num-prompts",
    "120",
    "--random-input-len",
    "32",
    "--random-output-len",
    "12",
    "--seed",
    "11",
    "-q",
    "--noplot",
];

#[test]
fn four_workers_merged_are_the_one_process_run_of_the_plan() {
    let sim = SimProcess::start("time_scale=0.3");
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["serving", "--url", sim.url.as_str()];
    args.extend_from_slice(SERVING);
    args.extend_from_slice(&["--epochs", "5"]);
    let plan = plan(dir.path(), &args);
    let out = dir.path().join("results");
    let workers: Vec<Child> = (0..4)
        .map(|r| worker(&plan, &out, &["--shard", &format!("{r}/4")], &[]))
        .collect();
    workers.into_iter().for_each(|w| drop(finish(w)));
    // Each worker sent about a quarter; every one met at every step.
    for r in 0..4 {
        let s = schedule(&out.join(format!("shard-{r}/records.jsonl")));
        assert_eq!(s.len(), 150, "shard {r}: 30 requests x 5 epochs");
        let meta = &run_json(&out.join(format!("shard-{r}")))["meta"]["shard"];
        assert_eq!(meta["rank"], r);
        // A warm-up and 5 epochs, each begun within a few ms of its instant.
        let late = meta["step_late_ms"].as_array().unwrap();
        assert_eq!(late.len(), 6, "{meta}");
        assert!(meta["clock_offset_ms"].is_array(), "{meta}");
    }
    let merged = dir.path().join("merged");
    let o = merge(&out, &merged, &[]);
    assert!(o.status.success(), "merge: {}", text(&o));
    // One process runs the same plan (a shard of one, at its own start).
    let single_out = dir.path().join("single");
    let one = worker(
        &plan,
        &single_out,
        &["--shard", "0/1", "--start-at", "+2s"],
        &[],
    );
    let o = finish(one);
    assert!(text(&o).contains("shard 0/1"), "{}", text(&o));
    let single = single_out.join("shard-0");
    let (m, s) = (
        schedule(&merged.join("records.jsonl")),
        schedule(&single.join("records.jsonl")),
    );
    assert_eq!(m.len(), 600, "120 requests x 5 epochs, exactly");
    assert_eq!(m, s, "the shards' union is the plan's schedule");
    let run = run_json(&merged);
    let point = &run["points"][0]["summary"];
    assert_eq!(point["completed"], 600, "{point}");
    assert_eq!(run["meta"]["merged"]["count"], 4);
    assert_eq!(run["meta"]["merged"]["partial"], false);
    assert_eq!(
        run["meta"]["merged"]["workers"].as_array().unwrap().len(),
        4
    );
    // The merged run is judged like any: against the one-process run, no
    // change on the gated metrics.
    let o = bin()
        .arg("compare")
        .arg(&single)
        .arg(&merged)
        .args(["--gate", "--gate-allow-inconclusive", "--color", "never"])
        .args(["--noise-threshold", "0.1"])
        .output()
        .unwrap();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(!t.contains("regressed") && !t.contains("improved"), "{t}");
    // `report` rebuilds the merged run from its records.
    let o = bin().arg("report").arg(&merged).arg("-q").output().unwrap();
    assert!(o.status.success(), "report: {}", text(&o));
}

#[test]
fn closed_loop_concurrency_is_split_and_the_blocks_tile_each_epoch() {
    let sim = SimProcess::start("time_scale=0.2");
    let dir = tempfile::tempdir().unwrap();
    let plan = plan(
        dir.path(),
        &[
            "--shards",
            "3",
            "static",
            "--url",
            &sim.url,
            "--parallel-num",
            "4",
            "--prompt-tokens",
            "32",
            "--output-tokens",
            "8",
            "--requests-per-worker",
            "2",
            "--epochs",
            "2",
            "-q",
            "--noplot",
        ],
    );
    let out = dir.path().join("results");
    // Ranks from the environment: Slurm's for one, Kubernetes' for another.
    let ws = vec![
        worker(
            &plan,
            &out,
            &[],
            &[("SLURM_PROCID", "0"), ("SLURM_NTASKS", "3")],
        ),
        worker(&plan, &out, &[], &[("JOB_COMPLETION_INDEX", "1")]),
        worker(&plan, &out, &["--shard", "2/3"], &[]),
    ];
    ws.into_iter().for_each(|w| drop(finish(w)));
    // Concurrency 4 over 3 workers: 2, 1, 1; 2 requests each per epoch.
    for (r, n) in [(0, 4 * 2), (1, 2 * 2), (2, 2 * 2)] {
        let s = schedule(&out.join(format!("shard-{r}/records.jsonl")));
        assert_eq!(s.len(), n, "shard {r}");
    }
    let merged = dir.path().join("merged");
    let o = merge(&out, &merged, &[]);
    assert!(o.status.success(), "merge: {}", text(&o));
    let m = schedule(&merged.join("records.jsonl"));
    assert_eq!(m.len(), 16, "4 workers x 2 requests x 2 epochs");
    let ids: BTreeSet<u64> = m.iter().map(|x| x.1).collect();
    assert_eq!(ids.len(), 16, "every request of the plan, once");
    let label = &run_json(&merged)["points"][0]["label"];
    assert_eq!(
        label["concurrency"], 4,
        "the point keeps the plan's concurrency"
    );
}

#[test]
fn ranks_from_kubernetes_and_slurm_pick_the_same_share_as_the_flag() {
    let sim = SimProcess::start("time_scale=0.2");
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["serving", "--url", sim.url.as_str()];
    args.extend_from_slice(SERVING);
    args.extend_from_slice(&["--epochs", "1"]);
    let plan = plan(dir.path(), &args);
    let run = |name: &str, extra: &[&str], env: &[(&str, &str)]| {
        let out = dir.path().join(name);
        // Alone (no other worker to meet), at an instant 2 s from now.
        let at = in_two_seconds();
        let mut flags = vec!["--no-sync", "--start-at", at.as_str()];
        flags.extend_from_slice(extra);
        finish(worker(&plan, &out, &flags, env));
        schedule(&out.join("shard-2/records.jsonl"))
    };
    let flag = run("flag", &["--shard", "2/4"], &[]);
    let k8s = run("k8s", &["--shards", "4"], &[("JOB_COMPLETION_INDEX", "2")]);
    let slurm = run(
        "slurm",
        &[],
        &[("SLURM_PROCID", "2"), ("SLURM_NTASKS", "4")],
    );
    assert_eq!(flag.len(), 30);
    assert!(
        flag.iter().all(|x| x.1 % 4 == 2),
        "request i goes to rank i mod 4"
    );
    assert_eq!(flag, k8s);
    assert_eq!(flag, slurm);
    // Bad ranks are refused before any load, naming where they came from.
    for (extra, env, want) in [
        (vec!["--shard", "4/4"], vec![], "--shard"),
        (
            vec!["--shards", "4"],
            vec![("JOB_COMPLETION_INDEX", "7")],
            "JOB_COMPLETION_INDEX",
        ),
        (
            vec![],
            vec![("SLURM_PROCID", "1"), ("SLURM_NTASKS", "0")],
            "SLURM",
        ),
        (vec![], vec![], "no worker rank"),
        // A delay resolves on each worker's clock: refused for N > 1.
        (
            vec!["--shard", "1/4", "--start-at", "+5s"],
            vec![],
            "--start-at",
        ),
    ] {
        let o = worker(&plan, &dir.path().join("bad"), &extra, &env)
            .wait_with_output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{extra:?} {env:?}: {}", text(&o));
        assert!(text(&o).contains(want), "{want}: {}", text(&o));
    }
}

#[test]
fn a_killed_worker_is_named_and_allow_partial_marks_the_result() {
    let sim = SimProcess::start("time_scale=0.3");
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["serving", "--url", sim.url.as_str()];
    args.extend_from_slice(SERVING);
    args.extend_from_slice(&["--epochs", "3"]);
    let plan = plan(dir.path(), &args);
    let out = dir.path().join("results");
    let timeout = ["--sync-timeout", "2"];
    let mut ws: Vec<Child> = (0..4)
        .map(|r| {
            let mut flags = timeout.to_vec();
            let s = format!("{r}/4");
            flags.extend_from_slice(&["--shard", &s]);
            worker(&plan, &out, &flags, &[])
        })
        .collect();
    // Shard 3 dies once its first measured epoch began (its records file
    // holds requests).
    let records = out.join("shard-3/records.jsonl");
    let t0 = std::time::Instant::now();
    while !std::fs::read_to_string(&records).is_ok_and(|t| t.contains("\"scheduled_s\"")) {
        assert!(
            t0.elapsed().as_secs() < 30,
            "shard 3 never sent a measured request"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let mut killed = ws.pop().unwrap();
    killed.kill().unwrap();
    let _ = killed.wait();
    ws.into_iter().for_each(|w| drop(finish(w)));
    let merged = dir.path().join("merged");
    let o = merge(&out, &merged, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("shard 3/4"), "{}", text(&o));
    assert!(!merged.join("run.json").exists());
    // A missing folder is named too.
    std::fs::rename(out.join("shard-3"), dir.path().join("away")).unwrap();
    let o = merge(&out, &merged, &[]);
    assert!(text(&o).contains("shard 3/4 is missing"), "{}", text(&o));
    // A worker that stopped before any load (a late start) leaves an empty
    // folder: named as such.
    std::fs::create_dir(out.join("shard-3")).unwrap();
    let o = merge(&out, &merged, &[]);
    assert!(text(&o).contains("holds no run"), "{}", text(&o));
    std::fs::remove_dir(out.join("shard-3")).unwrap();
    let o = merge(&out, &merged, &["--allow-partial"]);
    assert!(o.status.success(), "{}", text(&o));
    let run = run_json(&merged);
    assert_eq!(run["meta"]["merged"]["partial"], true);
    assert_eq!(run["meta"]["merged"]["missing"][0], 3);
    let md = std::fs::read_to_string(merged.join("summary.md")).unwrap();
    assert!(md.contains("PARTIAL RESULT"), "{md}");
    let notes = run["meta"]["notes"].as_array().unwrap();
    assert!(
        notes[0].as_str().unwrap().starts_with("PARTIAL RESULT"),
        "{notes:?}"
    );
    let html = std::fs::read_to_string(merged.join("report/index.html")).unwrap();
    assert!(html.contains("PARTIAL RESULT"));
    // A shard given twice is refused, naming both.
    std::fs::rename(dir.path().join("away"), out.join("shard-3")).unwrap();
    let o = merge(&out.join("shard-0"), &merged, &[]);
    assert!(
        !o.status.success() && text(&o).contains("shard 1/4 is missing"),
        "{}",
        text(&o)
    );
    let o = bin()
        .arg("merge")
        .arg(out.join("shard-1"))
        .arg(out.join("shard-1"))
        .arg("-o")
        .arg(&merged)
        .output()
        .unwrap();
    assert!(text(&o).contains("shard 1/4 twice"), "{}", text(&o));
}

/// A cap on requests in flight below the number of workers cannot be kept
/// (each worker holds at least one): refused before any load.
#[test]
fn a_max_concurrency_below_the_workers_is_refused() {
    let sim = SimProcess::start("time_scale=0.2");
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["serving", "--url", sim.url.as_str()];
    args.extend_from_slice(SERVING);
    args.extend_from_slice(&["--epochs", "1", "--max-concurrency", "3"]);
    let plan3 = plan(dir.path(), &args);
    let at = in_two_seconds();
    let out = dir.path().join("bad");
    let o = worker(
        &plan3,
        &out,
        &["--no-sync", "--start-at", at.as_str(), "--shard", "1/4"],
        &[],
    )
    .wait_with_output()
    .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("--max-concurrency") && t.contains("4 workers"),
        "{t}"
    );
    assert!(!out.join("shard-1/records.jsonl").exists(), "nothing sent");
    // At the number of workers it runs (one request in flight each).
    let ok = dir.path().join("ok");
    let mut args = vec!["serving", "--url", sim.url.as_str()];
    args.extend_from_slice(SERVING);
    args.extend_from_slice(&["--epochs", "1", "--max-concurrency", "4"]);
    let plan4 = dir.path().join("p4");
    std::fs::create_dir_all(&plan4).unwrap();
    let plan4 = plan(&plan4, &args);
    let at = in_two_seconds();
    finish(worker(
        &plan4,
        &ok,
        &["--no-sync", "--start-at", at.as_str(), "--shard", "1/4"],
        &[],
    ));
}

/// `(epoch, id, session, turn)` of every measured record.
fn turns(records: &Path) -> Vec<(u64, u64, u64, u64)> {
    let mut v: Vec<_> = measured(records)
        .iter()
        .map(|v| {
            (
                v["epoch"].as_u64().unwrap(),
                v["id"].as_u64().unwrap(),
                v["session"]["session"].as_u64().unwrap(),
                v["session"]["turn"].as_u64().unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

/// A sharded multi-turn run numbers its turns as the one-process run does:
/// merged, every id is used once, by the same session's same turn.
#[test]
fn sharded_sessions_keep_the_turn_ids_of_one_process() {
    let sim = SimProcess::start("time_scale=0.2");
    let dir = tempfile::tempdir().unwrap();
    let plan = plan(
        dir.path(),
        &[
            "sessions",
            "--url",
            sim.url.as_str(),
            "--num-sessions",
            "12",
            "--turns",
            "3",
            "--session-rate",
            "40",
            "--turn-input-len",
            "16",
            "--turn-output-len",
            "4",
            "--epochs",
            "2",
            "--noplot",
        ],
    );
    let out = dir.path().join("results");
    let workers: Vec<Child> = (0..3)
        .map(|r| worker(&plan, &out, &["--shard", &format!("{r}/3")], &[]))
        .collect();
    workers.into_iter().for_each(|w| drop(finish(w)));
    let merged = dir.path().join("merged");
    let o = merge(&out, &merged, &[]);
    assert!(o.status.success(), "merge: {}", text(&o));
    let single_out = dir.path().join("single");
    finish(worker(
        &plan,
        &single_out,
        &["--shard", "0/1", "--start-at", "+2s"],
        &[],
    ));
    let m = turns(&merged.join("records.jsonl"));
    let s = turns(&single_out.join("shard-0/records.jsonl"));
    assert_eq!(m.len(), 72, "12 sessions x 3 turns x 2 epochs");
    let ids: BTreeSet<(u64, u64)> = m.iter().map(|t| (t.0, t.1)).collect();
    assert_eq!(ids.len(), m.len(), "an id once an epoch: {m:?}");
    assert_eq!(m, s, "the same ids for the same turns");
}
