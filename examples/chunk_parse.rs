//! CPU per streamed event of the OpenAI stream parser, on chunks shaped as
//! vLLM's and SGLang's servers send them (completions and chat), fed one
//! event per read as a token-by-token stream arrives. Run:
//! `cargo run --release --example chunk_parse`.

use std::time::Instant;

use servebench::backend::{OpenAiParser, StreamParser};

fn per_event(event: &str, n: usize) -> f64 {
    let data = format!("data: {event}\n\n");
    let mut p = OpenAiParser::new(1);
    let (mut text, mut out) = (String::new(), Vec::new());
    let t = Instant::now();
    for _ in 0..n {
        p.feed(data.as_bytes(), &mut text, &mut out).unwrap();
        out.clear();
        text.clear();
    }
    t.elapsed().as_nanos() as f64 / n as f64
}

fn main() {
    let completion = r#"{"id":"cmpl-8c2f0a4e1b7d4b6c9f3e2a1d0c9b8a7f","object":"text_completion","created":1764460800,"model":"meta-llama/Llama-3.1-8B-Instruct","choices":[{"index":0,"text":" the","logprobs":null,"finish_reason":null,"stop_reason":null}],"usage":null}"#;
    let chat = r#"{"id":"chatcmpl-8c2f0a4e1b7d4b6c9f3e2a1d0c9b8a7f","object":"chat.completion.chunk","created":1764460800,"model":"meta-llama/Llama-3.1-8B-Instruct","choices":[{"index":0,"delta":{"content":" the"},"logprobs":null,"finish_reason":null}]}"#;
    let n = 2_000_000;
    for (name, ev) in [("completion chunk", completion), ("chat chunk", chat)] {
        let _ = per_event(ev, n / 10);
        println!(
            "{name:<18} {:>7.1} ns per event ({} bytes), of which the SSE framer {:.1} ns",
            per_event(ev, n),
            ev.len(),
            framer_only(ev, n)
        );
    }
}

/// The SSE framer's share: the same events, framed only.
fn framer_only(event: &str, n: usize) -> f64 {
    let data = format!("data: {event}\n\n");
    let mut f = servebench::backend::SseFramer::default();
    let mut k = 0usize;
    let t = Instant::now();
    for _ in 0..n {
        f.feed::<()>(data.as_bytes(), |d| {
            k += d.len();
            Ok(())
        })
        .unwrap();
    }
    std::hint::black_box(k);
    t.elapsed().as_nanos() as f64 / n as f64
}
