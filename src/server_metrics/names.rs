//! The metric names of the engines users run, mapped to the few figures a
//! serving benchmark puts beside its own: vLLM (`vllm:`), SGLang
//! (`sglang:`), Hugging Face TGI (`tgi_`) and llama.cpp's server
//! (`llamacpp:`, started with `--metrics`). The first name present wins, so
//! an engine that exports both a new and a deprecated name is read once.
//! Every other series is kept under its own name.

use super::snapshot::{Histogram, Snapshot};

/// The engine whose names a page uses, from its metric prefixes.
pub fn engine(s: &Snapshot) -> &'static str {
    let names = s.scalars.keys().chain(s.histograms.keys());
    let mut found = "unknown";
    for n in names {
        let e = if n.starts_with("vllm:") {
            "vllm"
        } else if n.starts_with("sglang:") {
            "sglang"
        } else if n.starts_with("llamacpp:") {
            "llama.cpp"
        } else if n.starts_with("tgi_") {
            "tgi"
        } else {
            continue;
        };
        found = e;
        break;
    }
    found
}

/// Requests the engine is running (in its batch).
const RUNNING: &[&str] = &[
    "vllm:num_requests_running",
    "sglang:num_running_reqs",
    "llamacpp:requests_processing",
    "tgi_batch_current_size",
];
/// Requests waiting in the engine's queue.
const WAITING: &[&str] = &[
    "vllm:num_requests_waiting",
    "sglang:num_queue_reqs",
    "llamacpp:requests_deferred",
    "tgi_queue_size",
];
/// KV-cache use as a fraction (vLLM's `_perc` is a fraction too).
const KV_USAGE: &[&str] = &[
    "vllm:kv_cache_usage_perc",
    "vllm:gpu_cache_usage_perc",
    "sglang:token_usage",
    "llamacpp:kv_cache_usage_ratio",
];
/// Prompt tokens the engine counted (cached ones included; llama.cpp counts
/// them apart, see [`prompt_tokens`]).
const PROMPT_TOKENS: &[&str] = &[
    "vllm:prompt_tokens_total",
    "sglang:prompt_tokens_total",
    "llamacpp:prompt_tokens_total",
];
/// Output tokens the engine counted.
const GENERATION_TOKENS: &[&str] = &[
    "vllm:generation_tokens_total",
    "sglang:generation_tokens_total",
    "llamacpp:tokens_predicted_total",
];

/// A latency histogram the engine keeps of its own timings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Latency {
    /// Arrival to first token.
    Ttft,
    /// Per output token, between tokens.
    Itl,
    /// Per request: decode time over output tokens after the first.
    Tpot,
    /// Arrival to last token.
    E2el,
    /// Time spent waiting before the first schedule.
    Queue,
}

impl Latency {
    /// Every kind, in report order.
    pub const ALL: [Latency; 5] = [
        Latency::Ttft,
        Latency::Itl,
        Latency::Tpot,
        Latency::E2el,
        Latency::Queue,
    ];

    /// The key in `run.json` and the CSV.
    pub fn key(self) -> &'static str {
        match self {
            Latency::Ttft => "ttft",
            Latency::Itl => "itl",
            Latency::Tpot => "tpot",
            Latency::E2el => "e2el",
            Latency::Queue => "queue",
        }
    }

    /// The histogram names, first match wins (all in seconds).
    fn names(self) -> &'static [&'static str] {
        match self {
            Latency::Ttft => &[
                "vllm:time_to_first_token_seconds",
                "sglang:time_to_first_token_seconds",
            ],
            Latency::Itl => &[
                "vllm:inter_token_latency_seconds",
                "vllm:time_per_output_token_seconds",
                "sglang:inter_token_latency_seconds",
            ],
            Latency::Tpot => &[
                "vllm:request_time_per_output_token_seconds",
                "sglang:time_per_output_token_seconds",
                "tgi_request_mean_time_per_token_duration",
            ],
            Latency::E2el => &[
                "vllm:e2e_request_latency_seconds",
                "sglang:e2e_request_latency_seconds",
                "tgi_request_duration",
            ],
            Latency::Queue => &[
                "vllm:request_queue_time_seconds",
                "sglang:queue_time_seconds",
                "tgi_request_queue_duration",
            ],
        }
    }

    /// This latency's histogram in `s`, and its name.
    pub fn find(self, s: &Snapshot) -> Option<(&'static str, &Histogram)> {
        self.names()
            .iter()
            .find_map(|n| s.histograms.get(*n).map(|h| (*n, h)))
    }
}

