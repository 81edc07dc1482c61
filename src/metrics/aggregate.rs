//! Aggregation of per-request records into the figures of one benchmark
//! point (one concurrency, or one request rate), as DESIGN.md defines them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::catalogue::Dist;
use super::{FailureKind, RequestRecord};
use crate::stats::Summary;

/// Percentiles reported by default.
pub const DEFAULT_PERCENTILES: [f64; 3] = [50.0, 90.0, 99.0];

/// `asked` and [`DEFAULT_PERCENTILES`] together, ascending, each once: the
/// percentiles a summary computes, so that the tables, plots and gates
/// (which read p50, p90 and p99) have theirs whatever `--percentiles` asked.
pub fn summary_percentiles(asked: &[f64]) -> Vec<f64> {
    let mut ps: Vec<f64> = asked.iter().chain(&DEFAULT_PERCENTILES).copied().collect();
    ps.sort_by(f64::total_cmp);
    ps.dedup_by(|a, b| (*a - *b).abs() < 1e-9);
    ps
}

/// Service-level objectives for goodput, in ms. A request is "good" when it
/// meets every objective that is set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Slo {
    pub ttft_ms: Option<f64>,
    pub tpot_ms: Option<f64>,
    pub e2el_ms: Option<f64>,
}

impl Slo {
    /// True when `r` succeeded and met every set objective.
    pub fn met_by(&self, r: &RequestRecord) -> bool {
        let within = |limit: Option<f64>, v: Option<f64>| match limit {
            None => true,
            Some(l) => v.is_some_and(|v| v <= l),
        };
        r.ok()
            && within(self.ttft_ms, r.ttft_ms)
            && within(self.e2el_ms, r.e2el_ms)
            && match self.tpot_ms {
                None => true,
                // One-token outputs have no TPOT: they cannot break the objective.
                Some(l) => r.tpot_ms().is_none_or(|t| t <= l),
            }
    }

    /// The objectives set, by the name `--goodput` gives them (`ttft`,
    /// `tpot`, `e2el`), in ms.
    pub fn objectives(&self) -> Vec<(&'static str, f64)> {
        [
            ("ttft", self.ttft_ms),
            ("tpot", self.tpot_ms),
            ("e2el", self.e2el_ms),
        ]
        .into_iter()
        .filter_map(|(n, v)| v.map(|v| (n, v)))
        .collect()
    }

    /// True when no objective is set.
    pub fn is_empty(&self) -> bool {
        self.ttft_ms.is_none() && self.tpot_ms.is_none() && self.e2el_ms.is_none()
    }
}

/// Means of the server-side latency figures over the requests that had them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerMeans {
    pub requests: usize,
    pub time_in_queue_ms: Option<f64>,
    pub prefill_latency_ms: Option<f64>,
    pub model_prefill_latency_ms: Option<f64>,
    pub avg_decode_latency_ms: Option<f64>,
    pub request_latency_ms: Option<f64>,
}

/// Per-epoch figures: the unit of replication for comparisons.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochFigures {
    pub epoch: u32,
    pub wall_s: f64,
    pub completed: usize,
    pub failed: usize,
    pub request_throughput: f64,
    pub output_throughput: f64,
    pub total_throughput: f64,
}

