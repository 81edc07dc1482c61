//! The simulator's own listener and connection type, so that faults can be
//! honest at the TCP level:
//!
//! * [`Conn::reset`] marks a connection dead: its next read or write fails
//!   and, when hyper drops it, the socket is closed with `SO_LINGER` 0, so
//!   the client gets a TCP RST (`ECONNRESET`), not a clean FIN;
//! * during a refusal window ([`Downtime`]) the listening socket is closed
//!   (new connections get `ECONNREFUSED`, queued ones are reset by the
//!   kernel) and re-bound to the same address when the window ends.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Per-connection kill switch, reachable from handlers via `ConnectInfo`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Conn(Arc<AtomicU8>);

const LIVE: u8 = 0;
const KILLED: u8 = 1;
const SPENT: u8 = 2;

impl Conn {
    /// Kill the connection: the next I/O on it fails and it closes with RST.
    pub(crate) fn reset(&self) {
        self.0.store(KILLED, Ordering::Release);
    }

    fn killed(&self) -> bool {
        self.0.load(Ordering::Acquire) == KILLED
    }

    /// Mark a live connection as done after its response (llama.cpp closes
    /// a connection after each stream): the next request that arrives on it
    /// is read and dropped unseen, and the connection closes cleanly (FIN)
    /// without a byte of response.
    pub(crate) fn mark_spent(&self) {
        let _ = self
            .0
            .compare_exchange(LIVE, SPENT, Ordering::AcqRel, Ordering::Acquire);
    }

    /// True once [`Conn::mark_spent`] was called.
    fn spent(&self) -> bool {
        self.0.load(Ordering::Acquire) == SPENT
    }
}

impl Connected<IncomingStream<'_, SimListener>> for Conn {
    fn connect_info(stream: IncomingStream<'_, SimListener>) -> Self {
        stream.io().ctl.clone()
    }
}

/// The refusal window shared by the handlers and the listener.
#[derive(Debug, Default)]
pub(crate) struct Downtime {
    until: Mutex<Option<Instant>>,
    notify: tokio::sync::Notify,
}

impl Downtime {
    /// Take the server down from now for `d`.
    pub(crate) fn start(&self, d: Duration) {
        *self.until.lock().expect("downtime lock") = Some(Instant::now() + d);
        self.notify.notify_one();
    }

    /// The end of the current window, if one is open.
    pub(crate) fn down_until(&self) -> Option<Instant> {
        let u = *self.until.lock().expect("downtime lock");
        u.filter(|t| *t > Instant::now())
    }
}

/// A TCP stream with a kill switch.
pub(crate) struct SimIo {
    inner: TcpStream,
    ctl: Conn,
}

impl SimIo {
    fn dead<T>(&self) -> Poll<io::Result<T>> {
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "simulated connection reset",
        )))
    }
}

impl Drop for SimIo {
    fn drop(&mut self) {
        if self.ctl.killed() {
            let _ = self.inner.set_zero_linger();
        }
    }
}

impl AsyncRead for SimIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.ctl.killed() {
            return self.dead();
        }
        if self.ctl.spent() {
            // Whatever arrives is dropped and reads as the end of the stream.
            let mut scratch = [0u8; 4096];
            let mut drop_buf = ReadBuf::new(&mut scratch);
            return match Pin::new(&mut self.get_mut().inner).poll_read(cx, &mut drop_buf) {
                Poll::Ready(Ok(())) => Poll::Ready(Ok(())),
                other => other,
            };
        }
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for SimIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.ctl.killed() {
            return self.dead();
        }
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.ctl.killed() {
            return self.dead();
        }
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.ctl.killed() {
            return self.dead();
        }
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.ctl.killed() {
            return self.dead();
        }
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// The listener: TCP with `TCP_NODELAY`, closed during refusal windows.
pub(crate) struct SimListener {
    addr: SocketAddr,
    inner: Option<TcpListener>,
    down: Arc<Downtime>,
}

impl SimListener {
    /// Wrap a bound listener.
    pub(crate) fn new(l: TcpListener, down: Arc<Downtime>) -> io::Result<Self> {
        Ok(SimListener {
            addr: l.local_addr()?,
            inner: Some(l),
            down,
        })
    }
}

impl Listener for SimListener {
    type Io = SimIo;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (SimIo, SocketAddr) {
        loop {
            if let Some(until) = self.down.down_until() {
                self.inner = None;
                tokio::time::sleep_until(until.into()).await;
                continue;
            }
            let l = match &self.inner {
                Some(l) => l,
                None => match TcpListener::bind(self.addr).await {
                    Ok(l) => self.inner.insert(l),
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                },
            };
            tokio::select! {
                r = l.accept() => match r {
                    Ok((s, a)) => {
                        let _ = s.set_nodelay(true);
                        return (SimIo { inner: s, ctl: Conn::default() }, a);
                    }
                    // Per-connection errors (e.g. aborted handshakes) and
                    // resource limits: pause briefly, as axum does.
                    Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                },
                _ = self.down.notify.notified() => {}
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.addr)
    }
}
