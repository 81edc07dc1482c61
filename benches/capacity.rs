//! A capacity search as a benchmark: the highest request rate at which 90 %
//! of requests get their first token within 100 ms, as an interval, against
//! the embedded simulator (4 ms decode steps, batches of 4) unless
//! `SERVEBENCH_URL` or `--url` names a server. About 10 s in release.
//!
//! ```text
//! cargo bench --bench capacity -- --save-baseline main
//! cargo bench --bench capacity -- --baseline main --gate
//! ```
//!
//! The gate fails (exit 1) when the new interval lies wholly below the
//! baseline's by more than the noise threshold (20 % here, two steps), passes when the
//! largest drop the overlapping intervals allow is within it, and is
//! inconclusive (exit 6) otherwise.

use servebench::bench::{Capacity, Configure, DynamicSweep, Harness};
use servebench::metrics::capacity::{CapacityMode, CapacitySlo};
use servebench::metrics::Slo;

fn capacity(c: &mut Harness) {
    let slo = CapacitySlo {
        per_request: Slo {
            ttft_ms: Some(100.0),
            ..Slo::default()
        },
        goodput_ratio: 0.9,
        percentiles: Vec::new(),
    };
    c.group("capacity").bench(
        Capacity::new("rate", slo)
            .workload(DynamicSweep::new("w").lengths(32, 8).num_prompts(24))
            .mode(CapacityMode::Rate)
            .bounds(20.0, 320.0)
            .precision(0.1)
            .probe_epochs(2, 4, 3)
            .sim("decode_step_ms=8,prefill_base_ms=8,max_batch=4,time_scale=0.5")
            .warmup(1)
            // Two searches of one server give intervals one `precision`
            // step (10 %) wide that overlap or end a step apart now and
            // then (the capacity sits near a step): a drop they allow within
            // two steps is no change.
            .noise_threshold(0.20),
    );
}

servebench::group!(benches, capacity);
servebench::main!(benches);
