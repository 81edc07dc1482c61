//! Fault-injection parameters of [`super::SimConfig`] (keys of
//! `SERVEBENCH_SIM` and flags of `servebench sim`).

use super::config::{bad, parse_ms, MAX_WAIT_MS};
use super::SimError;

/// Which malformed chunk `malformed_rate` injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MalformedMode {
    /// Pick `json`, `truncated` or `utf8` with the request's seeded RNG.
    #[default]
    Random,
    /// A complete event whose JSON does not parse.
    Json,
    /// Half of the next event, then the body ends cleanly (no terminator).
    Truncated,
    /// A complete event whose JSON string holds invalid UTF-8 bytes.
    Utf8,
}

/// Fault-injection settings. Rates are per-request probabilities in
/// `[0, 1]` whose sum must not exceed 1 (a request gets at most one fault;
/// see [`super::planned_fault`]); times are wall-clock milliseconds, **not**
/// scaled by `time_scale`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FaultConfig {
    /// Share of requests answered with `error_status` before any generation.
    pub error_rate: f64,
    /// Status of injected errors: 500, 503 or 429 (429 adds `Retry-After`).
    pub error_status: u16,
    /// Seconds in the `Retry-After` header of an injected 429.
    pub retry_after_s: u64,
    /// Share of requests whose connection is reset before any response byte.
    pub reset_rate: f64,
    /// Share of streams whose connection is reset after some tokens.
    pub midstream_reset_rate: f64,
    /// Share of streams that pause `stall_ms` after some tokens.
    pub stall_rate: f64,
    /// Length of an injected stall, ms.
    pub stall_ms: f64,
    /// Share of streams that carry one malformed chunk.
    pub malformed_rate: f64,
    /// Which malformed chunk.
    pub malformed_kind: MalformedMode,
    /// Share of OpenAI streams that end without `data: [DONE]`.
    pub no_done_rate: f64,
    /// Share of streams that get an `{"error": ...}` event after some tokens
    /// (then `[DONE]`), after a 200 status.
    pub error_event_rate: f64,
    /// Delay before the response headers of every generation request, ms.
    pub slow_first_byte_ms: f64,
    /// When set, request number `refuse_after` (0-based arrival index) opens
    /// a window of `refuse_for_ms` during which the server is down.
    pub refuse_after: Option<u64>,
    /// Length of the refusal window, ms.
    pub refuse_for_ms: f64,
}

impl Default for FaultConfig {
    /// No faults.
    fn default() -> Self {
        FaultConfig {
            error_rate: 0.0,
            error_status: 500,
            retry_after_s: 1,
            reset_rate: 0.0,
            midstream_reset_rate: 0.0,
            stall_rate: 0.0,
            stall_ms: 1000.0,
            malformed_rate: 0.0,
            malformed_kind: MalformedMode::Random,
            no_done_rate: 0.0,
            error_event_rate: 0.0,
            slow_first_byte_ms: 0.0,
            refuse_after: None,
            refuse_for_ms: 1000.0,
        }
    }
}

fn parse_rate(key: &str, v: &str) -> Result<f64, SimError> {
    match v.parse::<f64>() {
        Ok(x) if (0.0..=1.0).contains(&x) => Ok(x),
        _ => Err(bad(key, v, "expected a probability in [0, 1]")),
    }
}

