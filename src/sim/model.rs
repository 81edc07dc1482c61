//! The performance model: one dedicated OS thread runs the continuous-batching
//! scheduler and sleeps until absolute step deadlines.
//!
//! Timing rules (see [`SimConfig`] for the cost model):
//! * each step ends at `deadline = previous_deadline + step` while busy (now + step after idling), slept
//!   with `std::thread::sleep` (tokio timers have 1 ms granularity); lateness
//!   of one wake-up never accumulates over a run of steps;
//! * a prefill step runs alone (decodes wait), as in vLLM v0;
//! * in a scheduling step of `num_scheduler_steps` (N) decode steps, the batch
//!   size of all N steps is the number running at its start; a sequence that
//!   needs fewer than N more tokens emits only those;
//! * with `no_delay`, steps take 0 ms and a running sequence gets its next
//!   burst only while fewer than 2 of its events wait in its handler's
//!   channel (back-pressure from the socket); when no sequence can progress
//!   the thread parks until a handler takes an event or a request arrives;
//! * the KV cache reserves `prompt_tokens + max_tokens` per admitted request
//!   and frees it when the sequence finishes or its client goes away.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Geometric, StandardNormal};
use tokio::sync::mpsc::UnboundedSender;

use super::metrics::SimMetrics;
use super::prefix::PrefixCache;
use super::SimConfig;

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Finish {
    /// `max_tokens` reached.
    Length,
    /// Simulated EOS.
    Stop,
}

impl Finish {
    /// The OpenAI `finish_reason` string.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Finish::Length => "length",
            Finish::Stop => "stop",
        }
    }
}

/// Server-side instants of one finished request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    pub arrived: Instant,
    pub admitted: Instant,
    pub first_token: Instant,
    pub last_token: Instant,
    /// Modelled duration of the prefill step that served the request (ms).
    pub model_prefill_ms: f64,
    pub tokens: usize,
    /// Prompt tokens served from the prefix cache (`None`: no cache).
    pub cached_tokens: Option<usize>,
}

/// What the scheduler sends back to a request's handler.
#[derive(Debug)]
pub(crate) enum Event {
    /// `tokens` new tokens emitted at `at`; the last burst carries `finish`
    /// and `timing`.
    Tokens {
        tokens: usize,
        at: Instant,
        finish: Option<Finish>,
        timing: Option<Timing>,
    },
    /// The request cannot be served.
    Error(String),
}

/// A request handed to the scheduler.
#[derive(Debug)]
pub(crate) struct Arrival {
    /// When the request was whole on the machine (see the `sim` module's
    /// `time_in_queue`).
    pub arrived: Instant,
    pub prompt_tokens: usize,
    /// Chained prefix-block hashes (empty when the prefix cache is off).
    pub block_hashes: Vec<u64>,
    pub max_tokens: usize,
    pub min_tokens: usize,
    /// `ignore_eos`: run to `max_tokens` whatever the EOS model says.
    pub ignore_eos: bool,
    pub tx: UnboundedSender<Event>,
    /// Events sent and not yet taken by the handler (`no_delay` back-pressure:
    /// the handler decrements it and unparks the scheduler at 0).
    pub inflight: Arc<AtomicU32>,
}

/// Messages to the scheduler thread.
#[derive(Debug)]
pub(crate) enum SchedMsg {
    Arrival(Arrival),
    Shutdown,
}

struct Seq {
    a: Arrival,
    target: usize,
    finish: Finish,
    emitted: usize,
    reserve: usize,
    admitted: Instant,
    model_prefill_ms: f64,
    first: Option<Instant>,
    /// Its latest emission.
    last: Option<Instant>,
    /// Prompt tokens its prefill found in the prefix cache (`None`: no cache).
    cached_tokens: Option<usize>,
}

struct Scheduler {
    cfg: SimConfig,
    rx: Receiver<SchedMsg>,
    queue: VecDeque<Arrival>,
    running: Vec<Seq>,
    kv_used: usize,
    cache: Option<PrefixCache>,
    jitter_rng: StdRng,
    len_rng: StdRng,
    /// Draws of speculative decoding's accepted drafts.
    spec_rng: StdRng,
    deadline: Instant,
    /// The engine was idle: the next step starts when it runs, not at the
    /// last deadline.
    resync: bool,
    /// What `/metrics` serves.
    metrics: Arc<SimMetrics>,
}

/// Start the scheduler thread.
pub(crate) fn spawn(
    cfg: SimConfig,
    metrics: Arc<SimMetrics>,
) -> std::io::Result<(Sender<SchedMsg>, JoinHandle<()>)> {
    let (tx, rx) = std::sync::mpsc::channel();
    let cache = cfg
        .prefix_cache
        .then(|| PrefixCache::new(cfg.kv_cache_tokens / cfg.prefix_block_tokens.max(1)));
    let s = Scheduler {
        jitter_rng: StdRng::seed_from_u64(cfg.seed),
        len_rng: StdRng::seed_from_u64(cfg.seed ^ 0x5EED_0FE0),
        spec_rng: StdRng::seed_from_u64(cfg.seed ^ 0x5BEC_DEC0),
        cfg,
        rx,
        queue: VecDeque::new(),
        running: Vec::new(),
        kv_used: 0,
        cache,
        deadline: Instant::now(),
        resync: true,
        metrics,
    };
    let h = std::thread::Builder::new()
        .name("servebench-sim-scheduler".into())
        .spawn(move || s.run())?;
    Ok((tx, h))
}

