//! Waiting for an instant to the microsecond inside a load thread's own
//! runtime, for the open loop's send times.
//!
//! Tokio's timer wheel rounds a deadline up to its millisecond tick, too
//! coarse for arrivals 50 µs apart. On Linux a [`Deadline`] is a `timerfd`
//! registered with the thread's reactor: the kernel's high-resolution timer
//! (no timer slack) wakes the reactor's `epoll_wait` directly, so a send is
//! due, woken and written by the thread that owns its connection, with no
//! other thread woken and no cross-thread hand-off (docs/performance.md
//! §13). Where there is no `timerfd`, or one cannot be made (no file
//! descriptor left) or fails, the waits fall back to tokio's timer.

use std::time::Instant;

/// Waits until given instants, one at a time (see the module docs).
pub(super) struct Deadline {
    #[cfg(target_os = "linux")]
    fd: Option<linux::TimerFd>,
}

impl Deadline {
    /// A waiter on the calling runtime's reactor (call it inside a tokio
    /// runtime).
    pub(super) fn new() -> Deadline {
        Deadline {
            #[cfg(target_os = "linux")]
            fd: linux::TimerFd::new().ok(),
        }
    }

    /// True when the wait is the kernel's precise timer, not tokio's.
    #[cfg(test)]
    pub(super) fn is_precise(&self) -> bool {
        #[cfg(target_os = "linux")]
        return self.fd.is_some();
        #[cfg(not(target_os = "linux"))]
        false
    }

    /// Resolve at `due` or just after it (at once if it has passed).
    pub(super) async fn wait_until(&mut self, due: Instant) {
        #[cfg(target_os = "linux")]
        if let Some(fd) = &mut self.fd {
            if fd.wait_until(due).await.is_ok() {
                return;
            }
            // A timer that failed once is not trusted again.
            self.fd = None;
        }
        tokio::time::sleep_until(tokio::time::Instant::from_std(due)).await;
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::time::Instant;

    use tokio::io::unix::AsyncFd;

    /// A one-shot `timerfd` on `CLOCK_MONOTONIC` (the clock of
    /// [`Instant`] on Linux), armed at absolute times.
    pub(super) struct TimerFd {
        fd: AsyncFd<OwnedFd>,
        /// An instant and a `CLOCK_MONOTONIC` reading taken just after it,
        /// to turn an `Instant` (opaque) into the timer's absolute time.
        origin: (Instant, libc::timespec),
    }

    impl TimerFd {
        pub(super) fn new() -> io::Result<TimerFd> {
            // SAFETY: plain system call; the descriptor is checked below
            // and owned from then on.
            let raw = unsafe {
                libc::timerfd_create(
                    libc::CLOCK_MONOTONIC,
                    libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
                )
            };
            if raw < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: `raw` is a descriptor just opened and owned by nobody.
            let owned = unsafe { OwnedFd::from_raw_fd(raw) };
            // The instant first, then the clock: the reading is then at or
            // after the instant, so a time made from it is never early.
            let at = Instant::now();
            let mut now = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: `now` is a valid timespec to write into.
            if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) } != 0 {
                return Err(io::Error::last_os_error());
            }
            let origin = (at, now);
            // SAFETY: `owned` is the only owner of the descriptor, which
            // stays open and the same until the AsyncFd is dropped.
            let fd =
                unsafe { AsyncFd::register_with_interest(owned, tokio::io::Interest::READABLE) }?;
            Ok(TimerFd { fd, origin })
        }

        /// The timer's absolute time of `due`.
        fn abs(&self, due: Instant) -> libc::timespec {
            let (at, ts) = self.origin;
            let d = due.saturating_duration_since(at);
            let nanos = ts.tv_nsec as u64 + u64::from(d.subsec_nanos());
            let secs = ts.tv_sec as u64 + d.as_secs() + nanos / 1_000_000_000;
            let mut t = libc::timespec {
                tv_sec: secs as libc::time_t,
                tv_nsec: (nanos % 1_000_000_000) as libc::c_long,
            };
            // A zero time would disarm the timer instead of firing it.
            if t.tv_sec == 0 && t.tv_nsec == 0 {
                t.tv_nsec = 1;
            }
            t
        }

        /// Arm the timer for `due` and wait for it to fire.
        pub(super) async fn wait_until(&mut self, due: Instant) -> io::Result<()> {
            let spec = libc::itimerspec {
                it_interval: libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                },
                it_value: self.abs(due),
            };
            let fd = self.fd.get_ref().as_raw_fd();
            // SAFETY: `fd` is this timer's open descriptor; `spec` is valid.
            let set = unsafe {
                libc::timerfd_settime(fd, libc::TFD_TIMER_ABSTIME, &spec, std::ptr::null_mut())
            };
            if set != 0 {
                return Err(io::Error::last_os_error());
            }
            loop {
                let mut ready = self.fd.readable().await?;
                let mut ticks = [0u8; 8];
                // SAFETY: reads at most 8 bytes into `ticks` from `fd`.
                let read = ready.try_io(|_| {
                    match unsafe { libc::read(fd, ticks.as_mut_ptr().cast(), ticks.len()) } {
                        n if n < 0 => Err(io::Error::last_os_error()),
                        _ => Ok(()),
                    }
                });
                match read {
                    Ok(Ok(())) => {
                        // The read took every expiry and the timer is
                        // not armed again until the next call: clearing the
                        // readiness now saves the next wait a read that
                        // would find nothing.
                        ready.clear_ready();
                        return Ok(());
                    }
                    Ok(Err(e)) => return Err(e),
                    // Not fired yet (readiness left from before): wait on.
                    Err(_) => continue,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Each wait ends at its instant or after it, never before, in order,
    /// including a wait for an instant already passed.
    #[tokio::test(flavor = "current_thread")]
    async fn waits_end_at_or_after_their_instants() {
        let mut d = Deadline::new();
        #[cfg(target_os = "linux")]
        assert!(d.is_precise(), "a timerfd is made on Linux");
        let start = Instant::now();
        for i in 0..20u64 {
            let due = start + Duration::from_micros(300 * i);
            d.wait_until(due).await;
            assert!(Instant::now() >= due, "wait {i} ended before its instant");
        }
        // Already passed: resolves without waiting for another expiry.
        d.wait_until(start).await;
        // 20 waits 0.3 ms apart: a misplaced absolute time (a clock or unit
        // mixed up) would overshoot by far more than this.
        assert!(start.elapsed() < Duration::from_secs(2));
    }
}
