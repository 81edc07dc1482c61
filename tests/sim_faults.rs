//! Fault injection of the simulated server, checked request by request
//! against `servebench::sim::planned_fault`.

mod common {
    pub mod sim;
}

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{json, Value};
use servebench::sim::{planned_fault, FaultKind, MalformedKind, SimConfig, SimServer};
use servebench::workload::Tokenizer;

const MAX: usize = 8;

async fn start(kv: &str) -> (SimServer, reqwest::Client, SimConfig) {
    common::sim::start_with(kv, false).await
}

/// The tokenizer, loaded once (loading it is costly and would stall the
/// runtime that reads the other streams).
fn tokenizer() -> &'static Tokenizer {
    static TOK: std::sync::OnceLock<Tokenizer> = std::sync::OnceLock::new();
    TOK.get_or_init(Tokenizer::default_embedded)
}

/// What the client saw.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Seen {
    Ok,
    Status(u16),
    /// `send()` failed: no response at all.
    Reset,
    /// The body failed after the headers.
    BodyCut,
    Malformed(MalformedKind),
    NoDone,
    ErrorEvent,
    Stall,
}

fn expected(f: Option<FaultKind>) -> Seen {
    match f {
        None => Seen::Ok,
        Some(FaultKind::Error { status }) => Seen::Status(status),
        Some(FaultKind::Reset) => Seen::Reset,
        Some(FaultKind::MidstreamReset { .. }) => Seen::BodyCut,
        Some(FaultKind::Stall { .. }) => Seen::Stall,
        Some(FaultKind::Malformed { kind, .. }) => Seen::Malformed(kind),
        Some(FaultKind::NoDone) => Seen::NoDone,
        Some(FaultKind::ErrorEvent { .. }) => Seen::ErrorEvent,
    }
}

