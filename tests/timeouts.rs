//! Per-request timeouts: connect, first byte (headers and first body bytes), idle gap
//! between body reads, and total. Each exceeded limit must be a failure of
//! kind `Timeout`, and the run's accounting must count it as one and keep
//! it out of every latency figure (even when tokens arrived before it).
//!
//! Everything runs on loopback: the embedded simulator with seeded faults,
//! or a tiny raw TCP listener. Limits are tens to hundreds of ms and the
//! faults they must catch are several times longer, so no outcome depends on
//! timing luck; every "must time out" test has a control with a generous
//! limit that passes, so the faults really are longer than the limits.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use servebench::backend::{self, RequestOptions};
use servebench::load::{run_closed_epoch, Client, Endpoint, Keep, PreparedRequest, Timeouts};
use servebench::metrics::{summarize, FailureKind, PointSummary, RequestRecord, Slo};
use servebench::sim::{planned_fault, FaultKind, SimConfig, SimServer};
use servebench::workload::{RequestSpec, Tokenizer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn tokenizer() -> &'static Tokenizer {
    static TOK: OnceLock<Tokenizer> = OnceLock::new();
    TOK.get_or_init(Tokenizer::default_embedded)
}

fn ms(x: u64) -> Duration {
    Duration::from_millis(x)
}

/// Generous limits (nothing in these tests comes close), for `..` updates.
fn lenient() -> Timeouts {
    Timeouts {
        connect: ms(5_000),
        first_byte: ms(10_000),
        idle: ms(10_000),
        total: ms(20_000),
    }
}

async fn sim(kv: &str) -> SimServer {
    let mut cfg = SimConfig::default();
    cfg.apply_kv(kv).unwrap();
    SimServer::start(cfg, tokenizer().clone()).await.unwrap()
}

fn client(base_url: &str, model: &str, non_streaming: bool, timeouts: Timeouts) -> Client {
    let backend: Arc<dyn backend::Backend> = Arc::from(backend::by_name("openai").unwrap());
    let opts = RequestOptions {
        model: model.to_string(),
        return_latency: false,
        tokens_per_chunk: 1,
        non_streaming,
        sampling: Default::default(),
        spec_decode: None,
    };
    let endpoint = Endpoint {
        base_url: base_url.to_string(),
        api_key: None,
        app_code: None,
    };
    Client::new(&endpoint, backend, opts, tokenizer().clone(), timeouts).unwrap()
}

fn sim_client(s: &SimServer, timeouts: Timeouts) -> Client {
    client(&s.base_url(), s.model(), false, timeouts)
}

/// `n` forced-length requests of `max_tokens` output tokens.
fn requests(c: &Client, n: usize, max_tokens: usize) -> Vec<PreparedRequest> {
    let prompt = "the quick brown fox jumps over the lazy dog".to_string();
    let prompt_tokens = tokenizer().count(&prompt);
    (0..n as u64)
        .map(|id| {
            c.prepare(&RequestSpec {
                id,
                prompt: prompt.clone(),
                prompt_tokens,
                max_tokens,
                force_output_len: true,
            })
        })
        .collect()
}

/// Run `n` requests through the closed loop (the benchmark's own path).
async fn run(c: Client, n: usize, concurrency: usize, max_tokens: usize) -> Vec<RequestRecord> {
    let reqs = Arc::new(requests(&c, n, max_tokens));
    let out = run_closed_epoch(
        Arc::new(c),
        reqs,
        concurrency,
        0,
        Keep::Records,
        &mut |_| {},
    )
    .await;
    assert_eq!(out.records.len(), n);
    out.records
}

async fn one(c: &Client, max_tokens: usize) -> RequestRecord {
    let req = requests(c, 1, max_tokens).pop().unwrap();
    c.execute(&req, 0, std::time::Instant::now()).await
}

fn summary(records: &[RequestRecord]) -> PointSummary {
    summarize(&[records], &[50.0, 90.0, 99.0], &Slo::default())
}

/// The record is a `Timeout` failure whose message names `what`.
fn assert_timeout(r: &RequestRecord, what: &str) {
    let f = r
        .failure
        .as_ref()
        .unwrap_or_else(|| panic!("no failure: {r:?}"));
    assert_eq!(f.kind, FailureKind::Timeout, "{f:?}");
    assert!(
        f.message.contains(what),
        "`{}` should name {what}",
        f.message
    );
}

