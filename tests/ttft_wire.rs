//! The client's TTFT against the simulator's own, both taken at the wire.
//!
//! The client's clock runs from just before it writes the request to the
//! kernel's receive stamp of the first token; the simulator's from the
//! kernel's receive stamp of the request to its hand-off of the first token
//! to the socket. So the client's TTFT is never below the server's (the
//! request is written before it arrives, the token handed off before it is
//! received), and the difference is the two loopback paths and the clock
//! reads only: neither side's queueing (a burst of 200 requests at once,
//! which the simulator's HTTP layer takes one after another, and 200
//! streams read by one load thread) may show in it, once the connections
//! are open.

#![cfg(target_os = "linux")]

mod common {
    pub mod client;
}

use std::sync::Arc;

use servebench::load::{run_closed_epoch, Keep};
use servebench::sim::{SimConfig, SimServer};
use servebench::workload::{RequestSpec, Tokenizer};

#[tokio::test]
async fn client_ttft_exceeds_the_servers_by_the_wire_alone() {
    let tok = Tokenizer::default_embedded();
    let mut cfg = SimConfig::default();
    cfg.apply_kv("time_scale=0.2").unwrap();
    let sim = SimServer::start(cfg, tok.clone()).await.unwrap();
    let c = Arc::new(common::client::openai(
        sim.base_url(),
        sim.model(),
        true,
        &tok,
        common::client::timeouts(20),
    ));
    let prompt = "the quick brown fox jumps over the lazy dog ".repeat(8);
    let prompt_tokens = tok.count(&prompt);
    let reqs: Vec<_> = (0..400)
        .map(|id| {
            c.prepare(&RequestSpec {
                id,
                prompt: prompt.clone(),
                prompt_tokens,
                max_tokens: 8,
                force_output_len: true,
            })
        })
        .collect();
    // A first epoch opens the 200 connections (a new connection's connect
    // is in the client's TTFT, as the definitions say, not in the server's).
    let warm = Arc::new(reqs[..200].to_vec());
    run_closed_epoch(c.clone(), warm, 200, 0, Keep::Forward, &mut |_| {}).await;
    let reqs = Arc::new(reqs);
    let run = run_closed_epoch(c.clone(), reqs, 200, 0, Keep::Records, &mut |_| {}).await;
    let mut d: Vec<f64> = run
        .records
        .iter()
        .filter(|r| r.ok())
        .filter_map(|r| Some(r.ttft_ms? - r.server?.ttft_server_ms?))
        .collect();
    assert_eq!(d.len(), 400, "every request answered with its latency");
    d.sort_by(f64::total_cmp);
    let (min, p50) = (d[0], d[d.len() / 2]);
    // Clock reads and the server's rounding to the microsecond.
    assert!(
        min > -0.01,
        "a client TTFT {min:.3} ms below the server's: a stamp before its bytes came"
    );
    assert!(
        p50 < 0.5,
        "client TTFT above the server's by {p50:.3} ms at p50: queueing counted on one side"
    );
    sim.stop().await;
}
