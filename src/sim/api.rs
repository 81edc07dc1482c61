//! HTTP side: routes, the common generation handler (faults, parsing,
//! scheduling), error bodies.
//!
//! Routes: `POST /v1/completions`, `POST /v1/chat/completions` (OpenAI),
//! `POST /generate` (vLLM legacy), `POST /generate_stream` (TGI),
//! `POST /infer` (MindIE), `GET /v1/models`, `GET /health`; anything else is
//! a 404 with an OpenAI error body.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::conn::Conn;
use super::faults::{FaultKind, Faults};
use super::format::{Api, ResponseCtx, Writer};
use super::model::{Arrival, SchedMsg};
use super::parse::{parse, parse_tgi_like};
use super::prefix::block_hashes;
use super::sse::{self, Plan};
use super::words::Words;
use super::{SimConfig, VllmSeparator};
use crate::workload::Tokenizer;

/// Largest request body read (image data URLs can be big).
const BODY_LIMIT: usize = 256 << 20;

/// Shared state of the handlers.
pub(crate) struct AppState {
    pub cfg: SimConfig,
    pub tok: Tokenizer,
    pub words: Arc<Words>,
    pub sched: std::sync::mpsc::Sender<SchedMsg>,
    /// The scheduler thread (unparked on `no_delay` back-pressure release).
    pub sched_thread: std::thread::Thread,
    pub faults: Faults,
    pub next_id: AtomicU64,
    pub created: u64,
    /// What `/metrics` serves.
    pub metrics: Arc<super::metrics::SimMetrics>,
}

/// An error answer: OpenAI-shaped (`{"error": {...}}`) for the OpenAI and
/// vLLM routes, TGI-shaped (`{"error": "...", "error_type": "..."}`, 400
/// becoming 422 as TGI answers validation errors) for TGI and MindIE.
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

    pub(crate) fn status(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            param: None,
        }
    }

    pub(crate) fn param(mut self, p: &'static str) -> Self {
        self.param = Some(p);
        self
    }

    /// The answer in the shape of `api`.
    pub(crate) fn respond(self, api: Api) -> Response {
        if api.tgi_like() {
            let (status, kind) = match self.status.as_u16() {
                400 => (StatusCode::UNPROCESSABLE_ENTITY, "validation"),
                404 => (self.status, "not_found"),
                429 => (self.status, "overloaded"),
                _ => (self.status, "generation"),
            };
            let body = json!({"error": self.message, "error_type": kind});
            return (status, Json(body)).into_response();
        }
        self.into_response()
    }
}

/// `{"error": {...}}` as OpenAI and vLLM send it.
pub(crate) fn error_body(status: StatusCode, message: &str, param: Option<&str>) -> Value {
    let kind = match status.as_u16() {
        400 => "BadRequestError",
        404 => "NotFoundError",
        429 => "RateLimitError",
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
    let route = |api: Api| {
        post(
            move |State(st): State<Arc<AppState>>,
                  ConnectInfo(c): ConnectInfo<Conn>,
                  r: Request| { generate(st, c, r, api) },
        )
    };
    Router::new()
        .route("/v1/completions", route(Api::Completion))
        .route("/v1/chat/completions", route(Api::Chat))
        .route("/generate", route(Api::Vllm))
        .route("/generate_stream", route(Api::Tgi))
        .route("/infer", route(Api::MindIe))
        .route("/v1/models", get(models))
        .route("/health", get(|| async { StatusCode::OK }))
        .route("/metrics", get(prometheus))
        .fallback(|| async { ApiError::status(StatusCode::NOT_FOUND, "Not Found") })
        .with_state(state)
}

/// The engine's figures in Prometheus' text format, under vLLM's names.
async fn prometheus(State(st): State<Arc<AppState>>) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        st.metrics.render(),
    )
        .into_response()
}

async fn models(State(st): State<Arc<AppState>>) -> Json<Value> {
    Json(json!({"object": "list", "data": [{
        "id": st.cfg.model, "object": "model", "created": st.created, "owned_by": "servebench",
        "max_model_len": st.cfg.max_model_len,
    }]}))
}

