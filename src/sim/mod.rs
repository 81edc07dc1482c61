//! The embedded simulated inference server.
//!
//! [`SimServer`] serves the OpenAI API (`POST /v1/completions`,
//! `POST /v1/chat/completions`, streaming SSE and whole JSON, `GET /v1/models`,
//! `GET /health`) and, with the same performance model and output words, the
//! native APIs the other client backends speak:
//!
//! * vLLM legacy `POST /generate`: `{"prompt", "stream", "max_tokens"
//!   (default 16), "ignore_eos", "min_tokens"}`; streaming answer: one
//!   `{"text":["<prompt + output so far>"]}` per burst, each followed by `\0`
//!   (`vllm_separator=newline`: `\n`), no usage, no end marker; whole answer:
//!   one such object;
//! * TGI `POST /generate_stream`: `{"inputs", "parameters": {"max_new_tokens"
//!   (default 20), "details", ...}}`; SSE `data:{"index":i,"token":{"id":N,
//!   "text":"..","logprob":0.0,"special":false},"generated_text":null,
//!   "details":null}` per token (a burst of `num_scheduler_steps` tokens is
//!   one write of several events), the last with `generated_text` (the whole
//!   output) and, when `details` was asked, `{"finish_reason": "length" |
//!   "eos_token", "generated_tokens": N, "seed": null}`; no `[DONE]`. TGI has
//!   no `ignore_eos`: with `eos_mean_tokens > 0` outputs stop early.
//!   `tgi_cumulative_text=true` gives MindIE's TGI-compatible variant:
//!   cumulative `token.text` and `token.id` as a one-element list;
//! * MindIE `POST /infer`: `{"inputs", "stream", "parameters":
//!   {"max_new_tokens", "ignore_eos", "details"}}`; SSE
//!   `data: {"prefill_time":ms,"decode_time":null,"token":{"id":[N],"text":".."}}`
//!   for the first token (`prefill_time` = the latency object's
//!   `prefill_latency`), `"prefill_time":null,"decode_time":ms` after (the
//!   burst's gap to the previous one divided by its tokens, so their mean is
//!   `avg_decode_latency`); the last also has `generated_text` and `details`
//!   (`finish_reason`, `generated_tokens`); no `[DONE]`. Without `stream`:
//!   `{"generated_text", "details"}`.
//!
//! Errors: OpenAI-shaped `{"error": {"message", "type", "param", "code"}}`
//! on the OpenAI and vLLM routes and for unknown routes (404); TGI-shaped
//! `{"error": "..", "error_type": "validation"}` with status 422 for bad TGI
//! or MindIE bodies.
//!
//! * Prompt tokens are counted with the tokenizer given to
//!   [`SimServer::start`] (no special tokens, no chat template; for chat, the
//!   sum over message contents plus image tokens).
//! * Images (chat `image_url` parts with a base64 PNG or JPEG `data:` URL):
//!   `ceil(width / p) * ceil(height / p)` tokens each, `p` =
//!   `image_patch_px` (28, as Qwen2-VL's 2x2-merged 14-px patches), read from
//!   the image header without decoding the rest; they count in
//!   `usage.prompt_tokens`, in the length limits and in the prefill cost.
//!   Other URLs count 0; an unreadable data URL is a 400.
//! * Every output token is one word that is exactly one token under that
//!   tokenizer, so a client's count of the generated text equals the number of
//!   tokens emitted (TGI/MindIE `token.id` is that token's id).
//! * Requests honour `max_tokens` (chat also `max_completion_tokens`; absent:
//!   16 for completions, `max_model_len - prompt` for chat), `min_tokens`,
//!   `ignore_eos`, `stream`, `stream_options.include_usage` (with
//!   `continuous_usage_stats` too, every token chunk carries the usage so
//!   far, as vLLM's), `model` (unknown → 404, absent → the served one) and
//!   `return_latency`.
//! * `"return_latency": true` (OpenAI routes) adds a `latency` object (ms, 2
//!   decimals; `ttft_server_ms` 3) to a whole response, or to the last chunk of a stream (the
//!   usage chunk if any, else the last token chunk):
//!   - `time_in_queue`: arrival to admission by the scheduler. Arrival is
//!     when the request was whole on the machine: the kernel's receive
//!     stamp (`SO_TIMESTAMPNS`, Linux) of the read that completed its body,
//!     so the wait in the socket and in the HTTP layer before the handler
//!     runs (long in a burst of requests) is the server's; the handler's
//!     entry where the kernel gives no stamp or `SERVEBENCH_TIMESTAMPS=user`;
//!   - `model_prefill_latency`: modelled compute time of the prefill step that
//!     served the request (shared by the requests admitted with it);
//!   - `prefill_latency`: arrival to the first token emitted by the scheduler
//!     (queue + waiting for the running step + prefill);
//!   - `avg_decode_latency`: mean gap between successive emitted tokens after
//!     the first, per token: `(last - first) / (tokens - 1)`, 0 for one token;
//!   - `request_latency`: arrival to the last token emitted;
//!   - `ttft_server_ms`: arrival to the moment the first token chunk was
//!     handed to the response body (streaming) or reached the handler, both
//!     taken with `Instant` in the handler / body-stream task (not in the
//!     scheduler thread), so it includes channel hand-off and any injected
//!     delay before the first token.
//! * Output length: exactly `max_tokens` when `ignore_eos` is set or
//!   `min_tokens >= max_tokens`, or when `eos_mean_tokens` is 0; otherwise a
//!   seeded geometric length of that mean within `[min_tokens, max_tokens]`
//!   (`finish_reason` "stop" when it ends before `max_tokens`).
//! * A chat stream opens at once with a `{"role":"assistant","content":""}`
//!   chunk that carries no token (before the request is scheduled).
//! * A client that goes away frees its batch slot and KV reservation at the
//!   next step.
//! * Speculative decoding (`spec_tokens=K`, `spec_accept=P`): each decode
//!   step proposes K draft tokens, each accepted with probability P (seeded)
//!   until the first rejection, and emits the accepted ones plus its own
//!   token (1 to K+1, capped by the output left) in one chunk, in the time of
//!   one decode step. The expected acceptance rate is
//!   `(P + P^2 + ... + P^K) / K`, the expected tokens per step `1 + K x` that.
//! * `no_delay=true` (client benchmarks): every step takes 0 ms and tokens are
//!   written as fast as each client reads them (bursts of up to
//!   `num_scheduler_steps` tokens), with back-pressure from the socket.
//!
//! # Fault injection
//!
//! Keys of [`FaultConfig`] (flattened into [`SimConfig`]); each generation
//! request's fault is [`planned_fault`]`(cfg, arrival_index)`, deterministic
//! in `seed`. What a client sees (HTTP/1.1):
//!
//! | key | the client sees |
//! | --- | --- |
//! | `error_rate`, `error_status` | status 500/503/429 with an error body (OpenAI- or TGI-shaped), 429 with `Retry-After: retry_after_s`, before any generation |
//! | `reset_rate` | no response: the connection is reset (TCP RST, `ECONNRESET`) after the request was read |
//! | `midstream_reset_rate` | status 200 and the chunks up to the trigger, then the connection is reset (body error) |
//! | `stall_rate`, `stall_ms` | a pause of `stall_ms` between two chunks (the engine keeps generating; the chunks held back come at once after it) |
//! | `malformed_rate`, `malformed_kind` | `json`: an event with invalid JSON, then the normal rest; `utf8`: an event whose JSON holds bytes FF FE, then the rest; `truncated`: half of the trigger chunk's bytes, then a clean end of body |
//! | `no_done_rate` | OpenAI: no `data: [DONE]`; TGI/MindIE: the last event lacks `generated_text`/`details`; vLLM: no effect |
//! | `error_event_rate` | status 200, tokens up to the trigger, then `data: {"error": {..., "code": 500}}` and `data: [DONE]` (TGI/MindIE: `{"error", "error_type": "generation"}`, vLLM: `{"error"}` object) |
//! | `slow_first_byte_ms` | every generation request: headers (and everything) delayed by that much; counted in the server's latency figures |
//! | `refuse_after`, `refuse_for_ms` | request number `refuse_after` (0-based) is reset; then for `refuse_for_ms` the listening socket is closed (connects fail with `ECONNREFUSED`) and requests arriving on already-open connections are reset; then service resumes (once) |
//!
//! Non-streaming answers: `midstream_reset` sends half the body then resets,
//! `stall` pauses after half the body, `malformed` sends invalid JSON,
//! `no_done` and `error_event` have no effect. Fault times are wall clock
//! (not scaled by `time_scale`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), servebench::sim::SimError> {
//! use servebench::sim::{SimConfig, SimServer};
//! let tok = servebench::workload::Tokenizer::default_embedded();
//! let server = SimServer::start(SimConfig::from_env()?, tok).await?;
//! println!("serving {} at {}", server.model(), server.base_url());
//! server.stop().await;
//! # Ok(()) }
//! ```

