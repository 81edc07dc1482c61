//! When the bytes of a read reached this machine: the kernel's receive
//! timestamp of each read, for the client's streams (`load::arrival`) and
//! the simulator's requests (`sim::conn`).
//!
//! A time taken when a task gets to a read includes the time the bytes
//! waited in the socket while the thread did other work (with 100 streams
//! on one load thread, most of a TTFT's error). On Linux the socket is asked for software receive timestamps
//! (`SO_TIMESTAMPNS`): the kernel stamps each segment as it comes in, and a
//! read (`recvmsg`) returns the stamp of the last segment it consumed, so
//! the stamp of a read is never earlier than any of its bytes came and
//! never later than the read. Each read notes its arrival as an [`Instant`]:
//! the kernel's stamp (wall clock) as a lag behind the wall clock now,
//! taken from the monotonic clock now, and never before the connection's
//! previous read or its last write (a step of the wall clock cannot move a
//! stamp outside that window). Without a stamp (another OS, or
//! `SERVEBENCH_TIMESTAMPS=user`) a read's arrival is the time of the read.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The longest lag of a kernel stamp taken as such; a longer one (the wall
/// clock stepped) falls back to the window's bounds.
const MAX_LAG: Duration = Duration::from_secs(60);

/// The environment variable that chooses chunk times: `kernel` (the
/// default) or `user` (the time of the read).
pub const STAMPS_ENV: &str = "SERVEBENCH_TIMESTAMPS";

/// Whether `value` of [`STAMPS_ENV`] asks for the kernel's stamps; `None`
/// when it is neither `kernel` nor `user`.
pub fn parse_stamps(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "kernel" | "" => Some(true),
        "user" => Some(false),
        _ => None,
    }
}

/// Whether reads take the kernel's receive timestamps: unless
/// `SERVEBENCH_TIMESTAMPS=user` (read once per process; a bad value was
/// refused before the run, see [`crate::load::check_env`]).
fn kernel_stamps() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| {
        std::env::var(STAMPS_ENV)
            .ok()
            .and_then(|v| parse_stamps(&v))
            .unwrap_or(true)
    })
}

/// The origin of the stored instants (signed nanoseconds from it, so an
/// instant taken before the origin was first asked for keeps its value).
fn origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

/// No instant stored yet.
const NONE: i64 = i64::MIN;

fn to_nanos(t: Instant) -> i64 {
    let o = origin();
    match t.checked_duration_since(o) {
        Some(d) => d.as_nanos() as i64,
        None => -((o - t).as_nanos() as i64),
    }
}

fn from_nanos(n: i64) -> Option<Instant> {
    match n {
        NONE => None,
        n if n >= 0 => Some(origin() + Duration::from_nanos(n as u64)),
        n => Some(origin() - Duration::from_nanos(n.unsigned_abs())),
    }
}

/// The arrival of a connection's last read, shared between the connection
/// (which hyper owns) and the response reading its body.
#[derive(Debug)]
pub(crate) struct Arrival {
    read: AtomicI64,
    write: AtomicI64,
}

impl Default for Arrival {
    fn default() -> Self {
        Arrival {
            read: AtomicI64::new(NONE),
            write: AtomicI64::new(NONE),
        }
    }
}

impl Arrival {
    /// When the bytes of the connection's last read came, once one did.
    pub(crate) fn last_read(&self) -> Option<Instant> {
        from_nanos(self.read.load(Ordering::Relaxed))
    }

    /// A read just now whose last segment the kernel stamped `stamp`.
    fn note_read(&self, stamp: Option<SystemTime>) {
        // The wall clock first: a pause between the two reads then moves
        // the arrival later (by the pause), never before the bytes came.
        let real = SystemTime::now();
        self.note_read_at(Instant::now(), real, stamp);
    }

    /// A read at `now` (when the wall clock read `real`) whose last
    /// segment the kernel stamped `stamp`.
    fn note_read_at(&self, now: Instant, real: SystemTime, stamp: Option<SystemTime>) {
        let at = match stamp.and_then(|s| real.duration_since(s).ok()) {
            Some(lag) if lag <= MAX_LAG => now.checked_sub(lag).unwrap_or(now),
            // No stamp, or one ahead of the wall clock or far behind it
            // (the clock stepped): the read's own time.
            _ => now,
        };
        let floor = self
            .read
            .load(Ordering::Relaxed)
            .max(self.write.load(Ordering::Relaxed));
        let n = to_nanos(at).max(floor).min(to_nanos(now));
        self.read.store(n, Ordering::Relaxed);
    }

    /// One read of `fd` into `dst` ([`recv`], with the kernel's stamp when
    /// `stamps`), noted as the connection's last when it brought bytes.
    pub(crate) fn read(
        &self,
        fd: RawFd,
        dst: &mut [std::mem::MaybeUninit<u8>],
        stamps: bool,
    ) -> io::Result<usize> {
        let (n, stamp) = recv(fd, dst, stamps)?;
        if n > 0 {
            self.note_read(stamp);
        }
        Ok(n)
    }

    pub(crate) fn note_write(&self, now: Instant) {
        self.write.store(to_nanos(now), Ordering::Relaxed);
    }
}

/// Ask the kernel for receive timestamps on `sock`, unless
/// [`kernel_stamps`] is off; whether reads on it get them.
#[cfg(target_os = "linux")]
pub(crate) fn enable_stamps(sock: &impl AsRawFd) -> bool {
    let on: libc::c_int = 1;
    // SAFETY: a valid socket and a c_int option of the stated size.
    kernel_stamps()
        && unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_TIMESTAMPNS,
                (&on as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            ) == 0
        }
}

