//! Multi-turn sessions: generated four-turn conversations, each turn
//! carrying the conversation so far (the model's own answers), sessions
//! started with Poisson arrivals. The simulator's prefix cache (on here)
//! serves each turn's history, which shows in the TTFT by turn in the run's
//! notes. Runs against the embedded simulator unless `SERVEBENCH_URL` or
//! `--url` names a server (it needs a chat endpoint: `openai-chat`).
//!
//! ```text
//! cargo bench --bench sessions -- --save-baseline main
//! cargo bench --bench sessions -- --baseline main --gate
//! ```

use servebench::bench::{Configure, Harness, Sessions};
use servebench::metrics::MetricId;

fn sessions(c: &mut Harness) {
    c.group("sessions").bench(
        Sessions::new("four-turns")
            .rates([8.0])
            .num_sessions(16)
            .turns(4, 256, 16)
            .think_time_ms(10.0)
            .sim("time_scale=0.5,jitter=0.02,prefix_cache=true,seed=1")
            .epochs(6)
            .noise_threshold(0.10)
            // Not the TTFT median: each session's first turn misses the
            // prefix cache and the later ones hit it, so TTFT is bimodal
            // (40th percentile about 15.5 ms, 60th about 23 ms here) and an
            // epoch's median falls between the modes, jumping from epoch to
            // epoch (15.7 to 21.4 ms over one run's 6 epochs): no 10 %
            // verdict can be drawn from it. Its p99 (the uncached turns) is
            // stable to a few per cent, and the medians of TPOT and E2EL
            // and the throughputs are gated as by default. The TTFT median
            // is still measured, compared and reported (advisory).
            .gate_metrics([
                MetricId::OutputThroughput,
                MetricId::RequestThroughput,
                MetricId::TtftP99,
                MetricId::TpotP50,
                MetricId::E2elP50,
            ])
            .warmup(1),
    );
}

servebench::group!(benches, sessions);
servebench::main!(benches);
