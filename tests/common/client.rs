//! The streaming client of the benchmarks (the `openai` backend), for the
//! tests that drive it directly. Include it with
//! `mod common { pub mod client; }`.
#![allow(dead_code)] // each test file uses its own subset

use std::sync::Arc;
use std::time::Duration;

use servebench::backend::{self, RequestOptions};
use servebench::load::{Client, Endpoint, Timeouts};
use servebench::workload::Tokenizer;

/// Limits no test here comes near: `first_byte` and `idle` of `s`
/// seconds, connect 5 s, total twice `s`.
pub fn timeouts(s: u64) -> Timeouts {
    let s = Duration::from_secs(s);
    Timeouts {
        connect: Duration::from_secs(5),
        first_byte: s,
        idle: s,
        total: s * 2,
    }
}

/// An `openai` streaming client of `base_url` for `model`, asking for the
/// server's own latency figures when `return_latency`.
pub fn openai(
    base_url: String,
    model: &str,
    return_latency: bool,
    tok: &Tokenizer,
    timeouts: Timeouts,
) -> Client {
    let backend: Arc<dyn backend::Backend> = Arc::from(backend::by_name("openai").unwrap());
    let opts = RequestOptions {
        model: model.to_string(),
        return_latency,
        tokens_per_chunk: 1,
        non_streaming: false,
        sampling: Default::default(),
        spec_decode: None,
    };
    let endpoint = Endpoint {
        base_url,
        api_key: None,
        app_code: None,
    };
    Client::new(&endpoint, backend, opts, tok.clone(), timeouts).unwrap()
}