/// The run's accounting: exactly `timeouts` timeouts, the rest successes,
/// and only the successes' samples in the latency figures.
fn assert_accounting(records: &[RequestRecord], timeouts: usize) {
    let s = summary(records);
    assert_eq!(s.sent, records.len());
    assert_eq!(s.completed + s.failed, s.sent, "sent = succeeded + failed");
    assert_eq!(s.failed, timeouts, "{:?}", s.failures);
    let want: std::collections::BTreeMap<String, usize> = if timeouts > 0 {
        [("timeout".to_string(), timeouts)].into()
    } else {
        Default::default()
    };
    assert_eq!(s.failures, want);
    let ok: Vec<&RequestRecord> = records.iter().filter(|r| r.ok()).collect();
    assert_eq!(s.completed, ok.len());
    assert_eq!(s.ttft_ms.count, ok.len(), "TTFT samples: successes only");
    assert_eq!(s.e2el_ms.count, ok.len(), "E2EL samples: successes only");
    let itl: usize = ok.iter().map(|r| r.itl_ms().count()).sum();
    assert_eq!(s.itl_ms.count, itl, "ITL samples: successes only");
    let ok_max = ok
        .iter()
        .filter_map(|r| r.ttft_ms)
        .fold(None, |m: Option<f64>, t| Some(m.map_or(t, |m| m.max(t))));
    assert_eq!(s.ttft_ms.max, ok_max);
    let out: u64 = ok.iter().map(|r| r.output_tokens).sum();
    assert_eq!(s.output_tokens.count, ok.len());
    if s.wall_s > 0.0 {
        assert!((s.output_throughput - out as f64 / s.wall_s).abs() < 1e-6);
        assert!((s.request_throughput - ok.len() as f64 / s.wall_s).abs() < 1e-9);
    }
}

/// A loopback listener that accepts connections, reads what is sent and
/// never answers. The sockets stay open until the listener task is aborted.
async fn silent_listener() -> (String, tokio::task::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            let (mut s, _) = l.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            // Read the request (headers and body) so that the client is
            // waiting for an answer, not still writing.
            let _ = tokio::time::timeout(ms(50), s.read(&mut buf)).await;
            held.push(s);
        }
    });
    (url, task)
}

// ---------------------------------------------------------------------------
// Idle gap
// ---------------------------------------------------------------------------

/// Every stream stalls for 1 s after some tokens; the idle limit is 150 ms.
const STALL: &str = "time_scale=0.05,stall_rate=1,stall_ms=1000";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_gap_longer_than_the_idle_timeout_is_a_timeout() {
    let s = sim(STALL).await;
    let c = sim_client(
        &s,
        Timeouts {
            idle: ms(150),
            ..lenient()
        },
    );
    let records = run(c, 4, 2, 16).await;
    for r in &records {
        assert_timeout(r, "idle");
        // Tokens came before the stall (the trigger is after >= 1 token) ...
        assert!(r.ttft_ms.is_some() && !r.chunks.is_empty(), "{r:?}");
        // ... and the idle limit, not the end of the stall, ended it.
        assert!(r.done_ms >= 140.0 && r.done_ms < 900.0, "{}", r.done_ms);
    }
    assert_accounting(&records, 4);
    assert_eq!(summary(&records).ttft_ms.count, 0);
    drop(s);
}

/// Control: with an idle limit longer than the stall the same streams
/// succeed, and the stall is really there (a gap of about 1 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_gap_within_the_idle_timeout_is_a_success() {
    let s = sim(STALL).await;
    let c = sim_client(
        &s,
        Timeouts {
            idle: ms(3_000),
            ..lenient()
        },
    );
    let r = one(&c, 16).await;
    assert!(r.ok(), "{:?}", r.failure);
    // Chunks held back during the stall arrive together after it, so the
    // stall shows as one raw gap of about `stall_ms`.
    let gap = r.chunk_gaps_ms().fold(0.0, f64::max);
    assert!(gap >= 900.0, "longest gap {gap} ms: {:?}", r.chunks);
    assert_accounting(&[r], 0);
    s.stop().await;
}

/// Half of the streams stall (seeded schedule): exactly those are timeouts,
/// and only the others enter the figures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_counts_exactly_the_scheduled_stalls_as_timeouts() {
    let kv = "time_scale=0.05,seed=5,stall_rate=0.5,stall_ms=1000";
    let mut cfg = SimConfig::default();
    cfg.apply_kv(kv).unwrap();
    let n = 12;
    let stalls = (0..n as u64)
        .filter(|&i| matches!(planned_fault(&cfg, i), Some(FaultKind::Stall { .. })))
        .count();
    assert!(
        (2..=10).contains(&stalls),
        "the seed gives a mix: {stalls} of {n}"
    );
    let s = sim(kv).await;
    let c = sim_client(
        &s,
        Timeouts {
            idle: ms(150),
            ..lenient()
        },
    );
    let records = run(c, n, 4, 16).await;
    for r in records.iter().filter(|r| !r.ok()) {
        assert_timeout(r, "idle");
    }
    assert_accounting(&records, stalls);
    // The successes are complete streams of 16 tokens, unaffected.
    for r in records.iter().filter(|r| r.ok()) {
        assert_eq!(r.output_tokens, 16);
        assert!(r.e2el_ms.unwrap() < 900.0, "{r:?}");
    }
    drop(s);
}

