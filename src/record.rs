//! The per-request record: everything measured about one request, produced
//! by [`crate::load`] (through a [`crate::backend`]) and read by everything
//! after it ([`crate::metrics`], [`crate::stats`], [`crate::report`]).

use serde::{Deserialize, Serialize};

/// Why a request failed. Failed requests never enter latency figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// Could not connect or send the request.
    Connect,
    /// A timeout (connect, first byte, idle gap or total) expired.
    Timeout,
    /// The server answered with a non-2xx status.
    HttpStatus,
    /// The stream carried an error event, or the body broke off.
    StreamError,
    /// The stream could not be parsed (bad JSON, bad UTF-8, truncated event).
    MalformedStream,
    /// Fewer output tokens than were forced (`ignore_eos` / `min_tokens`).
    TruncatedOutput,
    /// The run was stopped before the request finished.
    Cancelled,
}

impl FailureKind {
    /// Every category, in report order.
    pub const ALL: [FailureKind; 7] = [
        FailureKind::Connect,
        FailureKind::Timeout,
        FailureKind::HttpStatus,
        FailureKind::StreamError,
        FailureKind::MalformedStream,
        FailureKind::TruncatedOutput,
        FailureKind::Cancelled,
    ];

    /// The category's name as used in CSV columns and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Connect => "connect",
            FailureKind::Timeout => "timeout",
            FailureKind::HttpStatus => "http_status",
            FailureKind::StreamError => "stream_error",
            FailureKind::MalformedStream => "malformed_stream",
            FailureKind::TruncatedOutput => "truncated_output",
            FailureKind::Cancelled => "cancelled",
        }
    }
}

/// A categorised failure with a short message (status, parser error...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    pub kind: FailureKind,
    pub message: String,
}

/// Server-side timings returned with `"return_latency": true`, in ms.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerLatency {
    pub prefill_latency: Option<f64>,
    pub model_prefill_latency: Option<f64>,
    pub avg_decode_latency: Option<f64>,
    pub time_in_queue: Option<f64>,
    pub request_latency: Option<f64>,
    /// The server's own TTFT: request received to first token written (ms),
    /// when the server reports it (the embedded simulator does), to check
    /// the client's timing against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_server_ms: Option<f64>,
    /// Prompt tokens the server served from its prefix cache (llama.cpp's
    /// `timings.cache_n`), when it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_prompt_tokens: Option<u64>,
}

/// What the client saw of one request, before any figure is derived: the
/// raw instants (ms from the request's start) and the counts.
#[derive(Debug, Clone, PartialEq)]
pub struct RawRequest {
    pub id: u64,
    pub epoch: u32,
    /// Seconds from the start of the phase to the request's start.
    pub start_s: f64,
    /// Start to the end of the body.
    pub done_ms: f64,
    /// Arrival of each token-carrying chunk and its token count.
    pub chunks: Vec<(f64, u32)>,
    pub input_tokens: u64,
    pub requested_output_tokens: u64,
    pub usage_output_tokens: Option<u64>,
    pub usage_input_tokens: Option<u64>,
    pub counted_output_tokens: Option<u64>,
    pub server: Option<ServerLatency>,
    pub failure: Option<Failure>,
    pub resent: u32,
}

/// Everything measured about one request. Times are in milliseconds from the
/// request's `start` (the instant just before it was written), except
/// `start_s`, which is seconds from the start of the phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// Index of the request inside its phase.
    pub id: u64,
    /// Epoch number (0-based); warm-up records are not kept.
    pub epoch: u32,
    /// Seconds from the start of the phase to this request's start.
    pub start_s: f64,
    /// Scheduled send time (open loop), seconds from the start of the phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_s: Option<f64>,
    /// Time to first token-carrying chunk.
    pub ttft_ms: Option<f64>,
    /// Start to the last token-carrying chunk.
    pub e2el_ms: Option<f64>,
    /// Start to the end of the body.
    pub done_ms: f64,
    /// Output tokens (usage when the server sent it, else the tokenizer's count).
    pub output_tokens: u64,
    /// Prompt tokens as built.
    pub input_tokens: u64,
    /// Output tokens asked for.
    pub requested_output_tokens: u64,
    /// `usage.completion_tokens`, when sent.
    #[serde(default)]
    pub usage_output_tokens: Option<u64>,
    /// `usage.prompt_tokens`, when sent.
    #[serde(default)]
    pub usage_input_tokens: Option<u64>,
    /// The tokenizer's count of the generated text.
    #[serde(default)]
    pub counted_output_tokens: Option<u64>,
    /// Arrival of each token-carrying chunk (ms from start) and its token count.
    pub chunks: Vec<(f64, u32)>,
    /// Server-side latency figures, when returned.
    #[serde(default)]
    pub server: Option<ServerLatency>,
    /// Set when the request failed.
    #[serde(default)]
    pub failure: Option<Failure>,
    /// Times the request was sent again on a fresh connection because a
    /// reused one was closed before any response (0 or 1); its timings are
    /// those of the send that was answered.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub resent: u32,
    /// What a reasoning model's stream showed, when its deltas carried
    /// reasoning (`reasoning_content` or `reasoning`) beside the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<Reasoning>,
    /// The session and turn of a multi-turn conversation's request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionTurn>,
}

