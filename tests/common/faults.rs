//! Shared by the tests that run load against the embedded simulator with
//! injected faults and compare what was counted with the seeded schedule
//! (`servebench::sim::planned_fault`). Include it from a test file with
//! `mod common { pub mod faults; }`.
#![allow(dead_code)] // each test file uses its own subset

use std::collections::BTreeMap;

use servebench::cli::{run_static_cmd, CommonArgs, EndpointArgs, StaticArgs, StaticSweepArgs};
use servebench::metrics::PointData;
use servebench::sim::{planned_fault, FaultKind, SimConfig};

/// The client's failure category for each simulated fault when a stall is
/// shorter than the idle timeout (`None`: the request succeeds).
pub fn category(f: &FaultKind) -> Option<&'static str> {
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

/// As [`category`], when every stall outlasts the client's idle timeout.
pub fn category_stall_times_out(f: &FaultKind) -> Option<&'static str> {
    match f {
        FaultKind::Stall { .. } => Some("timeout"),
        other => category(other),
    }
}

/// The simulator configuration a `key=value,...` spec gives.
pub fn sim_config(sim: &str) -> SimConfig {
    let mut cfg = SimConfig::default();
    cfg.apply_kv(sim).unwrap();
    cfg
}

/// Failures by category that the seeded schedule implies for the first
/// `requests` arrivals (zero counts left out, as `PointSummary::failures`).
pub fn expected_failures(
    sim: &str,
    requests: usize,
    category: impl Fn(&FaultKind) -> Option<&'static str>,
) -> BTreeMap<String, usize> {
    let cfg = sim_config(sim);
    let mut expected: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..requests as u64 {
        if let Some(c) = planned_fault(&cfg, i).as_ref().and_then(&category) {
            *expected.entry(c.to_string()).or_default() += 1;
        }
    }
    expected
}

/// Endpoint arguments for the embedded simulator with `sim` applied, no
/// preflight (its requests would take arrival indices of the schedule).
pub fn sim_endpoint(sim: &str) -> EndpointArgs {
    EndpointArgs {
        sim: Some(sim.to_string()),
        no_preflight: true,
        ..EndpointArgs::default()
    }
}

/// One static point through the real CLI path: `requests` requests (a
/// multiple of `concurrency`) of 32 prompt and 8 output tokens, one epoch,
/// no warm-up (so arrival `i` of the simulator is request `i` of the
/// schedule), no plots. Returns the point (records and summary).
pub async fn run_static_point(
    endpoint: EndpointArgs,
    requests: usize,
    concurrency: usize,
) -> PointData {
    assert_eq!(requests % concurrency, 0, "requests must fill every worker");
    let dir = tempfile::tempdir().unwrap();
    let mut common = CommonArgs::in_dir(dir.path());
    common.noplot = true;
    let a = StaticArgs {
        dataset: Default::default(),
        endpoint,
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
        common,
    };
    let out = run_static_cmd(&a).await.unwrap();
    assert_eq!(out.run.points.len(), 1);
    out.run.points.into_iter().next().unwrap()
}
