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

/// A `servebench sim` process on an ephemeral port, killed when dropped.
pub struct SimProcess {
    child: std::process::Child,
    /// Its base URL, as it printed it.
    pub url: String,
}

impl SimProcess {
    /// Start `servebench sim --port 0` with `SERVEBENCH_SIM=settings` and
    /// read its URL from the line it prints.
    pub fn start(settings: &str) -> SimProcess {
        use std::io::BufRead;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_servebench"))
            .args(["sim", "--port", "0"])
            .env("SERVEBENCH_SIM", settings)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let url = std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .find_map(|l| {
                l.split_whitespace()
                    .find(|w| w.starts_with("http://"))
                    .map(str::to_string)
            })
            .expect("the simulator prints its URL");
        SimProcess { child, url }
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
