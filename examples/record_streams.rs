//! Record raw response bodies of the embedded simulator, for every backend
//! and a few fault settings, as the seed corpus of the stream fuzz targets:
//!
//! ```sh
//! cargo run --release --example record_streams -- fuzz/seeds
//! ```
//!
//! Each file is the fuzz input of its target: a small header (see
//! `fuzz/checks.rs`: backend choice, echoed prompt length, split seed) then
//! the body exactly as received. A body cut by an injected connection reset
//! is kept up to the reset.

use std::path::{Path, PathBuf};

use servebench::backend::{by_name, RequestOptions};
use servebench::sim::{SimConfig, SimServer};
use servebench::workload::{RequestSpec, Tokenizer};

/// Simulator settings (after a fast, seeded base) and their file-name tag.
const SCENARIOS: &[(&str, &str)] = &[
    ("plain", ""),
    ("steps3", "num_scheduler_steps=3"),
    ("latency", ""),
    ("badjson", "malformed_rate=1,malformed_kind=json"),
    ("truncated", "malformed_rate=1,malformed_kind=truncated"),
    ("badutf8", "malformed_rate=1,malformed_kind=utf8"),
    ("error", "error_event_rate=1"),
    ("nodone", "no_done_rate=1"),
    ("reset", "midstream_reset_rate=1"),
    ("variant", "vllm_separator=newline,tgi_cumulative_text=true"),
];

/// Stream target, and the index of each backend in its list of names
/// (`fuzz/checks.rs`).
const BACKENDS: &[(&str, &str, u8)] = &[
    ("openai", "stream_openai", 0),
    ("openai-chat", "stream_openai", 1),
    ("vllm", "stream_vllm", 0),
    ("tgi", "stream_tgi", 0),
    ("mindspore", "stream_tgi", 1),
    ("mindspore-tgi", "stream_tgi", 2),
];

/// Scenarios whose SSE bodies also seed the framer target.
const FRAMER_SCENARIOS: &[&str] = &["plain", "truncated", "badutf8", "reset"];

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::create_dir_all(dir).expect("create the seed folder");
    std::fs::write(dir.join(name), bytes).expect("write a seed file");
}

/// The body of one streamed response, up to its end or a reset.
async fn body(client: &reqwest::Client, url: String, req_body: bytes::Bytes) -> Vec<u8> {
    let mut out = Vec::new();
    let mut resp = match client
        .post(url)
        .header("content-type", "application/json")
        .body(req_body)
        .send()
        .await
    {
        Ok(r) => r,
        Err(_) => return out,
    };
    while let Ok(Some(chunk)) = resp.chunk().await {
        out.extend_from_slice(&chunk);
    }
    out
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let root = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "fuzz/seeds".to_string()),
    );
    let tok = Tokenizer::default_embedded();
    let prompt = "The quick brown fox jumps";
    let spec = RequestSpec {
        id: 1,
        prompt: prompt.to_string(),
        prompt_tokens: tok.count(prompt),
        max_tokens: 6,
        force_output_len: true,
    };
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut n = 0;
    for (tag, kv) in SCENARIOS {
        let mut cfg = SimConfig::default();
        cfg.apply_kv("time_scale=0.01,seed=3").unwrap();
        cfg.apply_kv(kv).unwrap();
        let server = SimServer::start(cfg, tok.clone()).await.unwrap();
        let steps = if *tag == "steps3" { 3u8 } else { 1 };
        for (i, (name, target, choice)) in BACKENDS.iter().enumerate() {
            let be = by_name(name).unwrap();
            let opts = RequestOptions {
                model: server.model().to_string(),
                return_latency: *tag == "latency",
                tokens_per_chunk: u32::from(steps),
                non_streaming: false,
                sampling: Default::default(),
                spec_decode: None,
            };
            let req = be.build(&spec, &opts);
            let bytes = body(
                &client,
                format!("{}{}", server.base_url(), req.path),
                req.body,
            )
            .await;
            // Header: backend choice (0x80: return_latency), echoed prompt
            // bytes, split seed whose top two bits are tokens per chunk - 1.
            let latency_bit = if opts.return_latency { 0x80 } else { 0 };
            let seed = ((steps - 1) << 6) | (i as u8 * 7 + tag.len() as u8) & 0x3f;
            let mut input = vec![choice | latency_bit, prompt.len() as u8, seed];
            input.extend_from_slice(&bytes);
            write(&root.join(target), &format!("{name}-{tag}"), &input);
            n += 1;
            let sse = !matches!(*name, "vllm");
            if sse && FRAMER_SCENARIOS.contains(tag) && *name != "mindspore-tgi" {
                let mut input = vec![seed];
                input.extend_from_slice(&bytes);
                write(&root.join("sse_framer"), &format!("{name}-{tag}"), &input);
                n += 1;
            }
        }
        server.stop().await;
    }
    println!("wrote {n} seed files under {}", root.display());
}