impl Scheduler {
    fn run(mut self) {
        loop {
            if self.running.is_empty() && self.queue.is_empty() {
                match self.rx.recv_timeout(Duration::from_millis(500)) {
                    Ok(SchedMsg::Arrival(a)) => {
                        self.queue.push_back(a);
                        self.resync = true;
                    }
                    Ok(SchedMsg::Shutdown) | Err(RecvTimeoutError::Disconnected) => return,
                    Err(RecvTimeoutError::Timeout) => continue,
                }
            }
            loop {
                match self.rx.try_recv() {
                    Ok(SchedMsg::Arrival(a)) => self.queue.push_back(a),
                    Ok(SchedMsg::Shutdown) | Err(TryRecvError::Disconnected) => return,
                    Err(TryRecvError::Empty) => break,
                }
            }
            let progressed = self.iteration();
            self.metrics.gauges(
                self.running.len(),
                self.queue.len(),
                self.kv_used,
                self.cfg.kv_cache_tokens,
            );
            if !progressed {
                // no_delay and every running stream still holds its last
                // burst: wait for a handler (or an arrival) to unpark us.
                std::thread::park_timeout(Duration::from_millis(5));
            }
        }
    }

    /// Multiplier of one step's duration.
    fn jitter(&mut self) -> f64 {
        jitter_factor(&mut self.jitter_rng, self.cfg.jitter)
    }

    /// Output length and finish reason of a new sequence.
    fn target_len(&mut self, a: &Arrival) -> (usize, Finish) {
        let mean = self.cfg.eos_mean_tokens;
        if a.ignore_eos || a.min_tokens >= a.max_tokens || mean <= 0.0 {
            return (a.max_tokens, Finish::Length);
        }
        let g = Geometric::new((1.0 / mean).min(1.0)).expect("mean >= 1");
        let n = 1 + g.sample(&mut self.len_rng) as usize;
        let n = n.clamp(a.min_tokens.max(1), a.max_tokens);
        let finish = if n >= a.max_tokens {
            Finish::Length
        } else {
            Finish::Stop
        };
        (n, finish)
    }

    /// Sleep until the end of a step of `ms` milliseconds.
    ///
    /// While the engine is busy, steps are chained on absolute deadlines, so
    /// the thread's wake-up overshoot and the time spent emitting tokens do
    /// not add up step after step; after an idle wait, or when the thread fell
    /// behind by more than a step, the next step starts now.
    fn run_step(&mut self, ms: f64) {
        let step = Duration::from_secs_f64(ms.max(0.0) / 1000.0);
        let now = Instant::now();
        let behind = now.saturating_duration_since(self.deadline);
        let start = if self.resync || behind > step {
            now
        } else {
            self.deadline
        };
        self.resync = false;
        self.deadline = start + step;
        loop {
            let now = Instant::now();
            if now >= self.deadline {
                break;
            }
            std::thread::sleep(self.deadline - now);
        }
    }

    /// Admit from the queue head while batch and KV cache allow.
    fn admit(&mut self, now: Instant) -> Vec<Seq> {
        let mut admitted = Vec::new();
        while self.running.len() + admitted.len() < self.cfg.max_batch {
            let Some(front) = self.queue.front() else {
                break;
            };
            if front.tx.is_closed() {
                self.queue.pop_front();
                continue;
            }
            let reserve = front.prompt_tokens + front.max_tokens;
            if self.kv_used + reserve > self.cfg.kv_cache_tokens {
                if reserve > self.cfg.kv_cache_tokens {
                    let a = self.queue.pop_front().expect("front exists");
                    let msg = format!(
                        "request needs {reserve} KV-cache tokens; the cache holds {}",
                        self.cfg.kv_cache_tokens
                    );
                    let _ = a.tx.send(Event::Error(msg));
                    continue;
                }
                break;
            }
            let a = self.queue.pop_front().expect("front exists");
            let (target, finish) = self.target_len(&a);
            self.kv_used += reserve;
            admitted.push(Seq {
                a,
                target,
                finish,
                emitted: 0,
                reserve,
                admitted: now,
                model_prefill_ms: 0.0,
                first: None,
                last: None,
                cached_tokens: None,
            });
        }
        admitted
    }

