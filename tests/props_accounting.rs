//! The accounting invariant, as properties: sent = succeeded + failed, every
//! failure counted once in its category, and failed requests never
//! contribute a latency, token or throughput figure.
//!
//! (a) `summarize` on random records (pure, hundreds of cases);
//! (b) real load through the CLI path against the embedded simulator with a
//!     random seeded fault configuration, checked against the counts the
//!     seeded schedule (`servebench::sim::planned_fault`) implies (6 cases).

mod common {
    pub mod faults;
    pub mod props;
}

use std::collections::BTreeMap;

use proptest::prelude::*;
use servebench::metrics::{
    failure_counts, summarize, Failure, FailureKind, PointSummary, RequestRecord, Slo,
};
use servebench::sim::{FaultKind, SimConfig};
use servebench::stats::Summary;

use common::faults;
use common::props::config;
use proptest::test_runner::Config;

// ---------------------------------------------------------------------------
// (a) summarize on random records
// ---------------------------------------------------------------------------

/// Latencies of successful requests stay below this; every time of a failed
/// request is at or above `FAILED_MS`, so a failed sample that leaked into a
/// figure would show.
const OK_MAX_MS: f64 = 1e5;
const FAILED_MS: f64 = 1e7;
/// Output tokens of a failed request: far more than any success has.
const FAILED_TOKENS: u64 = 1_000_000;

fn kind() -> impl Strategy<Value = FailureKind> {
    prop::sample::select(FailureKind::ALL.to_vec())
}

/// One record: `failure` decides the category; a failed request may still
/// carry a partial stream (a timeout or reset mid-stream does).
fn record(epoch: u32) -> impl Strategy<Value = RequestRecord> {
    (
        prop::option::weighted(0.35, kind()),
        0.0f64..30.0,                                          // start_s
        1.0f64..1e4,                                           // ttft
        prop::collection::vec((0.1f64..500.0, 1u32..5), 0..8), // later chunk gaps, tokens
        1u64..4000,                                            // input tokens
        prop::bool::weighted(0.1),                             // ok but no chunk (0 tokens asked)
    )
        .prop_map(move |(failure, start_s, ttft, gaps, input, empty)| {
            let failed = failure.is_some();
            let (t0, scale) = if failed {
                (FAILED_MS, 1e6)
            } else {
                (ttft, 1.0)
            };
            let mut chunks = vec![(t0, 1u32)];
            let mut t = t0;
            for (g, k) in gaps {
                t += g * scale;
                chunks.push((t, k));
            }
            if !failed && empty {
                chunks.clear();
            }
            let tokens: u64 = chunks.iter().map(|c| c.1 as u64).sum();
            let output_tokens = if failed { FAILED_TOKENS } else { tokens };
            RequestRecord {
                id: 0,
                epoch,
                start_s,
                scheduled_s: Some(start_s - 0.001),
                ttft_ms: chunks.first().map(|c| c.0),
                e2el_ms: chunks.last().map(|c| c.0),
                done_ms: chunks.last().map_or(5.0, |c| c.0 + 1.0),
                output_tokens,
                input_tokens: if failed { FAILED_TOKENS } else { input },
                requested_output_tokens: tokens.max(1),
                usage_output_tokens: Some(output_tokens),
                usage_input_tokens: None,
                counted_output_tokens: Some(if failed { 0 } else { tokens }),
                chunks,
                server: None,
                failure: failure.map(|kind| Failure {
                    kind,
                    message: format!("injected {}", kind.as_str()),
                }),
                resent: 0,
                reasoning: None,
                session: None,
            }
        })
}

fn epochs() -> impl Strategy<Value = Vec<Vec<RequestRecord>>> {
    (1usize..5).prop_flat_map(|n| {
        (0..n as u32)
            .map(|e| prop::collection::vec(record(e), 0..30))
            .collect::<Vec<_>>()
    })
}

