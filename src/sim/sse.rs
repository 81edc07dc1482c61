//! Answers: streams fed by the scheduler's bursts (formatted by
//! [`Writer`]) with the planned mid-stream fault applied, and whole
//! (non-streaming) answers.
//!
//! A chat stream opens at once with a `{"role":"assistant","content":""}`
//! chunk carrying no token (sent before the request is even scheduled, so a
//! client that times the first byte instead of the first token is caught).
//! `ttft_server` is taken on the stream task's monotonic clock when the first
//! token chunk is formatted, immediately before it is handed to the body.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc::UnboundedReceiver;

use super::api::ApiError;
use super::conn::Conn;
use super::faults::{FaultKind, MalformedKind};
use super::format::{Api, Writer};
use super::model::Event;

/// How a request's answer is delivered.
pub(crate) struct Plan {
    pub fault: Option<FaultKind>,
    /// Output tokens at which a mid-stream fault fires.
    pub trigger: usize,
    pub stall: Duration,
    pub conn: Conn,
    /// Events in flight from the scheduler (`no_delay` back-pressure).
    pub inflight: Arc<AtomicU32>,
    /// The scheduler thread, unparked when `inflight` drops to 0 (`no_delay`).
    pub unpark: Option<std::thread::Thread>,
    /// Close the connection after this stream (`close_after_stream`).
    pub close_after: bool,
}

impl Plan {
    fn took_event(&self) {
        if self.inflight.fetch_sub(1, Ordering::AcqRel) == 1 {
            if let Some(t) = &self.unpark {
                t.unpark();
            }
        }
    }
}

/// Pause before a mid-stream reset, so that the chunks handed to the body
/// before it reach the client.
const RESET_FLUSH: Duration = Duration::from_millis(5);

/// Message of injected error events.
pub(crate) const ENGINE_ERROR: &str = "simulated engine error (injected fault)";

enum Out {
    Data(Bytes),
    Reset,
}

struct StreamState {
    w: Writer,
    rx: UnboundedReceiver<Event>,
    plan: Plan,
    pending: VecDeque<Out>,
    done: bool,
    fired: bool,
    stall_next: bool,
}

impl StreamState {
    async fn next(&mut self) -> Option<Result<Bytes, std::io::Error>> {
        loop {
            match self.pending.pop_front() {
                Some(Out::Data(b)) => return Some(Ok(b)),
                Some(Out::Reset) => {
                    // Let hyper flush what was already handed over first.
                    tokio::time::sleep(RESET_FLUSH).await;
                    self.plan.conn.reset();
                    self.pending.clear();
                    self.done = true;
                    let e = std::io::Error::new(
                        std::io::ErrorKind::ConnectionReset,
                        "simulated mid-stream reset",
                    );
                    return Some(Err(e));
                }
                None => {}
            }
            if self.done {
                if self.plan.close_after {
                    self.plan.conn.mark_spent();
                }
                return None;
            }
            if self.stall_next {
                self.stall_next = false;
                tokio::time::sleep(self.plan.stall).await;
            }
            let ev = self.rx.recv().await;
            if ev.is_some() {
                self.plan.took_event();
            }
            self.on_event(ev).await;
        }
    }

    async fn on_event(&mut self, ev: Option<Event>) {
        let (k, at, finish, timing) = match ev {
            Some(Event::Tokens {
                tokens,
                at,
                finish,
                timing,
            }) => (tokens, at, finish, timing),
            Some(Event::Error(msg)) => {
                self.pending.push_back(Out::Data(self.w.error_event(&msg)));
                self.done = true;
                return;
            }
            // The engine went away: end the body without an end marker.
            None => {
                self.done = true;
                return;
            }
        };
        let fault = self.plan.fault;
        let reached = !self.fired
            && fault.is_some_and(|f| f.trigger_tokens(1).is_some())
            && self.w.tokens + k >= self.plan.trigger;
        let last = finish.is_some();
        self.fired |= reached;
        if reached && last {
            // Fire just before the final chunk.
            match fault {
                Some(FaultKind::Stall { .. }) => tokio::time::sleep(self.plan.stall).await,
                Some(FaultKind::MidstreamReset { .. }) => {
                    self.pending.push_back(Out::Reset);
                    return;
                }
                Some(FaultKind::ErrorEvent { .. }) => {
                    let b = self.w.error_event(ENGINE_ERROR);
                    self.pending.push_back(Out::Data(b));
                    self.done = true;
                    return;
                }
                Some(FaultKind::Malformed { kind, .. }) if kind != MalformedKind::Truncated => {
                    let b = self.w.malformed(kind == MalformedKind::Utf8);
                    self.pending.push_back(Out::Data(b));
                }
                _ => {}
            }
        }
        let no_done = fault == Some(FaultKind::NoDone);
        let b = self.w.burst(k, at, finish, timing, no_done);
        if reached
            && matches!(
                fault,
                Some(FaultKind::Malformed {
                    kind: MalformedKind::Truncated,
                    ..
                })
            )
        {
            self.pending.push_back(Out::Data(b.slice(..b.len() / 2)));
            self.done = true;
            return;
        }
        self.pending.push_back(Out::Data(b));
        self.done |= last;
        if reached && !last {
            match fault {
                Some(FaultKind::Stall { .. }) => self.stall_next = true,
                Some(FaultKind::MidstreamReset { .. }) => self.pending.push_back(Out::Reset),
                Some(FaultKind::ErrorEvent { .. }) => {
                    let b = self.w.error_event(ENGINE_ERROR);
                    self.pending.push_back(Out::Data(b));
                    self.done = true;
                }
                Some(FaultKind::Malformed { kind, .. }) => {
                    let b = self.w.malformed(kind == MalformedKind::Utf8);
                    self.pending.push_back(Out::Data(b));
                }
                _ => {}
            }
        }
    }
}

