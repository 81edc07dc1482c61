//! Faults injected by the simulator are counted exactly, by category, and
//! sent = succeeded + failed holds, through the real client and sweep.

use std::collections::BTreeMap;

use servebench::cli::{run_static_cmd, CommonArgs, EndpointArgs, StaticArgs, StaticSweepArgs};
use servebench::sim::{planned_fault, FaultKind, SimConfig};

/// The client's category for each simulated fault (`None`: a success).
fn category(f: &FaultKind) -> Option<&'static str> {
    match f {
        FaultKind::Error { .. } => Some("http_status"),
        FaultKind::Reset => Some("connect"),
        FaultKind::MidstreamReset { .. } | FaultKind::NoDone | FaultKind::ErrorEvent { .. } => {
            Some("stream_error")
        }
        FaultKind::Malformed { .. } => Some("malformed_stream"),
        FaultKind::Stall { .. } => None,
    }
}

async fn run(
    sim: &str,
    requests: usize,
    concurrency: usize,
) -> (servebench::metrics::PointSummary, BTreeMap<String, usize>) {
    let dir = tempfile::tempdir().unwrap();
    let a = StaticArgs {
        endpoint: EndpointArgs {
            sim: Some(sim.to_string()),
            no_preflight: true,
            ..EndpointArgs::default()
        },
        sweep: StaticSweepArgs {
            epochs: 1,
            parallel_num: vec![concurrency],
            prompt_tokens: vec![32],
            output_tokens: vec![8],
            warmup: Some(0),
            requests_per_worker: requests / concurrency,
            ..StaticSweepArgs::default()
        },
        benchmark_csv: None,
        common: CommonArgs::in_dir(dir.path()),
    };
    let out = run_static_cmd(&a).await.unwrap();
    let mut cfg = SimConfig::default();
    cfg.apply_kv(sim).unwrap();
    let mut expected: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..requests as u64 {
        if let Some(c) = planned_fault(&cfg, i).as_ref().and_then(category) {
            *expected.entry(c.to_string()).or_default() += 1;
        }
    }
    (out.run.points[0].summary.clone(), expected)
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