/// The reference failure counts, zero categories left out.
fn reference_failures(all: &[&RequestRecord]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for k in FailureKind::ALL {
        let n = all
            .iter()
            .filter(|r| r.failure.as_ref().map(|f| f.kind) == Some(k))
            .count();
        if n > 0 {
            m.insert(k.as_str().to_string(), n);
        }
    }
    m
}

/// No figure of `s` may come from a failed request.
fn assert_below(s: &Summary, limit: f64, what: &str) -> Result<(), TestCaseError> {
    if let Some(max) = s.max {
        prop_assert!(max < limit, "{what}: max {max} is a failed request's value");
    }
    for (p, v) in &s.percentiles {
        prop_assert!(*v < limit, "{what} p{p} = {v}");
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(256, 0xACC0_0001))]

    #[test]
    fn counts_add_up_and_failures_stay_out_of_figures(epochs in epochs(), slo_ttft in 1.0f64..1e4) {
        let slices: Vec<&[RequestRecord]> = epochs.iter().map(|e| e.as_slice()).collect();
        let ps = [50.0, 90.0, 99.0];
        let slo = Slo { ttft_ms: Some(slo_ttft), ..Slo::default() };
        let s: PointSummary = summarize(&slices, &ps, &slo);
        let all: Vec<&RequestRecord> = epochs.iter().flatten().collect();
        let ok: Vec<&RequestRecord> = all.iter().copied().filter(|r| r.failure.is_none()).collect();
        let n_failed = all.len() - ok.len();

        // sent = succeeded + failed, and each failure in exactly one category.
        prop_assert_eq!(s.sent, all.len());
        prop_assert_eq!(s.completed, ok.len());
        prop_assert_eq!(s.failed, n_failed);
        prop_assert_eq!(s.completed + s.failed, s.sent);
        prop_assert_eq!(&s.failures, &reference_failures(&all));
        prop_assert_eq!(s.failures.values().sum::<usize>(), s.failed);
        let fc = failure_counts(&s);
        prop_assert_eq!(fc.iter().map(|c| c.0).collect::<Vec<_>>(), FailureKind::ALL.to_vec());
        prop_assert_eq!(fc.iter().map(|c| c.1).sum::<usize>(), s.failed);

        // The same per epoch.
        prop_assert_eq!(s.epochs, epochs.len());
        prop_assert_eq!(s.per_epoch.len(), epochs.len());
        for (fig, recs) in s.per_epoch.iter().zip(&epochs) {
            let good = recs.iter().filter(|r| r.ok()).count();
            prop_assert_eq!(fig.completed, good);
            prop_assert_eq!(fig.completed + fig.failed, recs.len());
        }
        prop_assert_eq!(s.per_epoch.iter().map(|e| e.completed).sum::<usize>(), s.completed);

        // Latency figures: exactly the successes' samples.
        let ttft: Vec<f64> = ok.iter().filter_map(|r| r.ttft_ms).collect();
        prop_assert_eq!(s.ttft_ms.count, ttft.len());
        prop_assert_eq!(&s.ttft_ms, &Summary::of(ttft, &ps));
        prop_assert_eq!(s.e2el_ms.count, ok.iter().filter(|r| r.e2el_ms.is_some()).count());
        let tpot: Vec<f64> = ok
            .iter()
            .filter(|r| r.output_tokens > 1 && !r.chunks.is_empty())
            .map(|r| (r.e2el_ms.unwrap() - r.ttft_ms.unwrap()) / (r.output_tokens - 1) as f64)
            .collect();
        prop_assert_eq!(&s.tpot_ms, &Summary::of(tpot, &ps));
        // Per-token ITL: every chunk after the first gives one sample per token.
        let itl_n: usize = ok.iter().map(|r| r.chunks.iter().skip(1).map(|c| c.1 as usize).sum::<usize>()).sum();
        prop_assert_eq!(s.itl_ms.count, itl_n);
        let gaps_n: usize = ok.iter().map(|r| r.chunks.len().saturating_sub(1)).sum();
        prop_assert_eq!(s.chunk_gap_ms.count, gaps_n);
        for (sum, what) in [
            (&s.ttft_ms, "ttft"), (&s.e2el_ms, "e2el"), (&s.tpot_ms, "tpot"),
            (&s.itl_ms, "itl"), (&s.chunk_gap_ms, "chunk gaps"),
        ] {
            assert_below(sum, OK_MAX_MS, what)?;
        }
        assert_below(&s.output_tokens, FAILED_TOKENS as f64, "output tokens")?;
        assert_below(&s.input_tokens, FAILED_TOKENS as f64, "input tokens")?;
        prop_assert_eq!(s.output_tokens.count, ok.len());
        // Send lateness is about sending: every request that was sent counts.
        prop_assert_eq!(s.send_lateness_ms.count, all.len());

        // Throughputs count successes only, over the summed epoch wall times.
        let wall: f64 = epochs.iter().map(|e| {
            let first = e.iter().map(|r| r.start_s).fold(f64::INFINITY, f64::min);
            let last = e.iter().map(|r| r.start_s + r.done_ms / 1e3).fold(f64::NEG_INFINITY, f64::max);
            if first.is_finite() && last > first { last - first } else { 0.0 }
        }).sum();
        prop_assert!((s.wall_s - wall).abs() <= 1e-9 * wall.max(1.0));
        let per_s = |x: f64| if wall > 0.0 { x / wall } else { 0.0 };
        let out: u64 = ok.iter().map(|r| r.output_tokens).sum();
        let inp: u64 = ok.iter().map(|r| r.input_tokens).sum();
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
        prop_assert!(close(s.request_throughput, per_s(ok.len() as f64)));
        prop_assert!(close(s.output_throughput, per_s(out as f64)));
        prop_assert!(close(s.total_throughput, per_s((out + inp) as f64)));
        // Goodput: successes within the SLO (a failed request never is one).
        let good = ok.iter().filter(|r| r.ttft_ms.is_some_and(|t| t <= slo_ttft)).count();
        prop_assert!(close(s.goodput.unwrap(), per_s(good as f64)), "{:?} vs {}", s.goodput, per_s(good as f64));
        prop_assert!(s.goodput.unwrap() <= s.request_throughput + 1e-9);
    }
}