fn first(s: &Snapshot, names: &[&str]) -> Option<f64> {
    names.iter().find_map(|n| s.scalar(n))
}

/// Requests running.
pub fn running(s: &Snapshot) -> Option<f64> {
    first(s, RUNNING)
}

/// Requests waiting.
pub fn waiting(s: &Snapshot) -> Option<f64> {
    first(s, WAITING)
}

/// KV-cache use, 0..1.
pub fn kv_usage(s: &Snapshot) -> Option<f64> {
    first(s, KV_USAGE)
}

/// Prompt tokens counted so far, cached ones included. TGI counts them in
/// a histogram of input lengths (its sum).
pub fn prompt_tokens(s: &Snapshot) -> Option<f64> {
    if let Some(n) = s.scalar("llamacpp:prompt_tokens_total") {
        // llama.cpp leaves the tokens it reused from its cache out.
        return Some(
            n + s
                .scalar("llamacpp:prompt_tokens_cached_total")
                .unwrap_or(0.0),
        );
    }
    first(s, PROMPT_TOKENS).or_else(|| s.histograms.get("tgi_request_input_length").map(|h| h.sum))
}

/// Output tokens counted so far.
pub fn generation_tokens(s: &Snapshot) -> Option<f64> {
    first(s, GENERATION_TOKENS).or_else(|| {
        s.histograms
            .get("tgi_request_generated_tokens")
            .map(|h| h.sum)
    })
}

/// Prefix-cache counters so far: (tokens looked up, tokens found).
pub fn prefix_cache(s: &Snapshot) -> Option<(f64, f64)> {
    let pairs = [
        (
            "vllm:prefix_cache_queries_total",
            "vllm:prefix_cache_hits_total",
        ),
        (
            "vllm:gpu_prefix_cache_queries_total",
            "vllm:gpu_prefix_cache_hits_total",
        ),
    ];
    for (q, h) in pairs {
        if let (Some(q), Some(h)) = (s.scalar(q), s.scalar(h)) {
            return Some((q, h));
        }
    }
    if let Some(hits) = s.scalar("sglang:cached_tokens_total") {
        return Some((s.scalar("sglang:prompt_tokens_total")?, hits));
    }
    if let Some(hits) = s.scalar("llamacpp:prompt_tokens_cached_total") {
        return Some((prompt_tokens(s)?, hits));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn llama_cpp_counts_cached_prompt_tokens_apart() {
        let page = "\
# TYPE llamacpp:prompt_tokens_total counter
llamacpp:prompt_tokens_total 30
# TYPE llamacpp:prompt_tokens_cached_total counter
llamacpp:prompt_tokens_cached_total 70
# TYPE llamacpp:tokens_predicted_total counter
llamacpp:tokens_predicted_total 5
# TYPE llamacpp:requests_processing gauge
llamacpp:requests_processing 2
";
        let s = Snapshot::parse(page, 0.0).unwrap();
        assert_eq!(engine(&s), "llama.cpp");
        assert_eq!(prompt_tokens(&s), Some(100.0));
        assert_eq!(prefix_cache(&s), Some((100.0, 70.0)));
        assert_eq!(generation_tokens(&s), Some(5.0));
        assert_eq!(running(&s), Some(2.0));
        assert_eq!(waiting(&s), None);
    }

    #[test]
    fn the_new_vllm_name_wins_over_the_deprecated_one() {
        let page = "\
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc 0.25
# TYPE vllm:gpu_cache_usage_perc gauge
vllm:gpu_cache_usage_perc 0.5
";
        let s = Snapshot::parse(page, 0.0).unwrap();
        assert_eq!(engine(&s), "vllm");
        assert_eq!(kv_usage(&s), Some(0.25));
    }
}
