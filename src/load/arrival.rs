//! The client's TCP stream on the direct HTTP/1.1 path: each read notes
//! when its bytes reached this machine ([`crate::netstamp`]).

use std::io;
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Instant;

use hyper::rt::{Read, ReadBufCursor, Write};
use tokio::io::unix::AsyncFd;
use tokio::net::TcpStream;

use crate::netstamp::{enable_stamps, Arrival};

/// A TCP stream that notes when each read's bytes came ([`Arrival`]), for
/// hyper's connection. It reads with `recvmsg` through the reactor's
/// readiness directly ([`AsyncFd`]), so that a read shorter than the buffer
/// ends the readiness: the next read waits for the next event instead of
/// finding the socket empty (one `recvmsg` a read, not two; tokio's own
/// stream does the same).
pub(super) struct StampedTcp {
    fd: AsyncFd<std::net::TcpStream>,
    arrival: Arc<Arrival>,
    stamps: bool,
}

impl StampedTcp {
    /// Take over `tcp` (into this runtime's reactor), asking the kernel for
    /// receive timestamps ([`enable_stamps`]; a socket that refuses keeps
    /// the read times).
    pub(super) fn new(tcp: TcpStream) -> io::Result<Self> {
        let tcp = tcp.into_std()?;
        let stamps = enable_stamps(&tcp);
        // SAFETY: the std stream owns its descriptor, which stays open and
        // the same until the AsyncFd (its only owner) is dropped.
        let fd = unsafe { AsyncFd::register(tcp) }?;
        Ok(StampedTcp {
            fd,
            arrival: Arc::new(Arrival::default()),
            stamps,
        })
    }

    /// The connection's arrivals.
    pub(super) fn arrival(&self) -> Arc<Arrival> {
        self.arrival.clone()
    }

    /// Write with `f` once the socket takes bytes.
    fn poll_write_with<R>(
        &mut self,
        cx: &mut Context<'_>,
        mut f: impl FnMut(&std::net::TcpStream) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.arrival.note_write(Instant::now());
        loop {
            let mut guard = ready!(self.fd.poll_write_ready(cx))?;
            if let Ok(r) = guard.try_io(|s| f(s.get_ref())) {
                return Poll::Ready(r);
            }
        }
    }
}

impl Read for StampedTcp {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            let mut guard = ready!(this.fd.poll_read_ready(cx))?;
            // SAFETY: recv only writes into the unfilled part, and the
            // cursor is advanced by exactly the bytes it wrote.
            let dst = unsafe { buf.as_mut() };
            let room = dst.len();
            let (arrival, stamps) = (&this.arrival, this.stamps);
            match guard.try_io(|s| arrival.read(s.as_raw_fd(), dst, stamps)) {
                Ok(Ok(n)) => {
                    if n > 0 && n < room {
                        // Drained: wait for the reactor's next event.
                        guard.clear_ready();
                    }
                    // SAFETY: the kernel wrote `n` bytes at the cursor.
                    unsafe { buf.advance(n) };
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }
}

impl Write for StampedTcp {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_write_with(cx, |mut s| std::io::Write::write(&mut s, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_write_with(cx, |mut s| std::io::Write::write_vectored(&mut s, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(
            match self.fd.get_ref().shutdown(std::net::Shutdown::Write) {
                Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
                r => r,
            },
        )
    }
}
