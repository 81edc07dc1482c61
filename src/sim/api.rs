//! HTTP side: routes, request parsing and validation, OpenAI error bodies.
//!
//! Prompt token counts (no special tokens, no chat template):
//! * completions: the tokenizer count of `prompt` (a string), the sum of the
//!   counts of a list of strings, or the length of a list of token ids;
//! * chat: the sum of the counts of every message's content (a string, or the
//!   `text` parts of an array content; images and other parts count 0).
//!
//! Defaults: `max_tokens` absent means 16 for completions (OpenAI's legacy
//! default) and `max_model_len - prompt_tokens` for chat (vLLM's default).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::faults::Faults;
use super::model::{Arrival, SchedMsg};
use super::prefix::block_hashes;
use super::{sse, SimConfig};
use crate::workload::Tokenizer;

/// Shared state of the handlers.
pub(crate) struct AppState {
    pub cfg: SimConfig,
    pub tok: Tokenizer,
    pub words: Arc<Vec<String>>,
    pub sched: std::sync::mpsc::Sender<SchedMsg>,
    pub faults: Faults,
    pub next_id: AtomicU64,
    pub created: u64,
}

/// Which endpoint a request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Completion,
    Chat,
}

/// An OpenAI-style error answer.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
    param: Option<&'static str>,
}

impl ApiError {
    pub(crate) fn bad(message: impl Into<String>, param: Option<&'static str>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            param,
        }
    }

    fn status(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            param: None,
        }
    }
}

/// `{"error": {...}}` as OpenAI and vLLM send it.
pub(crate) fn error_body(status: StatusCode, message: &str, param: Option<&str>) -> Value {
    let kind = match status.as_u16() {
        400 => "BadRequestError",
        404 => "NotFoundError",
        503 => "ServiceUnavailableError",
        _ => "InternalServerError",
    };
    json!({"error": {"message": message, "type": kind, "param": param, "code": status.as_u16()}})
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = error_body(self.status, &self.message, self.param);
        (self.status, Json(body)).into_response()
    }
}

/// The router of the simulated server.
pub(crate) fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/completions", post(completions))
        .route("/v1/chat/completions", post(chat))
        .route("/v1/models", get(models))
        .route("/health", get(|| async { StatusCode::OK }))
        .fallback(|| async { ApiError::status(StatusCode::NOT_FOUND, "Not Found") })
        .with_state(state)
}

async fn models(State(st): State<Arc<AppState>>) -> Json<Value> {
    Json(json!({"object": "list", "data": [{
        "id": st.cfg.model, "object": "model", "created": st.created, "owned_by": "servebench",
        "max_model_len": st.cfg.max_model_len,
    }]}))
}

async fn completions(State(st): State<Arc<AppState>>, body: Bytes) -> Response {
    generate(st, body, Kind::Completion, Instant::now()).await
}

async fn chat(State(st): State<Arc<AppState>>, body: Bytes) -> Response {
    generate(st, body, Kind::Chat, Instant::now()).await
}

/// A parsed, validated generation request.
#[derive(Debug)]
pub(crate) struct GenRequest {
    pub prompt_ids: Vec<u32>,
    pub max_tokens: usize,
    pub min_tokens: usize,
    pub ignore_eos: bool,
    pub stream: bool,
    pub include_usage: bool,
    pub return_latency: bool,
}

async fn generate(st: Arc<AppState>, body: Bytes, kind: Kind, arrived: Instant) -> Response {
    if let Some(resp) = st.faults.on_request() {
        return resp;
    }
    let req = match parse(&st, &body, kind) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let hashes = if st.cfg.prefix_cache {
        block_hashes(&req.prompt_ids, st.cfg.prefix_block_tokens)
    } else {
        Vec::new()
    };
    let arrival = Arrival {
        arrived,
        prompt_tokens: req.prompt_ids.len(),
        block_hashes: hashes,
        max_tokens: req.max_tokens,
        min_tokens: req.min_tokens,
        ignore_eos: req.ignore_eos,
        tx,
    };
    if st.sched.send(SchedMsg::Arrival(arrival)).is_err() {
        let msg = "the simulated engine is shut down";
        return ApiError::status(StatusCode::SERVICE_UNAVAILABLE, msg).into_response();
    }
    let n = st.next_id.fetch_add(1, Ordering::Relaxed);
    let ctx = sse::ResponseCtx {
        id: match kind {
            Kind::Completion => format!("cmpl-sim{n:012x}"),
            Kind::Chat => format!("chatcmpl-sim{n:012x}"),
        },
        seed: st.cfg.seed ^ n,
        created: unix_secs(),
        model: st.cfg.model.clone(),
        words: st.words.clone(),
        prompt_tokens: req.prompt_ids.len(),
        kind,
        include_usage: req.include_usage,
        return_latency: req.return_latency,
    };
    if req.stream {
        sse::stream_response(ctx, rx)
    } else {
        sse::full_response(ctx, rx).await
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn opt_usize(v: &Value, key: &'static str) -> Result<Option<usize>, ApiError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(x) => match x.as_u64() {
            Some(n) => Ok(Some(n as usize)),
            None => Err(ApiError::bad(
                format!("`{key}` must be a non-negative integer"),
                Some(key),
            )),
        },
    }
}

fn opt_bool(v: &Value, key: &'static str) -> Result<bool, ApiError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(ApiError::bad(
            format!("`{key}` must be a boolean"),
            Some(key),
        )),
    }
}

