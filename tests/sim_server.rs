//! End-to-end tests of the embedded simulated server (`servebench::sim`).
//!
//! Timing assertions use scaled-down models (`time_scale` 0.05-0.2) and
//! generous ranges: lower bounds follow from the model (sleeps never end
//! early), upper bounds leave wide headroom for a loaded 2-core machine.

mod common {
    pub mod sim;
}

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use rand::SeedableRng;
use serde_json::{json, Value};
use servebench::sim::{SimConfig, SimServer};
use servebench::workload::{PromptSynth, Tokenizer};

use common::sim::start;

fn prompt(n: usize, id: u64) -> String {
    let tok = Tokenizer::default_embedded();
    let synth = PromptSynth::new(&tok).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(id);
    synth.prompt(n, Some(id), &mut rng).unwrap()
}

/// SSE events with their arrival instants; `[DONE]` becomes `Value::Null`.
async fn sse(resp: reqwest::Response) -> Vec<(Instant, Value)> {
    assert_eq!(resp.status(), 200);
    let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("text/event-stream"), "{ct}");
    let mut body = resp.bytes_stream();
    let mut buf = String::new();
    let mut out = Vec::new();
    while let Some(b) = body.next().await {
        let now = Instant::now();
        buf.push_str(std::str::from_utf8(&b.unwrap()).unwrap());
        while let Some(i) = buf.find("\n\n") {
            let ev: String = buf.drain(..i + 2).collect();
            let data = ev.trim_end().strip_prefix("data: ").expect("data: event");
            let v = if data == "[DONE]" {
                Value::Null
            } else {
                serde_json::from_str(data).unwrap()
            };
            out.push((now, v));
        }
    }
    assert!(buf.is_empty(), "trailing bytes: {buf:?}");
    assert_eq!(
        out.last().unwrap().1,
        Value::Null,
        "stream ends with [DONE]"
    );
    out
}

/// Text of a completion or chat chunk ("" when it has none).
fn chunk_text(v: &Value) -> String {
    let c = &v["choices"][0];
    c["text"]
        .as_str()
        .or(c["delta"]["content"].as_str())
        .unwrap_or("")
        .to_string()
}

