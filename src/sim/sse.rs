//! Answers: OpenAI-shaped SSE streams and whole JSON responses, built from the
//! token bursts the scheduler emits, plus the `return_latency` object.
//!
//! A chat stream opens at once with a `{"role":"assistant","content":""}`
//! chunk carrying no token (sent before the request is even scheduled, so a
//! client that times the first byte instead of the first token is caught).
//! Each burst of k tokens becomes one chunk whose text is k single-token
//! words; the last token chunk carries `finish_reason`; with
//! `stream_options.include_usage` a chunk with `"choices":[]` and `usage`
//! follows; the stream ends with `data: [DONE]`.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use tokio::sync::mpsc::UnboundedReceiver;

use super::api::{error_body, Kind};
use super::model::{Event, Finish, Timing};
use super::words::WordPicker;

/// Everything needed to write one answer.
pub(crate) struct ResponseCtx {
    pub id: String,
    pub seed: u64,
    pub created: u64,
    pub model: String,
    pub words: Arc<Vec<String>>,
    pub prompt_tokens: usize,
    pub kind: Kind,
    pub include_usage: bool,
    pub return_latency: bool,
}

fn ms(from: Instant, to: Instant) -> f64 {
    to.saturating_duration_since(from).as_secs_f64() * 1e3
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The `latency` object of `return_latency` (all in ms, 2 decimals):
///
/// * `time_in_queue`: arrival (handler entry) to admission by the scheduler;
/// * `model_prefill_latency`: modelled compute time of the prefill step that
///   served the request (shared with the requests admitted with it);
/// * `prefill_latency`: arrival to the first token emitted by the scheduler
///   (queue + waiting for the running step + prefill);
/// * `avg_decode_latency`: mean gap between successive emitted tokens after
///   the first, per token: `(last - first) / (tokens - 1)`, 0 for one token;
/// * `request_latency`: arrival to the last token emitted;
/// * `ttft_server_ms`: arrival to the moment the first token chunk was handed
///   to the response body (streaming), or received by the handler (otherwise).
pub(crate) fn latency_json(t: &Timing, ttft_server: Instant) -> Value {
    let decode = if t.tokens > 1 {
        ms(t.first_token, t.last_token) / (t.tokens - 1) as f64
    } else {
        0.0
    };
    json!({
        "prefill_latency": round2(ms(t.arrived, t.first_token)),
        "model_prefill_latency": round2(t.model_prefill_ms),
        "avg_decode_latency": round2(decode),
        "time_in_queue": round2(ms(t.arrived, t.admitted)),
        "request_latency": round2(ms(t.arrived, t.last_token)),
        "ttft_server_ms": round2(ms(t.arrived, ttft_server)),
    })
}

impl ResponseCtx {
    fn usage(&self, completion: usize) -> Value {
        json!({
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": self.prompt_tokens + completion,
        })
    }

    fn chunk(&self, choices: Value) -> Value {
        let object = match self.kind {
            Kind::Completion => "text_completion",
            Kind::Chat => "chat.completion.chunk",
        };
        json!({"id": self.id, "object": object, "created": self.created,
               "model": self.model, "choices": choices})
    }

    fn token_choice(&self, text: &str, finish: Option<Finish>) -> Value {
        let fin = finish.map(Finish::as_str);
        match self.kind {
            Kind::Completion => json!([{"index": 0, "text": text, "logprobs": null,
                                        "finish_reason": fin}]),
            Kind::Chat => json!([{"index": 0, "delta": {"content": text},
                                  "logprobs": null, "finish_reason": fin}]),
        }
    }
}

fn event(v: &Value) -> Bytes {
    let mut s = String::with_capacity(256);
    s.push_str("data: ");
    s.push_str(&v.to_string());
    s.push_str("\n\n");
    Bytes::from(s)
}

struct StreamState {
    ctx: ResponseCtx,
    rx: UnboundedReceiver<Event>,
    picker: WordPicker,
    pending: VecDeque<Bytes>,
    ttft_server: Option<Instant>,
    tokens: usize,
    done: bool,
}

impl StreamState {
    fn on_event(&mut self, ev: Option<Event>) {
        match ev {
            Some(Event::Tokens {
                tokens,
                finish,
                timing,
            }) => {
                let now = Instant::now();
                let ttft = *self.ttft_server.get_or_insert(now);
                self.tokens += tokens;
                let mut text = String::with_capacity(tokens * 8);
                self.picker.push(&self.ctx.words, tokens, &mut text);
                let mut chunk = self.ctx.chunk(self.ctx.token_choice(&text, finish));
                if finish.is_none() {
                    self.pending.push_back(event(&chunk));
                    return;
                }
                let latency = match (self.ctx.return_latency, timing) {
                    (true, Some(t)) => Some(latency_json(&t, ttft)),
                    _ => None,
                };
                if self.ctx.include_usage {
                    self.pending.push_back(event(&chunk));
                    let mut u = self.ctx.chunk(json!([]));
                    u["usage"] = self.ctx.usage(self.tokens);
                    if let Some(l) = latency {
                        u["latency"] = l;
                    }
                    self.pending.push_back(event(&u));
                } else {
                    if let Some(l) = latency {
                        chunk["latency"] = l;
                    }
                    self.pending.push_back(event(&chunk));
                }
                self.pending
                    .push_back(Bytes::from_static(b"data: [DONE]\n\n"));
                self.done = true;
            }
            Some(Event::Error(msg)) => {
                let body = error_body(StatusCode::BAD_REQUEST, &msg, None);
                self.pending.push_back(event(&body));
                self.done = true;
            }
            // The engine went away: end the body without [DONE] (truncated).
            None => self.done = true,
        }
    }
}

/// A `text/event-stream` answer fed by the scheduler's bursts.
pub(crate) fn stream_response(ctx: ResponseCtx, rx: UnboundedReceiver<Event>) -> Response {
    let mut pending = VecDeque::new();
    if ctx.kind == Kind::Chat {
        let role = json!([{"index": 0, "delta": {"role": "assistant", "content": ""},
                           "logprobs": null, "finish_reason": null}]);
        pending.push_back(event(&ctx.chunk(role)));
    }
    let state = StreamState {
        picker: WordPicker::new(ctx.seed),
        ctx,
        rx,
        pending,
        ttft_server: None,
        tokens: 0,
        done: false,
    };
    let stream = futures_util::stream::unfold(state, |mut s| async move {
        loop {
            if let Some(b) = s.pending.pop_front() {
                return Some((Ok::<Bytes, Infallible>(b), s));
            }
            if s.done {
                return None;
            }
            let ev = s.rx.recv().await;
            s.on_event(ev);
        }
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(stream))
        .expect("static headers are valid")
}

/// A whole (non-streaming) answer once generation is over.
pub(crate) async fn full_response(ctx: ResponseCtx, mut rx: UnboundedReceiver<Event>) -> Response {
    let mut picker = WordPicker::new(ctx.seed);
    let mut text = String::new();
    let mut tokens = 0;
    let mut ttft_server = None;
    loop {
        match rx.recv().await {
            Some(Event::Tokens {
                tokens: k,
                finish,
                timing,
            }) => {
                let ttft = *ttft_server.get_or_insert_with(Instant::now);
                tokens += k;
                picker.push(&ctx.words, k, &mut text);
                let Some(fin) = finish else { continue };
                let fin = fin.as_str();
                let (object, choice) = match ctx.kind {
                    Kind::Completion => (
                        "text_completion",
                        json!({"index": 0, "text": text, "logprobs": null, "finish_reason": fin}),
                    ),
                    Kind::Chat => (
                        "chat.completion",
                        json!({"index": 0, "message": {"role": "assistant", "content": text},
                               "logprobs": null, "finish_reason": fin}),
                    ),
                };
                let mut body = json!({"id": ctx.id, "object": object, "created": ctx.created,
                    "model": ctx.model, "choices": [choice], "usage": ctx.usage(tokens)});
                if let (true, Some(t)) = (ctx.return_latency, timing) {
                    body["latency"] = latency_json(&t, ttft);
                }
                return Json(body).into_response();
            }
            Some(Event::Error(msg)) => {
                let st = StatusCode::BAD_REQUEST;
                return (st, Json(error_body(st, &msg, None))).into_response();
            }
            None => {
                let st = StatusCode::SERVICE_UNAVAILABLE;
                let msg = "the simulated engine stopped before the request finished";
                return (st, Json(error_body(st, msg, None))).into_response();
            }
        }
    }
}
