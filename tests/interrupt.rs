//! Interrupting a run: Ctrl-C keeps everything measured and marks the run
//! interrupted; SIGKILL keeps every record written, and `servebench report`
//! rebuilds the outputs from them.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn start_run(dir: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_servebench"))
        .args([
            "serving",
            "--random-input-len",
            "64",
            "--random-output-len",
            "40",
        ])
        .args(["--request-rate", "20", "--num-prompts", "400", "--quiet"])
        .args(["--sim", "time_scale=0.5"])
        .arg("--output-dir")
        .arg(dir)
        .env_remove("SERVEBENCH_SIM")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Wait until the records file holds at least `n` record lines.
fn wait_for_records(path: &Path, n: usize) {
    let t0 = Instant::now();
    loop {
        let lines = std::fs::read_to_string(path)
            .map(|t| t.lines().filter(|l| l.starts_with("{\"point\"")).count())
            .unwrap_or(0);
        if lines >= n {
            return;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "no records after 20 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_exit(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let t0 = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if t0.elapsed() > limit {
            child.kill().ok();
            panic!("the run did not stop within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn ctrl_c_writes_every_output_and_marks_the_run_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("serving/new");
    let mut child = start_run(dir.path());
    wait_for_records(&run_dir.join("records.jsonl"), 5);
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let status = wait_exit(&mut child, Duration::from_secs(15));
    assert_eq!(status.code(), Some(130));
    let run: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("run.json")).unwrap()).unwrap();
    assert_eq!(run["run"]["meta"]["interrupted"], true);
    let s = &run["run"]["points"][0]["summary"];
    let sent = s["sent"].as_u64().unwrap();
    assert!((5..400).contains(&sent), "sent {sent}");
    // Accounting: every request sent is a success or a categorised failure.
    let failed: u64 = s["failures"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(s["completed"].as_u64().unwrap() + failed, sent);
    let lines = std::fs::read_to_string(run_dir.join("records.jsonl")).unwrap();
    assert_eq!(
        lines
            .lines()
            .filter(|l| l.starts_with("{\"point\""))
            .count() as u64,
        sent
    );
    assert!(
        std::fs::read_to_string(run_dir.join("benchmark.csv"))
            .unwrap()
            .lines()
            .count()
            == 2
    );
}

#[test]
fn sigkill_keeps_records_and_report_rebuilds_them() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("serving/new");
    let mut child = start_run(dir.path());
    wait_for_records(&run_dir.join("records.jsonl"), 8);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(!run_dir.join("run.json").exists());
    // A half-written last line, as a crash mid-write would leave.
    let mut text = std::fs::read_to_string(run_dir.join("records.jsonl")).unwrap();
    let written = text.lines().filter(|l| l.starts_with("{\"point\"")).count() as u64;
    text.push_str("{\"point\":\"rate-20\",\"id\":99,\"epo");
    std::fs::write(run_dir.join("records.jsonl"), text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_servebench"))
        .args(["report", "--quiet"])
        .arg(&run_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("truncated last line"));
    let run: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("run.json")).unwrap()).unwrap();
    assert_eq!(run["run"]["meta"]["interrupted"], true);
    assert_eq!(
        run["run"]["points"][0]["summary"]["sent"].as_u64().unwrap(),
        written
    );
    assert!(run_dir.join("benchmark.csv").exists());
}
