//! The streaming hot path over plain HTTP/1.1: hyper's connection, driven
//! by the task that reads the body.
//!
//! A pooled client (reqwest, hyper-util) runs each connection in a task of
//! its own, which hands every decoded piece of the body to the reading task
//! through a channel: two task wake-ups per read. Here the task that sends
//! the request also polls the connection, so a read of the socket wakes one
//! task, which decodes the chunk and takes its timestamp in the same poll.
//! Connections are kept in a pool of their own between requests (idle ones
//! are not polled; a server's close is seen when one is taken, or as the
//! request goes out, where the client resends once on a fresh connection).
//! TLS endpoints keep the reqwest path.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::FutureExt;
use http_body::Body;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::http1;
use hyper::header::{HeaderMap, HeaderValue, HOST};
use hyper::{Method, Request, StatusCode};
use tokio::net::{TcpSocket, TcpStream};

use super::arrival::StampedTcp;
use crate::netstamp::Arrival;

type Conn = http1::Connection<StampedTcp, Full<Bytes>>;

/// Why a request over the HTTP/1.1 path got no response.
#[derive(Debug, thiserror::Error)]
pub(super) enum H1Error {
    /// The host name does not resolve.
    #[error("error sending request for url ({url}): dns error: {source}")]
    Resolve { url: String, source: std::io::Error },
    /// The connection could not be made.
    #[error("error sending request for url ({url}): tcp connect error: {source}")]
    Connect { url: String, source: std::io::Error },
    /// The connection was not made within the connect limit.
    #[error(
        "error sending request for url ({url}): tcp connect error: connect timeout after {limit:?}"
    )]
    ConnectTimeout { url: String, limit: Duration },
    /// The connection closed before it took the request: nothing was sent.
    #[error("error sending request for url ({url}): connection closed before the request was sent: {source}")]
    Closed { url: String, source: hyper::Error },
    /// The request or its response head failed on the connection.
    #[error("error sending request for url ({url}): {source}")]
    Http { url: String, source: hyper::Error },
}

impl H1Error {
    /// A connect that ran out of time.
    pub(super) fn is_timeout(&self) -> bool {
        matches!(self, H1Error::ConnectTimeout { .. })
    }

    /// The connection ended (EOF or the dispatcher gave up the request)
    /// before any byte of a response: a server closing a kept-alive
    /// connection as the request went out. Safe to send once more.
    pub(super) fn closed_before_response(&self) -> bool {
        match self {
            H1Error::Closed { .. } => true,
            H1Error::Http { source, .. } => source.is_incomplete_message() || source.is_canceled(),
            _ => false,
        }
    }
}

/// True when an HTTP proxy set in the environment (`http_proxy`,
/// `all_proxy`, either case) may apply to `base`: its host is not a
/// loopback address. reqwest honours those variables (and `no_proxy`), so
/// such a URL keeps the reqwest path rather than bypass the proxy.
pub(super) fn proxy_may_apply(base: &url::Url, env: impl Fn(&str) -> Option<String>) -> bool {
    let set = ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"]
        .iter()
        .any(|k| env(k).is_some_and(|v| !v.trim().is_empty()));
    set && !is_loopback(base)
}

