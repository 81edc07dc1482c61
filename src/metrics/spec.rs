//! Speculative decoding (`--use-spec-decode`): the acceptance figures of a
//! point, from the tokens each decode step emitted.
//!
//! For one request, the decode steps are its chunks after the first (the
//! first carries the prefill's token); with `t_i` tokens in step `i` of `n`
//! and `k` draft tokens a step (`--num-speculative-tokens`):
//!
//! * acceptance rate = `(Σ t_i - n) / (n k)`: accepted draft tokens over
//!   proposed ones (the seed N's default `--use-mtp-accept-rate` formula,
//!   one scheduler step);
//! * mean accepted length (tokens per step) = `Σ t_i / n`.
//!
//! A request without a decode step has neither. A point summarises the
//! per-request values of its successful requests (P90, P99, min, max, mean).

use serde::{Deserialize, Serialize};

use super::run::{PointData, RunData};
use super::summary_percentiles;
use crate::record::RequestRecord;
use crate::stats::Summary;

/// The acceptance figures of one point.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SpecDecodeSummary {
    /// Draft tokens a step the rates were computed with, when given.
    pub num_speculative_tokens: Option<u32>,
    /// Successful requests with at least one decode step.
    pub requests: usize,
    /// Per-request acceptance rate, a fraction (empty without
    /// `--num-speculative-tokens`, or with 0).
    pub acceptance_rate: Summary,
    /// Per-request mean accepted length: tokens per decode step.
    pub tokens_per_step: Summary,
}

impl SpecDecodeSummary {
    /// The figures of `records` (failed ones left out) with `k` drafts a
    /// step, at `percentiles` and the defaults.
    pub fn of<'a>(
        records: impl IntoIterator<Item = &'a RequestRecord>,
        k: Option<u32>,
        percentiles: &[f64],
    ) -> SpecDecodeSummary {
        let (mut rates, mut lengths) = (Vec::new(), Vec::new());
        for r in records.into_iter().filter(|r| r.ok()) {
            lengths.extend(r.tokens_per_step());
            rates.extend(k.and_then(|k| r.acceptance_rate(k)));
        }
        let ps = summary_percentiles(percentiles);
        SpecDecodeSummary {
            num_speculative_tokens: k,
            requests: lengths.len(),
            acceptance_rate: Summary::of(rates, &ps),
            tokens_per_step: Summary::of(lengths, &ps),
        }
    }
}

impl PointData {
    /// The acceptance figures in words, when the point has them.
    pub fn spec_decode_note(&self) -> Option<String> {
        let s = self.summary.spec_decode.as_ref()?;
        let f = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{x:.3}"));
        let a = &s.acceptance_rate;
        let rate = match s.num_speculative_tokens {
            Some(k) if a.count > 0 => format!(
                "acceptance rate ({k} draft tokens a step) mean {}, p90 {}, p99 {}, min {}, \
                 max {}; ",
                f(a.mean),
                f(a.p(90.0)),
                f(a.p(99.0)),
                f(a.min),
                f(a.max)
            ),
            _ => "no acceptance rate (give --num-speculative-tokens, at least 1); ".into(),
        };
        Some(format!(
            "{}: speculative decoding: {rate}{} tokens per decode step (mean of {} requests)",
            self.label.describe(),
            f(s.tokens_per_step.mean),
            s.requests
        ))
    }
}

impl RunData {
    /// Fill each point's acceptance figures when the run used
    /// `--use-spec-decode` (its metadata says), from its records.
    pub fn summarize_spec_decode(&mut self) {
        let Some(spec) = self.meta.spec_decode else {
            return;
        };
        for p in &mut self.points {
            p.summary.spec_decode = Some(SpecDecodeSummary::of(
                p.epochs.iter().flatten(),
                spec.num_speculative_tokens,
                &self.meta.percentiles,
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(chunks: Vec<(f64, u32)>) -> RequestRecord {
        let out = chunks.iter().map(|c| u64::from(c.1)).sum();
        RequestRecord {
            id: 0,
            epoch: 0,
            start_s: 0.0,
            scheduled_s: None,
            ttft_ms: chunks.first().map(|c| c.0),
            e2el_ms: chunks.last().map(|c| c.0),
            done_ms: 100.0,
            output_tokens: out,
            input_tokens: 10,
            requested_output_tokens: out,
            usage_output_tokens: Some(out),
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
    fn per_request_rates_summarised() {
        // k = 2: steps (3, 1) accept 2 of 4; steps (3, 3) accept 4 of 4;
        // one token only: no step.
        let rs = [
            rec(vec![(1.0, 1), (2.0, 3), (3.0, 1)]),
            rec(vec![(1.0, 1), (2.0, 3), (3.0, 3)]),
            rec(vec![(1.0, 1)]),
        ];
        let s = SpecDecodeSummary::of(&rs, Some(2), &[50.0]);
        assert_eq!(s.requests, 2);
        assert_eq!(s.acceptance_rate.count, 2);
        assert_eq!(s.acceptance_rate.min, Some(0.5));
        assert_eq!(s.acceptance_rate.max, Some(1.0));
        assert!((s.acceptance_rate.mean.unwrap() - 0.75).abs() < 1e-12);
        assert!((s.acceptance_rate.p(90.0).unwrap() - 0.95).abs() < 1e-12);
        assert!((s.tokens_per_step.mean.unwrap() - 2.5).abs() < 1e-12);
        let none = SpecDecodeSummary::of(&rs, None, &[50.0]);
        assert_eq!(none.acceptance_rate.count, 0);
        assert_eq!(none.requests, 2);
    }
}
