//! Request parsing and validation of the OpenAI endpoints.
//!
//! Prompt token counts (no special tokens, no chat template):
//! * completions: the tokenizer count of `prompt` (a string), the sum of the
//!   counts of a list of strings, or the length of a list of token ids;
//! * chat: the sum over messages of the counts of their content (a string,
//!   or the `text` parts of an array content) plus the image tokens of their
//!   `image_url` parts (see the `images` module: `ceil(w/28) * ceil(h/28)`
//!   per PNG/JPEG data URL).
//!
//! Defaults: `max_tokens` absent means 16 for completions (OpenAI's legacy
//! default) and `max_model_len - prompt_tokens` for chat (vLLM's default).

use axum::http::StatusCode;
use serde_json::Value;

use super::api::{ApiError, AppState};
use super::format::Api;
use super::images::image_ids;
use crate::workload::Tokenizer;

/// A parsed, validated generation request.
#[derive(Debug, Default)]
pub(crate) struct GenRequest {
    pub prompt_ids: Vec<u32>,
    /// The prompt text (vLLM echoes it).
    pub prompt_text: String,
    pub max_tokens: usize,
    pub min_tokens: usize,
    pub ignore_eos: bool,
    pub stream: bool,
    pub include_usage: bool,
    /// `stream_options.continuous_usage_stats` (with `include_usage`, as
    /// vLLM takes it): every chunk carries the usage so far.
    pub continuous_usage: bool,
    pub return_latency: bool,
    /// TGI / MindIE `parameters.details`.
    pub details: bool,
}