/// True when `base`'s host is this machine: `localhost`, or a loopback
/// address (127.0.0.0/8, `::1`).
pub(crate) fn is_loopback(base: &url::Url) -> bool {
    match base.host() {
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// One HTTP/1.1 connection and the handle that sends on it.
struct PooledConn {
    send: http1::SendRequest<Full<Bytes>>,
    /// The connection future; dropped once it has ended, so that a request
    /// still queued on it is answered with an error (which
    /// [`H1Error::closed_before_response`] takes), never left waiting.
    conn: Option<Pin<Box<Conn>>>,
    /// How the connection future ended, once it has.
    ended: Option<Result<(), hyper::Error>>,
    idle_since: Instant,
    /// When the connection's last read came ([`super::arrival`]).
    arrival: Arc<Arrival>,
}

impl PooledConn {
    /// Drive the connection (reads, writes, keep-alive state).
    fn poll_conn(&mut self, cx: &mut Context<'_>) {
        if let Some(c) = self.conn.as_mut() {
            if let Poll::Ready(r) = c.as_mut().poll(cx) {
                self.ended = Some(r);
                self.conn = None;
            }
        }
    }

    /// Ready for a request now (no waiting): the connection is open and
    /// idle.
    fn ready_now(&mut self) -> bool {
        let mut ready = std::future::poll_fn(|cx| {
            self.poll_conn(cx);
            self.send.poll_ready(cx)
        });
        matches!((&mut ready).now_or_never(), Some(Ok(()))) && self.ended.is_none()
    }
}

/// The connections to one server from one local address.
pub(super) struct Pool {
    inner: Arc<PoolInner>,
}

struct PoolInner {
    /// `host:port` to resolve and connect to.
    host: String,
    port: u16,
    /// The base URL as given (for messages).
    url: String,
    /// The path of the base URL, without its trailing `/`.
    prefix: String,
    /// Every request's headers, `Host` included.
    headers: HeaderMap,
    local: Option<IpAddr>,
    connect_timeout: Duration,
    idle_limit: Duration,
    /// Idle connections of each load thread ([`super::spawner::slot`]): a
    /// socket is served by the reactor of the runtime that opened it, so
    /// only that thread reuses it.
    idle: Vec<Mutex<Vec<PooledConn>>>,
}

impl Pool {
    /// A pool for `base` (an `http://` URL without query), sending
    /// `headers` with every request; `None` when `base` needs another path
    /// (TLS, a query, credentials in the URL).
    pub(super) fn for_url(
        base: &url::Url,
        headers: &HeaderMap,
        local: Option<IpAddr>,
        connect_timeout: Duration,
        idle_limit: Duration,
    ) -> Option<Pool> {
        if base.scheme() != "http"
            || base.query().is_some()
            || !base.username().is_empty()
            || base.password().is_some()
        {
            return None;
        }
        let host = base.host_str()?.to_string();
        let port = base.port_or_known_default()?;
        let host_header = match base.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.clone(),
        };
        let mut headers = headers.clone();
        headers.insert(HOST, HeaderValue::from_str(&host_header).ok()?);
        headers
            .entry(hyper::header::ACCEPT)
            .or_insert(HeaderValue::from_static("*/*"));
        // `[::1]` in a URL is `::1` to connect to.
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        Some(Pool {
            inner: Arc::new(PoolInner {
                host,
                port,
                url: base.as_str().trim_end_matches('/').to_string(),
                prefix: base.path().trim_end_matches('/').to_string(),
                headers,
                local,
                connect_timeout,
                idle_limit,
                idle: (0..super::spawner::MAX_LOAD_THREADS)
                    .map(|_| Mutex::new(Vec::new()))
                    .collect(),
            }),
        })
    }

    /// Send `body` to `path` (under the base URL) and wait for the
    /// response head, on an idle connection of the pool or, with `fresh` or
    /// when none is idle, on a new one. The connection is driven by the
    /// caller's task, here and while it reads the body.
    pub(super) async fn request(
        &self,
        path: &str,
        body: Bytes,
        fresh: bool,
    ) -> Result<Response, H1Error> {
        let inner = &self.inner;
        let url = || format!("{}{}", inner.url, path);
        let mut conn = match (!fresh).then(|| inner.take_idle()).flatten() {
            Some(c) => c,
            None => inner.connect(&url()).await?,
        };
        let mut req = Request::new(Full::new(body));
        *req.method_mut() = Method::POST;
        *req.uri_mut() =
            format!("{}{}", inner.prefix, path)
                .parse()
                .map_err(|_| H1Error::Connect {
                    url: url(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        "bad request path",
                    ),
                })?;
        *req.headers_mut() = inner.headers.clone();
        let http = |source| H1Error::Http { url: url(), source };
        // Wait until the connection takes a request (a new one at once). It
        // fails only when the connection closed: nothing was sent.
        std::future::poll_fn(|cx| {
            conn.poll_conn(cx);
            conn.send.poll_ready(cx)
        })
        .await
        .map_err(|source| H1Error::Closed { url: url(), source })?;
        let mut sent = std::pin::pin!(conn.send.send_request(req));
        let head = std::future::poll_fn(|cx| {
            conn.poll_conn(cx);
            sent.as_mut().poll(cx)
        })
        .await
        .map_err(http)?;
        let (parts, body) = head.into_parts();
        Ok(Response {
            status: parts.status,
            body,
            conn: Some(conn),
            finished: false,
            pool: inner.clone(),
        })
    }
}

impl PoolInner {
    /// The idle connections of the calling load thread.
    fn idle_here(&self) -> &Mutex<Vec<PooledConn>> {
        &self.idle[super::spawner::slot()]
    }

    /// The most recently used idle connection that is still open and not
    /// older than the idle limit; older and closed ones are dropped.
    fn take_idle(&self) -> Option<PooledConn> {
        loop {
            let mut c = self.idle_here().lock().ok()?.pop()?;
            if c.idle_since.elapsed() < self.idle_limit && c.ready_now() {
                return Some(c);
            }
        }
    }

    /// Back into the pool once its response was read to the end.
    fn put_back(&self, mut c: PooledConn) {
        if !c.ready_now() {
            return;
        }
        c.idle_since = Instant::now();
        if let Ok(mut idle) = self.idle_here().lock() {
            // Drop the connections idle past the limit (the oldest are
            // first) so that a quiet pool does not keep them open.
            if idle
                .first()
                .is_some_and(|o| o.idle_since.elapsed() >= self.idle_limit)
            {
                idle.retain(|o| o.idle_since.elapsed() < self.idle_limit);
            }
            idle.push(c);
        }
    }

    /// A new connection, by the connect limit.
    async fn connect(&self, url: &str) -> Result<PooledConn, H1Error> {
        let limit = self.connect_timeout;
        let tcp = tokio::time::timeout(limit, self.open_tcp(url))
            .await
            .map_err(|_| H1Error::ConnectTimeout {
                url: url.to_string(),
                limit,
            })??;
        let tcp = StampedTcp::new(tcp).map_err(|source| H1Error::Connect {
            url: url.to_string(),
            source,
        })?;
        let arrival = tcp.arrival();
        let (send, conn) = http1::Builder::new()
            .handshake(tcp)
            .await
            .map_err(|source| H1Error::Http {
                url: url.to_string(),
                source,
            })?;
        Ok(PooledConn {
            send,
            conn: Some(Box::pin(conn)),
            ended: None,
            idle_since: Instant::now(),
            arrival,
        })
    }

    /// A TCP connection to the first of the host's addresses that accepts
    /// one, from the pool's local address when it has one.
    async fn open_tcp(&self, url: &str) -> Result<TcpStream, H1Error> {
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((self.host.as_str(), self.port))
            .await
            .map_err(|source| H1Error::Resolve {
                url: url.to_string(),
                source,
            })?
            .filter(|a| self.local.is_none_or(|l| l.is_ipv4() == a.is_ipv4()))
            .collect();
        let mut last = std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no address of the host matches the source address",
        );
        for addr in addrs {
            match self.open_one(addr).await {
                Ok(s) => return Ok(s),
                Err(e) => last = e,
            }
        }
        Err(H1Error::Connect {
            url: url.to_string(),
            source: last,
        })
    }

    async fn open_one(&self, addr: SocketAddr) -> std::io::Result<TcpStream> {
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        if let Some(local) = self.local {
            socket.bind(SocketAddr::new(local, 0))?;
        }
        let s = socket.connect(addr).await?;
        s.set_nodelay(true)?;
        Ok(s)
    }
}