// ---------------------------------------------------------------------------
// First byte (headers and first body bytes)
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_response_headers_are_a_first_byte_timeout() {
    let s = sim("time_scale=0.05,slow_first_byte_ms=1000").await;
    let c = sim_client(
        &s,
        Timeouts {
            first_byte: ms(150),
            ..lenient()
        },
    );
    let records = run(c, 3, 3, 8).await;
    for r in &records {
        assert_timeout(r, "headers");
        assert!(r.chunks.is_empty() && r.ttft_ms.is_none(), "{r:?}");
        assert!(r.done_ms >= 140.0 && r.done_ms < 900.0, "{}", r.done_ms);
    }
    assert_accounting(&records, 3);
    drop(s);
}

/// Control: a first-byte limit above the delay lets the same request
/// through, and its TTFT includes the delay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_response_headers_within_the_limit_succeed() {
    let s = sim("time_scale=0.05,slow_first_byte_ms=1000").await;
    let c = sim_client(
        &s,
        Timeouts {
            first_byte: ms(3_000),
            ..lenient()
        },
    );
    let r = one(&c, 8).await;
    assert!(r.ok(), "{:?}", r.failure);
    assert!(r.ttft_ms.unwrap() >= 950.0, "{r:?}");
    assert_accounting(&[r], 0);
    s.stop().await;
}

/// A server that accepts the connection and the request but never answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_is_a_first_byte_timeout() {
    let (url, task) = silent_listener().await;
    let c = client(
        &url,
        "m",
        false,
        Timeouts {
            first_byte: ms(200),
            ..lenient()
        },
    );
    let records = run(c, 2, 2, 8).await;
    for r in &records {
        assert_timeout(r, "headers");
        assert!(r.done_ms >= 190.0 && r.done_ms < 2_000.0, "{}", r.done_ms);
    }
    assert_accounting(&records, 2);
    task.abort();
}

/// A server that sends its stream's headers at once and then nothing (a
/// request waiting in its queue): the wait for the first body bytes falls
/// under the first-byte limit, not the idle one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_then_silence_is_a_first_byte_timeout_not_an_idle_one() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            let (mut s, _) = l.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            let _ = tokio::time::timeout(ms(50), s.read(&mut buf)).await;
            let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
                        transfer-encoding: chunked\r\n\r\n";
            let _ = s.write_all(head.as_bytes()).await;
            held.push(s);
        }
    });
    let c = client(
        &url,
        "m",
        false,
        Timeouts {
            first_byte: ms(300),
            idle: ms(5_000),
            ..lenient()
        },
    );
    let records = run(c, 2, 2, 8).await;
    for r in &records {
        assert_timeout(r, "first-byte");
        assert!(r.done_ms >= 290.0 && r.done_ms < 3_000.0, "{}", r.done_ms);
    }
    assert_accounting(&records, 2);
    task.abort();
}

// ---------------------------------------------------------------------------
// Total
// ---------------------------------------------------------------------------

/// `time_scale=4`: a 32-token stream takes about a second (a token every
/// ~30 ms after a ~40 ms prefill): the total limit of 250 ms cuts it with
/// tokens already received, while no idle gap comes near 10 s.
const SLOW: &str = "time_scale=4";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_longer_than_the_total_timeout_is_a_timeout() {
    let s = sim(SLOW).await;
    let c = sim_client(
        &s,
        Timeouts {
            total: ms(250),
            ..lenient()
        },
    );
    let records = run(c, 2, 2, 32).await;
    for r in &records {
        assert_timeout(r, "total");
        assert!(r.done_ms >= 245.0 && r.done_ms < 800.0, "{}", r.done_ms);
        // It was cut mid-stream: tokens had arrived, fewer than asked.
        assert!(!r.chunks.is_empty() && r.chunks.len() < 32, "{r:?}");
    }
    assert_accounting(&records, 2);
    drop(s);
}

/// Control: the same stream under a generous total limit succeeds and lasts
/// well over the 250 ms limit above.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_within_the_total_timeout_succeeds() {
    let s = sim(SLOW).await;
    let c = sim_client(&s, lenient());
    let r = one(&c, 32).await;
    assert!(r.ok(), "{:?}", r.failure);
    assert_eq!(r.output_tokens, 32);
    assert!(r.done_ms >= 600.0, "{}", r.done_ms);
    assert_accounting(&[r], 0);
    s.stop().await;
}

