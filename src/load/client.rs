//! The streaming client: sends one prepared request and times its stream.
//!
//! Every timestamp is taken in the task that reads the body, right after each
//! read returns. The request is built and serialised before `start`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE};

use super::failure::{
    classify, classify_as, closed_before_response, error_chain, fail, IDLE, NO_FIRST_BYTE,
};
use super::guard::{FailureLimit, RunGuard};
use super::stream::{chunk_tokens, parser_options, StreamState};
use super::EpochRun;
use crate::backend::{Backend, HttpRequest, RequestOptions};
use crate::record::{Failure, FailureKind, RawRequest, RequestRecord};
use crate::workload::{RequestSpec, Tokenizer};

/// Per-request time limits. A request that passes one is a failure of
/// category `timeout`, never a latency sample.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// Establishing a connection.
    pub connect: Duration,
    /// From start to the first bytes of the response body (the headers
    /// and, for a stream, its first event: a queued request counts here).
    pub first_byte: Duration,
    /// Longest gap between two reads of the body.
    pub idle: Duration,
    /// Whole request.
    pub total: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            first_byte: Duration::from_secs(600),
            idle: Duration::from_secs(120),
            total: Duration::from_secs(3600),
        }
    }
}

/// Errors building the client.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The base URL does not parse.
    #[error("endpoint URL `{url}` does not parse: {reason}")]
    BadUrl { url: String, reason: String },
    /// The API key cannot be sent as a header.
    #[error("the API key in ${var} is not a valid HTTP header value")]
    BadKey { var: String },
    /// `--app-code` cannot be sent as a header.
    #[error("--app-code: not a valid HTTP header value")]
    BadAppCode,
    /// reqwest could not build its client.
    #[error("cannot build the HTTP client: {0}")]
    Build(String),
}

/// A request ready to send: the spec's figures and the serialised HTTP body.
#[derive(Debug, Clone)]
pub struct PreparedRequest {
    pub id: u64,
    pub prompt_tokens: usize,
    pub max_tokens: usize,
    pub force_output_len: bool,
    pub http: HttpRequest,
}

impl PreparedRequest {
    /// `spec`'s figures with its serialised `http` request.
    fn new(spec: &RequestSpec, http: HttpRequest) -> Self {
        PreparedRequest {
            id: spec.id,
            prompt_tokens: spec.prompt_tokens,
            max_tokens: spec.max_tokens,
            force_output_len: spec.force_output_len,
            http,
        }
    }
}

/// The streaming client of one run: one connection pool, one backend.
pub struct Client {
    pub(super) http: reqwest::Client,
    /// Connection pools bound to local source addresses, when the run
    /// spreads its connections over several (one address has only its
    /// ephemeral ports to each server address); requests take them in turn.
    spread: Arc<std::sync::OnceLock<Vec<reqwest::Client>>>,
    next_pool: Arc<std::sync::atomic::AtomicUsize>,
    /// What every pool is built from (headers, connect timeout).
    headers: HeaderMap,
    /// The streaming hot path over plain HTTP/1.1 (`None` for TLS and
    /// other URLs reqwest handles): connections driven by the reading task.
    h1: Option<Arc<super::h1::Pool>>,
    /// `h1` spread over source addresses, as `spread`.
    h1_spread: Arc<std::sync::OnceLock<Vec<super::h1::Pool>>>,
    /// A client that never reuses a connection: the one resend of a request
    /// whose reused connection the server closed goes through it.
    fresh: reqwest::Client,
    pub(super) base: String,
    backend: Arc<dyn Backend>,
    opts: RequestOptions,
    /// `opts` as the stream parsers get them: one token per text event, so
    /// that tokens per chunk come from what the stream shows (see
    /// [`chunk_tokens`]), never from the flag alone.
    parser_opts: RequestOptions,
    tokenizer: Tokenizer,
    pub(super) timeouts: Timeouts,
    guard: Arc<RunGuard>,
}

/// Where to send load and how to authenticate.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Base URL, e.g. `http://127.0.0.1:8000` (no trailing `/v1`).
    pub base_url: String,
    /// Name of the environment variable holding the API key, and its value.
    pub api_key: Option<(String, String)>,
    /// ModelArts APIG app code, sent as `X-Apig-AppCode` (never written).
    pub app_code: Option<String>,
}

