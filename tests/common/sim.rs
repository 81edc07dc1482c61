//! The embedded simulator on an ephemeral loopback port, with a plain HTTP
//! client, for the tests that talk to it directly. Include it with
//! `mod common { pub mod sim; }`.
#![allow(dead_code)] // each test file uses its own subset

use servebench::sim::{SimConfig, SimServer};
use servebench::workload::Tokenizer;

/// Start the simulator with the default settings and `kv` over them
/// (`key=value,...`); the client pools connections.
pub async fn start(kv: &str) -> (SimServer, reqwest::Client, SimConfig) {
    start_with(kv, true).await
}

/// [`start`], with a client that pools connections or not (without
/// pooling, every request gets its own connection, so a connection the
/// server kills never meets the next request).
pub async fn start_with(kv: &str, pooled: bool) -> (SimServer, reqwest::Client, SimConfig) {
    let mut cfg = SimConfig::default();
    cfg.apply_kv(kv).unwrap();
    let server = SimServer::start(cfg.clone(), Tokenizer::default_embedded())
        .await
        .unwrap();
    let mut b = reqwest::Client::builder().no_proxy();
    if !pooled {
        b = b.pool_max_idle_per_host(0);
    }
    (server, b.build().unwrap(), cfg)
}