pub(crate) fn opt_usize(v: &Value, key: &'static str) -> Result<Option<usize>, ApiError> {
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

pub(crate) fn opt_bool(v: &Value, key: &'static str) -> Result<bool, ApiError> {
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
pub(crate) fn parse(st: &AppState, body: &[u8], kind: Api) -> Result<GenRequest, ApiError> {
    let v = json_object(body)?;
    match v.get("model") {
        None | Some(Value::Null) => {}
        Some(Value::String(m)) if *m == st.cfg.model => {}
        Some(Value::String(m)) => {
            let msg = format!("The model `{m}` does not exist.");
            return Err(ApiError::status(StatusCode::NOT_FOUND, msg).param("model"));
        }
        Some(_) => return Err(ApiError::bad("`model` must be a string", Some("model"))),
    }
    if let Some(n) = opt_usize(&v, "n")? {
        if n != 1 {
            return Err(ApiError::bad("the simulator supports only n=1", Some("n")));
        }
    }
    let prompt_ids = match kind {
        Api::Chat => chat_prompt(&st.tok, &v, st.cfg.image_patch_px)?,
        _ => completion_prompt(&st.tok, &v)?,
    };
    let p = prompt_ids.len();
    let asked = match kind {
        Api::Chat => match opt_usize(&v, "max_completion_tokens")? {
            Some(n) => Some(n),
            None => opt_usize(&v, "max_tokens")?,
        },
        _ => opt_usize(&v, "max_tokens")?,
    };
    let max_tokens = match (asked, kind) {
        (Some(n), _) => n,
        (None, Api::Chat) => st.cfg.max_model_len.saturating_sub(p),
        (None, _) => 16,
    };
    check_lengths(st, p, max_tokens, "max_tokens")?;
    let min_tokens = opt_usize(&v, "min_tokens")?.unwrap_or(0);
    if min_tokens > max_tokens {
        return Err(ApiError::bad(
            format!("min_tokens ({min_tokens}) must be <= max_tokens ({max_tokens})"),
            Some("min_tokens"),
        ));
    }
    let (include_usage, continuous_usage) = match v.get("stream_options") {
        None | Some(Value::Null) => (false, false),
        Some(o @ Value::Object(_)) => {
            let usage = opt_bool(o, "include_usage")?;
            (usage, usage && opt_bool(o, "continuous_usage_stats")?)
        }
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
    let prompt_text = match (kind, v.get("prompt")) {
        (Api::Vllm, Some(Value::String(s))) => s.clone(),
        _ => String::new(),
    };
    Ok(GenRequest {
        prompt_ids,
        prompt_text,
        details: false,
        max_tokens,
        min_tokens,
        ignore_eos: opt_bool(&v, "ignore_eos")?,
        stream,
        include_usage,
        continuous_usage,
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

fn chat_prompt(tok: &Tokenizer, v: &Value, patch_px: usize) -> Result<Vec<u32>, ApiError> {
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
                    let url = match part.get("image_url") {
                        Some(Value::String(u)) => Some(u.as_str()),
                        Some(o) => o.get("url").and_then(Value::as_str),
                        None => None,
                    };
                    if let Some(url) = url {
                        let img = image_ids(url, patch_px)
                            .map_err(|e| ApiError::bad(e, Some("messages")))?;
                        ids.extend(img);
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

/// The body as a JSON object.
pub(crate) fn json_object(body: &[u8]) -> Result<Value, ApiError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad(format!("invalid JSON body: {e}"), None))?;
    if !v.is_object() {
        let msg = "the request body must be a JSON object";
        return Err(ApiError::bad(msg, None));
    }
    Ok(v)
}

/// `max_tokens` >= 1, prompt + output within `max_model_len` and the KV cache.
pub(crate) fn check_lengths(
    st: &AppState,
    p: usize,
    max_tokens: usize,
    param: &'static str,
) -> Result<(), ApiError> {
    if max_tokens == 0 {
        return Err(ApiError::bad(
            format!("{param} must be at least 1"),
            Some(param),
        ));
    }
    let limit = st.cfg.max_model_len;
    // Saturating: a huge max_tokens must not wrap past both checks.
    let total = p.saturating_add(max_tokens);
    if total > limit {
        return Err(ApiError::bad(
            format!(
                "This model's maximum context length is {limit} tokens. However, you requested \
                 {} tokens ({p} in the prompt, {max_tokens} in the completion). Please reduce \
                 the length of the prompt or completion.",
                total
            ),
            Some(param),
        ));
    }
    if total > st.cfg.kv_cache_tokens {
        return Err(ApiError::bad(
            format!(
                "the request needs {} KV-cache tokens; the simulated cache holds {}",
                total, st.cfg.kv_cache_tokens
            ),
            Some(param),
        ));
    }
    Ok(())
}

/// Parse a TGI `/generate_stream` or MindIE `/infer` body:
/// `{"inputs", "stream", "parameters": {"max_new_tokens" (default 20),
/// "ignore_eos" (MindIE only; TGI has none), "details"}}`. TGI always streams;
/// MindIE streams when `"stream": true`.
pub(crate) fn parse_tgi_like(st: &AppState, body: &[u8], api: Api) -> Result<GenRequest, ApiError> {
    let v = json_object(body)?;
    let inputs = match v.get("inputs") {
        Some(Value::String(s)) => s,
        _ => return Err(ApiError::bad("`inputs` must be a string", Some("inputs"))),
    };
    let empty = Value::Object(Default::default());
    let params = match v.get("parameters") {
        None | Some(Value::Null) => &empty,
        Some(o @ Value::Object(_)) => o,
        Some(_) => {
            let msg = "`parameters` must be an object";
            return Err(ApiError::bad(msg, Some("parameters")));
        }
    };
    let prompt_ids = st.tok.encode(inputs);
    let max_tokens = opt_usize(params, "max_new_tokens")?.unwrap_or(20);
    check_lengths(st, prompt_ids.len(), max_tokens, "max_new_tokens")?;
    let (ignore_eos, stream) = match api {
        Api::MindIe => (opt_bool(params, "ignore_eos")?, opt_bool(&v, "stream")?),
        _ => (false, true),
    };
    Ok(GenRequest {
        prompt_ids,
        max_tokens,
        ignore_eos,
        stream,
        details: opt_bool(params, "details")?,
        ..GenRequest::default()
    })
}