/// Every figure of one benchmark point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointSummary {
    pub epochs: usize,
    pub sent: usize,
    pub completed: usize,
    pub failed: usize,
    /// Failures by category (`connect`, `timeout`, ...).
    pub failures: BTreeMap<String, usize>,
    /// Sum of the epochs' wall times (first send to last done), seconds.
    pub wall_s: f64,
    /// Completed requests / wall time.
    pub request_throughput: f64,
    /// Output tokens of completed requests / wall time.
    pub output_throughput: f64,
    /// (Input + output) tokens of completed requests / wall time.
    pub total_throughput: f64,
    /// Requests meeting every SLO / wall time (when SLOs are set).
    pub goodput: Option<f64>,
    pub ttft_ms: Summary,
    /// Time to first answer token (after a reasoning model's reasoning;
    /// the TTFT of a plain answer).
    #[serde(default)]
    pub ttfat_ms: Summary,
    pub tpot_ms: Summary,
    /// Per-token inter-token latency.
    pub itl_ms: Summary,
    /// Raw gaps between token-carrying chunks.
    pub chunk_gap_ms: Summary,
    pub e2el_ms: Summary,
    /// Per-stream decode speed, tokens/s.
    pub decode_tokens_per_s: Summary,
    pub input_tokens: Summary,
    pub output_tokens: Summary,
    /// Output tokens spent reasoning, per request (0 for plain answers).
    #[serde(default)]
    pub reasoning_tokens: Summary,
    /// Requests whose usage count and tokenizer count of the output differ.
    pub output_count_mismatches: usize,
    /// Multi-turn sessions: TTFT by turn, session duration and goodput
    /// (`None` for requests outside sessions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessions: Option<super::sessions::SessionFigures>,
    /// The server's prefix-cache hit ratio: prompt tokens it reported as
    /// cached (`usage.prompt_tokens_details.cached_tokens`) over the prompt
    /// tokens of those requests (`None` when no answer reported it).
    #[serde(default)]
    pub prefix_cache_hit_ratio: Option<f64>,
    pub server: Option<ServerMeans>,
    /// Open loop: actual minus scheduled send time, ms (empty for closed loop).
    #[serde(default)]
    pub send_lateness_ms: Summary,
    /// Open loop: requests sent per second between the first and last send.
    #[serde(default)]
    pub achieved_send_rate: Option<f64>,
    /// Speculative decoding's acceptance figures, when the run used
    /// `--use-spec-decode` (see [`super::spec`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec_decode: Option<super::spec::SpecDecodeSummary>,
    pub per_epoch: Vec<EpochFigures>,
}

impl PointSummary {
    /// A summary of no request at all.
    pub fn empty() -> PointSummary {
        summarize(&[], &DEFAULT_PERCENTILES, &Slo::default())
    }
}

/// Wall time of one epoch: first send to last end of body, seconds.
pub fn wall_time_s(records: &[RequestRecord]) -> f64 {
    let first = records
        .iter()
        .map(|r| r.start_s)
        .fold(f64::INFINITY, f64::min);
    let last = records
        .iter()
        .map(|r| r.start_s + r.done_ms / 1e3)
        .fold(f64::NEG_INFINITY, f64::max);
    if first.is_finite() && last > first {
        last - first
    } else {
        0.0
    }
}

fn per_s(x: f64, wall: f64) -> f64 {
    if wall > 0.0 {
        x / wall
    } else {
        0.0
    }
}

