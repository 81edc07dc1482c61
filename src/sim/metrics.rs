//! The simulator's own view, served at `/metrics` in Prometheus' text
//! exposition format under vLLM's metric names: its queue, its running
//! batch, its KV-cache use, prefix-cache queries and hits, token counters,
//! and histograms of the times it measured itself (queue time, TTFT,
//! inter-token latency, end-to-end latency) from the handler's entry.
//!
//! The scheduler thread is the only writer (relaxed atomics, no lock); the
//! `/metrics` handler reads a consistent-enough snapshot, as a real engine's
//! exporter does.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Upper bounds (seconds) of every histogram's buckets: from 0.25 ms, each
/// 1.25 times the last, up to about 10 minutes (finer than vLLM's own, so
/// that sub-millisecond simulated steps still give useful quantiles).
fn bounds() -> &'static [f64] {
    static B: std::sync::OnceLock<Vec<f64>> = std::sync::OnceLock::new();
    B.get_or_init(|| {
        let mut v = Vec::new();
        let mut b = 0.000_25_f64;
        while b < 600.0 {
            v.push((b * 1e6).round() / 1e6);
            b *= 1.25;
        }
        v
    })
}

/// One histogram: a count per bucket (not cumulative) and the sum.
struct Histogram {
    counts: Vec<AtomicU64>,
    /// Sum of the observations, in nanoseconds.
    sum_ns: AtomicU64,
}

impl Histogram {
    fn new() -> Self {
        Histogram {
            counts: (0..=bounds().len()).map(|_| AtomicU64::new(0)).collect(),
            sum_ns: AtomicU64::new(0),
        }
    }

    /// `n` observations of `s` seconds each.
    fn observe_n(&self, s: f64, n: u64) {
        let i = bounds().partition_point(|&b| b < s);
        self.counts[i].fetch_add(n, Relaxed);
        self.sum_ns
            .fetch_add((s.max(0.0) * 1e9 * n as f64) as u64, Relaxed);
    }

    fn write(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} histogram");
        let mut cum = 0;
        for (i, c) in self.counts.iter().enumerate() {
            cum += c.load(Relaxed);
            match bounds().get(i) {
                Some(b) => {
                    let _ = writeln!(out, "{name}_bucket{{{LABELS},le=\"{b}\"}} {cum}");
                }
                None => {
                    let _ = writeln!(out, "{name}_bucket{{{LABELS},le=\"+Inf\"}} {cum}");
                }
            }
        }
        let sum = self.sum_ns.load(Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "{name}_sum{{{LABELS}}} {sum}");
        let _ = writeln!(out, "{name}_count{{{LABELS}}} {cum}");
    }
}

/// The labels every series carries, as vLLM's do.
const LABELS: &str = "model_name=\"sim\",engine=\"0\"";

/// Every figure the simulated engine exports.
pub(crate) struct SimMetrics {
    running: AtomicU64,
    waiting: AtomicU64,
    /// KV-cache use in millionths.
    kv_use_ppm: AtomicU64,
    prompt_tokens: AtomicU64,
    generation_tokens: AtomicU64,
    prefix_queries: AtomicU64,
    prefix_hits: AtomicU64,
    success: AtomicU64,
    queue_time: Histogram,
    ttft: Histogram,
    itl: Histogram,
    e2e: Histogram,
}

impl Default for SimMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl SimMetrics {
    /// Every figure at zero.
    pub fn new() -> Self {
        SimMetrics {
            running: AtomicU64::new(0),
            waiting: AtomicU64::new(0),
            kv_use_ppm: AtomicU64::new(0),
            prompt_tokens: AtomicU64::new(0),
            generation_tokens: AtomicU64::new(0),
            prefix_queries: AtomicU64::new(0),
            prefix_hits: AtomicU64::new(0),
            success: AtomicU64::new(0),
            queue_time: Histogram::new(),
            ttft: Histogram::new(),
            itl: Histogram::new(),
            e2e: Histogram::new(),
        }
    }

    /// The scheduler's state after an iteration.
    pub fn gauges(&self, running: usize, waiting: usize, kv_used: usize, kv_total: usize) {
        self.running.store(running as u64, Relaxed);
        self.waiting.store(waiting as u64, Relaxed);
        let ppm = kv_used as f64 / kv_total.max(1) as f64 * 1e6;
        self.kv_use_ppm.store(ppm as u64, Relaxed);
    }

    /// A request was admitted after `queued_s` in the queue; its prompt
    /// was looked up in the prefix cache (`cached`: tokens found, `None`
    /// with the cache off).
    pub fn admitted(&self, prompt_tokens: usize, cached: Option<usize>, queued_s: f64) {
        self.prompt_tokens.fetch_add(prompt_tokens as u64, Relaxed);
        if let Some(c) = cached {
            self.prefix_queries.fetch_add(prompt_tokens as u64, Relaxed);
            self.prefix_hits.fetch_add(c as u64, Relaxed);
        }
        self.queue_time.observe_n(queued_s, 1);
    }

