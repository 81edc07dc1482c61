//! Wire formats of the answers: one [`Writer`] per request turns the
//! scheduler's token bursts into the bytes of its API.
//!
//! * OpenAI completions / chat: SSE chunks (hand-written JSON on the hot
//!   path), usage chunk, `latency`, `data: [DONE]`;
//! * vLLM legacy `/generate`: `{"text":["<prompt + output so far>"]}` + `\0`
//!   (or `\n`) per burst, no end marker;
//! * TGI `/generate_stream`: `data:{"index":i,"token":{...},...}` per token;
//! * MindIE `/infer`: `data: {"prefill_time":..,"decode_time":..,"token":{..}}`
//!   per token.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use serde_json::{json, Value};

use super::model::{Finish, Timing};
use super::words::{WordPicker, Words};

/// Which API a request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Api {
    Completion,
    Chat,
    Vllm,
    Tgi,
    MindIe,
}

impl Api {
    /// TGI-shaped errors (`{"error": "...", "error_type": "..."}`).
    pub(crate) fn tgi_like(self) -> bool {
        matches!(self, Api::Tgi | Api::MindIe)
    }
}

/// Everything needed to write one answer.
pub(crate) struct ResponseCtx {
    pub api: Api,
    pub id: String,
    pub seed: u64,
    pub created: u64,
    pub model: String,
    pub words: Arc<Words>,
    pub prompt_tokens: usize,
    /// vLLM: the prompt, echoed at the head of the text.
    pub prompt_text: String,
    pub include_usage: bool,
    /// Every token chunk carries the usage so far (vLLM's
    /// `continuous_usage_stats`).
    pub continuous_usage: bool,
    pub return_latency: bool,
    /// TGI / MindIE: `details` asked for.
    pub details: bool,
    /// TGI: cumulative `token.text`, `token.id` as a list.
    pub cumulative: bool,
    /// vLLM object separator.
    pub separator: u8,
    /// Chat: the first this many output tokens are reasoning deltas.
    pub reasoning_tokens: usize,
    /// When the request was whole on the machine (see the `sim` module's
    /// `time_in_queue`).
    pub arrived: Instant,
}

pub(crate) fn ms(from: Instant, to: Instant) -> f64 {
    to.saturating_duration_since(from).as_secs_f64() * 1e3
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn js(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialise")
}

/// The `latency` object of `return_latency` (see the `sim` module docs).
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
        // To the microsecond: the selftest compares the client's TTFT with
        // it, and the two differ by tens of microseconds on loopback.
        "ttft_server_ms": (ms(t.arrived, ttft_server) * 1e3).round() / 1e3,
    })
}

/// Per-request formatter.
pub(crate) struct Writer {
    pub ctx: ResponseCtx,
    picker: WordPicker,
    /// All output text so far.
    pub text: String,
    /// Output tokens so far.
    pub tokens: usize,
    /// Word indices of the last burst.
    burst: Vec<usize>,
    last_at: Option<Instant>,
    /// When the first token chunk was formatted (handed to the body).
    pub ttft_server: Option<Instant>,
    /// `data: {"id":..,"object":..,"created":..,"model":..,"choices":[{"index":0,`
    head: String,
}

impl Writer {
    pub(crate) fn new(ctx: ResponseCtx) -> Self {
        let object = match ctx.api {
            Api::Chat => "chat.completion.chunk",
            _ => "text_completion",
        };
        let head = if ctx.api == Api::Vllm {
            let p = js(&ctx.prompt_text);
            format!("{{\"text\":[{}", &p[..p.len() - 1])
        } else {
            format!(
                "data: {{\"id\":{},\"object\":\"{object}\",\"created\":{},\"model\":{},\
             \"choices\":[{{\"index\":0,",
                js(&ctx.id),
                ctx.created,
                js(&ctx.model)
            )
        };
        Writer {
            picker: WordPicker::new(ctx.seed),
            ctx,
            text: String::new(),
            tokens: 0,
            burst: Vec::new(),
            last_at: None,
            ttft_server: None,
            head,
        }
    }

    /// The chunk sent before any token (chat: the assistant role).
    pub(crate) fn open(&self) -> Option<Bytes> {
        (self.ctx.api == Api::Chat).then(|| {
            let role = json!([{"index": 0, "delta": {"role": "assistant", "content": ""},
                               "logprobs": null, "finish_reason": null}]);
            sse(&self.chunk(role))
        })
    }

    fn chunk(&self, choices: Value) -> Value {
        let object = match self.ctx.api {
            Api::Chat => "chat.completion.chunk",
            _ => "text_completion",
        };
        json!({"id": self.ctx.id, "object": object, "created": self.ctx.created,
               "model": self.ctx.model, "choices": choices})
    }