/// Where a request sits in a multi-turn session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionTurn {
    /// The session's index in its run.
    pub session: u64,
    /// The turn's index in the session, from 0.
    pub turn: u32,
}

/// The reasoning part of one streamed answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reasoning {
    /// Output tokens spent reasoning: the server's
    /// `usage.completion_tokens_details.reasoning_tokens` when sent, else
    /// the tokens of the chunks before the first answer token. Counted in
    /// `output_tokens` too (TPOT is over all output tokens).
    pub tokens: u64,
    /// Start to the first answer (non-reasoning) token; `None` when the
    /// stream never got past its reasoning.
    pub answer_ms: Option<f64>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The most tokens one chunk may claim in a record read from a file: far
/// above any real burst (`num-scheduler-steps`), low enough that per-token
/// figures of a crafted file cannot take unbounded memory.
pub const MAX_CHUNK_TOKENS: u32 = 1 << 20;

impl RequestRecord {
    /// The one constructor of a measured record, from what the client saw.
    /// TTFT is the first token-carrying chunk, E2EL the last; the output
    /// length is the server's usage count, else the tokenizer's. TPOT, ITL
    /// and the chunk gaps derive from these ([`RequestRecord::tpot_ms`],
    /// [`RequestRecord::itl_ms`], [`RequestRecord::chunk_gaps_ms`]).
    pub fn from_raw(r: RawRequest) -> RequestRecord {
        RequestRecord {
            id: r.id,
            epoch: r.epoch,
            start_s: r.start_s,
            scheduled_s: None,
            ttft_ms: r.chunks.first().map(|c| c.0),
            e2el_ms: r.chunks.last().map(|c| c.0),
            done_ms: r.done_ms,
            output_tokens: r
                .usage_output_tokens
                .or(r.counted_output_tokens)
                .unwrap_or(0),
            input_tokens: r.input_tokens,
            requested_output_tokens: r.requested_output_tokens,
            usage_output_tokens: r.usage_output_tokens,
            usage_input_tokens: r.usage_input_tokens,
            counted_output_tokens: r.counted_output_tokens,
            chunks: r.chunks,
            server: r.server,
            failure: r.failure,
            resent: r.resent,
            reasoning: None,
            session: None,
        }
    }

    /// Time to the first answer token: after the reasoning when the stream
    /// reasoned, else the TTFT.
    pub fn ttfat_ms(&self) -> Option<f64> {
        match &self.reasoning {
            Some(r) => r.answer_ms,
            None => self.ttft_ms,
        }
    }
    /// Check a record read from a file: every chunk claims at most
    /// [`MAX_CHUNK_TOKENS`] tokens.
    pub fn check(&self) -> Result<(), String> {
        match self.chunks.iter().find(|c| c.1 > MAX_CHUNK_TOKENS) {
            Some(c) => Err(format!(
                "request {} of epoch {} has a chunk of {} tokens (at most {MAX_CHUNK_TOKENS})",
                self.id, self.epoch, c.1
            )),
            None => Ok(()),
        }
    }

    /// True when the request completed without failure.
    pub fn ok(&self) -> bool {
        self.failure.is_none()
    }

    /// TPOT: `(E2EL - TTFT) / (output_tokens - 1)`, undefined for < 2 tokens.
    pub fn tpot_ms(&self) -> Option<f64> {
        match (self.ttft_ms, self.e2el_ms) {
            (Some(t), Some(e)) if self.output_tokens > 1 => {
                Some((e - t) / (self.output_tokens - 1) as f64)
            }
            _ => None,
        }
    }

