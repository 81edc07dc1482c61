//! Speed of the stream framers on one long event, fed in small reads: the
//! SSE framer (OpenAI, TGI, MindIE streams) and vLLM's `/generate` framer
//! (NUL- or newline-separated JSON). Each is fed a 1 MB event 1 byte and
//! 1 KB at a time, and a 64 KB event 1 byte at a time: time per byte must
//! not grow with the event's length (a framer that rescans its partial
//! line on every read is quadratic). Run by `scripts/framer.sh`.

use std::time::Instant;

use servebench::backend::{Backend, HttpRequest, RequestOptions, SseFramer, VllmGenerate};

/// Nanoseconds per byte to frame `body` fed `read` bytes at a time.
fn sse(body: &[u8], read: usize) -> (f64, usize) {
    let mut f = SseFramer::default();
    let mut events = 0;
    let t = Instant::now();
    for piece in body.chunks(read) {
        f.feed::<()>(piece, |_| {
            events += 1;
            Ok(())
        })
        .unwrap();
    }
    let ns = t.elapsed().as_nanos() as f64 / body.len() as f64;
    (ns, events)
}

fn vllm(body: &[u8], read: usize) -> f64 {
    let req = HttpRequest {
        path: "/generate",
        body: bytes::Bytes::new(),
        prompt_bytes: 0,
    };
    let mut p = VllmGenerate.parser(&RequestOptions::default(), &req);
    let (mut text, mut out) = (String::new(), Vec::new());
    let t = Instant::now();
    for piece in body.chunks(read) {
        p.feed(piece, &mut text, &mut out).unwrap();
    }
    p.finish(&mut text, &mut out).unwrap();
    t.elapsed().as_nanos() as f64 / body.len() as f64
}

fn main() {
    println!(
        "{:<10} {:>10} {:>8} {:>12}",
        "framer", "event", "read", "ns/byte"
    );
    for (len, read) in [(64 << 10, 1), (1 << 20, 1), (1 << 20, 1024)] {
        let body = format!("data: {}\n\n", "x".repeat(len));
        let (ns, events) = sse(body.as_bytes(), read);
        assert_eq!(events, 1);
        println!("{:<10} {:>10} {:>8} {:>12.2}", "sse", len, read, ns);
        let text = "y".repeat(len);
        let body = format!("{{\"text\": [\"{text}\"]}}\0");
        let ns = vllm(body.as_bytes(), read);
        println!("{:<10} {:>10} {:>8} {:>12.2}", "vllm", len, read, ns);
    }
}