/// The streaming answer fed by the scheduler's bursts.
pub(crate) fn stream_response(w: Writer, rx: UnboundedReceiver<Event>, plan: Plan) -> Response {
    let mut pending = VecDeque::new();
    if let Some(b) = w.open() {
        pending.push_back(Out::Data(b));
    }
    let content_type = match w.ctx.api {
        Api::Vllm => "application/json",
        _ => "text/event-stream",
    };
    let state = StreamState {
        w,
        rx,
        plan,
        pending,
        done: false,
        fired: false,
        stall_next: false,
    };
    let stream = futures_util::stream::unfold(state, |mut s| async move {
        let item = s.next().await?;
        Some((item, s))
    });
    Response::builder()
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(stream))
        .expect("static headers are valid")
}

/// A whole (non-streaming) answer once generation is over. Mid-stream
/// faults act on the body bytes: `midstream_reset` sends half then resets,
/// `stall` pauses after half, `malformed` sends invalid JSON (`json`: last
/// byte replaced, `utf8`: `FF FE` inserted, `truncated`: half, then a clean
/// end); `no_done` and `error_event` do not apply.
pub(crate) async fn full_response(
    mut w: Writer,
    mut rx: UnboundedReceiver<Event>,
    plan: Plan,
) -> Response {
    let (finish, timing) = loop {
        let ev = rx.recv().await;
        if ev.is_some() {
            plan.took_event();
        }
        match ev {
            Some(Event::Tokens {
                tokens,
                finish,
                timing,
                ..
            }) => {
                w.ttft_server.get_or_insert_with(std::time::Instant::now);
                w.absorb(tokens);
                if let Some(f) = finish {
                    break (f, timing);
                }
            }
            Some(Event::Error(msg)) => return ApiError::bad(msg, None).respond(w.ctx.api),
            None => {
                let msg = "the simulated engine stopped before the request finished";
                let e = ApiError::status(StatusCode::SERVICE_UNAVAILABLE, msg);
                return e.respond(w.ctx.api);
            }
        }
    };
    let body = Bytes::from(w.whole(finish, timing).to_string());
    let half = body.len() / 2;
    let parts: Vec<Out> = match plan.fault {
        Some(FaultKind::MidstreamReset { .. }) => vec![Out::Data(body.slice(..half)), Out::Reset],
        Some(FaultKind::Stall { .. }) => {
            let (a, b) = (body.slice(..half), body.slice(half..));
            let stall = plan.stall;
            let s = futures_util::stream::iter([a])
                .map(Ok::<_, std::io::Error>)
                .chain(futures_util::stream::once(async move {
                    tokio::time::sleep(stall).await;
                    Ok(b)
                }));
            return json_response(Body::from_stream(s));
        }
        Some(FaultKind::Malformed { kind, .. }) => {
            let mut v = body.to_vec();
            match kind {
                MalformedKind::Json => *v.last_mut().expect("non-empty") = b']',
                MalformedKind::Utf8 => {
                    v.splice(2..2, [0xFF, 0xFE]);
                }
                MalformedKind::Truncated => v.truncate(half),
            }
            vec![Out::Data(Bytes::from(v))]
        }
        _ => return json_response(Body::from(body)),
    };
    let conn = plan.conn.clone();
    let s = futures_util::stream::iter(parts).then(move |o| {
        let conn = conn.clone();
        async move {
            match o {
                Out::Data(b) => Ok(b),
                Out::Reset => {
                    tokio::time::sleep(RESET_FLUSH).await;
                    conn.reset();
                    Err(std::io::Error::new(
                        std::io::ErrorKind::ConnectionReset,
                        "simulated mid-body reset",
                    ))
                }
            }
        }
    });
    json_response(Body::from_stream(s))
}

use futures_util::StreamExt as _;

fn json_response(body: Body) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    r
}