    /// Per-token ITL: a chunk carrying k tokens contributes its gap / k, k times.
    pub fn itl_ms(&self) -> impl Iterator<Item = f64> + '_ {
        self.chunks.windows(2).flat_map(|w| {
            let gap = w[1].0 - w[0].0;
            let k = w[1].1.max(1);
            std::iter::repeat_n(gap / k as f64, k as usize)
        })
    }

    /// Raw gaps between token-carrying chunks, one per chunk.
    pub fn chunk_gaps_ms(&self) -> impl Iterator<Item = f64> + '_ {
        self.chunks.windows(2).map(|w| w[1].0 - w[0].0)
    }

    /// Decode steps of a speculatively decoding server: the chunks after
    /// the first (which carries the prefill's token), each the tokens one
    /// step emitted (steps that reached the client in one read count as
    /// one). Returns `(steps n, their tokens Σ t_i)`.
    pub fn decode_steps(&self) -> (u64, u64) {
        let steps = self.chunks.get(1..).unwrap_or_default();
        let tokens = steps.iter().map(|c| u64::from(c.1)).sum();
        (steps.len() as u64, tokens)
    }

    /// Mean accepted length: tokens per decode step, `Σ t_i / n`; `None`
    /// without a decode step.
    pub fn tokens_per_step(&self) -> Option<f64> {
        let (n, t) = self.decode_steps();
        (n > 0).then(|| t as f64 / n as f64)
    }

    /// Speculative acceptance rate with `k` draft tokens a step: accepted
    /// over proposed drafts, `(Σ t_i - n) / (n k)` (the seed N's default
    /// formula with one scheduler step); `None` without a decode step or
    /// with `k` = 0.
    pub fn acceptance_rate(&self, k: u32) -> Option<f64> {
        let (n, t) = self.decode_steps();
        (n > 0 && k > 0).then(|| (t as f64 - n as f64) / (n as f64 * f64::from(k)))
    }

    /// Per-stream decode speed, tokens/s after the first token.
    pub fn decode_tokens_per_s(&self) -> Option<f64> {
        self.tpot_ms().filter(|t| *t > 0.0).map(|t| 1000.0 / t)
    }
}

/// Why a run stopped itself: among its last `window` finished requests,
/// `failed` failed, more than the limit allows.
///
/// ```
/// let s = servebench::record::EarlyStop { failed: 30, window: 50, max_failure_rate: 0.5 };
/// assert!(s.to_string().contains("30 of the last 50"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EarlyStop {
    /// Failed requests in the window.
    pub failed: u64,
    /// Finished requests in the window.
    pub window: u64,
    /// The limit that was passed, a fraction.
    pub max_failure_rate: f64,
}

impl std::fmt::Display for EarlyStop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "stopped early: {} of the last {} requests failed ({:.1} %), above the \
             failure-rate limit of {:.1} % (--max-failure-rate)",
            self.failed,
            self.window,
            100.0 * self.failed as f64 / self.window.max(1) as f64,
            100.0 * self.max_failure_rate
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(chunks: Vec<(f64, u32)>, out: u64) -> RequestRecord {
        RequestRecord {
            id: 0,
            epoch: 0,
            start_s: 0.0,
            scheduled_s: None,
            ttft_ms: chunks.first().map(|c| c.0),
            e2el_ms: chunks.last().map(|c| c.0),
            done_ms: chunks.last().map(|c| c.0 + 1.0).unwrap_or(0.0),
            output_tokens: out,
            input_tokens: 10,
            requested_output_tokens: out,
            usage_output_tokens: None,
            usage_input_tokens: None,
            counted_output_tokens: None,
            chunks,
            server: None,
            failure: None,
            resent: 0,
            reasoning: None,
            session: None,
        }
    }

    #[test]
    fn tpot_and_itl_per_token() {
        // 1 token at 100 ms, then a burst of 4 at 140 ms, then 1 at 150 ms.
        let r = rec(vec![(100.0, 1), (140.0, 4), (150.0, 1)], 6);
        assert_eq!(r.tpot_ms(), Some(10.0));
        let itl: Vec<f64> = r.itl_ms().collect();
        assert_eq!(itl, vec![10.0, 10.0, 10.0, 10.0, 10.0]);
        let gaps: Vec<f64> = r.chunk_gaps_ms().collect();
        assert_eq!(gaps, vec![40.0, 10.0]);
    }

    #[test]
    fn acceptance_rate_over_decode_steps() {
        // Prefill's token, then steps of 4, 1, 2, 1 tokens with 3 drafts a
        // step: 4 of 12 drafts accepted.
        let r = rec(
            vec![(10.0, 1), (20.0, 4), (30.0, 1), (40.0, 2), (50.0, 1)],
            9,
        );
        assert_eq!(r.decode_steps(), (4, 8));
        assert_eq!(r.tokens_per_step(), Some(2.0));
        assert!((r.acceptance_rate(3).unwrap() - 4.0 / 12.0).abs() < 1e-12);
        assert_eq!(r.acceptance_rate(0), None);
        // Per-token ITL: the 4-token step's 10 ms gap is 4 gaps of 2.5 ms.
        let itl: Vec<f64> = r.itl_ms().collect();
        assert_eq!(itl, vec![2.5, 2.5, 2.5, 2.5, 10.0, 5.0, 5.0, 10.0]);
        let one = rec(vec![(10.0, 1)], 1);
        assert_eq!(one.tokens_per_step(), None);
        assert_eq!(one.acceptance_rate(3), None);
    }

    #[test]
    fn tpot_undefined_for_one_token() {
        let r = rec(vec![(100.0, 1)], 1);
        assert_eq!(r.tpot_ms(), None);
        assert_eq!(r.decode_tokens_per_s(), None);
    }
}