/// The non-streaming path (`servebench latency`) honours the total limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unary_request_longer_than_the_total_timeout_is_a_timeout() {
    let s = sim(SLOW).await;
    let c = client(
        &s.base_url(),
        s.model(),
        true,
        Timeouts {
            total: ms(250),
            ..lenient()
        },
    );
    let req = requests(&c, 1, 32).pop().unwrap();
    let out = c.execute_unary(&req).await;
    let f = out.result.unwrap_err();
    assert_eq!(f.kind, FailureKind::Timeout, "{f:?}");
    assert!(
        out.elapsed_ms >= 245.0 && out.elapsed_ms < 800.0,
        "{}",
        out.elapsed_ms
    );
    drop(s);
}

/// The first-byte limit on the non-streaming path: a server that never
/// answers must time out after `first_byte`, not after `total`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unary_request_without_headers_is_a_first_byte_timeout() {
    let (url, task) = silent_listener().await;
    let c = client(
        &url,
        "m",
        true,
        Timeouts {
            first_byte: ms(200),
            total: ms(3_000),
            ..lenient()
        },
    );
    let req = requests(&c, 1, 8).pop().unwrap();
    let out = c.execute_unary(&req).await;
    let f = out.result.unwrap_err();
    assert_eq!(f.kind, FailureKind::Timeout, "{f:?}");
    assert!(out.elapsed_ms < 1_500.0, "waited {} ms", out.elapsed_ms);
    task.abort();
}

/// The idle limit on the non-streaming path: the simulator's stall pauses a
/// whole JSON answer after half its body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unary_body_that_stalls_is_an_idle_timeout() {
    let s = sim("time_scale=0.05,stall_rate=1,stall_ms=2000").await;
    let c = client(
        &s.base_url(),
        s.model(),
        true,
        Timeouts {
            idle: ms(200),
            ..lenient()
        },
    );
    let req = requests(&c, 1, 8).pop().unwrap();
    let out = c.execute_unary(&req).await;
    let f = out.result.unwrap_err();
    assert_eq!(f.kind, FailureKind::Timeout, "{f:?}");
    assert!(out.elapsed_ms < 1_500.0, "waited {} ms", out.elapsed_ms);
    drop(s);
}

// ---------------------------------------------------------------------------
// Connect
// ---------------------------------------------------------------------------

/// A connect that hangs, made deterministic on loopback: a listener with a
/// backlog of 1 that never accepts. Once its accept queue is full, Linux
/// drops further SYNs (with the default `tcp_abort_on_overflow = 0`), so a
/// new connect gets no answer until the client's own limit. The queue is
/// filled first, and the hang checked with a raw connect, before the client
/// is tried. Returns the address and what must stay alive.
async fn saturated_listener() -> (String, (tokio::net::TcpListener, Vec<TcpStream>)) {
    let sock = TcpSocket::new_v4().unwrap();
    sock.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = sock.listen(1).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    loop {
        match tokio::time::timeout(ms(300), TcpStream::connect(addr)).await {
            Ok(Ok(s)) => fillers.push(s),
            Ok(Err(e)) => panic!("loopback connect failed: {e}"),
            Err(_) => break, // no answer: the queue is full
        }
        assert!(
            fillers.len() < 16,
            "the kernel keeps accepting into a backlog of 1: cannot make a connect hang here"
        );
    }
    (format!("http://{addr}"), (listener, fillers))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connect_that_hangs_is_a_connect_timeout() {
    let (url, _keep) = saturated_listener().await;
    let c = client(
        &url,
        "m",
        false,
        Timeouts {
            connect: ms(200),
            first_byte: ms(10_000),
            ..lenient()
        },
    );
    let r = one(&c, 8).await;
    // reqwest's message: "... client error (Connect): tcp connect error:
    // deadline has elapsed".
    assert_timeout(&r, "connect");
    // The connect limit ended it, far before the first-byte or total limit.
    assert!(r.done_ms >= 190.0 && r.done_ms < 2_000.0, "{}", r.done_ms);
    assert_accounting(&[r], 1);
}

/// A refused connection (nothing listens) is a `connect` failure, at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_is_a_connect_failure() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    drop(l);
    let c = client(&url, "m", false, lenient());
    let records = run(c, 2, 1, 8).await;
    for r in &records {
        let f = r.failure.as_ref().expect("a failure");
        assert_eq!(f.kind, FailureKind::Connect, "{f:?}");
        assert!(r.done_ms < 2_000.0, "{}", r.done_ms);
    }
    let s = summary(&records);
    assert_eq!(s.failures.get("connect"), Some(&2));
    assert_eq!(s.failures.get("timeout"), None);
    assert_eq!((s.completed, s.ttft_ms.count), (0, 0));
}

/// Sanity of the raw listener helper: it really holds the connection open
/// without answering (so the first-byte test above tests the limit, not a
/// closed socket).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_silent_listener_keeps_connections_open() {
    let (url, task) = silent_listener().await;
    let addr = url.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(ms(300), s.read(&mut buf)).await;
    assert!(read.is_err(), "the listener answered or closed: {read:?}");
    task.abort();
}