/// Ask the kernel for receive timestamps on `sock`: not on this system.
#[cfg(not(target_os = "linux"))]
pub(crate) fn enable_stamps(_: &impl AsRawFd) -> bool {
    false
}

/// One read into `dst`: the bytes read and, with `stamps` (a `recvmsg`),
/// the kernel's stamp of the last segment read; without, a plain `recv`.
fn recv(
    fd: RawFd,
    dst: &mut [std::mem::MaybeUninit<u8>],
    stamps: bool,
) -> io::Result<(usize, Option<SystemTime>)> {
    if !stamps {
        // SAFETY: `dst` is writable for its length; the kernel writes at
        // most that many bytes, which need no initialising.
        let n = unsafe { libc::recv(fd, dst.as_mut_ptr().cast(), dst.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        return Ok((n as usize, None));
    }
    let mut iov = libc::iovec {
        iov_base: dst.as_mut_ptr().cast(),
        iov_len: dst.len(),
    };
    // Room for one timespec control message, aligned for cmsghdr.
    let mut control = [0u64; 8];
    // SAFETY: msghdr is plain data; an all-zero one has no name and no
    // control buffer.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: `iov` points at `dst`, writable for its length (the kernel
    // writes at most that many bytes, which need no initialising), and
    // the control buffer at `control`, both alive for the call.
    let n = unsafe { libc::recvmsg(fd, &mut msg, 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((n as usize, stamp_of(&msg)))
}

/// The `SCM_TIMESTAMPNS` message of a `recvmsg`'s control data.
#[cfg(target_os = "linux")]
fn stamp_of(msg: &libc::msghdr) -> Option<SystemTime> {
    // SAFETY: `msg` was filled by recvmsg; the CMSG_* walk stays within its
    // control buffer, and a SCM_TIMESTAMPNS message holds a timespec
    // (read unaligned).
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                let ts: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                if ts.tv_sec <= 0 {
                    return None;
                }
                return Some(UNIX_EPOCH + Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32));
            }
            c = libc::CMSG_NXTHDR(msg, c);
        }
    }
    None
}

#[cfg(not(target_os = "linux"))]
fn stamp_of(_: &libc::msghdr) -> Option<SystemTime> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_is_kept_within_its_window() {
        let a = Arrival::default();
        let t0 = Instant::now();
        a.note_write(t0);
        let now = t0 + Duration::from_millis(10);
        // 4 ms before the read by the kernel.
        let real = SystemTime::now();
        a.note_read_at(now, real, Some(real - Duration::from_millis(4)));
        assert_eq!(a.last_read().unwrap(), now - Duration::from_millis(4));
        // A stamp from before the write (the wall clock stepped back by a
        // second) is held at the write.
        let later = now + Duration::from_millis(10);
        a.note_write(later);
        a.note_read_at(
            later + Duration::from_millis(1),
            SystemTime::now(),
            Some(SystemTime::now() - Duration::from_secs(1)),
        );
        assert_eq!(a.last_read().unwrap(), later);
        // A stamp ahead of the wall clock, or none: the read's own time.
        let t = later + Duration::from_millis(5);
        a.note_read_at(
            t,
            SystemTime::now(),
            Some(SystemTime::now() + Duration::from_secs(5)),
        );
        assert_eq!(a.last_read().unwrap(), t);
        let t = t + Duration::from_millis(5);
        a.note_read_at(t, SystemTime::now(), None);
        assert_eq!(a.last_read().unwrap(), t);
    }

    /// On Linux the stamp of a read is the kernel's: a chunk that waited
    /// in the socket keeps the time it came, not the time it was read.
    /// (The kernel turns receive stamps on for the system shortly after the
    /// first socket asks, from a work queue: a read before that has none,
    /// and keeps its own time; so the chunk is sent until one is stamped.)
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_read_late_keeps_the_time_its_bytes_came() {
        use tokio::io::AsyncWriteExt;
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let client =
            tokio::spawn(async move { tokio::net::TcpStream::connect(addr).await.unwrap() });
        let (mut server, _) = l.accept().await.unwrap();
        let tcp = client.await.unwrap();
        assert!(enable_stamps(&tcp), "SO_TIMESTAMPNS refused");
        let arrival = Arrival::default();
        for _ in 0..40 {
            server.write_all(b"token").await.unwrap();
            let sent = Instant::now();
            tokio::time::sleep(Duration::from_millis(50)).await;
            let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 64];
            tcp.readable().await.unwrap();
            let fd = tcp.as_raw_fd();
            let (n, stamp) = tcp
                .try_io(tokio::io::Interest::READABLE, || recv(fd, &mut buf, true))
                .unwrap();
            assert_eq!(n, 5);
            let read_at = Instant::now();
            arrival.note_read_at(read_at, SystemTime::now(), stamp);
            let came = arrival.last_read().unwrap();
            if stamp.is_none() {
                assert_eq!(came, read_at, "no stamp: the read's own time");
                continue;
            }
            assert!(
                read_at - came >= Duration::from_millis(45),
                "stamped {:?} before the read, expected about 50 ms",
                read_at - came
            );
            let off = came.max(sent) - came.min(sent);
            assert!(
                off < Duration::from_millis(20),
                "stamp {off:?} away from the write"
            );
            return;
        }
        panic!("no read was stamped by the kernel in 2 s");
    }
}