    /// One scheduler iteration: a prefill step, else a decode scheduling step.
    /// False when nothing could progress (only with `no_delay`).
    fn iteration(&mut self) -> bool {
        let now = Instant::now();
        let mut admitted = self.admit(now);
        if !admitted.is_empty() {
            let block = self.cfg.prefix_block_tokens;
            let mut uncached = 0;
            for s in admitted.iter_mut() {
                let cached = match self.cache.as_mut() {
                    Some(c) => c.lookup(&s.a.block_hashes) * block,
                    None => 0,
                };
                if self.cache.is_some() {
                    s.cached_tokens = Some(cached.min(s.a.prompt_tokens));
                }
                let queued = s.admitted.saturating_duration_since(s.a.arrived);
                self.metrics
                    .admitted(s.a.prompt_tokens, s.cached_tokens, queued.as_secs_f64());
                uncached += s.a.prompt_tokens.saturating_sub(cached).max(1);
            }
            if let Some(c) = self.cache.as_mut() {
                for s in &admitted {
                    c.insert(&s.a.block_hashes);
                }
            }
            let ms = self.cfg.prefill_ms(uncached) * self.jitter();
            self.run_step(ms);
            let t = Instant::now();
            for mut s in admitted.drain(..) {
                s.model_prefill_ms = ms;
                if emit(&mut s, 1, t, &self.metrics) {
                    self.running.push(s);
                } else {
                    self.kv_used -= s.reserve;
                }
            }
            true
        } else if !self.running.is_empty() {
            let n = self.cfg.num_scheduler_steps;
            let r = self.running.len();
            let no_delay = self.cfg.no_delay;
            if !no_delay {
                let mut ms = 0.0;
                for _ in 0..n {
                    ms += self.cfg.decode_step_ms(r) * self.jitter();
                }
                self.run_step(ms);
            }
            let t = Instant::now();
            let mut freed = 0;
            let mut progressed = !no_delay;
            let (drafts, accept) = (self.cfg.spec_tokens, self.cfg.spec_accept);
            let spec_rng = &mut self.spec_rng;
            let metrics = &self.metrics;
            self.running.retain_mut(|s| {
                if no_delay && s.a.inflight.load(Ordering::Acquire) >= NO_DELAY_INFLIGHT {
                    let alive = !s.a.tx.is_closed();
                    if !alive {
                        freed += s.reserve;
                    }
                    progressed |= !alive;
                    return alive;
                }
                progressed = true;
                // Speculative decoding: each of the n decode steps emits its
                // accepted drafts and one token of its own.
                let want = if drafts > 0 {
                    (0..n)
                        .map(|_| 1 + accepted_drafts(spec_rng, drafts, accept))
                        .sum()
                } else {
                    n
                };
                let k = want.min(s.target - s.emitted);
                let alive = emit(s, k, t, metrics);
                if !alive {
                    freed += s.reserve;
                }
                alive
            });
            self.kv_used -= freed;
            progressed
        } else {
            // Queued requests that cannot be admitted yet with nothing running
            // cannot happen (a lone request always fits), except when the
            // queue head's handler is gone: `admit` dropped it.
            true
        }
    }
}

/// With `no_delay`, a running sequence gets no new burst while this many of
/// its events wait in its handler's channel.
const NO_DELAY_INFLIGHT: u32 = 2;

/// `1 + jitter * N(0, 1)`, clamped to at least 0.05; exactly 1 for jitter 0.
fn jitter_factor(rng: &mut StdRng, jitter: f64) -> f64 {
    if jitter <= 0.0 {
        return 1.0;
    }
    let z: f64 = rng.sample(StandardNormal);
    (1.0 + jitter * z).max(0.05)
}

/// Draft tokens accepted in one speculative decode step: of `drafts`
/// proposed, each accepted with probability `p`, checked in order until the
/// first rejection.
pub(crate) fn accepted_drafts(rng: &mut StdRng, drafts: usize, p: f64) -> usize {
    (0..drafts).take_while(|_| rng.random_bool(p)).count()
}

/// Emit `k` tokens of `s` at `t`; false when the sequence is over (finished
/// or its handler went away).
fn emit(s: &mut Seq, k: usize, t: Instant, metrics: &SimMetrics) -> bool {
    s.emitted += k;
    let since = |at: Instant| t.saturating_duration_since(at).as_secs_f64();
    match s.last {
        None => metrics.emitted(k, Some(since(s.a.arrived)), None),
        Some(l) => metrics.emitted(k, None, Some(since(l))),
    }
    s.last = Some(t);
    let first = *s.first.get_or_insert(t);
    let done = s.emitted >= s.target;
    if done {
        metrics.finished(since(s.a.arrived));
    }
    let timing = done.then_some(Timing {
        arrived: s.a.arrived,
        admitted: s.admitted,
        first_token: first,
        last_token: t,
        model_prefill_ms: s.model_prefill_ms,
        tokens: s.emitted,
        cached_tokens: s.cached_tokens,
    });
    s.a.inflight.fetch_add(1, Ordering::AcqRel);
    let ev = Event::Tokens {
        tokens: k,
        at: t,
        finish: done.then_some(s.finish),
        timing,
    };
    s.a.tx.send(ev).is_ok() && !done
}

#[cfg(test)]
#[path = "model_tests.rs"]
mod tests;