/// One streamed completion, classified.
async fn one(c: &reqwest::Client, s: &SimServer, stall_ms: f64) -> Seen {
    let body = json!({"prompt": "hello there", "max_tokens": MAX, "ignore_eos": true,
                      "stream": true});
    let resp = match c
        .post(format!("{}/v1/completions", s.base_url()))
        .json(&body)
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) => {
            assert!(!e.is_timeout(), "{e}");
            return Seen::Reset;
        }
    };
    if resp.status() != 200 {
        let st = resp.status().as_u16();
        if st == 429 {
            assert_eq!(resp.headers()["retry-after"], "2");
        }
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["code"], st, "{v}");
        return Seen::Status(st);
    }
    let mut stream = resp.bytes_stream();
    let mut buf: Vec<u8> = Vec::new();
    let mut last = Instant::now();
    let mut max_gap = Duration::ZERO;
    let mut first = true;
    while let Some(b) = stream.next().await {
        let Ok(b) = b else { return Seen::BodyCut };
        if !first {
            max_gap = max_gap.max(last.elapsed());
        }
        first = false;
        last = Instant::now();
        buf.extend_from_slice(&b);
    }
    let mut rest = &buf[..];
    let (mut tokens, mut done, mut error) = (0, false, false);
    let tok = tokenizer();
    while let Some(i) = rest.windows(2).position(|w| w == b"\n\n") {
        let ev = &rest[..i];
        rest = &rest[i + 2..];
        let Ok(text) = std::str::from_utf8(ev) else {
            return Seen::Malformed(MalformedKind::Utf8);
        };
        let data = text.strip_prefix("data: ").expect("SSE data event");
        if data == "[DONE]" {
            done = true;
            continue;
        }
        let Ok(v) = serde_json::from_str::<Value>(data) else {
            return Seen::Malformed(MalformedKind::Json);
        };
        if v.get("error").is_some() {
            assert_eq!(v["error"]["code"], 500, "{v}");
            error = true;
            continue;
        }
        tokens += tok.count(v["choices"][0]["text"].as_str().unwrap());
    }
    if !rest.is_empty() {
        return Seen::Malformed(MalformedKind::Truncated);
    }
    if error {
        assert!(done, "an error event is followed by [DONE]");
        assert!(tokens < MAX);
        return Seen::ErrorEvent;
    }
    assert_eq!(tokens, MAX);
    if !done {
        return Seen::NoDone;
    }
    // The client may see the chunk before a stall late (a busy runtime), so
    // the observed gap can be shorter than the stall: 60% is the threshold.
    if max_gap.as_secs_f64() * 1e3 >= stall_ms * 0.6 {
        return Seen::Stall;
    }
    Seen::Ok
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_gets_its_planned_fault() {
    let kv = "time_scale=0.02,seed=11,error_rate=0.1,error_status=429,retry_after_s=2,\
              reset_rate=0.1,midstream_reset_rate=0.1,stall_rate=0.08,stall_ms=150,\
              malformed_rate=0.15,no_done_rate=0.1,error_event_rate=0.1";
    let (s, c, cfg) = start(kv).await;
    let mut kinds = std::collections::HashSet::new();
    for i in 0..120u64 {
        let want = expected(planned_fault(&cfg, i));
        let got = one(&c, &s, 150.0).await;
        assert_eq!(got, want, "request {i}");
        kinds.insert(format!("{want:?}"));
    }
    // Every kind (and every malformed variant) occurred at least once.
    assert!(kinds.len() >= 10, "{kinds:?}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_kinds_count_exactly() {
    for (kv, status) in [
        ("error_rate=0.3,error_status=500", 500),
        ("error_rate=0.3,error_status=503", 503),
        ("reset_rate=0.3", 0),
        ("midstream_reset_rate=0.3", 0),
        ("malformed_rate=0.3,malformed_kind=truncated", 0),
        ("no_done_rate=0.3", 0),
        ("error_event_rate=0.3", 0),
    ] {
        let (s, c, cfg) = start(&format!("time_scale=0.02,seed=5,{kv}")).await;
        let n = 100u64;
        let planned = (0..n).filter(|&i| planned_fault(&cfg, i).is_some()).count();
        assert!((15..=45).contains(&planned), "{kv}: {planned}");
        let mut faulty = 0;
        for i in 0..n {
            let got = one(&c, &s, 1e9).await;
            assert_eq!(got, expected(planned_fault(&cfg, i)), "{kv}: request {i}");
            if let Seen::Status(st) = got {
                assert_eq!(st, status);
            }
            faulty += usize::from(got != Seen::Ok);
        }
        assert_eq!(faulty, planned, "{kv}");
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_counts_match_the_plan() {
    let kv = "time_scale=0.05,seed=3,error_rate=0.1,reset_rate=0.1,midstream_reset_rate=0.1,\
              malformed_rate=0.1,no_done_rate=0.1,error_event_rate=0.1,stall_rate=0.1,\
              stall_ms=300";
    let (s, c, cfg) = start(kv).await;
    let n = 100u64;
    let s = std::sync::Arc::new(s);
    let jobs: Vec<_> = (0..n)
        .map(|_| {
            let (c, s) = (c.clone(), s.clone());
            tokio::spawn(async move { one(&c, &s, 300.0).await })
        })
        .collect();
    let mut got = std::collections::BTreeMap::new();
    for j in jobs {
        *got.entry(format!("{:?}", j.await.unwrap())).or_insert(0) += 1;
    }
    let mut want = std::collections::BTreeMap::new();
    for i in 0..n {
        *want
            .entry(format!("{:?}", expected(planned_fault(&cfg, i))))
            .or_insert(0) += 1;
    }
    assert_eq!(got, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_streaming_faults() {
    let kv = "time_scale=0.02,seed=9,error_rate=0.2,reset_rate=0.2,midstream_reset_rate=0.2,\
              malformed_rate=0.2";
    let (s, c, cfg) = start(kv).await;
    for i in 0..60u64 {
        let body = json!({"prompt": "hi", "max_tokens": 4, "ignore_eos": true});
        let r = c
            .post(format!("{}/v1/completions", s.base_url()))
            .json(&body)
            .send()
            .await;
        let seen = match r {
            Err(_) => "reset",
            Ok(r) if r.status() == 500 => "error",
            Ok(r) => match r.bytes().await {
                Err(_) => "cut",
                Ok(b) => match serde_json::from_slice::<Value>(&b) {
                    Ok(v) => {
                        assert_eq!(v["usage"]["completion_tokens"], 4);
                        "ok"
                    }
                    Err(_) => "malformed",
                },
            },
        };
        let want = match planned_fault(&cfg, i) {
            None => "ok",
            Some(FaultKind::Error { .. }) => "error",
            Some(FaultKind::Reset) => "reset",
            Some(FaultKind::MidstreamReset { .. }) => "cut",
            Some(FaultKind::Malformed { .. }) => "malformed",
            Some(f) => panic!("unexpected {f:?}"),
        };
        assert_eq!(seen, want, "request {i}");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_first_byte_delays_headers_and_server_ttft() {
    let (s, c, _) = start("time_scale=0.02,slow_first_byte_ms=120").await;
    let body = json!({"prompt": "hi", "max_tokens": 3, "ignore_eos": true, "stream": true,
                      "return_latency": true, "stream_options": {"include_usage": true}});
    let t0 = Instant::now();
    let r = c
        .post(format!("{}/v1/completions", s.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    let headers = t0.elapsed();
    assert!(headers >= Duration::from_millis(119), "{headers:?}");
    let text = r.text().await.unwrap();
    let usage = text
        .split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .find(|v| v.get("usage").is_some())
        .unwrap();
    let l = &usage["latency"];
    assert!(l["ttft_server_ms"].as_f64().unwrap() >= 119.0, "{l}");
    assert!(l["prefill_latency"].as_f64().unwrap() >= 119.0, "{l}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusal_window_refuses_connections_then_recovers() {
    let (s, c, _) = start("time_scale=0.02,refuse_after=3,refuse_for_ms=400").await;
    let mut log = Vec::new();
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_millis(900) {
        let body = json!({"prompt": "hi", "max_tokens": 2});
        let r = c
            .post(format!("{}/v1/completions", s.base_url()))
            .json(&body)
            .send()
            .await;
        let what = match r {
            Ok(r) if r.status() == 200 => "ok",
            Ok(r) => panic!("status {}", r.status()),
            Err(e) if e.is_connect() => "refused",
            Err(_) => "reset",
        };
        log.push((t0.elapsed(), what));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let kinds: Vec<&str> = log.iter().map(|(_, w)| *w).collect();
    assert_eq!(&kinds[..4], &["ok", "ok", "ok", "reset"], "{log:?}");
    let refused: Vec<_> = log.iter().filter(|(_, w)| *w == "refused").collect();
    assert!(refused.len() >= 5, "{log:?}");
    let start = log[3].0;
    for (t, _) in &refused {
        assert!(
            *t >= start && *t < start + Duration::from_millis(450),
            "{log:?}"
        );
    }
    let first_refused = kinds.iter().position(|w| *w == "refused").unwrap();
    let last_refused = kinds.iter().rposition(|w| *w == "refused").unwrap();
    assert!(kinds[first_refused..=last_refused]
        .iter()
        .all(|w| *w == "refused"));
    assert!(
        kinds[last_refused + 1..].iter().all(|w| *w == "ok"),
        "{log:?}"
    );
    assert!(kinds.len() > last_refused + 3, "{log:?}");
    s.stop().await;
}

/// The error and its sources, joined.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(x) = src {
        s += &format!(" <- {x}");
        src = x.source();
    }
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resets_are_tcp_resets() {
    for kv in ["reset_rate=1", "midstream_reset_rate=1"] {
        let (s, c, _) = start(&format!("time_scale=0.02,{kv}")).await;
        let body = json!({"prompt": "hi", "max_tokens": 8, "ignore_eos": true, "stream": true});
        let r = c
            .post(format!("{}/v1/completions", s.base_url()))
            .json(&body)
            .send()
            .await;
        let err = match r {
            Err(e) => {
                assert!(kv.starts_with("reset"));
                chain(&e)
            }
            Ok(r) => {
                assert!(kv.starts_with("midstream"));
                let mut st = r.bytes_stream();
                let mut n = 0;
                loop {
                    match st.next().await.expect("the body fails, it does not end") {
                        Ok(b) => n += b.len(),
                        Err(e) => break chain(&e),
                    }
                }
                .to_string()
                    + &format!(" after {n} bytes")
            }
        };
        assert!(err.contains("reset by peer"), "{kv}: {err}");
        s.stop().await;
    }
}