/// A response whose body is read by polling its connection and its body in
/// the caller's task. Read to the end, its connection goes back to the
/// pool when it is dropped; otherwise the connection is closed.
pub(super) struct Response {
    status: StatusCode,
    body: Incoming,
    conn: Option<PooledConn>,
    finished: bool,
    pool: Arc<PoolInner>,
}

impl Response {
    /// The response's status.
    pub(super) fn status(&self) -> StatusCode {
        self.status
    }

    /// The next piece of the body and when its bytes came (the kernel's
    /// receive stamp of the read that completed it, [`super::arrival`]);
    /// `None` at its end.
    pub(super) async fn chunk(&mut self) -> Result<Option<(Bytes, Instant)>, hyper::Error> {
        let piece = std::future::poll_fn(|cx| self.poll_chunk(cx)).await?;
        Ok(piece.map(|b| {
            let came = self.conn.as_ref().and_then(|c| c.arrival.last_read());
            (b, came.unwrap_or_else(Instant::now))
        }))
    }

    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Bytes>, hyper::Error>> {
        if self.finished {
            return Poll::Ready(Ok(None));
        }
        if let Some(c) = self.conn.as_mut() {
            c.poll_conn(cx);
        }
        loop {
            match Pin::new(&mut self.body).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(d) if !d.is_empty() => return Poll::Ready(Ok(Some(d))),
                    _ => continue,
                },
                Poll::Ready(Some(Err(e))) => {
                    self.conn = None;
                    return Poll::Ready(Err(e));
                }
                Poll::Ready(None) => {
                    // hyper hands a connection's failure to a body still
                    // streaming; an end is the body's whole. (A connection
                    // that failed after it is not put back: see Drop.)
                    self.finished = true;
                    return Poll::Ready(Ok(None));
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl Drop for Response {
    fn drop(&mut self) {
        if let (true, Some(c)) = (self.finished, self.conn.take()) {
            if c.ended.is_none() {
                self.pool.put_back(c);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn pool(url: &str) -> Option<Pool> {
        let base = url::Url::parse(url).unwrap();
        Pool::for_url(
            &base,
            &HeaderMap::new(),
            None,
            Duration::from_secs(2),
            Duration::from_secs(4),
        )
    }

    #[test]
    fn only_plain_http_urls_take_the_direct_path() {
        let p = pool("http://localhost:8080/prefix/").unwrap();
        assert_eq!(p.inner.headers[HOST], "localhost:8080");
        assert_eq!(p.inner.prefix, "/prefix");
        assert_eq!((p.inner.host.as_str(), p.inner.port), ("localhost", 8080));
        let p = pool("http://[::1]").unwrap();
        assert_eq!(p.inner.headers[HOST], "[::1]");
        assert_eq!((p.inner.host.as_str(), p.inner.port), ("::1", 80));
        assert_eq!(p.inner.prefix, "");
        assert!(pool("https://example.com").is_none());
        assert!(pool("http://example.com/?a=1").is_none());
        assert!(pool("http://u:p@example.com").is_none());
    }

    #[test]
    fn a_proxy_in_the_environment_keeps_remote_urls_on_reqwest() {
        let url = |u: &str| url::Url::parse(u).unwrap();
        let proxy = |k: &str| {
            (k == "HTTPS_PROXY" || k == "http_proxy").then(|| "http://p:3128".to_string())
        };
        assert!(proxy_may_apply(&url("http://10.0.0.5:8000"), proxy));
        assert!(proxy_may_apply(&url("http://llm.internal"), proxy));
        for local in [
            "http://127.0.0.1:8000",
            "http://localhost",
            "http://[::1]:80",
        ] {
            assert!(!proxy_may_apply(&url(local), proxy), "{local}");
        }
        assert!(!proxy_may_apply(&url("http://10.0.0.5:8000"), |_| None));
        assert!(!proxy_may_apply(&url("http://10.0.0.5"), |_| Some(
            " ".into()
        )));
    }

    /// A server that answers every request with a chunked `hello` and
    /// reports each request's head; with `close`, it closes the connection
    /// after each answer (as llama.cpp's server does after a stream).
    async fn server(close: bool) -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut conn_no = 0;
            while let Ok((mut s, _)) = l.accept().await {
                conn_no += 1;
                let tx = tx.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    loop {
                        let mut b = [0u8; 4096];
                        let Ok(n) = s.read(&mut b).await else { return };
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&b[..n]);
                        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                            continue;
                        };
                        let head = String::from_utf8_lossy(&buf[..end]).to_string();
                        let len: usize = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length: ")
                                    .map(|v| v.trim().parse().unwrap())
                            })
                            .unwrap_or(0);
                        if buf.len() < end + 4 + len {
                            continue;
                        }
                        buf.drain(..end + 4 + len);
                        let _ = tx.send(format!("conn {conn_no}: {head}"));
                        let _ = s
                            .write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nhe\r\n3\r\nllo\r\n0\r\n\r\n")
                            .await;
                        if close {
                            return;
                        }
                    }
                });
            }
        });
        (url, rx)
    }

    async fn body(p: &Pool, fresh: bool) -> Result<String, H1Error> {
        let mut r = p.request("/v1/x", Bytes::from_static(b"{}"), fresh).await?;
        assert_eq!(r.status(), StatusCode::OK);
        let mut out = Vec::new();
        while let Some((b, _)) = r.chunk().await.unwrap() {
            out.extend_from_slice(&b);
        }
        Ok(String::from_utf8(out).unwrap())
    }

    #[tokio::test]
    async fn a_kept_alive_connection_is_reused_and_a_closed_one_replaced() {
        let (url, mut heads) = server(false).await;
        let p = pool(&format!("{url}/base")).unwrap();
        for _ in 0..3 {
            assert_eq!(body(&p, false).await.unwrap(), "hello");
        }
        for _ in 0..3 {
            let h = heads.recv().await.unwrap();
            assert!(h.starts_with("conn 1: POST /base/v1/x HTTP/1.1"), "{h}");
            let host = url.trim_start_matches("http://");
            assert!(
                h.to_ascii_lowercase().contains(&format!("host: {host}")),
                "{h}"
            );
        }
        // A fresh request opens a connection of its own.
        assert_eq!(body(&p, true).await.unwrap(), "hello");
        assert!(heads.recv().await.unwrap().starts_with("conn 2: "));

        // A server that closes after each answer: the closed connection is
        // seen when taken from the pool (or the send fails as closed before
        // any response, which the client resends), never a half answer.
        let (url, mut heads) = server(true).await;
        let p = pool(&url).unwrap();
        for i in 1..=3 {
            tokio::time::sleep(Duration::from_millis(20)).await;
            assert_eq!(body(&p, false).await.unwrap(), "hello");
            let h = heads.recv().await.unwrap();
            assert!(h.starts_with(&format!("conn {i}: ")), "{h}");
        }
    }

    /// A server that closes after each answer, asked again at once: the
    /// close races the next request on the reused connection. Each request
    /// ends at once, answered or with an error the client resends (never
    /// left waiting on a connection that ended), and every resend is
    /// answered.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_close_racing_the_next_request_never_leaves_it_waiting() {
        let (url, _heads) = server(true).await;
        let p = pool(&url).unwrap();
        for _ in 0..200 {
            let once = tokio::time::timeout(Duration::from_secs(2), body(&p, false))
                .await
                .expect("a request on a closing connection was left waiting");
            match once {
                Ok(b) => assert_eq!(b, "hello"),
                Err(e) => {
                    assert!(e.closed_before_response(), "{e}");
                    assert_eq!(body(&p, true).await.unwrap(), "hello");
                }
            }
        }
    }

    #[tokio::test]
    async fn a_refused_connect_names_the_url() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        drop(l);
        let e = body(&pool(&url).unwrap(), false).await.unwrap_err();
        assert!(matches!(e, H1Error::Connect { .. }), "{e}");
        assert!(!e.closed_before_response() && !e.is_timeout());
        assert!(e.to_string().contains(&format!("{url}/v1/x")), "{e}");
    }
}