impl FaultConfig {
    /// The per-request rates, in the order [`super::planned_fault`] walks them.
    pub fn rates(&self) -> [(&'static str, f64); 7] {
        [
            ("error_rate", self.error_rate),
            ("reset_rate", self.reset_rate),
            ("midstream_reset_rate", self.midstream_reset_rate),
            ("stall_rate", self.stall_rate),
            ("malformed_rate", self.malformed_rate),
            ("no_done_rate", self.no_done_rate),
            ("error_event_rate", self.error_event_rate),
        ]
    }

    /// Set one fault key; `Ok(false)` when `key` is not a fault key.
    pub(crate) fn set(&mut self, key: &str, v: &str) -> Result<bool, SimError> {
        match key {
            "error_rate" => self.error_rate = parse_rate(key, v)?,
            "reset_rate" => self.reset_rate = parse_rate(key, v)?,
            "midstream_reset_rate" => self.midstream_reset_rate = parse_rate(key, v)?,
            "stall_rate" => self.stall_rate = parse_rate(key, v)?,
            "malformed_rate" => self.malformed_rate = parse_rate(key, v)?,
            "no_done_rate" => self.no_done_rate = parse_rate(key, v)?,
            "error_event_rate" => self.error_event_rate = parse_rate(key, v)?,
            "error_status" => {
                self.error_status = match v {
                    "500" => 500,
                    "503" => 503,
                    "429" => 429,
                    _ => return Err(bad(key, v, "expected 500, 503 or 429")),
                }
            }
            "retry_after_s" => {
                self.retry_after_s = v
                    .parse()
                    .map_err(|_| bad(key, v, "expected an unsigned integer"))?
            }
            "stall_ms" => self.stall_ms = parse_ms(key, v)?,
            "slow_first_byte_ms" => self.slow_first_byte_ms = parse_ms(key, v)?,
            "refuse_for_ms" => self.refuse_for_ms = parse_ms(key, v)?,
            "refuse_after" => {
                self.refuse_after = match v.to_ascii_lowercase().as_str() {
                    "" | "off" | "none" => None,
                    _ => Some(v.parse().map_err(|_| {
                        bad(key, v, "expected a request count (0-based index) or off")
                    })?),
                }
            }
            "malformed_kind" => {
                self.malformed_kind = match v.to_ascii_lowercase().as_str() {
                    "random" => MalformedMode::Random,
                    "json" => MalformedMode::Json,
                    "truncated" => MalformedMode::Truncated,
                    "utf8" | "utf-8" => MalformedMode::Utf8,
                    _ => return Err(bad(key, v, "expected random, json, truncated or utf8")),
                }
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Rates in `[0, 1]` summing to at most 1, a valid status, finite times.
    pub fn validate(&self) -> Result<(), SimError> {
        let mut sum = 0.0;
        for (k, r) in self.rates() {
            if !(0.0..=1.0).contains(&r) {
                return Err(bad(k, &r.to_string(), "expected a probability in [0, 1]"));
            }
            sum += r;
        }
        if sum > 1.0 + 1e-9 {
            let reason = "the fault rates must sum to at most 1 (one fault per request)";
            return Err(bad("error_rate", &format!("sum {sum}"), reason));
        }
        if ![500, 503, 429].contains(&self.error_status) {
            let v = self.error_status.to_string();
            return Err(bad("error_status", &v, "expected 500, 503 or 429"));
        }
        for (k, x) in [
            ("stall_ms", self.stall_ms),
            ("slow_first_byte_ms", self.slow_first_byte_ms),
            ("refuse_for_ms", self.refuse_for_ms),
        ] {
            if !(x.is_finite() && (0.0..=MAX_WAIT_MS).contains(&x)) {
                return Err(bad(
                    k,
                    &x.to_string(),
                    "expected a number in [0, 1e15] (ms)",
                ));
            }
        }
        Ok(())
    }

    /// Whether any fault is configured.
    pub fn any(&self) -> bool {
        self.rates().iter().any(|(_, r)| *r > 0.0)
            || self.slow_first_byte_ms > 0.0
            || self.refuse_after.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_keys() {
        let mut f = FaultConfig::default();
        assert!(f.set("error_rate", "0.25").unwrap());
        assert!(f.set("error_status", "429").unwrap());
        assert!(f.set("malformed_kind", "utf8").unwrap());
        assert!(f.set("refuse_after", "10").unwrap());
        assert!(!f.set("warp", "1").unwrap());
        assert_eq!(f.refuse_after, Some(10));
        assert!(f.set("error_status", "404").is_err());
        assert!(f.set("stall_rate", "1.5").is_err());
        f.validate().unwrap();
        f.reset_rate = 0.9;
        assert!(f.validate().is_err());
    }

    #[test]
    fn times_too_long_to_sleep_are_refused() {
        // Found by fuzzing: `stall_ms=1e300` validated, then panicked the
        // stream converting it to a Duration.
        for key in ["stall_ms", "slow_first_byte_ms", "refuse_for_ms"] {
            let mut f = FaultConfig::default();
            assert!(f.set(key, "1e300").unwrap());
            assert!(f.validate().is_err(), "{key}");
            assert!(f.set(key, "1e15").unwrap());
            f.validate().unwrap();
        }
    }
}
