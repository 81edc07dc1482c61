//! A chunk's time is when its bytes reached the machine, not when the load
//! thread got round to reading them: over plain HTTP on Linux the client
//! takes the kernel's receive timestamp of each read (`SO_TIMESTAMPNS`).
//!
//! A raw HTTP/1.1 server on its own thread answers the request with its
//! first token 30 ms after it came, while a task on the client's one load
//! thread blocks that thread for 150 ms from the moment the request came:
//! the token waits in the socket until the thread is free. Its TTFT must be
//! about 30 ms (the kernel's stamp), not 150 ms (the read's time).

#![cfg(target_os = "linux")]

mod common {
    pub mod client;
}

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use servebench::workload::{RequestSpec, Tokenizer};

fn ms(x: u64) -> Duration {
    Duration::from_millis(x)
}

/// Read one request (head and `content-length` body) from `s`.
fn read_request(s: &mut std::net::TcpStream) -> bool {
    let mut buf = Vec::new();
    let mut piece = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                return true;
            }
        }
        match s.read(&mut piece) {
            Ok(0) | Err(_) => return false,
            Ok(n) => buf.extend_from_slice(&piece[..n]),
        }
    }
}

fn chunk(data: &str) -> Vec<u8> {
    format!("{:x}\r\n{data}\r\n", data.len()).into_bytes()
}

const HEAD: &str =
    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
const FIRST: &str = "data: {\"choices\":[{\"index\":0,\"text\":\"hello\"}]}\n\n";
const LAST: &str =
    "data: {\"choices\":[{\"index\":0,\"text\":\" world\",\"finish_reason\":\"length\"}]}\n\n";

/// Answer `s`'s next request: after `first` the first token, after `rest`
/// more the second and the end.
/// Returns when the first token's write began and ended.
fn answer(
    s: &mut std::net::TcpStream,
    first: Duration,
    rest: Duration,
) -> Option<(Instant, Instant)> {
    std::thread::sleep(first);
    let mut out = HEAD.as_bytes().to_vec();
    out.extend(chunk(FIRST));
    let writing = Instant::now();
    s.write_all(&out).ok()?;
    let sent = (writing, Instant::now());
    std::thread::sleep(rest);
    let mut out = chunk(LAST);
    out.extend(chunk("data: [DONE]\n\n"));
    out.extend_from_slice(b"0\r\n\r\n");
    s.write_all(&out).ok()?;
    Some(sent)
}

#[tokio::test]
async fn a_token_that_waits_in_the_socket_keeps_the_time_it_came() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let (came_tx, came_rx) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_nodelay(true).unwrap();
        // A first request, answered at once: the connection is open and
        // the kernel's stamps are on before the one measured.
        assert!(read_request(&mut s));
        answer(&mut s, ms(0), ms(0)).unwrap();
        assert!(
            read_request(&mut s),
            "the second request, on the same connection"
        );
        let _ = came_tx.send(());
        answer(&mut s, ms(30), ms(300))
    });

    let tok = Tokenizer::default_embedded();
    let c = common::client::openai(url, "m", false, &tok, common::client::timeouts(5));
    let req = c.prepare(&RequestSpec {
        id: 0,
        prompt: "the quick brown fox".into(),
        prompt_tokens: 4,
        max_tokens: 2,
        force_output_len: false,
    });

    let warm = c.execute(&req, 0, Instant::now()).await;
    assert!(warm.ok(), "{:?}", warm.failure);

    // Block this (the only) load thread for 150 ms from when the server
    // has the request: its first token, 30 ms later, waits in the socket.
    let blocked = tokio::spawn(async move {
        came_rx.await.unwrap();
        let from = Instant::now();
        std::thread::sleep(ms(150));
        from
    });
    let start = Instant::now();
    let rec = c.execute(&req, 0, start).await;
    let block_from = blocked.await.unwrap();
    let (writing, written) = server.join().unwrap().expect("the server answered");

    assert!(rec.ok(), "{:?}", rec.failure);
    // Else the token could have been read before the block: nothing tested.
    assert!(
        block_from < writing,
        "the thread was blocked {:?} after the first token was written, not before",
        block_from - writing
    );
    let ttft = rec.ttft_ms.expect("a first token");
    let ms_of = |t: Instant| (t - start).as_secs_f64() * 1e3;
    let (from_ms, to_ms) = (ms_of(writing), ms_of(written));
    // The kernel's stamp: during the server's write (30 ms after the
    // request), where the read came after the 150 ms block.
    assert!(
        ttft >= from_ms - 0.1 && ttft < to_ms + 20.0,
        "TTFT {ttft:.2} ms, first token written at {from_ms:.2}-{to_ms:.2} ms: the read's time, not the kernel's stamp"
    );
    assert!(ttft < 100.0, "TTFT {ttft:.2} ms includes the 150 ms block");
    let e2el = rec.e2el_ms.expect("a last token");
    assert!(e2el >= from_ms + 290.0, "E2EL {e2el:.2} ms");
}
