//! `servebench selftest --quick` runs to the end and prints its table. The
//! speed targets are measured, not asserted (they depend on the machine).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn selftest_quick_prints_its_table_and_exits_0() {
    let start = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_servebench"))
        .args(["selftest", "--quick"])
        .stdin(Stdio::null())
        .output()
        .expect("run servebench selftest");
    let elapsed = start.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "exit status; stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    // Debug builds are slower; the quick run stays well within a minute.
    assert!(elapsed < Duration::from_secs(60), "took {elapsed:?}");
    for line in [
        "a. client CPU per chunk, 1 streams",
        "a. client CPU per chunk, 64 streams",
        "a. client CPU per chunk, 1000 streams",
        "a. client CPU per request (1-token outputs, 64 streams)",
        "b. TTFT client - server, 100 streams, p50",
        "b. TTFT client - server, 100 streams, p99",
        "b. TTFT client - server, 1000 streams, p99",
        "c. open loop 1000 req/s: achieved vs schedule",
        "c. open loop 1000 req/s: send lateness p99",
        "c. open loop 20000 req/s: achieved vs schedule",
        "c. open loop 20000 req/s: send lateness p99",
    ] {
        let row = stdout
            .lines()
            .find(|l| l.starts_with(line))
            .unwrap_or_else(|| panic!("no line `{line}` in:\n{stdout}"));
        assert!(
            ["pass", "FAIL", "info"].iter().any(|r| row.contains(r)),
            "no result in `{row}`"
        );
        assert!(!row.contains("FAILED"), "requests failed: `{row}`");
    }
    assert!(stdout.contains("simulator in a separate process"));
    // The one-line capacity statement, with figures in it.
    let cap = stdout
        .lines()
        .find(|l| l.starts_with("capacity: this machine can drive about "))
        .unwrap_or_else(|| panic!("no capacity line in:\n{stdout}"));
    assert!(
        cap.contains("chunks/s") && cap.contains("concurrent streams per core"),
        "{cap}"
    );
    let n: f64 = cap
        .trim_start_matches("capacity: this machine can drive about ")
        .split_whitespace()
        .next()
        .and_then(|w| w.parse().ok())
        .unwrap_or(0.0);
    assert!(n > 1000.0, "chunks/s {n}: {cap}");
}
