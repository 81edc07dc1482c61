//! The metric catalogue, in one place: every distribution measured per
//! request ([`Dist`]: its name, unit, better direction, and the values one
//! record gives), and every figure a comparison judges ([`MetricId`]: its
//! name, unit, direction, pooled figure and per-epoch figure). Aggregation
//! (`summarize`), the verdicts (`analysis`), the CDF plots, the CSV columns
//! and the terminal read these, so that a metric is defined once.

use serde::{Deserialize, Serialize};

use super::aggregate::{EpochFigures, PointSummary};
use super::run::PointData;
use crate::record::RequestRecord;
use crate::stats::{Direction, EpochStatistic, Epochs, Summary};

/// A distribution measured over a point's successful requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dist {
    /// Time to first token, one value a request.
    Ttft,
    /// Time to first answer token: after a reasoning model's reasoning,
    /// else the TTFT; one value a request that answered.
    Ttfat,
    /// Time per output token after the first, one value a request.
    Tpot,
    /// Inter-token latency, one value a token after the first.
    Itl,
    /// Gaps between token-carrying chunks as they arrived.
    ChunkGap,
    /// End-to-end latency, one value a request.
    E2el,
    /// A stream's decode speed, tokens/s.
    DecodeSpeed,
    /// Prompt tokens of a request.
    InputTokens,
    /// Output tokens of a request.
    OutputTokens,
    /// Output tokens a request spent reasoning (0 for a plain answer).
    ReasoningTokens,
}

impl Dist {
    /// The latency distributions whose percentiles are CSV columns.
    pub const LATENCIES: [Dist; 5] = [Dist::Ttft, Dist::Ttfat, Dist::Tpot, Dist::Itl, Dist::E2el];

    /// Stable name (`ttft`...), the prefix of its CSV columns.
    pub fn name(self) -> &'static str {
        match self {
            Dist::Ttft => "ttft",
            Dist::Ttfat => "ttfat",
            Dist::Tpot => "tpot",
            Dist::Itl => "itl",
            Dist::ChunkGap => "chunk_gap",
            Dist::E2el => "e2el",
            Dist::DecodeSpeed => "decode_speed",
            Dist::InputTokens => "input_tokens",
            Dist::OutputTokens => "output_tokens",
            Dist::ReasoningTokens => "reasoning_tokens",
        }
    }

    /// Unit of its values.
    pub fn unit(self) -> &'static str {
        match self {
            Dist::DecodeSpeed => "tok/s",
            Dist::InputTokens | Dist::OutputTokens | Dist::ReasoningTokens => "tokens",
            _ => "ms",
        }
    }

    /// Which way is better (token counts are workload, not performance:
    /// neither, reported as lower).
    pub fn direction(self) -> Direction {
        match self {
            Dist::DecodeSpeed => Direction::HigherIsBetter,
            _ => Direction::LowerIsBetter,
        }
    }

    /// Append the values record `r` gives (a failed request gives none).
    pub fn push_values(self, r: &RequestRecord, out: &mut Vec<f64>) {
        if !r.ok() {
            return;
        }
        match self {
            Dist::Ttft => out.extend(r.ttft_ms),
            Dist::Ttfat => out.extend(r.ttfat_ms()),
            Dist::Tpot => out.extend(r.tpot_ms()),
            Dist::Itl => out.extend(r.itl_ms()),
            Dist::ChunkGap => out.extend(r.chunk_gaps_ms()),
            Dist::E2el => out.extend(r.e2el_ms),
            Dist::DecodeSpeed => out.extend(r.decode_tokens_per_s()),
            Dist::InputTokens => out.push(r.input_tokens as f64),
            Dist::OutputTokens => out.push(r.output_tokens as f64),
            Dist::ReasoningTokens => {
                out.push(r.reasoning.as_ref().map_or(0.0, |x| x.tokens as f64))
            }
        }
    }

    /// The values of the successful requests among `records`.
    pub fn values<'a>(self, records: impl IntoIterator<Item = &'a RequestRecord>) -> Vec<f64> {
        let mut out = Vec::new();
        for r in records {
            self.push_values(r, &mut out);
        }
        out
    }

    /// Its summary in a point's summary.
    pub fn summary(self, s: &PointSummary) -> &Summary {
        match self {
            Dist::Ttft => &s.ttft_ms,
            Dist::Ttfat => &s.ttfat_ms,
            Dist::Tpot => &s.tpot_ms,
            Dist::Itl => &s.itl_ms,
            Dist::ChunkGap => &s.chunk_gap_ms,
            Dist::E2el => &s.e2el_ms,
            Dist::DecodeSpeed => &s.decode_tokens_per_s,
            Dist::InputTokens => &s.input_tokens,
            Dist::OutputTokens => &s.output_tokens,
            Dist::ReasoningTokens => &s.reasoning_tokens,
        }
    }
}