fn mean(v: impl Iterator<Item = f64>) -> Option<f64> {
    let (s, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    (n > 0).then(|| s / n as f64)
}

/// Cached prompt tokens over prompt tokens (the server's count when it sent
/// one), over the answers that reported a cached count.
fn prefix_cache_hit_ratio(ok: &[&RequestRecord]) -> Option<f64> {
    let (mut cached, mut prompt) = (0u64, 0u64);
    for r in ok {
        if let Some(c) = r.server.as_ref().and_then(|s| s.cached_prompt_tokens) {
            cached += c;
            prompt += r.usage_input_tokens.unwrap_or(r.input_tokens);
        }
    }
    (prompt > 0).then(|| cached as f64 / prompt as f64)
}

fn server_means(ok: &[&RequestRecord]) -> Option<ServerMeans> {
    let with: Vec<_> = ok.iter().filter_map(|r| r.server.as_ref()).collect();
    if with.is_empty() {
        return None;
    }
    Some(ServerMeans {
        requests: with.len(),
        time_in_queue_ms: mean(with.iter().filter_map(|s| s.time_in_queue)),
        prefill_latency_ms: mean(with.iter().filter_map(|s| s.prefill_latency)),
        model_prefill_latency_ms: mean(with.iter().filter_map(|s| s.model_prefill_latency)),
        avg_decode_latency_ms: mean(with.iter().filter_map(|s| s.avg_decode_latency)),
        request_latency_ms: mean(with.iter().filter_map(|s| s.request_latency)),
    })
}

/// Summarise a point from its epochs' records, at `percentiles` and the
/// defaults ([`summary_percentiles`]).
///
/// Failed requests count in `sent` and `failures` but never in latency or
/// token figures. Throughputs are totals over the sum of epoch wall times.
pub fn summarize(epochs: &[&[RequestRecord]], percentiles: &[f64], slo: &Slo) -> PointSummary {
    let all: Vec<&RequestRecord> = epochs.iter().flat_map(|e| e.iter()).collect();
    let ok: Vec<&RequestRecord> = all.iter().copied().filter(|r| r.ok()).collect();
    let mut failures = BTreeMap::new();
    for r in all.iter().filter_map(|r| r.failure.as_ref()) {
        *failures.entry(r.kind.as_str().to_string()).or_insert(0) += 1;
    }
    let per_epoch: Vec<EpochFigures> = epochs
        .iter()
        .enumerate()
        .map(|(i, recs)| {
            let wall = wall_time_s(recs);
            let good: Vec<_> = recs.iter().filter(|r| r.ok()).collect();
            let out: u64 = good.iter().map(|r| r.output_tokens).sum();
            let inp: u64 = good.iter().map(|r| r.input_tokens).sum();
            EpochFigures {
                epoch: recs.first().map(|r| r.epoch).unwrap_or(i as u32),
                wall_s: wall,
                completed: good.len(),
                failed: recs.len() - good.len(),
                request_throughput: per_s(good.len() as f64, wall),
                output_throughput: per_s(out as f64, wall),
                total_throughput: per_s((out + inp) as f64, wall),
            }
        })
        .collect();
    let wall_s: f64 = per_epoch.iter().map(|e| e.wall_s).sum();
    let out: u64 = ok.iter().map(|r| r.output_tokens).sum();
    let inp: u64 = ok.iter().map(|r| r.input_tokens).sum();
    let ps = &summary_percentiles(percentiles);
    // Every distribution as the catalogue defines it.
    let dist = |d: Dist| Summary::of(d.values(ok.iter().copied()), ps);
    PointSummary {
        epochs: epochs.len(),
        sent: all.len(),
        completed: ok.len(),
        failed: all.len() - ok.len(),
        failures,
        wall_s,
        request_throughput: per_s(ok.len() as f64, wall_s),
        output_throughput: per_s(out as f64, wall_s),
        total_throughput: per_s((out + inp) as f64, wall_s),
        goodput: (!slo.is_empty())
            .then(|| per_s(ok.iter().filter(|r| slo.met_by(r)).count() as f64, wall_s)),
        ttft_ms: dist(Dist::Ttft),
        ttfat_ms: dist(Dist::Ttfat),
        tpot_ms: dist(Dist::Tpot),
        itl_ms: dist(Dist::Itl),
        chunk_gap_ms: dist(Dist::ChunkGap),
        e2el_ms: dist(Dist::E2el),
        decode_tokens_per_s: dist(Dist::DecodeSpeed),
        input_tokens: dist(Dist::InputTokens),
        output_tokens: dist(Dist::OutputTokens),
        reasoning_tokens: dist(Dist::ReasoningTokens),
        output_count_mismatches: ok
            .iter()
            .filter(|r| matches!((r.usage_output_tokens, r.counted_output_tokens), (Some(u), Some(c)) if u != c))
            .count(),
        prefix_cache_hit_ratio: prefix_cache_hit_ratio(&ok),
        sessions: super::sessions::SessionFigures::of(&all, ps, slo, wall_s),
        server: server_means(&ok),
        send_lateness_ms: Summary::of(
            all.iter()
                .filter_map(|r| r.scheduled_s.map(|s| (r.start_s - s) * 1e3)),
            ps,
        ),
        achieved_send_rate: achieved_send_rate(epochs),
        spec_decode: None,
        per_epoch,
    }
}

/// Sends per second between the first and the last send of each open-loop
/// epoch (`None` for closed loops or fewer than two sends).
fn achieved_send_rate(epochs: &[&[RequestRecord]]) -> Option<f64> {
    let (mut sends, mut span) = (0usize, 0.0f64);
    for recs in epochs {
        let starts: Vec<f64> = recs
            .iter()
            .filter(|r| r.scheduled_s.is_some())
            .map(|r| r.start_s)
            .collect();
        if starts.len() < 2 {
            continue;
        }
        let lo = starts.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = starts.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        sends += starts.len() - 1;
        span += hi - lo;
    }
    (sends > 0 && span > 0.0).then(|| sends as f64 / span)
}

/// Every failure category with its count (zero included), in report order.
pub fn failure_counts(s: &PointSummary) -> Vec<(FailureKind, usize)> {
    FailureKind::ALL
        .iter()
        .map(|k| (*k, s.failures.get(k.as_str()).copied().unwrap_or(0)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Failure;

    fn rec(epoch: u32, start_s: f64, ttft: f64, step: f64, n: u32) -> RequestRecord {
        let chunks: Vec<(f64, u32)> = (0..n).map(|i| (ttft + step * i as f64, 1)).collect();
        RequestRecord {
            id: 0,
            epoch,
            start_s,
            scheduled_s: None,
            ttft_ms: Some(ttft),
            e2el_ms: chunks.last().map(|c| c.0),
            done_ms: chunks.last().unwrap().0 + 1.0,
            output_tokens: n as u64,
            input_tokens: 100,
            requested_output_tokens: n as u64,
            usage_output_tokens: Some(n as u64),
            usage_input_tokens: None,
            counted_output_tokens: Some(n as u64),
            chunks,
            server: None,
            failure: None,
            resent: 0,
            reasoning: None,
            session: None,
        }
    }

    #[test]
    fn throughput_and_latencies() {
        // Two requests side by side: 10 tokens, TTFT 100 ms, 10 ms per token.
        let e0 = vec![rec(0, 0.0, 100.0, 10.0, 10), rec(0, 0.0, 100.0, 10.0, 10)];
        let mut bad = rec(0, 0.0, 5.0, 1.0, 2);
        bad.failure = Some(Failure {
            kind: FailureKind::HttpStatus,
            message: "HTTP 500".into(),
        });
        let mut e1 = e0.clone();
        e1.push(bad);
        let s = summarize(&[&e0, &e1], &DEFAULT_PERCENTILES, &Slo::default());
        assert_eq!(s.sent, 5);
        assert_eq!(s.completed, 4);
        assert_eq!(s.failures["http_status"], 1);
        // Each epoch lasts 191 ms.
        assert!((s.wall_s - 0.382).abs() < 1e-9);
        assert!((s.request_throughput - 4.0 / 0.382).abs() < 1e-9);
        assert!((s.output_throughput - 40.0 / 0.382).abs() < 1e-9);
        assert!((s.total_throughput - 440.0 / 0.382).abs() < 1e-9);
        assert_eq!(s.ttft_ms.p(50.0), Some(100.0));
        assert!((s.tpot_ms.mean.unwrap() - 10.0).abs() < 1e-9);
        assert!((s.itl_ms.p(99.0).unwrap() - 10.0).abs() < 1e-9);
        assert!((s.decode_tokens_per_s.mean.unwrap() - 100.0).abs() < 1e-9);
        assert_eq!(s.per_epoch.len(), 2);
        assert_eq!(s.per_epoch[1].failed, 1);
        assert!(s.goodput.is_none());
    }

    #[test]
    fn asked_percentiles_join_the_defaults() {
        assert_eq!(
            summary_percentiles(&[99.0, 75.0, 99.9]),
            vec![50.0, 75.0, 90.0, 99.0, 99.9]
        );
        let e0 = vec![rec(0, 0.0, 100.0, 10.0, 10), rec(0, 0.0, 200.0, 10.0, 10)];
        let s = summarize(&[&e0], &[75.0], &Slo::default());
        assert_eq!(s.ttft_ms.p(75.0), Some(175.0));
        assert_eq!(s.ttft_ms.p(50.0), Some(150.0));
    }

    #[test]
    fn goodput_counts_requests_within_slo() {
        let e0 = vec![rec(0, 0.0, 100.0, 10.0, 10), rec(0, 0.0, 300.0, 10.0, 10)];
        let slo = Slo {
            ttft_ms: Some(200.0),
            ..Slo::default()
        };
        let s = summarize(&[&e0], &DEFAULT_PERCENTILES, &slo);
        assert!((s.goodput.unwrap() - s.request_throughput / 2.0).abs() < 1e-9);
    }
}
