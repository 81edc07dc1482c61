//! A shared-prefix workload (SGLang's generated-shared-prefix): 8 groups of
//! 6 requests, each prompt a 512-token system prompt of its group and a
//! unique 64-token question, 16 output tokens, shuffled across groups and
//! sent open loop at 30 requests/s. The simulator's prefix cache (on here)
//! serves each group's later requests their system prompt; the run's notes
//! give the expected (5/6 × 512/576 = 74.1 %) and the observed hit ratios.
//! Runs against the embedded simulator unless `SERVEBENCH_URL` or `--url`
//! names a server.
//!
//! ```text
//! cargo bench --bench shared_prefix -- --save-baseline main
//! cargo bench --bench shared_prefix -- --baseline main --gate
//! ```

use servebench::bench::{Configure, DynamicSweep, Harness};

fn shared_prefix(c: &mut Harness) {
    c.group("prefix").bench(
        DynamicSweep::new("gsp-8x6")
            .rates([30.0])
            .shared_prefix(8, 6, 512, 64, 16)
            .sim("time_scale=0.5,jitter=0.02,prefix_cache=true,seed=1")
            .epochs(6)
            .noise_threshold(0.10)
            .warmup(1),
    );
}

servebench::group!(benches, shared_prefix);
servebench::main!(benches);
