//! A static sweep: every (prompt, output) pair x every concurrency, closed
//! loop. Runs against the embedded simulator, sped up twofold, unless
//! `SERVEBENCH_URL` or `--url` names a server.
//!
//! ```text
//! cargo bench --bench static_sweep                       # measure, compare with the last run
//! cargo bench --bench static_sweep -- --save-baseline main
//! cargo bench --bench static_sweep -- --baseline main --gate
//! ```

use servebench::bench::{Configure, Harness, Settings, StaticSweep};
use servebench::metrics::MetricId;

fn static_sweep(c: &mut Harness) {
    c.group("static")
        .settings(
            Settings::new()
                .sim("time_scale=0.5,jitter=0.02,seed=1")
                .epochs(5)
                .noise_threshold(0.10)
                .warmup(1),
        )
        .bench(
            StaticSweep::new("short")
                .pair(128, 32)
                .concurrencies([1, 4])
                .requests_per_worker(12)
                // At concurrency 4 the four workers' prefills batch together
                // or queue behind one another, so the median TTFT of an
                // epoch flips between two modes (±12 % epoch to epoch):
                // advisory here, the other default gated metrics judged.
                .gate_metrics([
                    MetricId::OutputThroughput,
                    MetricId::RequestThroughput,
                    MetricId::TpotP50,
                    MetricId::E2elP50,
                ]),
        )
        .bench(
            StaticSweep::new("long-prompt")
                .pair(1024, 16)
                .concurrencies([1])
                .requests_per_worker(12),
        );
}

servebench::group!(benches, static_sweep);
servebench::main!(benches);