/// Parse and validate a request body.
pub(crate) fn parse(st: &AppState, body: &[u8], kind: Kind) -> Result<GenRequest, ApiError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad(format!("invalid JSON body: {e}"), None))?;
    if !v.is_object() {
        return Err(ApiError::bad(
            "the request body must be a JSON object",
            None,
        ));
    }
    match v.get("model") {
        None | Some(Value::Null) => {}
        Some(Value::String(m)) if *m == st.cfg.model => {}
        Some(Value::String(m)) => {
            return Err(ApiError {
                status: StatusCode::NOT_FOUND,
                message: format!("The model `{m}` does not exist."),
                param: Some("model"),
            })
        }
        Some(_) => return Err(ApiError::bad("`model` must be a string", Some("model"))),
    }
    if let Some(n) = opt_usize(&v, "n")? {
        if n != 1 {
            return Err(ApiError::bad("the simulator supports only n=1", Some("n")));
        }
    }
    let prompt_ids = match kind {
        Kind::Completion => completion_prompt(&st.tok, &v)?,
        Kind::Chat => chat_prompt(&st.tok, &v)?,
    };
    let p = prompt_ids.len();
    let asked = match kind {
        Kind::Completion => opt_usize(&v, "max_tokens")?,
        Kind::Chat => match opt_usize(&v, "max_completion_tokens")? {
            Some(n) => Some(n),
            None => opt_usize(&v, "max_tokens")?,
        },
    };
    let max_tokens = match (asked, kind) {
        (Some(n), _) => n,
        (None, Kind::Completion) => 16,
        (None, Kind::Chat) => st.cfg.max_model_len.saturating_sub(p),
    };
    if max_tokens == 0 {
        return Err(ApiError::bad(
            "max_tokens must be at least 1",
            Some("max_tokens"),
        ));
    }
    let limit = st.cfg.max_model_len;
    if p + max_tokens > limit {
        return Err(ApiError::bad(
            format!(
                "This model's maximum context length is {limit} tokens. However, you requested \
                 {} tokens ({p} in the prompt, {max_tokens} in the completion). Please reduce \
                 the length of the prompt or completion.",
                p + max_tokens
            ),
            Some("max_tokens"),
        ));
    }
    if p + max_tokens > st.cfg.kv_cache_tokens {
        return Err(ApiError::bad(
            format!(
                "the request needs {} KV-cache tokens; the simulated cache holds {}",
                p + max_tokens,
                st.cfg.kv_cache_tokens
            ),
            Some("max_tokens"),
        ));
    }
    let min_tokens = opt_usize(&v, "min_tokens")?.unwrap_or(0);
    if min_tokens > max_tokens {
        return Err(ApiError::bad(
            format!("min_tokens ({min_tokens}) must be <= max_tokens ({max_tokens})"),
            Some("min_tokens"),
        ));
    }
    let include_usage = match v.get("stream_options") {
        None | Some(Value::Null) => false,
        Some(o @ Value::Object(_)) => opt_bool(o, "include_usage")?,
        Some(_) => {
            let msg = "`stream_options` must be an object";
            return Err(ApiError::bad(msg, Some("stream_options")));
        }
    };
    let stream = opt_bool(&v, "stream")?;
    if include_usage && !stream {
        let msg = "stream_options can only be set when stream is true";
        return Err(ApiError::bad(msg, Some("stream_options")));
    }
    Ok(GenRequest {
        prompt_ids,
        max_tokens,
        min_tokens,
        ignore_eos: opt_bool(&v, "ignore_eos")?,
        stream,
        include_usage,
        return_latency: opt_bool(&v, "return_latency")?,
    })
}

fn completion_prompt(tok: &Tokenizer, v: &Value) -> Result<Vec<u32>, ApiError> {
    let bad = || {
        ApiError::bad(
            "`prompt` must be a string, a list of strings or a list of token ids",
            Some("prompt"),
        )
    };
    match v.get("prompt") {
        None | Some(Value::Null) => Err(ApiError::bad("`prompt` is required", Some("prompt"))),
        Some(Value::String(s)) => Ok(tok.encode(s)),
        Some(Value::Array(items)) if items.is_empty() => Err(bad()),
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => Ok(items
            .iter()
            .flat_map(|s| tok.encode(s.as_str().unwrap_or_default()))
            .collect()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|x| x.as_u64().map(|n| n as u32).ok_or_else(bad))
            .collect(),
        Some(_) => Err(bad()),
    }
}

fn chat_prompt(tok: &Tokenizer, v: &Value) -> Result<Vec<u32>, ApiError> {
    let msgs = match v.get("messages") {
        Some(Value::Array(m)) if !m.is_empty() => m,
        _ => {
            let msg = "`messages` must be a non-empty list";
            return Err(ApiError::bad(msg, Some("messages")));
        }
    };
    let mut ids = Vec::new();
    for m in msgs {
        match m.get("content") {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => ids.extend(tok.encode(s)),
            Some(Value::Array(parts)) => {
                for part in parts {
                    if let Some(Value::String(t)) = part.get("text") {
                        ids.extend(tok.encode(t));
                    }
                }
            }
            Some(_) => {
                let msg = "message `content` must be a string or a list of parts";
                return Err(ApiError::bad(msg, Some("messages")));
            }
        }
    }
    Ok(ids)
}
