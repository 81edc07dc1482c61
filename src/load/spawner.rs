//! Load threads: the tasks that send requests and read their streams run on
//! a runtime per thread (tokio's current-thread runtime), not on one
//! work-stealing pool, so that a chunk that arrives is decoded, parsed and
//! timestamped by the thread whose reactor saw it, with no cross-thread
//! wake-up and no task stealing (docs/performance.md §10).
//!
//! The calling runtime is load thread 0 (the binary's main thread runs a
//! current-thread runtime); threads 1.. are started on first use and live
//! as long as the process. Tasks are dealt round-robin over all of them, and
//! a connection is only reused by the thread that opened it
//! ([`slot`]), because a socket is served by the reactor of its own runtime.

use std::cell::Cell;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use tokio::runtime::Handle;
use tokio::task::JoinHandle;

/// The most load threads a process runs.
pub const MAX_LOAD_THREADS: usize = 256;

/// The environment variable that sets the number of load threads.
pub const THREADS_ENV: &str = "SERVEBENCH_CLIENT_THREADS";

/// Load threads asked for (0: not set; see [`load_threads`]).
static THREADS: AtomicUsize = AtomicUsize::new(0);
/// The runtimes of load threads 1.. (started once).
static HELPERS: OnceLock<Vec<Handle>> = OnceLock::new();

thread_local! {
    /// This thread's load-thread number (0 on every thread that is not a
    /// load thread of its own).
    static SLOT: Cell<usize> = const { Cell::new(0) };
}

/// Set the number of load threads, the calling one included. Takes effect
/// only before the first load is sent (the threads start once).
pub fn set_load_threads(n: usize) {
    THREADS.store(n.clamp(1, MAX_LOAD_THREADS), Ordering::Relaxed);
}

/// The number of load threads: as set by [`set_load_threads`], else
/// `SERVEBENCH_CLIENT_THREADS`, else half the cores (at least one). The other
/// half is left to the kernel's network work, which on a busy client costs
/// as much again as the client's own (docs/performance.md §10), and to a
/// server on the same machine: a thread that is not needed only adds
/// wake-ups and context switches.
pub fn load_threads() -> usize {
    match THREADS.load(Ordering::Relaxed) {
        0 => std::env::var(THREADS_ENV)
            .ok()
            .and_then(|v| parse_threads(&v))
            .unwrap_or_else(|| (super::selfwatch::cores() / 2).clamp(1, MAX_LOAD_THREADS)),
        n => n,
    }
}

/// A value of [`THREADS_ENV`]: a count from 1 to [`MAX_LOAD_THREADS`].
pub fn parse_threads(value: &str) -> Option<usize> {
    value
        .trim()
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=MAX_LOAD_THREADS).contains(n))
}

/// This thread's load-thread number: 1.. on a load thread started here, 0
/// on any other thread.
pub fn slot() -> usize {
    SLOT.with(Cell::get)
}

/// The runtimes of load threads 1.., started on first use. A thread that
/// cannot be started is left out (the load runs on the others).
fn helpers() -> &'static [Handle] {
    HELPERS.get_or_init(|| {
        (1..load_threads())
            .filter_map(|i| {
                let (tx, rx) = std::sync::mpsc::sync_channel(1);
                std::thread::Builder::new()
                    .name(format!("servebench-load-{i}"))
                    .spawn(move || {
                        SLOT.with(|s| s.set(i));
                        let rt = tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build();
                        match rt {
                            Ok(rt) => {
                                let _ = tx.send(Some(rt.handle().clone()));
                                rt.block_on(std::future::pending::<()>());
                            }
                            Err(_) => {
                                let _ = tx.send(None);
                            }
                        }
                    })
                    .ok()?;
                rx.recv().ok().flatten()
            })
            .collect()
    })
}

/// The runtime of a benchmark's main thread, load thread 0: a
/// current-thread runtime, as on every load thread. The binary and the
/// `cargo bench` harness both build theirs here, so that a benchmark's load
/// runs the same way from either (a work-stealing pool would move a
/// stream's chunks between threads and time them later).
pub fn main_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// Run `f` to completion on `rt` as a task of its own rather than as the
/// future `block_on` polls. Waking `block_on`'s own future writes to the
/// runtime's wake-up `eventfd` every time, even from the runtime's own
/// thread; a task woken there is just queued. An epoch's collector is woken
/// once a request, so this saves a system call a request. A panic in `f` is
/// resumed here.
pub fn block_on_task<F>(rt: &tokio::runtime::Runtime, f: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match rt.block_on(rt.spawn(f)) {
        Ok(out) => out,
        Err(e) => match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            // Only a shut-down runtime cancels a task, and `rt` is borrowed.
            Err(e) => panic!("the main task ended without finishing: {e}"),
        },
    }
}

/// Deals tasks round-robin over the calling runtime and the load threads.
#[derive(Debug, Clone)]
pub struct Spawner {
    here: Handle,
    next: usize,
}

impl Spawner {
    /// A spawner whose load thread 0 is the calling runtime (must be called
    /// within a tokio runtime).
    pub fn here() -> Spawner {
        // Start the load threads now, not on the first spawn (which may be
        // an open loop's dispatcher, whose first send is due at once).
        helpers();
        Spawner {
            here: Handle::current(),
            next: 0,
        }
    }

    /// The number of load threads tasks are dealt over (this one
    /// included).
    pub fn threads(&self) -> usize {
        helpers().len() + 1
    }

    /// The runtime of the next task.
    pub fn next_handle(&mut self) -> &Handle {
        let h = helpers();
        let i = self.next % (h.len() + 1);
        self.next = self.next.wrapping_add(1);
        match i {
            0 => &self.here,
            i => &h[i - 1],
        }
    }

    /// Spawn `f` on the next load thread.
    pub fn spawn<F>(&mut self, f: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.next_handle().spawn(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tasks_are_dealt_over_every_load_thread() {
        // Another test may have started the threads already: whatever their
        // number, one task per thread lands on distinct slots 0..n.
        let n = helpers().len() + 1;
        let mut sp = Spawner::here();
        let mut slots = Vec::new();
        for _ in 0..n {
            slots.push(sp.spawn(async { slot() }).await.unwrap());
        }
        slots.sort_unstable();
        assert_eq!(slots, (0..n).collect::<Vec<_>>());
    }
}