async fn post(c: &reqwest::Client, s: &SimServer, path: &str, body: Value) -> reqwest::Response {
    c.post(format!("{}{path}", s.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Child half of `env_parsing`: runs in a separate process with
/// SERVEBENCH_SIM set, so no test thread races on the environment.
#[test]
#[ignore = "run by env_parsing in a child process"]
fn env_child() {
    let expect = std::env::var("SB_TEST_EXPECT").unwrap();
    let r = SimConfig::from_env();
    match expect.as_str() {
        "ok" => {
            let c = r.unwrap();
            assert_eq!(c.decode_step_ms, 3.0);
            assert!(c.prefix_cache);
            assert_eq!(c.max_batch, SimConfig::default().max_batch);
        }
        "unknown" => {
            let e = r.unwrap_err().to_string();
            assert!(
                e.contains("warp_speed") && e.contains("decode_step_ms"),
                "{e}"
            );
        }
        _ => {
            let e = r.unwrap_err().to_string();
            assert!(e.contains("max_batch") && e.contains("lots"), "{e}");
        }
    }
}

#[test]
fn env_parsing() {
    let exe = std::env::current_exe().unwrap();
    for (spec, expect) in [
        ("decode_step_ms=3, prefix-cache=true", "ok"),
        ("warp_speed=9", "unknown"),
        ("max_batch=lots", "bad"),
    ] {
        let out = std::process::Command::new(&exe)
            .args(["--exact", "env_child", "--ignored", "--test-threads=1"])
            .env("SERVEBENCH_SIM", spec)
            .env("SB_TEST_EXPECT", expect)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{spec}: {text}");
        assert!(
            text.contains("1 passed"),
            "{spec}: child did not run: {text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_health_and_errors() {
    let (s, c, _) = start("time_scale=0.05,max_model_len=1000").await;
    let h = c
        .get(format!("{}/health", s.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(h.status(), 200);
    let m: Value = c
        .get(format!("{}/v1/models", s.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(m["object"], "list");
    assert_eq!(m["data"][0]["id"], "servebench-sim");
    assert_eq!(m["data"][0]["object"], "model");
    assert_eq!(m["data"][0]["owned_by"], "servebench");
    assert!(m["data"][0]["created"].is_u64());

    let r = post(
        &c,
        &s,
        "/v1/completions",
        json!({"model": "x", "prompt": "hi"}),
    )
    .await;
    assert_eq!(r.status(), 404);
    let e: Value = r.json().await.unwrap();
    assert_eq!(
        e,
        json!({"error": {"message": "The model `x` does not exist.", "type": "NotFoundError",
                         "param": "model", "code": 404}})
    );
    let bad = c
        .post(format!("{}/v1/completions", s.base_url()))
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let e: Value = bad.json().await.unwrap();
    assert_eq!(e["error"]["code"], 400);
    assert_eq!(e["error"]["type"], "BadRequestError");
    let r = post(&c, &s, "/v1/completions", json!({"max_tokens": 5})).await;
    assert_eq!(r.status(), 400);
    let r = post(&c, &s, "/v1/chat/completions", json!({"messages": []})).await;
    assert_eq!(r.status(), 400);
    // A max_tokens that would wrap prompt + output is refused, not streamed.
    let huge = json!({"prompt": "a b", "max_tokens": u64::MAX});
    let r = post(&c, &s, "/v1/completions", huge).await;
    assert_eq!(r.status(), 400);
    let long = json!({"prompt": prompt(900, 1), "max_tokens": 200});
    let r = post(&c, &s, "/v1/completions", long).await;
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert!(
        e["error"]["message"].as_str().unwrap().contains("1000"),
        "{e}"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_streaming_usage_and_latency() {
    let (s, c, _) = start("time_scale=0.1").await;
    let tok = Tokenizer::default_embedded();
    let body = json!({"prompt": prompt(50, 2), "max_tokens": 10, "ignore_eos": true,
                      "return_latency": true});
    let v: Value = post(&c, &s, "/v1/completions", body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["object"], "text_completion");
    assert_eq!(v["model"], "servebench-sim");
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    assert_eq!(tok.count(v["choices"][0]["text"].as_str().unwrap()), 10);
    assert_eq!(
        v["usage"],
        json!({"prompt_tokens": 50, "completion_tokens": 10, "total_tokens": 60})
    );
    let l = &v["latency"];
    for k in [
        "prefill_latency",
        "model_prefill_latency",
        "avg_decode_latency",
        "time_in_queue",
        "request_latency",
        "ttft_server_ms",
    ] {
        assert!(l[k].as_f64().unwrap() >= 0.0, "{k}: {l}");
    }
    assert!(l["request_latency"].as_f64() >= l["prefill_latency"].as_f64());
    assert!(l["prefill_latency"].as_f64() >= l["model_prefill_latency"].as_f64());

    // Chat: prompt tokens = sum over message contents, text parts only.
    let msgs = json!([{"role": "system", "content": prompt(7, 3)},
                      {"role": "user", "content": [{"type": "text", "text": prompt(5, 4)},
                                                   {"type": "image_url", "image_url": {"url": "x"}}]}]);
    let body = json!({"model": "servebench-sim", "messages": msgs, "max_completion_tokens": 4});
    let v: Value = post(&c, &s, "/v1/chat/completions", body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["choices"][0]["message"]["role"], "assistant");
    assert_eq!(
        tok.count(v["choices"][0]["message"]["content"].as_str().unwrap()),
        4
    );
    assert_eq!(v["usage"]["prompt_tokens"], 12);
    assert!(v.get("latency").is_none());

    // Token-id prompts count their ids.
    let body = json!({"prompt": [1, 2, 3, 4, 5, 6], "max_tokens": 2});
    let v: Value = post(&c, &s, "/v1/completions", body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["usage"]["prompt_tokens"], 6);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_completion_shapes_and_usage() {
    let (s, c, _) = start("time_scale=0.05").await;
    let tok = Tokenizer::default_embedded();
    let body = json!({"prompt": prompt(30, 5), "max_tokens": 20, "ignore_eos": true, "stream": true,
                      "stream_options": {"include_usage": true}, "return_latency": true});
    let ev = sse(post(&c, &s, "/v1/completions", body).await).await;
    let chunks: Vec<&Value> = ev.iter().map(|(_, v)| v).filter(|v| !v.is_null()).collect();
    let (usage, tokens) = chunks.split_last().unwrap();
    assert_eq!(tokens.len(), 20, "one token per chunk");
    let mut text = String::new();
    for (i, v) in tokens.iter().enumerate() {
        assert_eq!(v["object"], "text_completion");
        assert!(v["id"].as_str().unwrap().starts_with("cmpl-"));
        assert_eq!(v["choices"][0]["index"], 0);
        assert!(v["choices"][0]["logprobs"].is_null());
        let fin = &v["choices"][0]["finish_reason"];
        if i + 1 == tokens.len() {
            assert_eq!(fin, "length");
        } else {
            assert!(fin.is_null());
        }
        assert!(v.get("latency").is_none());
        text.push_str(&chunk_text(v));
    }
    assert_eq!(tok.count(&text), 20);
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(
        usage["usage"],
        json!({"prompt_tokens": 30, "completion_tokens": 20, "total_tokens": 50})
    );
    assert!(usage["latency"]["avg_decode_latency"].as_f64().unwrap() > 0.0);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_chat_shapes() {
    let (s, c, _) = start("time_scale=0.05").await;
    let tok = Tokenizer::default_embedded();
    let body = json!({"messages": [{"role": "user", "content": prompt(16, 6)}], "max_tokens": 8,
                      "min_tokens": 8, "stream": true, "return_latency": true});
    let ev = sse(post(&c, &s, "/v1/chat/completions", body).await).await;
    let chunks: Vec<&Value> = ev.iter().map(|(_, v)| v).filter(|v| !v.is_null()).collect();
    assert_eq!(chunks.len(), 9);
    assert_eq!(
        chunks[0]["choices"][0]["delta"],
        json!({"role": "assistant", "content": ""})
    );
    let mut text = String::new();
    for v in &chunks {
        assert_eq!(v["object"], "chat.completion.chunk");
        assert!(v["id"].as_str().unwrap().starts_with("chatcmpl-"));
        text.push_str(&chunk_text(v));
    }
    assert_eq!(tok.count(&text), 8);
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"][0]["finish_reason"], "length");
    assert!(
        last["latency"]["request_latency"].as_f64().unwrap() > 0.0,
        "{last}"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduler_steps_make_bursts() {
    let (s, c, _) = start("time_scale=0.05,num_scheduler_steps=4").await;
    let tok = Tokenizer::default_embedded();
    let body =
        json!({"prompt": prompt(10, 7), "max_tokens": 13, "ignore_eos": true, "stream": true});
    let ev = sse(post(&c, &s, "/v1/completions", body).await).await;
    let sizes: Vec<usize> = ev
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(_, v)| tok.count(&chunk_text(v)))
        .collect();
    assert_eq!(sizes, vec![1, 4, 4, 4]);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eos_model_stops_early_unless_forced() {
    let (s, c, _) = start("time_scale=0.02,eos_mean_tokens=4,seed=3").await;
    let tok = Tokenizer::default_embedded();
    let mut stops = 0;
    for i in 0..6 {
        let body = json!({"prompt": prompt(8, 100 + i), "max_tokens": 200});
        let v: Value = post(&c, &s, "/v1/completions", body)
            .await
            .json()
            .await
            .unwrap();
        let n = v["usage"]["completion_tokens"].as_u64().unwrap() as usize;
        assert_eq!(tok.count(v["choices"][0]["text"].as_str().unwrap()), n);
        if v["choices"][0]["finish_reason"] == "stop" {
            stops += 1;
            assert!(n < 200);
        }
    }
    assert!(stops >= 5, "geometric lengths of mean 4 rarely reach 200");
    let body = json!({"prompt": "hello", "max_tokens": 30, "min_tokens": 30});
    let v: Value = post(&c, &s, "/v1/completions", body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["usage"]["completion_tokens"], 30);
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    s.stop().await;
}

/// Client TTFT and server latency object of one streamed request.
async fn timed(
    c: &reqwest::Client,
    s: &SimServer,
    p: &str,
    max: usize,
) -> (f64, Vec<Instant>, Value) {
    let body = json!({"prompt": p, "max_tokens": max, "ignore_eos": true, "stream": true,
                      "return_latency": true});
    let t0 = Instant::now();
    let ev = sse(post(c, s, "/v1/completions", body).await).await;
    let tokens: Vec<&(Instant, Value)> = ev
        .iter()
        .filter(|(_, v)| !v.is_null() && !chunk_text(v).is_empty())
        .collect();
    let ttft = (tokens[0].0 - t0).as_secs_f64() * 1e3;
    let lat = tokens.last().unwrap().1["latency"].clone();
    (ttft, tokens.iter().map(|(t, _)| *t).collect(), lat)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefix_cache_cuts_ttft() {
    let (s, c, cfg) = start("time_scale=0.1,prefix_cache=true").await;
    let p = prompt(4000, 8);
    let (ttft1, _, l1) = timed(&c, &s, &p, 2).await;
    let (ttft2, _, l2) = timed(&c, &s, &p, 2).await;
    let m1 = l1["model_prefill_latency"].as_f64().unwrap();
    let m2 = l2["model_prefill_latency"].as_f64().unwrap();
    assert!((m1 - cfg.prefill_ms(4000)).abs() < 0.02, "{m1}");
    // 4000 = 250 blocks of 16: all cached, one token still charged.
    assert!((m2 - cfg.prefill_ms(1)).abs() < 0.02, "{m2}");
    assert!(ttft2 < ttft1, "{ttft2} vs {ttft1}");
    assert!(ttft1 >= cfg.prefill_ms(4000) * 0.99, "{ttft1}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_request_follows_the_model() {
    let (s, c, cfg) = start("time_scale=0.2").await;
    let (ttft, times, lat) = timed(&c, &s, &prompt(1000, 9), 60).await;
    let prefill = cfg.prefill_ms(1000);
    assert!(ttft >= prefill * 0.99, "ttft {ttft} < model {prefill}");
    assert!(
        ttft < prefill * 2.0 + 25.0,
        "ttft {ttft} vs model {prefill}"
    );
    let step = cfg.decode_step_ms(1);
    let gaps = (*times.last().unwrap() - times[0]).as_secs_f64() * 1e3 / (times.len() - 1) as f64;
    assert_eq!(times.len(), 60);
    assert!(
        gaps > step * 0.8 && gaps < step * 3.0 + 2.0,
        "gap {gaps} vs model {step}"
    );
    let server_gap = lat["avg_decode_latency"].as_f64().unwrap();
    assert!(
        server_gap >= step * 0.99 && server_gap < step * 3.0 + 2.0,
        "{server_gap} vs {step}"
    );
    let server_prefill = lat["prefill_latency"].as_f64().unwrap();
    assert!(server_prefill >= prefill * 0.99 && server_prefill < prefill * 2.0 + 25.0);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_are_batched() {
    let (s, c, cfg) = start("time_scale=0.1").await;
    let p = prompt(100, 10);
    let max = 200;
    let t0 = Instant::now();
    timed(&c, &s, &p, max).await;
    let one = t0.elapsed();
    // The model: one request takes prefill + 199 decode steps.
    let model_one = cfg.prefill_ms(100) + 199.0 * cfg.decode_step_ms(1);
    assert!(one.as_secs_f64() * 1e3 >= model_one * 0.99);
    let t0 = Instant::now();
    let jobs: Vec<_> = (0..8)
        .map(|_| {
            let (c, p, url) = (c.clone(), p.clone(), s.base_url());
            tokio::spawn(async move {
                let body = json!({"prompt": p, "max_tokens": max, "ignore_eos": true});
                let v: Value = c
                    .post(format!("{url}/v1/completions"))
                    .json(&body)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                assert_eq!(v["usage"]["completion_tokens"], max);
            })
        })
        .collect();
    for j in jobs {
        j.await.unwrap();
    }
    let eight = t0.elapsed();
    assert!(
        eight < one * 3,
        "8 concurrent took {eight:?}, one took {one:?}"
    );
    assert!(eight > Duration::from_secs_f64(model_one / 1e3 * 0.99));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_going_away_frees_the_slot() {
    // One slot; the first request alone would hold it for ~3.5 s.
    let (s, c, _) = start("time_scale=0.05,max_batch=1").await;
    let body = json!({"prompt": "hello", "max_tokens": 10000, "ignore_eos": true,
                      "stream": true});
    let resp = post(&c, &s, "/v1/completions", body).await;
    let mut stream = resp.bytes_stream();
    stream.next().await.unwrap().unwrap();
    drop(stream);
    let t0 = Instant::now();
    let body = json!({"prompt": "hello", "max_tokens": 5});
    let v: Value = post(&c, &s, "/v1/completions", body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["usage"]["completion_tokens"], 5);
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    s.stop().await;
}
