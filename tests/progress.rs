//! Progress where nobody watches a terminal (CI logs): one line per
//! measured epoch with the point's place in the run, its rate and the run's
//! ETA; and the notes a run prints once.

use std::process::Command;

#[test]
fn a_ci_log_gets_a_line_per_epoch_with_the_runs_eta() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_servebench"))
        .args([
            "static",
            "--sim",
            "time_scale=0.05",
            "--parallel-num",
            "1",
            "2",
            "--prompt-tokens",
            "16",
            "--output-tokens",
            "4",
            "--epochs",
            "2",
            "--output-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("] prompt 16")).collect();
    assert_eq!(lines.len(), 4, "two points of two epochs: {err}");
    assert!(
        lines[0].starts_with("  [1/2] prompt 16, output 4, concurrency 1: epoch 1/2, 1 requests, "),
        "{}",
        lines[0]
    );
    assert!(
        lines[3].starts_with("  [2/2] prompt 16, output 4, concurrency 2: epoch 2/2, 2 requests, "),
        "{}",
        lines[3]
    );
    for l in &lines {
        assert!(
            l.contains(" req/s; run ") && l.contains(" % done, ETA "),
            "{l}"
        );
    }
    assert!(lines[3].contains("run 100 % done, ETA 0 s"), "{}", lines[3]);
}

#[test]
fn static_mm_says_it_takes_openai_as_openai_chat() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_servebench"))
        .args([
            "static-mm",
            "--backend",
            "openai",
            "--sim",
            "time_scale=0.05",
            "--num-images",
            "1",
            "--image-width",
            "32",
            "--image-height",
            "32",
            "--parallel-num",
            "1",
            "--prompt-tokens",
            "16",
            "--output-tokens",
            "2",
            "--epochs",
            "1",
            "--output-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("note: --backend openai taken as openai-chat"),
        "{err}"
    );
    let run = std::fs::read_to_string(dir.path().join("static-mm/new/run.json")).unwrap();
    assert!(run.contains("--backend openai taken as openai-chat"));
}