impl Client {
    /// Build a client for `endpoint`.
    pub fn new(
        endpoint: &Endpoint,
        backend: Arc<dyn Backend>,
        opts: RequestOptions,
        tokenizer: Tokenizer,
        timeouts: Timeouts,
    ) -> Result<Self, ClientError> {
        let base = endpoint.base_url.trim_end_matches('/').to_string();
        let parsed = url::Url::parse(&base).map_err(|e| ClientError::BadUrl {
            url: base.clone(),
            reason: e.to_string(),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(ClientError::BadUrl {
                url: base,
                reason: "scheme must be http or https".into(),
            });
        }
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some((var, key)) = &endpoint.api_key {
            let mut v = HeaderValue::from_str(&format!("Bearer {key}"))
                .map_err(|_| ClientError::BadKey { var: var.clone() })?;
            v.set_sensitive(true);
            headers.insert(AUTHORIZATION, v);
        }
        if let Some(code) = &endpoint.app_code {
            let mut v = HeaderValue::from_str(code).map_err(|_| ClientError::BadAppCode)?;
            v.set_sensitive(true);
            headers.insert("x-apig-appcode", v);
        }
        let builder = || {
            reqwest::Client::builder()
                .default_headers(headers.clone())
                .connect_timeout(timeouts.connect)
                .tcp_nodelay(true)
        };
        let http = builder()
            .pool_max_idle_per_host(usize::MAX)
            .pool_idle_timeout(POOL_IDLE)
            .build()
            .map_err(|e| ClientError::Build(e.to_string()))?;
        let fresh = builder()
            .pool_max_idle_per_host(0)
            .build()
            .map_err(|e| ClientError::Build(e.to_string()))?;
        let proxied = super::h1::proxy_may_apply(&parsed, |k| std::env::var(k).ok());
        let h1 = (!proxied)
            .then(|| super::h1::Pool::for_url(&parsed, &headers, None, timeouts.connect, POOL_IDLE))
            .flatten()
            .map(Arc::new);
        Ok(Client {
            http,
            spread: Arc::default(),
            next_pool: Arc::default(),
            h1,
            h1_spread: Arc::default(),
            headers,
            fresh,
            base,
            backend,
            parser_opts: parser_options(&opts),
            opts,
            tokenizer,
            timeouts,
            guard: Arc::new(RunGuard::new(None, Duration::ZERO)),
        })
    }

    /// The same client, stopping its run when more than `limit.max_rate` of
    /// the last `limit.window` requests failed (`None`: never). Requests
    /// still in flight then get `grace` to finish before they are cancelled.
    pub fn with_failure_limit(mut self, limit: Option<FailureLimit>, grace: Duration) -> Self {
        self.guard = Arc::new(RunGuard::new(limit, grace));
        self
    }

    /// The run's guard: its failure-rate limit and stop state.
    pub fn guard(&self) -> &RunGuard {
        &self.guard
    }

    /// True once the run must send nothing new: its failure-rate limit
    /// tripped, or the process was interrupted.
    pub fn stopping(&self) -> bool {
        self.guard.stopping()
    }

    /// Spread this client's connections (and its copies') over the local
    /// source addresses `addrs`, one pool each, requests taking them in
    /// turn. Once per client: a later call changes nothing and returns the
    /// addresses in use.
    pub fn spread_over(&self, addrs: &[std::net::IpAddr]) -> Result<usize, ClientError> {
        if let Some(v) = self.spread.get() {
            return Ok(v.len());
        }
        let pools = addrs
            .iter()
            .map(|&a| {
                reqwest::Client::builder()
                    .default_headers(self.headers.clone())
                    .connect_timeout(self.timeouts.connect)
                    .tcp_nodelay(true)
                    .local_address(a)
                    .pool_max_idle_per_host(usize::MAX)
                    .pool_idle_timeout(POOL_IDLE)
                    .build()
                    .map_err(|e| ClientError::Build(format!("source address {a}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let n = pools.len();
        if self.h1.is_some() {
            if let Ok(base) = url::Url::parse(&self.base) {
                let h1 = addrs
                    .iter()
                    .filter_map(|&a| {
                        super::h1::Pool::for_url(
                            &base,
                            &self.headers,
                            Some(a),
                            self.timeouts.connect,
                            POOL_IDLE,
                        )
                    })
                    .collect();
                let _ = self.h1_spread.set(h1);
            }
        }
        let _ = self.spread.set(pools);
        Ok(n)
    }

    /// The next of `pools` in turn (requests spread over source
    /// addresses); `None` when the run does not spread.
    fn next_of<'a, T>(&self, pools: Option<&'a Vec<T>>) -> Option<&'a T> {
        let v = pools.filter(|v| !v.is_empty())?;
        let i = self
            .next_pool
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Some(&v[i % v.len()])
    }

    /// The reqwest pool the next request goes through.
    fn pool(&self) -> &reqwest::Client {
        self.next_of(self.spread.get()).unwrap_or(&self.http)
    }

    /// The HTTP/1.1 pool the next streamed request goes through, when the
    /// endpoint takes the direct path.
    fn h1_pool(&self) -> Option<&super::h1::Pool> {
        let h1 = self.h1.as_deref()?;
        Some(self.next_of(self.h1_spread.get()).unwrap_or(h1))
    }

    /// The base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The backend in use.
    pub fn backend(&self) -> &dyn Backend {
        &*self.backend
    }

    /// The same client (same connection pool) with other request options.
    pub fn with_options(&self, opts: RequestOptions) -> Client {
        Client {
            http: self.http.clone(),
            spread: self.spread.clone(),
            next_pool: self.next_pool.clone(),
            h1: self.h1.clone(),
            h1_spread: self.h1_spread.clone(),
            headers: self.headers.clone(),
            fresh: self.fresh.clone(),
            base: self.base.clone(),
            backend: self.backend.clone(),
            parser_opts: parser_options(&opts),
            opts,
            tokenizer: self.tokenizer.clone(),
            timeouts: self.timeouts,
            guard: self.guard.clone(),
        }
    }

    /// The options every request of this client is built with.
    pub fn options(&self) -> &RequestOptions {
        &self.opts
    }

    /// Build and serialise `spec` with images in its user message; `None`
    /// when the backend takes no images.
    pub fn prepare_multimodal(
        &self,
        spec: &RequestSpec,
        images: &[String],
    ) -> Option<PreparedRequest> {
        let http = self.backend.build_multimodal(spec, images, &self.opts)?;
        Some(PreparedRequest::new(spec, http))
    }

    /// Build and serialise `spec` (before the clock starts).
    pub fn prepare(&self, spec: &RequestSpec) -> PreparedRequest {
        PreparedRequest::new(spec, self.backend.build(spec, &self.opts))
    }

    /// Send `req` and time its stream. Never panics on a bad response: a
    /// failure is recorded in the returned record.
    pub async fn execute(
        &self,
        req: &PreparedRequest,
        epoch: u32,
        phase_start: Instant,
    ) -> RequestRecord {
        let (mut rec, text) = self.execute_deferred(req, epoch, phase_start).await;
        if let Some(text) = text {
            rec.counted_output_tokens = Some(self.tokenizer.count(&text) as u64);
        }
        rec
    }

    /// [`Client::execute`] for the load loops: when the server reported its
    /// own output-token count, the tokenizer's count (recorded beside it as
    /// a check) is left undone and the generated text returned, to be
    /// counted by [`Client::count_outputs`] after the epoch, off the
    /// measured window. Without usage the count is the figure itself and is
    /// done at once.
    pub async fn execute_deferred(
        &self,
        req: &PreparedRequest,
        epoch: u32,
        phase_start: Instant,
    ) -> (RequestRecord, Option<String>) {
        self.execute_inner(req, epoch, phase_start, false).await
    }

    /// Build a turn of a conversation: `history`, then `spec.prompt` as the
    /// user's message (between turns: the history holds the model's
    /// answers). `None` when the backend has no chat messages.
    pub fn prepare_conversation(
        &self,
        history: &[crate::backend::ChatTurn<'_>],
        spec: &RequestSpec,
    ) -> Option<PreparedRequest> {
        let http = self.backend.build_conversation(history, spec, &self.opts)?;
        Some(PreparedRequest::new(spec, http))
    }

    /// [`Client::execute_deferred`] for a turn of a conversation: also the
    /// answer's text (for the history of the next turn). The second item is
    /// the text only when its count was deferred, as there.
    pub async fn execute_turn(
        &self,
        req: &PreparedRequest,
        epoch: u32,
        phase_start: Instant,
    ) -> (RequestRecord, Option<String>, String) {
        let (rec, text) = self.execute_inner(req, epoch, phase_start, true).await;
        let text = text.unwrap_or_default();
        let deferred = rec.counted_output_tokens.is_none() && rec.usage_output_tokens.is_some();
        let pending = (deferred && !text.is_empty()).then(|| text.clone());
        (rec, pending, text)
    }

    async fn execute_inner(
        &self,
        req: &PreparedRequest,
        epoch: u32,
        phase_start: Instant,
        keep_text: bool,
    ) -> (RequestRecord, Option<String>) {
        let mut st = StreamState {
            text_ends: self.opts.spec_decode.map(|_| Vec::new()),
            ..StreamState::default()
        };
        let mut start = Instant::now();
        let deadline = tokio::time::Instant::from_std(start + self.timeouts.total);
        let timed = tokio::time::timeout_at(deadline, self.stream(req, &mut start, &mut st));
        let outcome = tokio::select! {
            r = timed => Some(r),
            _ = self.guard.cancelled() => None,
        };
        let done = Instant::now();
        let failure = match outcome {
            Some(Ok(r)) => r.err(),
            Some(Err(_)) => Some(fail(FailureKind::Timeout, "total request timeout")),
            None => Some(fail(
                FailureKind::Cancelled,
                match self.guard.tripped() {
                    Some(_) => "run stopped by its failure-rate limit before the request finished",
                    None => "run interrupted before the request finished",
                },
            )),
        };
        let out = self.finish_record(req, epoch, phase_start, start, done, st, failure, keep_text);
        self.guard.observe(&out.0);
        out
    }

    /// Fill in the tokenizer counts that [`Client::execute_deferred`] left
    /// undone in `run` (the batches a long epoch counted in the background
    /// joined, the rest encoded here in parallel, a chunk at a time), and
    /// return them as `(record id, count)` pairs.
    pub fn count_outputs(&self, run: &mut EpochRun) -> Vec<(u64, u64)> {
        let pending = std::mem::take(&mut run.uncounted);
        if pending.is_empty() {
            return Vec::new();
        }
        pending
            .finish(&self.tokenizer)
            .into_iter()
            .map(|(i, id, n)| {
                if let Some(rec) = i.and_then(|i| run.records.get_mut(i)) {
                    rec.counted_output_tokens = Some(n);
                }
                (id, n)
            })
            .collect()
    }

    /// The tokenizer of the run.
    pub(super) fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// Send `req` and wait for its response head, by `first_byte`. When a
    /// reused connection was closed by the server before any byte of a
    /// response (a keep-alive close racing the send), the request is sent
    /// once more on a fresh connection, `start` moves to that send and
    /// `st.resent` counts it; a server that answered, even with an error,
    /// is never asked twice.
    async fn send(
        &self,
        req: &PreparedRequest,
        start: &mut Instant,
        st: &mut StreamState,
    ) -> Result<Streamed, Failure> {
        let body = &req.http.body;
        if let Some(pool) = self.h1_pool() {
            let send = |fresh| pool.request(req.http.path, body.clone(), fresh);
            let classify = |e: &super::h1::H1Error| classify_as(e.is_timeout(), e);
            return self
                .send_resending(
                    start,
                    st,
                    send,
                    super::h1::H1Error::closed_before_response,
                    classify,
                )
                .await
                .map(Streamed::H1);
        }
        let url = format!("{}{}", self.base, req.http.path);
        let send = |fresh| {
            let client = if fresh { &self.fresh } else { self.pool() };
            client.post(&url).body(body.clone()).send()
        };
        self.send_resending(start, st, send, closed_before_response, classify)
            .await
            .map(Streamed::Reqwest)
    }

    /// The resend policy of [`Client::send`] over either client: `send(false)`
    /// on a pooled connection, and when its error is `closed` (no byte of a
    /// response came), `send(true)` once on a fresh one.
    async fn send_resending<T, E, F>(
        &self,
        start: &mut Instant,
        st: &mut StreamState,
        mut send: impl FnMut(bool) -> F,
        closed: impl Fn(&E) -> bool,
        classify: impl Fn(&E) -> Failure,
    ) -> Result<T, Failure>
    where
        E: std::error::Error,
        F: std::future::Future<Output = Result<T, E>>,
    {
        let first_byte = tokio::time::Instant::from_std(*start + self.timeouts.first_byte);
        let e = match tokio::time::timeout_at(first_byte, send(false)).await {
            Err(_) => return Err(fail(FailureKind::Timeout, NO_FIRST_BYTE)),
            Ok(Ok(r)) => return Ok(r),
            Ok(Err(e)) if closed(&e) => e,
            Ok(Err(e)) => return Err(classify(&e)),
        };
        st.resent += 1;
        *start = Instant::now();
        let first_byte = tokio::time::Instant::from_std(*start + self.timeouts.first_byte);
        match tokio::time::timeout_at(first_byte, send(true)).await {
            Err(_) => Err(fail(FailureKind::Timeout, NO_FIRST_BYTE)),
            Ok(Ok(r)) => Ok(r),
            Ok(Err(again)) => {
                let mut f = classify(&again);
                f.message = format!(
                    "{} (sent again on a fresh connection after: {})",
                    f.message,
                    error_chain(&e)
                );
                Err(f)
            }
        }
    }

    async fn stream(
        &self,
        req: &PreparedRequest,
        start_at: &mut Instant,
        st: &mut StreamState,
    ) -> Result<(), Failure> {
        let mut resp = self.send(req, start_at, st).await?;
        let start = *start_at;
        let first_byte = start + self.timeouts.first_byte;
        let status = resp.status();
        if !status.is_success() {
            let body = tokio::time::timeout(Duration::from_secs(5), resp.text())
                .await
                .unwrap_or_default();
            return Err(fail(
                FailureKind::HttpStatus,
                super::failure::status_message(status, &body),
            ));
        }
        let mut parser = self.backend.parser(&self.parser_opts, &req.http);
        let mut events = Vec::with_capacity(8);
        let idle = self.timeouts.idle;
        let timer = std::pin::pin!(BodyLimits::timer(start, first_byte, idle));
        let mut limits = BodyLimits::new(timer, first_byte, idle);
        while let Some((bytes, now)) = self.next_chunk(&mut resp, &mut limits).await? {
            let ms = (now - start).as_secs_f64() * 1e3;
            let r = parser.feed(&bytes, &mut st.text, &mut events);
            st.absorb(&mut events, ms);
            r.map_err(|e| fail(FailureKind::MalformedStream, e.0))?;
            if let Some(msg) = st.stream_error.take() {
                return Err(fail(FailureKind::StreamError, msg));
            }
        }
        let ms = start.elapsed().as_secs_f64() * 1e3;
        let r = parser.finish(&mut st.text, &mut events);
        st.absorb(&mut events, ms);
        r.map_err(|e| fail(FailureKind::MalformedStream, e.0))?;
        if let Some(msg) = st.stream_error.take() {
            return Err(fail(FailureKind::StreamError, msg));
        }
        if self.backend.end_marker() && !st.saw_done {
            return Err(fail(
                FailureKind::StreamError,
                "stream ended without its end marker",
            ));
        }
        Ok(())
    }

    /// The next piece of `resp`'s body and when it came, by the first-byte
    /// limit until one came (a server may send its headers at once and
    /// queue the request), then by the idle limit from the last piece
    /// ([`BodyLimits`], which this notes each piece in).
    pub(super) async fn next_chunk(
        &self,
        resp: &mut Streamed,
        limits: &mut BodyLimits<'_>,
    ) -> Result<Option<(bytes::Bytes, Instant)>, Failure> {
        let chunk = resp.chunk();
        let mut chunk = std::pin::pin!(chunk);
        loop {
            tokio::select! {
                biased;
                r = &mut chunk => {
                    let piece = r.map_err(|e| fail(FailureKind::StreamError, format!("body broke off: {e}")))?;
                    if let Some((_, came)) = &piece {
                        limits.got(*came);
                    }
                    return Ok(piece);
                }
                () = limits.sleep.as_mut() => {
                    if let Some(f) = limits.expired() {
                        return Err(f);
                    }
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn finish_record(
        &self,
        req: &PreparedRequest,
        epoch: u32,
        phase_start: Instant,
        start: Instant,
        done: Instant,
        mut st: StreamState,
        failure: Option<Failure>,
        keep_text: bool,
    ) -> (RequestRecord, Option<String>) {
        let has_text = !st.text.is_empty() || st.chunks.is_empty();
        let defer = has_text && st.usage_completion.is_some();
        let counted = (has_text && !defer).then(|| self.tokenizer.count(&st.text) as u64);
        let text = if defer {
            Some(std::mem::take(&mut st.text))
        } else {
            keep_text.then(|| st.text.clone())
        };
        let assumed = if self.backend.events_are_tokens() {
            1
        } else {
            self.opts.tokens_per_chunk
        };
        // Tokens per chunk: the server's usage after each chunk when it sent
        // one (exact), else with --use-spec-decode the tokenizer's count of
        // each chunk's text (the stream is over: outside its timings), else
        // the final usage shared over the chunks.
        if !st.exact_chunk_tokens() && !st.counted_chunk_tokens(&self.tokenizer) {
            chunk_tokens(&mut st.chunks, st.usage_completion, assumed);
        }
        let reasoning = st.reasoning();
        let mut rec = RequestRecord::from_raw(RawRequest {
            id: req.id,
            epoch,
            start_s: (start - phase_start).as_secs_f64(),
            done_ms: (done - start).as_secs_f64() * 1e3,
            chunks: st.chunks,
            input_tokens: req.prompt_tokens as u64,
            requested_output_tokens: req.max_tokens as u64,
            usage_output_tokens: st.usage_completion,
            usage_input_tokens: st.usage_prompt,
            counted_output_tokens: counted,
            server: st.latency,
            failure,
            resent: st.resent,
        });
        rec.reasoning = reasoning;
        let forced = req.force_output_len && self.backend.can_force_length();
        if rec.failure.is_none() && forced && rec.output_tokens < req.max_tokens as u64 {
            rec.failure = Some(fail(
                FailureKind::TruncatedOutput,
                format!(
                    "{} output tokens, {} forced",
                    rec.output_tokens, req.max_tokens
                ),
            ));
        }
        if rec.failure.is_none() && rec.chunks.is_empty() && req.max_tokens > 0 {
            rec.failure = Some(fail(
                FailureKind::TruncatedOutput,
                "no output token in the stream",
            ));
        }
        (rec, text)
    }
}

/// The first-byte and idle limits of one response body on one timer that
/// only ever moves later. A piece of body only notes when it came
/// ([`BodyLimits::got`]), so no timer is set or cleared per chunk. The timer
/// first fires at the earlier of the first-byte deadline and the idle limit
/// from the request's start ([`BodyLimits::timer`]): a piece comes after the
/// start, so its idle limit is never sooner. When it fires before a limit
/// has passed it moves on to the next time one could. Moving a timer
/// sooner would cost a wake-up of the runtime's driver (tokio writes to its
/// `eventfd` when a timer is set before the one it sleeps for), a system
/// call a request.
pub(super) struct BodyLimits<'a> {
    sleep: std::pin::Pin<&'a mut tokio::time::Sleep>,
    first_byte: Instant,
    idle: Duration,
    /// When the last piece of body came, once one did.
    last: Option<Instant>,
}

impl<'a> BodyLimits<'a> {
    /// The timer of the limits of a body requested at `start`.
    pub(super) fn timer(start: Instant, first_byte: Instant, idle: Duration) -> tokio::time::Sleep {
        tokio::time::sleep_until(tokio::time::Instant::from_std(first_byte.min(start + idle)))
    }

    /// Limits on `sleep`, made by [`BodyLimits::timer`] with the same
    /// `first_byte` and `idle`.
    pub(super) fn new(
        sleep: std::pin::Pin<&'a mut tokio::time::Sleep>,
        first_byte: Instant,
        idle: Duration,
    ) -> Self {
        BodyLimits {
            sleep,
            first_byte,
            idle,
            last: None,
        }
    }

    /// A piece of body came at `at` (not before the request's start): from
    /// now on the idle limit runs from it.
    fn got(&mut self, at: Instant) {
        self.last = Some(at);
    }

    /// The timer fired: the failure when a limit has passed, else `None`
    /// with the timer moved on to the next time one could pass.
    fn expired(&mut self) -> Option<Failure> {
        // The runtime's clock (which tests may pause) is the monotonic one.
        let now = tokio::time::Instant::now().into_std();
        let due = match self.last {
            None if now >= self.first_byte => {
                return Some(fail(FailureKind::Timeout, NO_FIRST_BYTE))
            }
            // A first piece coming from now on has its idle limit after
            // now + idle.
            None => self.first_byte.min(now + self.idle),
            Some(last) if now >= last + self.idle => return Some(fail(FailureKind::Timeout, IDLE)),
            Some(last) => last + self.idle,
        };
        self.sleep
            .as_mut()
            .reset(tokio::time::Instant::from_std(due));
        None
    }
}

/// A response being read: through reqwest, or over the direct HTTP/1.1
/// path.
pub(super) enum Streamed {
    Reqwest(reqwest::Response),
    H1(super::h1::Response),
}

impl Streamed {
    /// The response's status.
    pub(super) fn status(&self) -> reqwest::StatusCode {
        match self {
            Streamed::Reqwest(r) => r.status(),
            Streamed::H1(r) => r.status(),
        }
    }

    /// The next piece of the body and when it came (`None` at its end), or
    /// the error chain of why it broke off. Over the direct path a piece
    /// came when the kernel received the read that completed it
    /// ([`super::arrival`]); through reqwest, when it is handed over.
    async fn chunk(&mut self) -> Result<Option<(bytes::Bytes, Instant)>, String> {
        match self {
            Streamed::Reqwest(r) => r
                .chunk()
                .await
                .map(|p| p.map(|b| (b, Instant::now())))
                .map_err(|e| error_chain(&e)),
            Streamed::H1(r) => r.chunk().await.map_err(|e| error_chain(&e)),
        }
    }

    /// The rest of the body as text (lossy), or as much as came before an
    /// error.
    async fn text(&mut self) -> String {
        let mut body = Vec::new();
        while let Ok(Some((b, _))) = self.chunk().await {
            body.extend_from_slice(&b);
        }
        String::from_utf8_lossy(&body).into_owned()
    }
}

/// How long an idle pooled connection is kept. Below the 5 s keep-alive
/// timeout of common servers (uvicorn, which vLLM and SGLang use;
/// cpp-httplib, which llama.cpp uses; Node), so that the client drops an
/// idle connection before the server closes it under a new request.
pub const POOL_IDLE: Duration = Duration::from_secs(4);

#[cfg(test)]
mod tests {
    use super::*;

    /// The limits' timer never moves sooner, and still ends a body at the
    /// right limit: the idle one from the last piece, or the first-byte
    /// deadline when no piece came.
    #[tokio::test(start_paused = true)]
    async fn body_limits_move_their_timer_only_later() {
        let s = |n: u64| Duration::from_secs(n);
        let start = tokio::time::Instant::now().into_std();
        let (first_byte, idle) = (start + s(600), s(120));

        // A piece at 1 s: the timer first fires at 120 s, moves to 121 s,
        // and the body fails there as idle.
        let timer = std::pin::pin!(BodyLimits::timer(start, first_byte, idle));
        let mut l = BodyLimits::new(timer, first_byte, idle);
        let first = l.sleep.deadline();
        assert_eq!(first.into_std(), start + s(120));
        l.got(start + s(1));
        assert_eq!(l.sleep.deadline(), first, "a piece does not move the timer");
        l.sleep.as_mut().await;
        assert!(l.expired().is_none(), "121 s is the idle limit, not 120 s");
        assert_eq!(l.sleep.deadline().into_std(), start + s(121));
        l.sleep.as_mut().await;
        let f = l.expired().expect("idle for 120 s");
        assert_eq!(f.message, IDLE);

        // No piece: 120 s, 240 s, ..., then the first-byte deadline.
        let start = tokio::time::Instant::now().into_std();
        let first_byte = start + s(600);
        let timer = std::pin::pin!(BodyLimits::timer(start, first_byte, idle));
        let mut l = BodyLimits::new(timer, first_byte, idle);
        let mut last = l.sleep.deadline();
        let failure = loop {
            l.sleep.as_mut().await;
            if let Some(f) = l.expired() {
                break f;
            }
            assert!(l.sleep.deadline() > last, "the timer moved on, later");
            last = l.sleep.deadline();
        };
        assert_eq!(failure.message, NO_FIRST_BYTE);
        assert_eq!(tokio::time::Instant::now().into_std(), first_byte);

        // A first-byte deadline sooner than the idle limit comes first.
        let start = tokio::time::Instant::now().into_std();
        let t = BodyLimits::timer(start, start + s(30), idle);
        assert_eq!(t.deadline().into_std(), start + s(30));
    }
}
