//! Faults injected by the simulator are counted exactly, by category, and
//! sent = succeeded + failed holds, through the real client and sweep.

use std::collections::BTreeMap;

mod common {
    pub mod faults;
}
use common::faults::{category, expected_failures, run_static_point, sim_endpoint};

/// One point of `requests` at `concurrency` against the simulator with
/// `sim`: its summary, and the failures the seeded schedule implies.
async fn run(
    sim: &str,
    requests: usize,
    concurrency: usize,
) -> (servebench::metrics::PointSummary, BTreeMap<String, usize>) {
    let point = run_static_point(sim_endpoint(sim), requests, concurrency).await;
    (point.summary, expected_failures(sim, requests, category))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_is_counted_in_its_category() {
    let sim = "time_scale=0.05,seed=11,error_rate=0.08,error_status=503,reset_rate=0.06,\
               midstream_reset_rate=0.06,malformed_rate=0.06,no_done_rate=0.06,\
               error_event_rate=0.06,stall_rate=0.06,stall_ms=30";
    let (s, expected) = run(sim, 120, 4).await;
    assert_eq!(s.sent, 120);
    assert_eq!(s.completed + s.failed, s.sent, "sent = succeeded + failed");
    let got: BTreeMap<String, usize> = s.failures.clone();
    assert_eq!(got, expected, "failures by category");
    assert!(
        expected.len() >= 4,
        "the seed exercises several categories: {expected:?}"
    );
    // Failed requests never enter latency figures.
    assert_eq!(s.ttft_ms.count, s.completed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_errors_alone() {
    let (s, expected) = run(
        "time_scale=0.05,seed=3,error_rate=0.5,error_status=500",
        40,
        2,
    )
    .await;
    assert_eq!(s.failures, expected);
    assert_eq!(
        s.failures.get("http_status").copied().unwrap_or(0) + s.completed,
        40
    );
}
