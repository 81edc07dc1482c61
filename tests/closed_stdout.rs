//! `servebench static ... | head` must not panic: output errors on a closed
//! standard output end quietly and every measured file is still written.

use std::process::{Command, Stdio};

#[test]
fn a_closed_stdout_ends_quietly_and_files_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut child = Command::new(env!("CARGO_BIN_EXE_servebench"))
        .args([
            "static",
            "--sim",
            "time_scale=0.05",
            "--parallel-num",
            "1",
            "2",
        ])
        .args([
            "--prompt-tokens",
            "16",
            "--output-tokens",
            "4",
            "--epochs",
            "1",
        ])
        .arg("--output-dir")
        .arg(&out)
        .env_remove("SERVEBENCH_SIM")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes away before anything is printed (`| true`).
    drop(child.stdout.take());
    let res = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert_eq!(res.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    for f in ["benchmark.csv", "run.json", "records.jsonl"] {
        assert!(out.join("static/new").join(f).is_file(), "{f} missing");
    }
}