    pub(crate) fn usage(&self, timing: Option<&Timing>) -> Value {
        let p = self.ctx.prompt_tokens;
        let mut u = json!({"prompt_tokens": p, "completion_tokens": self.tokens,
               "total_tokens": p + self.tokens});
        if let Some(c) = timing.and_then(|t| t.cached_tokens) {
            u["prompt_tokens_details"] = json!({"cached_tokens": c});
        }
        if self.ctx.reasoning_tokens > 0 {
            let r = self.ctx.reasoning_tokens.min(self.tokens);
            u["completion_tokens_details"] = json!({"reasoning_tokens": r});
        }
        u
    }

    /// The delta key of a chat burst whose first token is token `before`
    /// (0-based) of the answer: reasoning first, then content.
    fn delta_key(&self, before: usize) -> &'static str {
        if before < self.ctx.reasoning_tokens {
            "reasoning_content"
        } else {
            "content"
        }
    }

    /// Take `k` new tokens into the text (no bytes).
    pub(crate) fn absorb(&mut self, k: usize) {
        self.burst.clear();
        for _ in 0..k {
            let i = self.picker.next_index(self.ctx.words.text.len());
            self.text.push_str(&self.ctx.words.text[i]);
            self.burst.push(i);
        }
        self.tokens += k;
    }

    /// The bytes of a burst of `k` tokens emitted at `at`. `finish` marks the
    /// last burst; `no_done` drops the end marker (OpenAI) or the final
    /// `generated_text`/`details` (TGI, MindIE).
    pub(crate) fn burst(
        &mut self,
        k: usize,
        at: Instant,
        finish: Option<Finish>,
        timing: Option<Timing>,
        no_done: bool,
    ) -> Bytes {
        let start = self.text.len();
        let prev_at = self.last_at.replace(at);
        self.absorb(k);
        let ttft = *self.ttft_server.get_or_insert_with(Instant::now);
        let mut out = String::with_capacity(64 + 96 * k);
        match self.ctx.api {
            Api::Completion | Api::Chat => {
                let new = &self.text[start..];
                if finish.is_none() {
                    out.push_str(&self.head);
                    if self.ctx.api == Api::Chat {
                        out.push_str("\"delta\":{\"");
                        out.push_str(self.delta_key(self.tokens - k));
                        out.push_str("\":\"");
                        out.push_str(new);
                        out.push_str("\"},");
                    } else {
                        out.push_str("\"text\":\"");
                        out.push_str(new);
                        out.push_str("\",");
                    }
                    out.push_str("\"logprobs\":null,\"finish_reason\":null}]");
                    if self.ctx.continuous_usage {
                        out.push_str(",\"usage\":");
                        out.push_str(&self.usage(None).to_string());
                    }
                    out.push_str("}\n\n");
                } else {
                    self.openai_last(&mut out, start, finish, timing, ttft, no_done);
                }
            }
            Api::Vllm => {
                out.push_str(&self.head);
                out.push_str(&self.text);
                out.push_str("\"]}");
                out.push(self.ctx.separator as char);
            }
            Api::Tgi | Api::MindIe => {
                let per = match prev_at {
                    Some(p) => ms(p, at) / k.max(1) as f64,
                    None => 0.0,
                };
                let mut pos = start;
                for (j, &w) in self.burst.iter().enumerate() {
                    let word = &self.ctx.words.text[w];
                    let id = self.ctx.words.ids[w];
                    pos += word.len();
                    let index = self.tokens - k + j + 1;
                    let last = finish.is_some() && j + 1 == k;
                    if self.ctx.api == Api::Tgi {
                        let (text, idj) = if self.ctx.cumulative {
                            (&self.text[..pos], format!("[{id}]"))
                        } else {
                            (word.as_str(), id.to_string())
                        };
                        let _ = write!(
                            out,
                            "data:{{\"index\":{index},\"token\":{{\"id\":{idj},\"text\":\"{text}\",\
                             \"logprob\":0.0,\"special\":false}}"
                        );
                    } else {
                        let (p, d) = if prev_at.is_none() && j == 0 {
                            (format!("{:.3}", ms(self.ctx.arrived, at)), "null".into())
                        } else {
                            ("null".into(), format!("{per:.3}"))
                        };
                        let _ = write!(
                            out,
                            "data: {{\"prefill_time\":{p},\"decode_time\":{d},\
                             \"token\":{{\"id\":[{id}],\"text\":\"{word}\"}}"
                        );
                    }
                    if last && !no_done {
                        let fin = match finish {
                            Some(Finish::Stop) => "eos_token",
                            _ => "length",
                        };
                        let seed = if self.ctx.api == Api::Tgi {
                            ",\"seed\":null"
                        } else {
                            ""
                        };
                        let details = if self.ctx.details {
                            format!(
                                "{{\"finish_reason\":\"{fin}\",\"generated_tokens\":{}{seed}}}",
                                self.tokens
                            )
                        } else {
                            "null".into()
                        };
                        let _ = write!(
                            out,
                            ",\"generated_text\":{},\"details\":{details}}}\n\n",
                            js(&self.text)
                        );
                    } else if self.ctx.api == Api::Tgi {
                        out.push_str(",\"generated_text\":null,\"details\":null}\n\n");
                    } else {
                        out.push_str("}\n\n");
                    }
                }
            }
        }
        Bytes::from(out)
    }

    fn openai_last(
        &self,
        out: &mut String,
        start: usize,
        finish: Option<Finish>,
        timing: Option<Timing>,
        ttft: Instant,
        no_done: bool,
    ) {
        let new = &self.text[start..];
        let fin = finish.map(Finish::as_str);
        let choice = match self.ctx.api {
            Api::Chat => {
                let key = self.delta_key(self.tokens - self.burst.len());
                json!([{"index": 0, "delta": {key: new}, "logprobs": null, "finish_reason": fin}])
            }
            _ => json!([{"index": 0, "text": new, "logprobs": null, "finish_reason": fin}]),
        };
        let mut chunk = self.chunk(choice);
        if self.ctx.continuous_usage {
            chunk["usage"] = self.usage(timing.as_ref());
        }
        let latency = match (self.ctx.return_latency, timing) {
            (true, Some(t)) => Some(latency_json(&t, ttft)),
            _ => None,
        };
        if self.ctx.include_usage {
            out.push_str(&sse_str(&chunk));
            let mut u = self.chunk(json!([]));
            u["usage"] = self.usage(timing.as_ref());
            if let Some(l) = latency {
                u["latency"] = l;
            }
            out.push_str(&sse_str(&u));
        } else {
            if let Some(l) = latency {
                chunk["latency"] = l;
            }
            out.push_str(&sse_str(&chunk));
        }
        if !no_done {
            out.push_str("data: [DONE]\n\n");
        }
    }

    /// The whole (non-streaming) answer once generation is over.
    pub(crate) fn whole(&self, finish: Finish, timing: Option<Timing>) -> Value {
        let fin = finish.as_str();
        let (c, created, model) = (&self.ctx, self.ctx.created, &self.ctx.model);
        let mut body = match c.api {
            Api::Completion => json!({"id": c.id, "object": "text_completion", "created": created,
                "model": model, "choices": [{"index": 0, "text": self.text, "logprobs": null,
                "finish_reason": fin}], "usage": self.usage(timing.as_ref())}),
            Api::Chat => json!({"id": c.id, "object": "chat.completion", "created": created,
                "model": model, "choices": [{"index": 0, "message": {"role": "assistant",
                "content": self.text}, "logprobs": null, "finish_reason": fin}],
                "usage": self.usage(timing.as_ref())}),
            Api::Vllm => return json!({"text": [format!("{}{}", c.prompt_text, self.text)]}),
            Api::Tgi | Api::MindIe => {
                let fin = if finish == Finish::Stop {
                    "eos_token"
                } else {
                    "length"
                };
                let details = c
                    .details
                    .then(|| json!({"finish_reason": fin, "generated_tokens": self.tokens}));
                return json!({"generated_text": self.text, "details": details});
            }
        };
        if let (true, Some(t), Some(ttft)) = (c.return_latency, timing, self.ttft_server) {
            body["latency"] = latency_json(&t, ttft);
        }
        body
    }

    /// A mid-stream error event (then `[DONE]` for OpenAI).
    pub(crate) fn error_event(&self, msg: &str) -> Bytes {
        let s = match self.ctx.api {
            Api::Completion | Api::Chat => format!(
                "data: {{\"error\":{{\"object\":\"error\",\"message\":{},\"type\":\
                 \"InternalServerError\",\"param\":null,\"code\":500}}}}\n\ndata: [DONE]\n\n",
                js(msg)
            ),
            Api::Vllm => format!("{{\"error\":{}}}{}", js(msg), self.ctx.separator as char),
            Api::Tgi | Api::MindIe => format!(
                "data:{{\"error\":{},\"error_type\":\"generation\"}}\n\n",
                js(msg)
            ),
        };
        Bytes::from(s)
    }

    /// A complete event whose JSON is invalid (`utf8`: holds bytes FF FE).
    pub(crate) fn malformed(&self, utf8: bool) -> Bytes {
        let mut b: Vec<u8> = Vec::new();
        let vllm = self.ctx.api == Api::Vllm;
        if !vllm {
            b.extend_from_slice(b"data: ");
        }
        if utf8 {
            b.extend_from_slice(b"{\"text\":[\"\xFF\xFE\"]}");
        } else {
            b.extend_from_slice(b"{\"text\":[\"oops\",}");
        }
        if vllm {
            b.push(self.ctx.separator);
        } else {
            b.extend_from_slice(b"\n\n");
        }
        Bytes::from(b)
    }
}

fn sse_str(v: &Value) -> String {
    format!("data: {v}\n\n")
}

/// One SSE event.
pub(crate) fn sse(v: &Value) -> Bytes {
    Bytes::from(sse_str(v))
}