/// The injected error answer of `status`.
fn injected_error(st: &AppState, api: Api, status: u16) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let msg = match status {
        429 => "simulated rate limit (injected fault)",
        503 => "simulated overload (injected fault)",
        _ => "simulated internal error (injected fault)",
    };
    let mut r = ApiError::status(code, msg).respond(api);
    if status == 429 {
        let v = HeaderValue::from(st.cfg.faults.retry_after_s);
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

/// Every generation route: number the request and apply its fault, read and
/// parse the body, hand it to the scheduler, answer in the route's format.
async fn generate(st: Arc<AppState>, conn: Conn, req: Request, api: Api) -> Response {
    let arrived = Instant::now();
    let adm = st.faults.on_request();
    if adm.down || adm.fault == Some(FaultKind::Reset) {
        // hyper's write of this answer fails and the socket closes with RST.
        conn.reset();
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    if let Some(d) = st.faults.slow_first_byte() {
        tokio::time::sleep(d).await;
    }
    if let Some(FaultKind::Error { status }) = adm.fault {
        return injected_error(&st, api, status);
    }
    let body = match axum::body::to_bytes(req.into_body(), BODY_LIMIT).await {
        Ok(b) => b,
        Err(e) => return ApiError::bad(format!("cannot read body: {e}"), None).respond(api),
    };
    // The server's clock for this request starts when it was whole on the
    // machine (the kernel's stamp of the read that completed it, which is
    // before this handler began unless the body came later), not when this
    // handler got to it: a burst of requests waits in the sockets and in
    // hyper before the handlers run, and that wait is the server's.
    let arrived = conn.last_read().unwrap_or(arrived);
    let parsed = match api {
        Api::Tgi | Api::MindIe => parse_tgi_like(&st, &body, api),
        _ => parse(&st, &body, api),
    };
    let req = match parsed {
        Ok(r) => r,
        Err(e) => return e.respond(api),
    };
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let hashes = if st.cfg.prefix_cache {
        block_hashes(&req.prompt_ids, st.cfg.prefix_block_tokens)
    } else {
        Vec::new()
    };
    let inflight = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let arrival = Arrival {
        arrived,
        prompt_tokens: req.prompt_ids.len(),
        block_hashes: hashes,
        max_tokens: req.max_tokens,
        min_tokens: req.min_tokens,
        ignore_eos: req.ignore_eos,
        tx,
        inflight: inflight.clone(),
    };
    if st.sched.send(SchedMsg::Arrival(arrival)).is_err() {
        let msg = "the simulated engine is shut down";
        return ApiError::status(StatusCode::SERVICE_UNAVAILABLE, msg).respond(api);
    }
    let no_delay = st.cfg.no_delay;
    if no_delay {
        st.sched_thread.unpark();
    }
    let n = st.next_id.fetch_add(1, Ordering::Relaxed);
    let id = match api {
        Api::Chat => format!("chatcmpl-sim{n:012x}"),
        _ => format!("cmpl-sim{n:012x}"),
    };
    let w = Writer::new(ResponseCtx {
        api,
        id,
        seed: st.cfg.seed ^ n,
        created: unix_secs(),
        model: st.cfg.model.clone(),
        words: st.words.clone(),
        prompt_tokens: req.prompt_ids.len(),
        prompt_text: req.prompt_text,
        include_usage: req.include_usage,
        continuous_usage: req.continuous_usage,
        return_latency: req.return_latency,
        details: req.details,
        cumulative: st.cfg.tgi_cumulative_text,
        separator: match st.cfg.vllm_separator {
            VllmSeparator::Nul => b'\0',
            VllmSeparator::Newline => b'\n',
        },
        reasoning_tokens: if api == Api::Chat {
            st.cfg.reasoning_tokens
        } else {
            0
        },
        arrived,
    });
    let plan = Plan {
        fault: adm.fault,
        trigger: adm
            .fault
            .and_then(|f| f.trigger_tokens(req.max_tokens))
            .unwrap_or(usize::MAX),
        stall: st.faults.stall(),
        conn,
        inflight,
        unpark: no_delay.then(|| st.sched_thread.clone()),
        close_after: st.cfg.close_after_stream,
    };
    if req.stream {
        sse::stream_response(w, rx, plan)
    } else {
        sse::full_response(w, rx, plan).await
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
