//! Fault injection: which request gets which fault ([`planned_fault`]) and
//! the shared state of the handlers (arrival counter, refusal window).
//!
//! Every generation request (any of the `POST` generation routes) gets a
//! 0-based **arrival index** at handler entry, before its body is read. Its
//! fault is a pure function of `(seed, index)`: a per-request RNG draws one
//! uniform number that picks at most one kind, walking the rates in the order
//! error, reset, midstream reset, stall, malformed, no `[DONE]`, error event
//! (so a test or a harness can predict the exact schedule), then draws the
//! fault's position and, for `malformed_kind=random`, the malformed variant.
//!
//! Mid-stream faults fire at a **trigger**: `1 + floor(at * max_tokens)`
//! output tokens (`at` in `[0, 1)` drawn per request), after the chunk that
//! reaches it, or just before that chunk when it is the last token chunk (so
//! the fault always costs the client at least the final chunk).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::conn::Downtime;
use super::{MalformedMode, SimConfig};

/// The malformed chunk a request gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MalformedKind {
    /// A complete event (SSE, or `\0`-terminated object) whose JSON does not
    /// parse; the stream then goes on normally.
    Json,
    /// The first half of the trigger chunk's bytes, then the body ends
    /// cleanly (no event terminator, no `[DONE]`).
    Truncated,
    /// A complete event whose JSON string holds the bytes `FF FE` (invalid
    /// UTF-8); the stream then goes on normally.
    Utf8,
}

/// The fault planned for one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FaultKind {
    /// Answered `status` (500, 503, 429 + `Retry-After`) before generation.
    Error {
        /// HTTP status.
        status: u16,
    },
    /// The connection is reset (TCP RST) before any response byte.
    Reset,
    /// The connection is reset after the trigger chunk.
    MidstreamReset {
        /// Trigger position as a fraction of `max_tokens`.
        at: f64,
    },
    /// A pause of `stall_ms` after the trigger chunk.
    Stall {
        /// Trigger position as a fraction of `max_tokens`.
        at: f64,
    },
    /// One malformed chunk at the trigger.
    Malformed {
        /// Which one.
        kind: MalformedKind,
        /// Trigger position as a fraction of `max_tokens`.
        at: f64,
    },
    /// The stream ends without `data: [DONE]`.
    NoDone,
    /// A `data: {"error": ...}` event after the trigger chunk, then `[DONE]`.
    ErrorEvent {
        /// Trigger position as a fraction of `max_tokens`.
        at: f64,
    },
}

impl FaultKind {
    /// Short name: `error`, `reset`, `midstream_reset`, `stall`,
    /// `malformed`, `no_done` or `error_event`.
    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::Error { .. } => "error",
            FaultKind::Reset => "reset",
            FaultKind::MidstreamReset { .. } => "midstream_reset",
            FaultKind::Stall { .. } => "stall",
            FaultKind::Malformed { .. } => "malformed",
            FaultKind::NoDone => "no_done",
            FaultKind::ErrorEvent { .. } => "error_event",
        }
    }

    /// Output tokens at which a mid-stream fault fires, for `max_tokens`.
    pub fn trigger_tokens(&self, max_tokens: usize) -> Option<usize> {
        let at = match *self {
            FaultKind::MidstreamReset { at }
            | FaultKind::Stall { at }
            | FaultKind::Malformed { at, .. }
            | FaultKind::ErrorEvent { at } => at,
            _ => return None,
        };
        Some((1 + (at * max_tokens as f64) as usize).min(max_tokens.max(1)))
    }
}

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The fault of the request with 0-based arrival index `request_index`
/// under `cfg` (`None`: served normally). Deterministic in
/// `(cfg.seed, request_index)` and the fault settings.
///
/// ```
/// use servebench::sim::{planned_fault, SimConfig};
/// let mut c = SimConfig::default();
/// c.apply_kv("error_rate=0.2,seed=1").unwrap();
/// let n = (0..1000).filter(|&i| planned_fault(&c, i).is_some()).count();
/// assert!((150..250).contains(&n));
/// assert_eq!(planned_fault(&c, 7), planned_fault(&c, 7));
/// ```
pub fn planned_fault(cfg: &SimConfig, request_index: u64) -> Option<FaultKind> {
    let f = &cfg.faults;
    let rates = f.rates();
    if rates.iter().all(|(_, r)| *r <= 0.0) {
        return None;
    }
    let mut rng = StdRng::seed_from_u64(mix(cfg.seed ^ mix(request_index ^ 0xFA17_5EED)));
    let u: f64 = rng.random();
    let at: f64 = rng.random();
    let variant = rng.random_range(0..3u8);
    let mut cum = 0.0;
    let mut pick = None;
    for (i, (_, r)) in rates.iter().enumerate() {
        cum += r;
        if u < cum {
            pick = Some(i);
            break;
        }
    }
    Some(match pick? {
        0 => FaultKind::Error {
            status: f.error_status,
        },
        1 => FaultKind::Reset,
        2 => FaultKind::MidstreamReset { at },
        3 => FaultKind::Stall { at },
        4 => {
            let kind = match (f.malformed_kind, variant) {
                (MalformedMode::Json, _) | (MalformedMode::Random, 0) => MalformedKind::Json,
                (MalformedMode::Truncated, _) | (MalformedMode::Random, 1) => {
                    MalformedKind::Truncated
                }
                _ => MalformedKind::Utf8,
            };
            FaultKind::Malformed { kind, at }
        }
        5 => FaultKind::NoDone,
        _ => FaultKind::ErrorEvent { at },
    })
}

/// What the handler must do with one arriving request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Admission {
    /// The planned fault.
    pub fault: Option<FaultKind>,
    /// The server is "down" (refusal window): reset the connection.
    pub down: bool,
}

/// Fault-injection state shared by the handlers.
#[derive(Debug)]
pub(crate) struct Faults {
    cfg: SimConfig,
    next: AtomicU64,
    pub(crate) downtime: Arc<Downtime>,
}

impl Faults {
    /// Faults configured by `cfg`.
    pub(crate) fn from_config(cfg: &SimConfig) -> Self {
        Faults {
            cfg: cfg.clone(),
            next: AtomicU64::new(0),
            downtime: Arc::new(Downtime::default()),
        }
    }

    /// Called on handler entry of a generation request, before its body is
    /// read: numbers the request and decides its fate.
    pub(crate) fn on_request(&self) -> Admission {
        let index = self.next.fetch_add(1, Ordering::Relaxed);
        let f = &self.cfg.faults;
        let mut down = self.downtime.down_until().is_some();
        if f.refuse_after == Some(index) {
            self.downtime
                .start(Duration::from_secs_f64(f.refuse_for_ms / 1e3));
            down = true;
        }
        Admission {
            fault: planned_fault(&self.cfg, index),
            down,
        }
    }

    /// Delay before the response headers.
    pub(crate) fn slow_first_byte(&self) -> Option<Duration> {
        let ms = self.cfg.faults.slow_first_byte_ms;
        (ms > 0.0).then(|| Duration::from_secs_f64(ms / 1e3))
    }

    /// Length of a stall.
    pub(crate) fn stall(&self) -> Duration {
        Duration::from_secs_f64(self.cfg.faults.stall_ms / 1e3)
    }
}