    /// `k` tokens were emitted; `first_s`: the request's TTFT when these
    /// are its first, else `gap_s`: the time since its previous emission
    /// (one inter-token latency of `gap_s / k` per token).
    pub fn emitted(&self, k: usize, first_s: Option<f64>, gap_s: Option<f64>) {
        self.generation_tokens.fetch_add(k as u64, Relaxed);
        if let Some(t) = first_s {
            self.ttft.observe_n(t, 1);
            // Tokens after the first of a burst arrived at once.
            if k > 1 {
                self.itl.observe_n(0.0, k as u64 - 1);
            }
        } else if let Some(g) = gap_s {
            self.itl.observe_n(g / k.max(1) as f64, k as u64);
        }
    }

    /// A request finished after `e2e_s` from its arrival.
    pub fn finished(&self, e2e_s: f64) {
        self.success.fetch_add(1, Relaxed);
        self.e2e.observe_n(e2e_s, 1);
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        let gauge = |out: &mut String, name: &str, help: &str, v: f64| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} gauge");
            let _ = writeln!(out, "{name}{{{LABELS}}} {v}");
        };
        let counter = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            let _ = writeln!(out, "{name}{{{LABELS}}} {v}");
        };
        let r = |a: &AtomicU64| a.load(Relaxed);
        gauge(
            &mut out,
            "vllm:num_requests_running",
            "Number of requests in model execution batches.",
            r(&self.running) as f64,
        );
        gauge(
            &mut out,
            "vllm:num_requests_waiting",
            "Number of requests waiting to be processed.",
            r(&self.waiting) as f64,
        );
        gauge(
            &mut out,
            "vllm:kv_cache_usage_perc",
            "KV-cache usage. 1 means 100 percent usage.",
            r(&self.kv_use_ppm) as f64 / 1e6,
        );
        counter(
            &mut out,
            "vllm:prefix_cache_queries_total",
            "Prefix cache queries, in terms of number of queried tokens.",
            r(&self.prefix_queries),
        );
        counter(
            &mut out,
            "vllm:prefix_cache_hits_total",
            "Prefix cache hits, in terms of number of cached tokens.",
            r(&self.prefix_hits),
        );
        counter(
            &mut out,
            "vllm:prompt_tokens_total",
            "Number of prefill tokens processed.",
            r(&self.prompt_tokens),
        );
        counter(
            &mut out,
            "vllm:generation_tokens_total",
            "Number of generation tokens processed.",
            r(&self.generation_tokens),
        );
        counter(
            &mut out,
            "vllm:request_success_total",
            "Count of successfully processed requests.",
            r(&self.success),
        );
        self.queue_time.write(
            &mut out,
            "vllm:request_queue_time_seconds",
            "Histogram of time spent in WAITING phase for request.",
        );
        self.ttft.write(
            &mut out,
            "vllm:time_to_first_token_seconds",
            "Histogram of time to first token in seconds.",
        );
        self.itl.write(
            &mut out,
            "vllm:inter_token_latency_seconds",
            "Histogram of inter-token latency in seconds.",
        );
        self.e2e.write(
            &mut out,
            "vllm:e2e_request_latency_seconds",
            "Histogram of e2e request latency in seconds.",
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative_and_end_with_inf() {
        let m = SimMetrics::new();
        m.emitted(1, Some(0.010), None);
        m.emitted(2, None, Some(0.004));
        m.finished(0.02);
        let text = m.render();
        assert!(text.contains("vllm:generation_tokens_total{model_name=\"sim\",engine=\"0\"} 3"));
        assert!(text.contains(
            "vllm:inter_token_latency_seconds_bucket{model_name=\"sim\",engine=\"0\",le=\"+Inf\"} 2"
        ));
        assert!(text.contains(
            "vllm:inter_token_latency_seconds_sum{model_name=\"sim\",engine=\"0\"} 0.004"
        ));
        // The 10 ms TTFT is counted in every bucket from the first bound
        // at or above 0.01 s, and in none below it.
        let b = bounds();
        let i = b.partition_point(|&x| x < 0.010);
        let below = format!("le=\"{}\"}} 0", b[i - 1]);
        let at = format!("le=\"{}\"}} 1", b[i]);
        let ttft: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("vllm:time_to_first_token_seconds_bucket"))
            .collect();
        assert!(ttft.iter().any(|l| l.ends_with(&below)));
        assert!(ttft.iter().any(|l| l.ends_with(&at)));
    }
}
