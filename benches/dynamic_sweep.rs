//! A dynamic sweep: generated requests sent open loop at each request rate
//! with Poisson arrivals. Runs against the embedded simulator, sped up
//! twofold, unless `SERVEBENCH_URL` or `--url` names a server. (At a
//! tenth of its time the figures are mostly the client and the OS, and they
//! move by several per cent from run to run.)
//!
//! ```text
//! cargo bench --bench dynamic_sweep -- --save-baseline main
//! cargo bench --bench dynamic_sweep -- --baseline main --gate
//! ```

use servebench::bench::{Configure, DynamicSweep, Harness};
use servebench::metrics::Slo;

fn poisson(c: &mut Harness) {
    c.group("dynamic").bench(
        DynamicSweep::new("poisson")
            .rates([20.0, 80.0])
            .num_prompts(32)
            .lengths(128, 24)
            .sim("time_scale=0.5,jitter=0.02,seed=1")
            .slo(Slo {
                ttft_ms: Some(50.0),
                tpot_ms: Some(5.0),
                e2el_ms: None,
            })
            .epochs(5)
            .noise_threshold(0.10)
            .warmup(2),
    );
}

servebench::group!(benches, poisson);
servebench::main!(benches);