mod api;
mod args;
mod config;
mod conn;
mod fault_config;
mod faults;
mod format;
mod images;
mod metrics;
mod model;
mod parse;
mod prefix;
mod sse;
mod words;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

pub use args::SimArgs;
pub use config::{FaultConfig, MalformedMode, SimConfig, VllmSeparator, SIM_ENV_VAR, SIM_KEYS};
pub use faults::{planned_fault, FaultKind, MalformedKind};

use crate::workload::Tokenizer;
use model::SchedMsg;

/// Errors configuring or starting the simulated server.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A `key=value` pair named a parameter that does not exist.
    #[error("simulator parameter `{key}` is unknown; valid keys: {valid}")]
    UnknownKey {
        /// The key as given.
        key: String,
        /// Comma-separated valid keys.
        valid: String,
    },
    /// A parameter got a value it cannot take.
    #[error("simulator parameter `{key}`: bad value `{value}`: {reason}")]
    BadValue {
        /// The key (or flag) as given.
        key: String,
        /// The offending value.
        value: String,
        /// What was expected.
        reason: String,
    },
    /// The `SERVEBENCH_SIM` environment variable is invalid.
    #[error("environment variable SERVEBENCH_SIM: {0}")]
    Env(Box<SimError>),
    /// The tokenizer has too few single-token words to write output text.
    #[error("tokenizer {0}: too few single-token words (or they merge) to write simulated output")]
    Vocabulary(String),
    /// The listening socket could not be bound.
    #[error("simulated server: cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// Another I/O failure (spawning the scheduler thread, reading the address).
    #[error("simulated server: {0}")]
    Io(#[from] std::io::Error),
}