/// The metrics a comparison can judge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricId {
    OutputThroughput,
    RequestThroughput,
    TtftP50,
    TtftP99,
    TpotP50,
    TpotP99,
    ItlP99,
    E2elP50,
}

impl MetricId {
    /// Every metric, in report order.
    pub const ALL: [MetricId; 8] = [
        MetricId::OutputThroughput,
        MetricId::RequestThroughput,
        MetricId::TtftP50,
        MetricId::TtftP99,
        MetricId::TpotP50,
        MetricId::TpotP99,
        MetricId::ItlP99,
        MetricId::E2elP50,
    ];

    /// Gated by default: the medians and throughputs. Tail percentiles are
    /// advisory unless gated on purpose.
    pub const DEFAULT_GATED: [MetricId; 5] = [
        MetricId::OutputThroughput,
        MetricId::RequestThroughput,
        MetricId::TtftP50,
        MetricId::TpotP50,
        MetricId::E2elP50,
    ];

    /// Stable name (`ttft_p50`...), as in JSON and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            MetricId::OutputThroughput => "output_throughput",
            MetricId::RequestThroughput => "request_throughput",
            MetricId::TtftP50 => "ttft_p50",
            MetricId::TtftP99 => "ttft_p99",
            MetricId::TpotP50 => "tpot_p50",
            MetricId::TpotP99 => "tpot_p99",
            MetricId::ItlP99 => "itl_p99",
            MetricId::E2elP50 => "e2el_p50",
        }
    }

    /// The metric named `name`.
    pub fn from_name(name: &str) -> Option<MetricId> {
        MetricId::ALL.into_iter().find(|m| m.name() == name)
    }

    /// A comma-separated list of metric names (`ttft_p50,tpot_p50`); the
    /// error names the unknown one and lists the known ones.
    pub fn parse_list(list: &str) -> Result<Vec<MetricId>, String> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                MetricId::from_name(s).ok_or_else(|| {
                    let names: Vec<&str> = MetricId::ALL.iter().map(|m| m.name()).collect();
                    format!("unknown metric `{s}`; known: {}", names.join(", "))
                })
            })
            .collect()
    }

    /// The distribution and percentile of a per-request metric; `None` for
    /// the throughputs, which are measured per epoch.
    pub fn percentile_of(self) -> Option<(Dist, f64)> {
        Some(match self {
            MetricId::OutputThroughput | MetricId::RequestThroughput => return None,
            MetricId::TtftP50 => (Dist::Ttft, 50.0),
            MetricId::TtftP99 => (Dist::Ttft, 99.0),
            MetricId::TpotP50 => (Dist::Tpot, 50.0),
            MetricId::TpotP99 => (Dist::Tpot, 99.0),
            MetricId::ItlP99 => (Dist::Itl, 99.0),
            MetricId::E2elP50 => (Dist::E2el, 50.0),
        })
    }

    /// The throughput an epoch's figures give (throughputs only).
    fn throughput(self) -> Option<fn(&EpochFigures) -> f64> {
        match self {
            MetricId::OutputThroughput => Some(|e| e.output_throughput),
            MetricId::RequestThroughput => Some(|e| e.request_throughput),
            _ => None,
        }
    }

    /// Unit of the metric's figures.
    pub fn unit(self) -> &'static str {
        match (self, self.percentile_of()) {
            (_, Some((d, _))) => d.unit(),
            (MetricId::RequestThroughput, None) => "req/s",
            (_, None) => "tok/s",
        }
    }

    /// Which way is better.
    pub fn direction(self) -> Direction {
        match self.percentile_of() {
            Some((d, _)) => d.direction(),
            None => Direction::HigherIsBetter,
        }
    }

    /// The metric's figure over all epochs of a point pooled, as the CSV,
    /// the JSON and the terminal table show it (`None` when the point has
    /// no such figure, e.g. no successful request).
    pub fn pooled(self, s: &PointSummary) -> Option<f64> {
        match (self, self.percentile_of()) {
            (_, Some((d, q))) => d.summary(s).p(q),
            (MetricId::RequestThroughput, None) => Some(s.request_throughput),
            (_, None) => Some(s.output_throughput),
        }
    }

    /// The metric's figure at each epoch of a point, for metrics measured
    /// per epoch (throughputs); `None` for per-request metrics.
    pub fn epoch_throughputs(self, p: &PointData) -> Option<Vec<f64>> {
        let pick = self.throughput()?;
        Some(p.summary.per_epoch.iter().map(pick).collect())
    }

    /// Per-request values of each epoch of a point and the statistic of an
    /// epoch's figure; `None` for the throughputs.
    pub fn epoch_requests(self, p: &PointData) -> Option<(Vec<Vec<f64>>, EpochStatistic)> {
        let (d, q) = self.percentile_of()?;
        let v = p.epochs.iter().map(|e| d.values(e)).collect();
        Some((v, EpochStatistic::Percentile(q)))
    }

    /// The metric's figure at each epoch of a point: the unit of
    /// replication a comparison judges.
    pub fn epoch_figures(self, p: &PointData) -> Vec<f64> {
        match (self.epoch_throughputs(p), self.epoch_requests(p)) {
            (Some(f), _) => f,
            (None, Some((v, stat))) => Epochs::Requests(&v, &stat).figures(),
            (None, None) => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{PointLabel, Slo};
    use crate::record::RawRequest;

    fn rec(epoch: u32, ttft: f64, gap: f64, ok: bool) -> RequestRecord {
        let chunks: Vec<(f64, u32)> = (0..5).map(|k| (ttft + gap * k as f64, 1)).collect();
        RequestRecord::from_raw(RawRequest {
            id: 0,
            epoch,
            start_s: 0.0,
            done_ms: ttft + 4.0 * gap + 1.0,
            chunks,
            input_tokens: 10,
            requested_output_tokens: 5,
            usage_output_tokens: Some(5),
            usage_input_tokens: None,
            counted_output_tokens: None,
            server: None,
            failure: (!ok).then(|| crate::record::Failure {
                kind: crate::record::FailureKind::HttpStatus,
                message: "HTTP 500".into(),
            }),
            resent: 0,
        })
    }

    #[test]
    fn values_skip_failures_and_follow_the_definitions() {
        let recs = [rec(0, 100.0, 10.0, true), rec(0, 1.0, 1.0, false)];
        assert_eq!(Dist::Ttft.values(&recs), vec![100.0]);
        assert_eq!(Dist::Tpot.values(&recs), vec![10.0]);
        assert_eq!(Dist::Itl.values(&recs), vec![10.0; 4]);
        assert_eq!(Dist::E2el.values(&recs), vec![140.0]);
        assert_eq!(Dist::OutputTokens.values(&recs), vec![5.0]);
    }

    #[test]
    fn the_summary_the_table_pools_is_the_catalogue_s() {
        let label = PointLabel::Static {
            prompt_tokens: 10,
            output_tokens: 5,
            concurrency: 1,
        };
        let epochs = vec![
            vec![rec(0, 100.0, 10.0, true), rec(0, 200.0, 20.0, true)],
            vec![rec(1, 300.0, 30.0, true)],
        ];
        let p = PointData::new(label, epochs, &[50.0], &Slo::default());
        for d in [
            Dist::Ttft,
            Dist::Tpot,
            Dist::Itl,
            Dist::E2el,
            Dist::DecodeSpeed,
        ] {
            let all = d.values(p.epochs.iter().flatten());
            let s = Summary::of(all, &[50.0]);
            assert_eq!(d.summary(&p.summary).p(50.0), s.p(50.0), "{}", d.name());
        }
        assert_eq!(MetricId::TtftP50.pooled(&p.summary), Some(200.0));
        assert_eq!(MetricId::TtftP50.epoch_figures(&p), vec![150.0, 300.0]);
        assert_eq!(MetricId::TpotP50.unit(), "ms");
        assert_eq!(MetricId::RequestThroughput.unit(), "req/s");
        assert_eq!(
            MetricId::OutputThroughput.direction(),
            Direction::HigherIsBetter
        );
        assert_eq!(MetricId::TtftP99.direction(), Direction::LowerIsBetter);
    }
}
