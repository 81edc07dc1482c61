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
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};

use crate::netstamp::{enable_stamps, Arrival};
use tokio::net::{TcpListener, TcpStream};

/// Per-connection kill switch and receive times, reachable from handlers
/// via `ConnectInfo`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Conn(Arc<ConnState>);

#[derive(Debug, Default)]
struct ConnState {
    state: AtomicU8,
    /// When the connection's last read came (the kernel's stamp).
    arrival: Arrival,
}

const LIVE: u8 = 0;
const KILLED: u8 = 1;
const SPENT: u8 = 2;

impl Conn {
    /// Kill the connection: the next I/O on it fails and it closes with RST.
    pub(crate) fn reset(&self) {
        self.0.state.store(KILLED, Ordering::Release);
    }

    fn killed(&self) -> bool {
        self.0.state.load(Ordering::Acquire) == KILLED
    }

    /// When the bytes of the connection's last read reached the machine
    /// (the kernel's receive stamp, else the read's time): read once a
    /// request's body is in, the moment the request was whole on the
    /// machine, before any of the server's own work on it.
    pub(crate) fn last_read(&self) -> Option<Instant> {
        self.0.arrival.last_read()
    }

    /// Mark a live connection as done after its response (llama.cpp closes
    /// a connection after each stream): the next request that arrives on it
    /// is read and dropped unseen, and the connection closes cleanly (FIN)
    /// without a byte of response.
    pub(crate) fn mark_spent(&self) {
        let _ = self
            .0
            .state
            .compare_exchange(LIVE, SPENT, Ordering::AcqRel, Ordering::Acquire);
    }

    /// True once [`Conn::mark_spent`] was called.
    fn spent(&self) -> bool {
        self.0.state.load(Ordering::Acquire) == SPENT
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

/// A TCP stream with a kill switch, whose reads note when their bytes came.
pub(crate) struct SimIo {
    inner: TcpStream,
    ctl: Conn,
    stamps: bool,
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
        let this = self.get_mut();
        let fd = this.inner.as_raw_fd();
        loop {
            ready!(this.inner.poll_read_ready(cx))?;
            // SAFETY: recv only writes into the unfilled part, and exactly
            // the bytes it wrote are marked filled.
            let dst = unsafe { buf.unfilled_mut() };
            let (arrival, stamps) = (&this.ctl.0.arrival, this.stamps);
            match this
                .inner
                .try_io(Interest::READABLE, || arrival.read(fd, dst, stamps))
            {
                Ok(n) => {
                    // SAFETY: the kernel wrote `n` bytes there.
                    unsafe { buf.assume_init(n) };
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
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
                None => match listen(self.addr).and_then(TcpListener::from_std) {
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
                        let stamps = enable_stamps(&s);
                        return (SimIo { inner: s, ctl: Conn::default(), stamps }, a);
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

/// The listen backlog: as many connections as may wait to be accepted.
/// Servers in the field keep thousands (uvicorn 2,048; cpp-httplib, which
/// llama.cpp uses, the system's maximum); with the 128 of
/// `std::net::TcpListener::bind`, a benchmark opening 1,000 connections at
/// once lost SYNs and waited out the 1 s retransmit on some of them.
pub(crate) const BACKLOG: i32 = 4096;

/// A non-blocking listener on `addr` with [`BACKLOG`] (the kernel caps it
/// at `net.core.somaxconn`).
pub(crate) fn listen(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    s.set_reuse_address(true)?;
    s.bind(&addr.into())?;
    s.listen(BACKLOG)?;
    s.set_nonblocking(true)?;
    Ok(s.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hundreds of connects at once all complete without an accept, where
    /// std's backlog of 128 left the rest waiting out the SYN retransmit.
    #[tokio::test]
    async fn hundreds_of_connects_at_once_wait_in_the_backlog() {
        let somaxconn: usize = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(4096);
        let n = 400.min(somaxconn.saturating_sub(8));
        let l = TcpListener::from_std(listen("127.0.0.1:0".parse().unwrap()).unwrap()).unwrap();
        let addr = l.local_addr().unwrap();
        let connects = (0..n).map(|_| {
            tokio::time::timeout(
                Duration::from_millis(700),
                tokio::net::TcpStream::connect(addr),
            )
        });
        let done = futures_util::future::join_all(connects).await;
        let ok = done.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
        assert_eq!(ok, n, "{} of {n} connects waited past 700 ms", n - ok);
        drop(l);
    }
}
