//! A run's failure-rate limit: a run whose recent requests mostly fail
//! stops itself with a verdict, instead of measuring a broken server for an
//! hour.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use super::interrupt::StopSignal;
use crate::record::{EarlyStop, FailureKind, RequestRecord};

/// When a run stops itself: more than `max_rate` of the last `window`
/// finished requests failed. Cancelled requests (the run's own doing) are
/// not counted.
///
/// ```
/// use servebench::load::FailureLimit;
/// let l = FailureLimit::default();
/// assert_eq!((l.max_rate, l.window), (0.5, 50));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FailureLimit {
    /// Largest tolerated share of failures, in (0, 1]; 1 never stops.
    pub max_rate: f64,
    /// Requests the share is taken over (the most recent ones).
    pub window: usize,
}

impl Default for FailureLimit {
    fn default() -> Self {
        FailureLimit {
            max_rate: 0.5,
            window: 50,
        }
    }
}

/// Watches the outcomes of one run and stops it when its limit is passed:
/// no new request is sent, and those in flight get `grace` to finish before
/// they are cancelled.
#[derive(Debug)]
pub struct RunGuard {
    limit: Option<FailureLimit>,
    grace: Duration,
    recent: Mutex<Window>,
    signal: Arc<StopSignal>,
    tripped: OnceLock<EarlyStop>,
}

#[derive(Debug, Default)]
struct Window {
    outcomes: VecDeque<bool>,
    failed: usize,
}

impl RunGuard {
    /// A guard with `limit` (none: the run never stops itself).
    pub fn new(limit: Option<FailureLimit>, grace: Duration) -> Self {
        RunGuard {
            limit: limit.filter(|l| l.max_rate < 1.0 && l.window > 0),
            grace,
            recent: Mutex::new(Window::default()),
            signal: Arc::new(StopSignal::new()),
            tripped: OnceLock::new(),
        }
    }

    /// Count a finished request; trips the guard when the limit is passed.
    pub fn observe(&self, rec: &RequestRecord) {
        let Some(limit) = self.limit else { return };
        let failed = match &rec.failure {
            Some(f) if f.kind == FailureKind::Cancelled => return,
            Some(_) => true,
            None => false,
        };
        let stop = {
            let mut w = self.recent.lock().unwrap_or_else(|e| e.into_inner());
            w.outcomes.push_back(failed);
            w.failed += failed as usize;
            if w.outcomes.len() > limit.window {
                w.failed -= w.outcomes.pop_front().unwrap_or(false) as usize;
            }
            let full = w.outcomes.len() == limit.window;
            (full && w.failed as f64 > limit.max_rate * limit.window as f64).then(|| EarlyStop {
                failed: w.failed as u64,
                window: limit.window as u64,
                max_failure_rate: limit.max_rate,
            })
        };
        if let Some(reason) = stop {
            if self.tripped.set(reason).is_ok() {
                self.signal.request_stop();
                let signal = self.signal.clone();
                let grace = self.grace;
                if let Ok(rt) = tokio::runtime::Handle::try_current() {
                    rt.spawn(async move {
                        tokio::time::sleep(grace).await;
                        signal.cancel_in_flight();
                    });
                } else {
                    signal.cancel_in_flight();
                }
            }
        }
    }

    /// Why the run stopped itself, if it did.
    pub fn tripped(&self) -> Option<EarlyStop> {
        self.tripped.get().copied()
    }

    /// True once the run must send nothing new (its own limit, or a
    /// process-wide interrupt).
    pub fn stopping(&self) -> bool {
        self.signal.stopping() || super::interrupt::stopping()
    }

    /// Resolves when in-flight requests must be cancelled.
    pub async fn cancelled(&self) {
        tokio::select! {
            _ = self.signal.cancelled() => {}
            _ = super::interrupt::cancelled() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Failure;

    fn rec(kind: Option<FailureKind>) -> RequestRecord {
        RequestRecord {
            id: 0,
            epoch: 0,
            start_s: 0.0,
            scheduled_s: None,
            ttft_ms: None,
            e2el_ms: None,
            done_ms: 1.0,
            output_tokens: 0,
            input_tokens: 1,
            requested_output_tokens: 1,
            usage_output_tokens: None,
            usage_input_tokens: None,
            counted_output_tokens: None,
            chunks: Vec::new(),
            server: None,
            failure: kind.map(|kind| Failure {
                kind,
                message: String::new(),
            }),
            resent: 0,
            reasoning: None,
            session: None,
        }
    }

    fn guard(max_rate: f64, window: usize) -> RunGuard {
        RunGuard::new(Some(FailureLimit { max_rate, window }), Duration::ZERO)
    }

    #[test]
    fn trips_only_when_the_window_is_full_and_over_the_limit() {
        let g = guard(0.5, 4);
        for _ in 0..3 {
            g.observe(&rec(Some(FailureKind::HttpStatus)));
        }
        assert!(g.tripped().is_none(), "window not full yet");
        assert!(!g.stopping());
        g.observe(&rec(None));
        let s = g.tripped().expect("3 failed of 4 > 50 %");
        assert_eq!((s.failed, s.window), (3, 4));
        assert!(g.stopping());
    }

    #[test]
    fn exactly_at_the_limit_does_not_trip_and_old_failures_slide_out() {
        let g = guard(0.5, 4);
        for ok in [false, false, true, true, true, true, false, false] {
            g.observe(&rec((!ok).then_some(FailureKind::Timeout)));
        }
        assert!(g.tripped().is_none(), "never more than 2 of the last 4");
        g.observe(&rec(Some(FailureKind::Connect)));
        assert!(g.tripped().is_some(), "last 4: ok, fail, fail, fail");
    }

    #[test]
    fn cancelled_requests_do_not_count_and_no_limit_never_trips() {
        let g = guard(0.5, 2);
        for _ in 0..10 {
            g.observe(&rec(Some(FailureKind::Cancelled)));
        }
        assert!(g.tripped().is_none());
        for limit in [
            None,
            Some(FailureLimit {
                max_rate: 1.0,
                window: 2,
            }),
        ] {
            let g = RunGuard::new(limit, Duration::ZERO);
            for _ in 0..10 {
                g.observe(&rec(Some(FailureKind::HttpStatus)));
            }
            assert!(g.tripped().is_none());
        }
    }

    #[tokio::test]
    async fn in_flight_requests_are_cancelled_after_the_grace() {
        let g = RunGuard::new(
            Some(FailureLimit {
                max_rate: 0.1,
                window: 1,
            }),
            Duration::from_millis(20),
        );
        g.observe(&rec(Some(FailureKind::HttpStatus)));
        tokio::time::timeout(Duration::from_secs(10), g.cancelled())
            .await
            .expect("cancelled after the grace");
    }
}
