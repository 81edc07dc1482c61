//! Stopping a run: the first Ctrl-C (or SIGTERM) stops new sends and gives
//! in-flight requests a grace period; then they are cancelled and recorded
//! as `cancelled`. The state is process-wide, like the signal that sets it;
//! a run's own stop (its failure-rate limit) is a [`StopSignal`] of its own.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

use tokio::sync::watch;

const RUNNING: u8 = 0;
const STOPPING: u8 = 1;
const CANCELLED: u8 = 2;

/// A stop in two steps: first send nothing new, then cancel what is in
/// flight. Each step happens once; later calls change nothing.
///
/// ```
/// let s = servebench::load::interrupt::StopSignal::new();
/// assert!(!s.stopping());
/// s.request_stop();
/// assert!(s.stopping());
/// ```
#[derive(Debug)]
pub struct StopSignal {
    level: AtomicU8,
    tx: watch::Sender<u8>,
}

impl Default for StopSignal {
    fn default() -> Self {
        Self::new()
    }
}

impl StopSignal {
    /// A signal that has not fired.
    pub fn new() -> Self {
        StopSignal {
            level: AtomicU8::new(RUNNING),
            tx: watch::channel(RUNNING).0,
        }
    }

    fn set(&self, level: u8) {
        if self.level.fetch_max(level, Ordering::SeqCst) < level {
            self.tx.send_replace(level);
        }
    }

    /// Stop sending new requests (in-flight ones may finish).
    pub fn request_stop(&self) {
        self.set(STOPPING);
    }

    /// Cancel in-flight requests now.
    pub fn cancel_in_flight(&self) {
        self.set(CANCELLED);
    }

    /// True once a stop was requested: send nothing new.
    pub fn stopping(&self) -> bool {
        self.level.load(Ordering::SeqCst) >= STOPPING
    }

    /// Resolves when in-flight requests must be cancelled.
    pub async fn cancelled(&self) {
        let mut rx = self.tx.subscribe();
        let _ = rx.wait_for(|v| *v >= CANCELLED).await;
    }
}

fn process() -> &'static StopSignal {
    static S: OnceLock<StopSignal> = OnceLock::new();
    S.get_or_init(StopSignal::new)
}

/// Stop sending new requests, process-wide (in-flight ones may finish).
pub fn request_stop() {
    process().request_stop();
}

/// Cancel in-flight requests now, process-wide.
pub fn cancel_in_flight() {
    process().cancel_in_flight();
}

/// True once a process-wide stop was requested: send nothing new.
pub fn stopping() -> bool {
    process().stopping()
}

/// Resolves when in-flight requests must be cancelled, process-wide.
pub async fn cancelled() {
    process().cancelled().await
}