impl SimError {
    /// True for a bad setting (unknown key, bad value, bad `SERVEBENCH_SIM`),
    /// as opposed to a simulator that could not start.
    pub fn is_bad_setting(&self) -> bool {
        matches!(
            self,
            SimError::UnknownKey { .. } | SimError::BadValue { .. } | SimError::Env(_)
        )
    }
}

/// A running simulated server. Dropping it without [`SimServer::stop`] signals
/// shutdown but does not wait for it.
pub struct SimServer {
    addr: SocketAddr,
    model: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    /// The runtime the server runs on (a thread per core).
    rt: Option<tokio::runtime::Runtime>,
    sched_tx: std::sync::mpsc::Sender<SchedMsg>,
    sched: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for SimServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimServer")
            .field("addr", &self.addr)
            .field("model", &self.model)
            .finish()
    }
}

/// Longest wait of [`SimServer::stop`] for in-flight responses.
const STOP_GRACE: Duration = Duration::from_secs(10);

impl SimServer {
    /// Start on `127.0.0.1` with an ephemeral port.
    pub async fn start(cfg: SimConfig, tokenizer: Tokenizer) -> Result<SimServer, SimError> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        Self::start_on(cfg, tokenizer, addr).await
    }

    /// Start on `addr` (port 0 = ephemeral).
    pub async fn start_on(
        cfg: SimConfig,
        tokenizer: Tokenizer,
        addr: SocketAddr,
    ) -> Result<SimServer, SimError> {
        cfg.validate()?;
        let tok = tokenizer.clone();
        let words = tokio::task::spawn_blocking(move || words::output_words(&tok))
            .await
            .map_err(|e| SimError::Io(std::io::Error::other(e)))??;
        // Bound here, served on the simulator's own runtime (a socket
        // belongs to the reactor of the runtime that registers it).
        let listener = conn::listen(addr).map_err(|source| SimError::Bind { addr, source })?;
        let addr = listener.local_addr()?;
        let metrics = Arc::new(metrics::SimMetrics::new());
        let (sched_tx, sched) = model::spawn(cfg.clone(), metrics.clone())?;
        let faults = faults::Faults::from_config(&cfg);
        let downtime = faults.downtime.clone();
        let state = Arc::new(api::AppState {
            sched_thread: sched.thread().clone(),
            faults,
            tok: tokenizer,
            words: Arc::new(words),
            sched: sched_tx.clone(),
            next_id: AtomicU64::new(0),
            created: api::unix_secs(),
            cfg: cfg.clone(),
            metrics,
        });
        let app = api::router(state).into_make_service_with_connect_info::<conn::Conn>();
        let (stx, srx) = tokio::sync::oneshot::channel::<()>();
        // Threads of its own, so that serving never takes the client's
        // load threads (`load::spawner`) and the client's timestamps are
        // not held up by the server's work.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .thread_name("servebench-sim")
            .enable_all()
            .build()?;
        let server = rt.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            let listener = conn::SimListener::new(listener, downtime)?;
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = srx.await;
                })
                .await
        });
        Ok(SimServer {
            addr,
            model: cfg.model,
            shutdown: Some(stx),
            server: Some(server),
            rt: Some(rt),
            sched_tx,
            sched: Some(sched),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://IP:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The served model name.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// Graceful shutdown: stop accepting, let in-flight responses finish (at
    /// most 10 s, then they are cut), then end the scheduler thread.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(mut server) = self.server.take() {
            if tokio::time::timeout(STOP_GRACE, &mut server).await.is_err() {
                server.abort();
                let _ = server.await;
            }
        }
        let _ = self.sched_tx.send(SchedMsg::Shutdown);
        if let Some(h) = self.sched.take() {
            let _ = tokio::task::spawn_blocking(move || h.join()).await;
        }
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }

    /// Serve until the process ends (for `servebench sim`).
    pub async fn wait(mut self) {
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
        let _ = self.sched_tx.send(SchedMsg::Shutdown);
    }
}

/// `servebench sim`: build the config from `args` (defaults, then
/// `SERVEBENCH_SIM`, then flags), listen on `--host:--port`, print the URL on
/// stderr and serve until the process ends.
pub async fn serve(args: &SimArgs, tokenizer: Tokenizer) -> Result<(), SimError> {
    let cfg = args.to_config()?;
    // One socket per client stream: take as many open files as allowed.
    if let Err(e) = crate::load::selfwatch::ensure_nofile(cfg.max_batch.max(1024) as u64 * 2 + 256)
    {
        eprintln!("servebench sim: warning: {e}");
    }
    let server = SimServer::start_on(cfg, tokenizer, args.addr()?).await?;
    eprintln!(
        "servebench sim: serving model `{}` at {} (OpenAI: /v1/completions, \
         /v1/chat/completions, /v1/models; vLLM: /generate; TGI: /generate_stream; \
         MindIE: /infer; /health)",
        server.model(),
        server.base_url()
    );
    server.wait().await;
    Ok(())
}
