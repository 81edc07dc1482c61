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
            .warmup(1),
    );
}

servebench::group!(benches, sessions);
servebench::main!(benches);
