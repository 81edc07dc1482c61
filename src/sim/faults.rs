//! Fault injection: **the** place where simulated faults will be added
//! (HTTP error rates, connection resets mid-stream, stalls before or between
//! chunks). None are implemented yet: every hook is a no-op.
//!
//! Planned shape: parameters on [`super::SimConfig`] (e.g. `fault_http_rate`,
//! `fault_reset_rate`, `fault_stall_ms`), a seeded RNG here, and exact counters
//! of injected faults exposed for tests, so that a benchmark's failure counts
//! can be checked against what was injected.

use axum::response::Response;

use super::SimConfig;

/// Fault-injection state shared by the handlers.
#[derive(Debug, Clone, Default)]
pub(crate) struct Faults {}

impl Faults {
    /// Faults configured by `cfg` (none yet).
    pub(crate) fn from_config(_cfg: &SimConfig) -> Self {
        Faults {}
    }

    /// Called on handler entry, before the body is parsed; `Some` replaces
    /// the answer (e.g. an injected HTTP 500 or 429).
    pub(crate) fn on_request(&self) -> Option<Response> {
        None
    }
}
