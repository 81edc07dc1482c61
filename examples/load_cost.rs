//! Client CPU of a closed-loop load against a server already running (for
//! profiling with `perf record`): N requests of exactly M output tokens at C
//! streams, after a warm-up round that opens every connection.
//!
//! ```sh
//! servebench sim --port 8123 --no-delay true &
//! cargo run --release --example load_cost -- http://127.0.0.1:8123 20000 1 64
//! ```
//! Prints client CPU per request and per chunk of the measured round.

use std::sync::Arc;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::SeedableRng;
use servebench::load::selfwatch::process_cpu_s;
use servebench::load::{arrival_offsets, run_closed_epoch, run_open_loop, Keep};
use servebench::run::{resolve_target, TargetSpec};
use servebench::workload::{PromptSynth, RequestSpec};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let a: Vec<String> = std::env::args().collect();
    let url = a
        .get(1)
        .cloned()
        .unwrap_or_else(|| "http://127.0.0.1:8123".into());
    let num = |i: usize, d: usize| a.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    let (n, out, conc) = (num(2, 20_000), num(3, 1), num(4, 64));
    let t = resolve_target(&TargetSpec {
        url: Some(url),
        ..Default::default()
    })
    .await
    .expect("target");
    let synth = PromptSynth::new(&t.tokenizer).expect("prompt synth");
    let mut rng = StdRng::seed_from_u64(1);
    let mut make = |k: usize, max: usize| {
        let v: Vec<_> = (0..k as u64)
            .map(|id| {
                t.client.prepare(&RequestSpec {
                    id,
                    prompt: synth.prompt(16, Some(id), &mut rng).expect("prompt"),
                    prompt_tokens: 16,
                    max_tokens: max,
                    force_output_len: true,
                })
            })
            .collect();
        Arc::new(v)
    };
    let (warm, reqs) = (make(conc, 1), make(n, out));
    run_closed_epoch(t.client.clone(), warm, conc, 0, Keep::Forward, &mut |_| {}).await;
    let (cpu0, t0) = (process_cpu_s(), Instant::now());
    // A fifth argument: an open loop at that many requests/s instead.
    let run = match a.get(5).and_then(|r| r.parse::<f64>().ok()) {
        Some(rate) => {
            let offsets = arrival_offsets(n, rate, 1.0, 7).expect("valid rate");
            let reqs = Arc::unwrap_or_clone(reqs);
            let run = run_open_loop(
                t.client.clone(),
                reqs,
                Arc::new(offsets),
                None,
                0,
                Keep::Records,
                &mut |_| {},
            )
            .await;
            let mut late: Vec<f64> = run
                .records
                .iter()
                .filter_map(|r| r.scheduled_s.map(|s| (r.start_s - s) * 1e3))
                .collect();
            late.sort_by(f64::total_cmp);
            println!(
                "send lateness p50 {:.3} ms, p99 {:.3} ms",
                late[late.len() / 2],
                late[late.len() * 99 / 100]
            );
            run
        }
        None => run_closed_epoch(t.client.clone(), reqs, conc, 0, Keep::Records, &mut |_| {}).await,
    };
    let cpu = process_cpu_s() - cpu0;
    let chunks: usize = run.records.iter().map(|r| r.chunks.len()).sum();
    let bad = run.records.iter().filter(|r| !r.ok()).count();
    println!(
        "{n} requests x {out} tokens at {conc} streams: {:.1} us CPU a request, {:.2} us a chunk ({chunks} chunks), {:.0} req/s, {bad} failed",
        cpu * 1e6 / n as f64,
        cpu * 1e6 / chunks.max(1) as f64,
        n as f64 / t0.elapsed().as_secs_f64()
    );
}