// ---------------------------------------------------------------------------
// (b) real load with random seeded faults
// ---------------------------------------------------------------------------

/// A seeded fault configuration and the load to send under it.
#[derive(Debug, Clone)]
struct Scenario {
    sim: String,
    /// Stalls outlast the idle timeout (they become `timeout` failures).
    stall_times_out: bool,
    concurrency: usize,
    requests: usize,
}

/// Idle timeout of the client when stalls must time out, and the stall then.
/// 0.2 s against a 0.7 s stall and sub-millisecond token gaps
/// (`time_scale=0.05`): a wide margin on both sides.
const IDLE_TIMEOUT_S: f64 = 0.2;
const LONG_STALL_MS: u32 = 700;
/// A stall that the default idle timeout (120 s) lets through.
const SHORT_STALL_MS: u32 = 20;

fn scenario() -> impl Strategy<Value = Scenario> {
    let rate = prop_oneof![1 => Just(0.0f64), 2 => 0.02f64..0.14];
    (
        any::<u64>(),
        prop::array::uniform7(rate),
        prop::sample::select(vec![500u16, 503, 429]),
        prop::sample::select(vec!["random", "json", "truncated", "utf8"]),
        any::<bool>(),
        1usize..=4,
        8usize..=16,
    )
        .prop_map(|(seed, r, status, malformed, stall_times_out, c, per)| {
            let keys = [
                "error_rate",
                "reset_rate",
                "midstream_reset_rate",
                "stall_rate",
                "malformed_rate",
                "no_done_rate",
                "error_event_rate",
            ];
            let mut sim = format!(
                "time_scale=0.05,seed={seed},error_status={status},malformed_kind={malformed},stall_ms={}",
                if stall_times_out { LONG_STALL_MS } else { SHORT_STALL_MS }
            );
            for (k, v) in keys.iter().zip(r) {
                sim.push_str(&format!(",{k}={v:.4}"));
            }
            Scenario {
                sim,
                stall_times_out,
                concurrency: c,
                requests: c * per,
            }
        })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

proptest! {
    // Each case is one small run (at most 64 requests of 8 tokens); the
    // file's total stays within a few seconds in release mode.
    #![proptest_config(Config { max_shrink_iters: 16, ..config(6, 0xACC0_0002) })]

    #[test]
    fn real_load_counts_match_the_seeded_schedule(sc in scenario()) {
        let cfg: SimConfig = faults::sim_config(&sc.sim);
        cfg.validate().unwrap();
        let mut endpoint = faults::sim_endpoint(&sc.sim);
        if sc.stall_times_out {
            endpoint.idle_timeout = IDLE_TIMEOUT_S;
        }
        let point = runtime().block_on(faults::run_static_point(endpoint, sc.requests, sc.concurrency));
        let s = &point.summary;
        let category = if sc.stall_times_out {
            faults::category_stall_times_out
        } else {
            faults::category
        };
        let expected = faults::expected_failures(&sc.sim, sc.requests, category);

        prop_assert_eq!(s.sent, sc.requests);
        prop_assert_eq!(s.completed + s.failed, s.sent, "sent = succeeded + failed");
        prop_assert_eq!(&s.failures, &expected, "failures by category");
        prop_assert_eq!(s.failed, expected.values().sum::<usize>());
        // The records agree with the summary, and failures carry no sample.
        let records: Vec<&RequestRecord> = point.epochs.iter().flatten().collect();
        prop_assert_eq!(records.len(), sc.requests);
        prop_assert_eq!(records.iter().filter(|r| r.ok()).count(), s.completed);
        prop_assert_eq!(s.ttft_ms.count, s.completed);
        prop_assert_eq!(s.e2el_ms.count, s.completed);
        // 8 forced tokens, one per chunk: 7 per-token ITL samples per success.
        prop_assert_eq!(s.itl_ms.count, 7 * s.completed);
        if sc.stall_times_out {
            // A timed-out stream did deliver tokens before its stall: they
            // must not show up in any figure.
            for r in records.iter().filter(|r| r.failure.as_ref().is_some_and(|f| f.kind == FailureKind::Timeout)) {
                prop_assert!(r.done_ms >= IDLE_TIMEOUT_S * 1e3 * 0.9, "{r:?}");
            }
        }
        let stalls = (0..sc.requests as u64)
            .filter(|&i| matches!(servebench::sim::planned_fault(&cfg, i), Some(FaultKind::Stall { .. })))
            .count();
        let timeouts = s.failures.get("timeout").copied().unwrap_or(0);
        prop_assert_eq!(timeouts, if sc.stall_times_out { stalls } else { 0 });
    }
}

/// The scenario strategy is not degenerate: six draws from the seeded
/// runner, made the way the property above makes them, schedule several
/// failure categories and both stall outcomes.
#[test]
fn scenarios_exercise_several_categories() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::new(config(6, 0xACC0_0002));
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut stall_modes = [false; 2];
    for _ in 0..6 {
        let sc = scenario().new_tree(&mut runner).unwrap().current();
        stall_modes[sc.stall_times_out as usize] = true;
        let cat = if sc.stall_times_out {
            faults::category_stall_times_out
        } else {
            faults::category
        };
        for (k, n) in faults::expected_failures(&sc.sim, sc.requests, cat) {
            *seen.entry(k).or_default() += n;
        }
    }
    assert!(seen.len() >= 4, "{seen:?}");
    assert_eq!(stall_modes, [true, true], "both stall outcomes drawn");
}
