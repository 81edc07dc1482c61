//! The non-OpenAI APIs of the simulated server: vLLM's legacy `/generate`,
//! TGI's `/generate_stream` and MindIE's `/infer`.

mod common {
    pub mod sim;
}

use serde_json::{json, Value};
use servebench::sim::SimServer;
use servebench::workload::Tokenizer;

use common::sim::start;

async fn post(c: &reqwest::Client, s: &SimServer, path: &str, body: Value) -> reqwest::Response {
    c.post(format!("{}{path}", s.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// The JSON payloads of an SSE body (`data:` with or without a space).
fn events(body: &str) -> Vec<Value> {
    assert!(body.ends_with("\n\n"), "{body:?}");
    body.split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| {
            let d = e.strip_prefix("data:").expect("data event");
            assert_ne!(d.trim(), "[DONE]", "no [DONE] in this API");
            serde_json::from_str(d.trim_start()).unwrap()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vllm_generate_stream_and_whole() {
    let tok = Tokenizer::default_embedded();
    for (kv, sep, objects) in [
        ("", '\0', 12),
        (",vllm_separator=newline", '\n', 12),
        (",num_scheduler_steps=4", '\0', 4),
    ] {
        let (s, c, _) = start(&format!("time_scale=0.02{kv}")).await;
        let prompt = "The quick brown fox";
        let body = json!({"prompt": prompt, "stream": true, "max_tokens": 12,
                          "ignore_eos": true, "min_tokens": 12});
        let r = post(&c, &s, "/generate", body).await;
        assert_eq!(r.status(), 200);
        let text = r.text().await.unwrap();
        assert!(text.ends_with(sep), "{text:?}");
        let mut prev = prompt.to_string();
        let parts: Vec<&str> = text.split(sep).filter(|p| !p.is_empty()).collect();
        assert_eq!(parts.len(), objects, "{kv}: {text:?}");
        for p in &parts {
            let v: Value = serde_json::from_str(p).unwrap();
            assert_eq!(v.as_object().unwrap().len(), 1, "only `text`: {v}");
            let full = v["text"][0].as_str().unwrap().to_string();
            assert!(full.starts_with(&prev) && full.len() > prev.len());
            prev = full;
        }
        assert_eq!(tok.count(&prev[prompt.len()..]), 12);
        let body = json!({"prompt": prompt, "max_tokens": 5, "ignore_eos": true});
        let v: Value = post(&c, &s, "/generate", body).await.json().await.unwrap();
        let full = v["text"][0].as_str().unwrap();
        assert!(full.starts_with(prompt));
        assert_eq!(tok.count(&full[prompt.len()..]), 5);
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tgi_generate_stream_shape() {
    let tok = Tokenizer::default_embedded();
    let (s, c, _) = start("time_scale=0.02,num_scheduler_steps=3").await;
    let body = json!({"inputs": "Hello world", "parameters": {"max_new_tokens": 10,
                      "details": true, "do_sample": false}});
    let r = post(&c, &s, "/generate_stream", body).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let raw = r.text().await.unwrap();
    assert!(raw.starts_with("data:{"), "{raw}");
    let ev = events(&raw);
    assert_eq!(ev.len(), 10);
    let mut text = String::new();
    for (i, v) in ev.iter().enumerate() {
        assert_eq!(v["index"], i + 1);
        assert!(v["token"]["id"].is_u64());
        assert_eq!(v["token"]["special"], false);
        assert_eq!(v["token"]["logprob"], 0.0);
        let t = v["token"]["text"].as_str().unwrap();
        assert_eq!(tok.count(t), 1);
        assert_eq!(
            tok.encode(t),
            vec![v["token"]["id"].as_u64().unwrap() as u32]
        );
        text.push_str(t);
        if i + 1 < ev.len() {
            assert!(
                v["generated_text"].is_null() && v["details"].is_null(),
                "{v}"
            );
        }
    }
    let last = ev.last().unwrap();
    assert_eq!(last["generated_text"], text);
    assert_eq!(
        last["details"],
        json!({"finish_reason": "length", "generated_tokens": 10, "seed": null})
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tgi_stops_early_and_cumulative_variant() {
    let tok = Tokenizer::default_embedded();
    let (s, c, _) = start("time_scale=0.02,eos_mean_tokens=3,seed=4").await;
    let mut early = 0;
    for _ in 0..5 {
        // ignore_eos is not a TGI parameter: the EOS model applies anyway.
        let body = json!({"inputs": "hi", "parameters": {"max_new_tokens": 100,
                          "details": true, "ignore_eos": true}});
        let ev = events(
            &post(&c, &s, "/generate_stream", body)
                .await
                .text()
                .await
                .unwrap(),
        );
        let last = ev.last().unwrap();
        assert_eq!(last["details"]["generated_tokens"], ev.len());
        if last["details"]["finish_reason"] == "eos_token" {
            early += 1;
            assert!(ev.len() < 100);
        }
    }
    assert!(early >= 4);
    s.stop().await;

    let (s, c, _) = start("time_scale=0.02,tgi_cumulative_text=true").await;
    let body = json!({"inputs": "hi", "parameters": {"max_new_tokens": 6}});
    let ev = events(
        &post(&c, &s, "/generate_stream", body)
            .await
            .text()
            .await
            .unwrap(),
    );
    assert_eq!(ev.len(), 6);
    let mut prev = String::new();
    for v in &ev {
        assert!(v["token"]["id"].as_array().unwrap().len() == 1);
        let t = v["token"]["text"].as_str().unwrap().to_string();
        assert!(t.starts_with(&prev) && tok.count(&t) == tok.count(&prev) + 1);
        prev = t;
    }
    let last = ev.last().unwrap();
    assert_eq!(last["generated_text"], prev);
    assert!(last["details"].is_null(), "details not asked for");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mindie_infer_shape_and_times() {
    let tok = Tokenizer::default_embedded();
    let (s, c, cfg) = start("time_scale=0.1,eos_mean_tokens=2").await;
    let prompt = "word ".repeat(300);
    let p = tok.count(&prompt);
    let body = json!({"inputs": prompt, "stream": true, "parameters": {"max_new_tokens": 16,
                      "ignore_eos": true, "details": true}});
    let raw = post(&c, &s, "/infer", body).await.text().await.unwrap();
    assert!(raw.starts_with("data: {"));
    let ev = events(&raw);
    assert_eq!(ev.len(), 16, "ignore_eos is honoured");
    let mut text = String::new();
    let mut decode = Vec::new();
    for (i, v) in ev.iter().enumerate() {
        assert_eq!(v["token"]["id"].as_array().unwrap().len(), 1);
        text.push_str(v["token"]["text"].as_str().unwrap());
        if i == 0 {
            let pf = v["prefill_time"].as_f64().unwrap();
            assert!(pf >= cfg.prefill_ms(p) * 0.99, "{pf}");
            assert!(v["decode_time"].is_null());
        } else {
            assert!(v["prefill_time"].is_null());
            decode.push(v["decode_time"].as_f64().unwrap());
        }
        if i + 1 < ev.len() {
            assert!(v.get("generated_text").is_none());
        }
    }
    assert_eq!(tok.count(&text), 16);
    let mean = decode.iter().sum::<f64>() / decode.len() as f64;
    assert!(mean >= cfg.decode_step_ms(1) * 0.99, "{mean}");
    let last = ev.last().unwrap();
    assert_eq!(last["generated_text"], text);
    assert_eq!(
        last["details"],
        json!({"finish_reason": "length", "generated_tokens": 16})
    );
    // Non-streaming /infer: one object.
    let body = json!({"inputs": "hi", "parameters": {"max_new_tokens": 4, "ignore_eos": true,
                      "details": true}});
    let v: Value = post(&c, &s, "/infer", body).await.json().await.unwrap();
    assert_eq!(tok.count(v["generated_text"].as_str().unwrap()), 4);
    assert_eq!(v["details"]["generated_tokens"], 4);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_shapes() {
    let (s, c, _) = start("time_scale=0.02,max_model_len=100").await;
    let r = post(&c, &s, "/nope", json!({})).await;
    assert_eq!(r.status(), 404);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["type"], "NotFoundError");
    // TGI / MindIE: 422 with {"error", "error_type": "validation"}.
    for path in ["/generate_stream", "/infer"] {
        for body in [
            json!({"parameters": {}}),
            json!({"inputs": "hi", "parameters": {"max_new_tokens": 500}}),
            json!({"inputs": "hi", "parameters": {"max_new_tokens": "x"}}),
        ] {
            let r = post(&c, &s, path, body.clone()).await;
            assert_eq!(r.status(), 422, "{path} {body}");
            let v: Value = r.json().await.unwrap();
            assert_eq!(v["error_type"], "validation", "{v}");
            assert!(v["error"].is_string());
        }
    }
    let r = c
        .post(format!("{}/generate", s.base_url()))
        .body("{bad")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["type"], "BadRequestError");
    let r = post(&c, &s, "/generate", json!({"max_tokens": 4})).await;
    assert_eq!(r.status(), 400);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_on_native_apis() {
    // Error events in TGI shape; injected errors in TGI shape.
    let (s, c, _) = start("time_scale=0.02,error_event_rate=1").await;
    let body = json!({"inputs": "hi", "parameters": {"max_new_tokens": 5}});
    let ev = events(
        &post(&c, &s, "/generate_stream", body)
            .await
            .text()
            .await
            .unwrap(),
    );
    let last = ev.last().unwrap();
    assert_eq!(last["error_type"], "generation", "{last}");
    assert!(ev.len() <= 5);
    s.stop().await;
    let (s, c, _) = start("time_scale=0.02,error_rate=1,error_status=503").await;
    let body = json!({"inputs": "hi", "stream": true, "parameters": {"max_new_tokens": 5}});
    let r = post(&c, &s, "/infer", body).await;
    assert_eq!(r.status(), 503);
    let v: Value = r.json().await.unwrap();
    assert!(v["error"].is_string() && v["error_type"].is_string(), "{v}");
    s.stop().await;
}

/// A PNG data URL of `w` x `h` pixels (signature and IHDR only: the server
/// reads nothing else).
fn png(w: u32, h: u32) -> String {
    let mut b = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13];
    b.extend(b"IHDR");
    b.extend(w.to_be_bytes());
    b.extend(h.to_be_bytes());
    b.extend([8, 2, 0, 0, 0, 0, 0, 0, 0]);
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::from("data:image/png;base64,");
    for c in b.chunks(3) {
        let v = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for k in 0..4 {
            s.push(if k <= c.len() {
                T[(v >> (18 - 6 * k) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
    s
}

/// prompt_tokens and model_prefill_latency of a chat request with `images`.
async fn with_images(c: &reqwest::Client, s: &SimServer, images: &[(u32, u32)]) -> (u64, f64) {
    let mut parts = vec![json!({"type": "text", "text": "Describe these images."})];
    for &(w, h) in images {
        parts.push(json!({"type": "image_url", "image_url": {"url": png(w, h)}}));
    }
    let body = json!({"messages": [{"role": "user", "content": parts}], "max_tokens": 2,
                      "return_latency": true});
    let v: Value = post(c, s, "/v1/chat/completions", body)
        .await
        .json()
        .await
        .unwrap();
    (
        v["usage"]["prompt_tokens"].as_u64().unwrap(),
        v["latency"]["model_prefill_latency"].as_f64().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_count_in_prefill() {
    let (s, c, cfg) = start("time_scale=0.05").await;
    let (text, _) = with_images(&c, &s, &[]).await;
    let (one, t1) = with_images(&c, &s, &[(280, 280)]).await;
    let (two, t2) = with_images(&c, &s, &[(280, 280), (1000, 500)]).await;
    assert_eq!(one - text, 100);
    // ceil(1000/28) * ceil(500/28) = 36 * 18
    assert_eq!(two - one, 36 * 18);
    assert!((t1 - cfg.prefill_ms(one as usize)).abs() < 0.02, "{t1}");
    assert!((t2 - cfg.prefill_ms(two as usize)).abs() < 0.02, "{t2}");
    assert!(t2 > t1);
    let bad = json!({"messages": [{"role": "user", "content": [{"type": "image_url",
                     "image_url": {"url": "data:image/png;base64,AAAA"}}]}]});
    assert_eq!(
        post(&c, &s, "/v1/chat/completions", bad).await.status(),
        400
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_ttft_is_consistent_with_the_client() {
    let (s, c, _) = start("time_scale=0.2").await;
    let body = json!({"prompt": "word ".repeat(500), "max_tokens": 3, "ignore_eos": true,
                      "stream": true, "return_latency": true});
    let t0 = std::time::Instant::now();
    let r = post(&c, &s, "/v1/completions", body).await;
    let mut stream = r.bytes_stream();
    use futures_util::StreamExt;
    let mut ttft = None;
    let mut raw = Vec::new();
    while let Some(b) = stream.next().await {
        ttft.get_or_insert(t0.elapsed().as_secs_f64() * 1e3);
        raw.extend_from_slice(&b.unwrap());
    }
    let raw = String::from_utf8(raw).unwrap();
    let last = raw
        .split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .last()
        .unwrap();
    let l = &last["latency"];
    let server = l["ttft_server_ms"].as_f64().unwrap();
    assert!(
        server >= l["prefill_latency"].as_f64().unwrap() - 0.01,
        "{l}"
    );
    assert!(
        server <= ttft.unwrap() + 0.01,
        "{server} vs client {ttft:?}"
    );
    assert!(server > ttft.unwrap() - 20.0, "{server} vs client {ttft:?}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_delay_streams_as_fast_as_read() {
    let (s, c, _) = start("no_delay=true,num_scheduler_steps=2").await;
    let n = 200;
    let max: usize = 200;
    let t0 = std::time::Instant::now();
    let jobs: Vec<_> = (0..n)
        .map(|_| {
            let (c, url) = (c.clone(), s.base_url());
            tokio::spawn(async move {
                let body = json!({"prompt": "hi", "max_tokens": max, "ignore_eos": true,
                                  "stream": true});
                let raw = c
                    .post(format!("{url}/v1/completions"))
                    .json(&body)
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap();
                let chunks = raw.matches("\"text\":").count();
                assert_eq!(chunks, 1 + (max - 1).div_ceil(2));
                assert!(raw.ends_with("data: [DONE]\n\n"));
            })
        })
        .collect();
    for j in jobs {
        j.await.unwrap();
    }
    let secs = t0.elapsed().as_secs_f64();
    let rate = (n * max) as f64 / secs;
    eprintln!("no_delay end to end: {rate:.0} tokens/s");
    assert!(secs < 20.0, "{secs}");
    s.stop().await;
}
