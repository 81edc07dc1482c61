//! A trace replay: the small Mooncake-format sample shipped in
//! `benches/data/` (synthetic requests in the published format: timestamps
//! in ms, prompt and output lengths, the hash ids of 512-token blocks)
//! replayed at four times its own speed, open loop. Prompts share exactly
//! the blocks their hash ids share, so the simulator's prefix cache (on
//! here) serves what the trace's sharing implies; the run's notes give the
//! implied and the observed hit ratios. Runs against the embedded simulator
//! unless `SERVEBENCH_URL` or `--url` names a server.
//!
//! ```text
//! cargo bench --bench trace_replay -- --save-baseline main
//! cargo bench --bench trace_replay -- --baseline main --gate
//! ```

use servebench::bench::{Configure, Harness, Replay};
use servebench::workload::TraceFormat;

fn mooncake(c: &mut Harness) {
    c.group("replay").bench(
        Replay::new(
            "mooncake-sample",
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/benches/data/mooncake_sample.jsonl"
            ),
            TraceFormat::Mooncake,
        )
        .speedups([4.0])
        .max_requests(48)
        .sim("time_scale=0.5,jitter=0.02,prefix_cache=true,seed=1")
        .epochs(5)
        .noise_threshold(0.10)
        .warmup(1),
    );
}

servebench::group!(benches, mooncake);
servebench::main!(benches);
