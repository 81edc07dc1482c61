//! Stopping a run: the first Ctrl-C (or SIGTERM) stops new sends and gives
//! in-flight requests a grace period; then they are cancelled and recorded
//! as `cancelled`. The state is process-wide, like the signal that sets it.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

use tokio::sync::watch;

const RUNNING: u8 = 0;
const STOPPING: u8 = 1;
const CANCELLED: u8 = 2;

fn state() -> &'static (AtomicU8, watch::Sender<u8>) {
    static S: OnceLock<(AtomicU8, watch::Sender<u8>)> = OnceLock::new();
    S.get_or_init(|| (AtomicU8::new(RUNNING), watch::channel(RUNNING).0))
}

fn set(level: u8) {
    let (a, tx) = state();
    if a.fetch_max(level, Ordering::SeqCst) < level {
        tx.send_replace(level);
    }
}

/// Stop sending new requests (in-flight ones may finish).
pub fn request_stop() {
    set(STOPPING);
}

/// Cancel in-flight requests now.
pub fn cancel_in_flight() {
    set(CANCELLED);
}

/// True once a stop was requested: send nothing new.
pub fn stopping() -> bool {
    state().0.load(Ordering::SeqCst) >= STOPPING
}

/// Resolves when in-flight requests must be cancelled.
pub async fn cancelled() {
    let mut rx = state().1.subscribe();
    let _ = rx.wait_for(|v| *v >= CANCELLED).await;
}
