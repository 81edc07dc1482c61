//! The failure-rate limit: a run whose recent requests mostly fail stops
//! itself, keeps what it measured, says why, and exits with code 5; a run
//! below the limit is not stopped.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn static_run(dir: &Path, sim: &str, limit: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_servebench"))
        .args(["static", "--parallel-num", "4", "--prompt-tokens", "8"])
        .args(["--output-tokens", "4", "--epochs", "10", "--quiet"])
        .args(["--sim", sim, "--no-preflight", "--noplot"])
        .args(["--max-failure-rate", limit, "--failure-window", "20"])
        .arg("--output-dir")
        .arg(dir)
        .env_remove("SERVEBENCH_SIM")
        .output()
        .unwrap()
}

fn run_json(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("static/new/run.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// (sent, completed, failed) over every point of a run.json.
fn accounting(run: &Value) -> (u64, u64, u64) {
    let data = run.get("run").unwrap_or(run);
    let mut t = (0, 0, 0);
    for p in data["points"].as_array().unwrap() {
        let s = &p["summary"];
        t.0 += s["sent"].as_u64().unwrap();
        t.1 += s["completed"].as_u64().unwrap();
        t.2 += s["failed"].as_u64().unwrap();
    }
    t
}

fn meta(run: &Value) -> &Value {
    &run.get("run").unwrap_or(run)["meta"]
}

#[test]
fn a_mostly_failing_server_stops_the_run_early_with_a_verdict() {
    let tmp = tempfile::tempdir().unwrap();
    // 80 % of requests answer 503: the first 20 finished already pass 50 %.
    let out = static_run(tmp.path(), "seed=5,error_rate=0.8,time_scale=0.05", "0.5");
    assert_eq!(
        out.status.code(),
        Some(5),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = run_json(tmp.path());
    let stop = &meta(&run)["stopped_early"];
    assert_eq!(stop["window"], 20);
    assert!(stop["failed"].as_u64().unwrap() > 10, "{stop}");
    assert_eq!(meta(&run)["interrupted"], false);
    let (sent, completed, failed) = accounting(&run);
    assert_eq!(sent, completed + failed, "sent = succeeded + failed");
    // 10 epochs of 4 would be 40 measured requests (plus 4 warm-up); the
    // stop comes after the 20th finished request, with at most 4 in flight.
    assert!(sent < 40, "the run went on: {sent} sent");
    let md = std::fs::read_to_string(tmp.path().join("static/new/summary.md")).unwrap();
    assert!(md.contains("Stopped: the run stopped early"), "{md}");
    let html = std::fs::read_to_string(tmp.path().join("static/new/report/index.html")).unwrap();
    assert!(html.contains("failure-rate limit"));
    // Rebuilt from its records, the run keeps its verdict and its counts.
    let rebuilt = servebench::cli::rebuild_run(&tmp.path().join("static/new")).unwrap();
    let stop = rebuilt.run.meta.stopped_early.expect("verdict kept");
    assert!(stop.failed > 10 && stop.window == 20, "{stop}");
    let total: (usize, usize) = rebuilt.run.points.iter().fold((0, 0), |t, p| {
        (t.0 + p.summary.sent, t.1 + p.summary.failed)
    });
    assert_eq!(total.0 as u64, sent);
    assert_eq!(total.1 as u64, failed);
}

#[test]
fn failures_below_the_limit_do_not_stop_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let out = static_run(tmp.path(), "seed=5,error_rate=0.1,time_scale=0.05", "0.5");
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = run_json(tmp.path());
    assert!(meta(&run).get("stopped_early").is_none());
    let (sent, completed, failed) = accounting(&run);
    assert_eq!((sent, completed + failed), (40, 40));
    assert!(failed > 0, "the seed injects some errors");
}
