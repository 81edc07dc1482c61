//! The figures of a capacity search (`servebench capacity`): its objectives,
//! each probe's per-epoch figures and the result, as `capacity.json` holds
//! them. The search itself is `run::capacity`; the statistics `stats`.

use serde::{Deserialize, Serialize};

use super::catalogue::Dist;
use super::{RequestRecord, Slo};
use crate::stats::{percentile, MeanInterval, Side};

/// What a capacity search varies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum CapacityMode {
    /// Open loop: the request rate (requests/s, Poisson or gamma arrivals).
    #[default]
    Rate,
    /// Closed loop: the number of requests kept in flight.
    Concurrency,
}

impl CapacityMode {
    /// What the load is, for tables and axes.
    pub fn load_name(self) -> &'static str {
        match self {
            CapacityMode::Rate => "request rate",
            CapacityMode::Concurrency => "concurrency",
        }
    }

    /// Unit of the load.
    pub fn unit(self) -> &'static str {
        match self {
            CapacityMode::Rate => "req/s",
            CapacityMode::Concurrency => "in flight",
        }
    }
}

/// A latency metric an objective can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LatencyMetric {
    Ttft,
    Tpot,
    E2el,
}

impl LatencyMetric {
    /// `ttft`, `tpot` or `e2el`.
    pub fn name(self) -> &'static str {
        match self {
            LatencyMetric::Ttft => "ttft",
            LatencyMetric::Tpot => "tpot",
            LatencyMetric::E2el => "e2el",
        }
    }

    /// The metric of a name, if it is one.
    pub fn from_name(s: &str) -> Option<LatencyMetric> {
        match s {
            "ttft" => Some(LatencyMetric::Ttft),
            "tpot" => Some(LatencyMetric::Tpot),
            "e2el" => Some(LatencyMetric::E2el),
            _ => None,
        }
    }

    fn dist(self) -> Dist {
        match self {
            LatencyMetric::Ttft => Dist::Ttft,
            LatencyMetric::Tpot => Dist::Tpot,
            LatencyMetric::E2el => Dist::E2el,
        }
    }

    /// This metric's values over the succeeded requests, sorted.
    pub fn sorted_values(self, records: &[RequestRecord]) -> Vec<f64> {
        let mut v = self.dist().values(records.iter().filter(|r| r.ok()));
        v.sort_by(f64::total_cmp);
        v
    }
}

/// An objective on one percentile of an epoch's distribution, e.g.
/// `ttft_p99:2000` (the epoch's p99 TTFT at most 2000 ms).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PercentileSlo {
    pub metric: LatencyMetric,
    pub percentile: f64,
    pub limit_ms: f64,
}

impl PercentileSlo {
    /// `ttft_p99`.
    pub fn name(&self) -> String {
        format!("{}_p{}", self.metric.name(), self.percentile)
    }
}

/// Every objective of a capacity search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacitySlo {
    /// Per-request objectives: a request is good when it succeeded and met
    /// all of them (goodput's definition).
    pub per_request: Slo,
    /// Share of an epoch's sent requests that must be good (0 < r <= 1);
    /// judged only when `per_request` sets an objective.
    pub goodput_ratio: f64,
    /// Objectives on epoch percentiles.
    pub percentiles: Vec<PercentileSlo>,
}

impl CapacitySlo {
    /// One line, e.g. `95 % of requests with ttft <= 500 ms, tpot <= 50 ms;
    /// ttft_p99 <= 2000 ms`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        let per: Vec<String> = self
            .per_request
            .objectives()
            .iter()
            .map(|(n, v)| format!("{n} <= {v} ms"))
            .collect();
        if !per.is_empty() {
            parts.push(format!(
                "{} % of requests with {}",
                self.goodput_ratio * 100.0,
                per.join(", ")
            ));
        }
        for p in &self.percentiles {
            parts.push(format!("{} <= {} ms", p.name(), p.limit_ms));
        }
        parts.join("; ")
    }
}

/// p50, p90 and p99 of one latency distribution of an epoch, ms.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Tail {
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p99: Option<f64>,
}

impl Tail {
    fn of(sorted: &[f64]) -> Tail {
        Tail {
            p50: percentile(sorted, 50.0),
            p90: percentile(sorted, 90.0),
            p99: percentile(sorted, 99.0),
        }
    }
}

/// One measured epoch of a probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeEpoch {
    pub sent: usize,
    pub failed: usize,
    /// Requests that succeeded and met every per-request objective.
    pub good: usize,
    /// `good / sent`.
    pub goodput_ratio: f64,
    /// The epoch's value of each percentile objective, in their order.
    pub slo_values: Vec<Option<f64>>,
    pub ttft_ms: Tail,
    pub tpot_ms: Tail,
    pub e2el_ms: Tail,
    /// Why the epoch is judged over-saturated, if it is.
    pub saturated: Option<String>,
}

impl ProbeEpoch {
    /// The figures of one epoch's records.
    pub fn of(records: &[RequestRecord], slo: &CapacitySlo) -> ProbeEpoch {
        let sent = records.len();
        let ok = records.iter().filter(|r| r.ok()).count();
        let good = records.iter().filter(|r| slo.per_request.met_by(r)).count();
        let sorted = |m: LatencyMetric| m.sorted_values(records);
        ProbeEpoch {
            sent,
            failed: sent - ok,
            good,
            goodput_ratio: if sent > 0 {
                good as f64 / sent as f64
            } else {
                0.0
            },
            slo_values: slo
                .percentiles
                .iter()
                .map(|p| percentile(&sorted(p.metric), p.percentile))
                .collect(),
            ttft_ms: Tail::of(&sorted(LatencyMetric::Ttft)),
            tpot_ms: Tail::of(&sorted(LatencyMetric::Tpot)),
            e2el_ms: Tail::of(&sorted(LatencyMetric::E2el)),
            saturated: saturation(records),
        }
    }
}

/// Epochs of a probe that must each be over-saturated before the probe
/// fails as saturated (replicated, as every verdict is).
pub const SATURATED_EPOCHS: usize = 2;

/// Requests an open-loop epoch needs before [`saturation`] judges it.
pub const SATURATION_MIN_REQUESTS: usize = 12;
/// Growth (last quarter over first quarter of sends) of both the requests
/// in flight and the median TTFT that marks an epoch over-saturated.
pub const SATURATION_GROWTH: f64 = 3.0;

/// Whether an open-loop epoch was over-saturated: the server fell behind
/// the arrivals, so the requests in flight at each send and the time to
/// first token (where queueing shows) both kept growing through the epoch,
/// the last quarter of sends meeting at least [`SATURATION_GROWTH`] times
/// the first quarter's. `None` for closed loops (whose queue is bounded by
/// the concurrency) and epochs under [`SATURATION_MIN_REQUESTS`] requests.
pub fn saturation(records: &[RequestRecord]) -> Option<String> {
    let mut sends: Vec<&RequestRecord> =
        records.iter().filter(|r| r.scheduled_s.is_some()).collect();
    if sends.len() < SATURATION_MIN_REQUESTS {
        return None;
    }
    sends.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    let in_flight = |t: f64| {
        records
            .iter()
            .filter(|r| r.start_s < t && r.start_s + r.done_ms / 1e3 > t)
            .count() as f64
    };
    let q = sends.len() / 4;
    let (early, late) = (&sends[..q], &sends[sends.len() - q..]);
    let mean = |v: &[&RequestRecord], f: &dyn Fn(&RequestRecord) -> Option<f64>| {
        let xs: Vec<f64> = v.iter().filter_map(|r| f(r)).collect();
        (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
    };
    let fl = |r: &RequestRecord| Some(in_flight(r.start_s));
    let tt = |r: &RequestRecord| r.ttft_ms;
    let (f0, f1) = (mean(early, &fl)?, mean(late, &fl)?);
    let (t0, t1) = (mean(early, &tt)?, mean(late, &tt)?);
    let grows = |a: f64, b: f64| b >= SATURATION_GROWTH * a.max(1e-9);
    (grows(f0.max(1.0), f1) && grows(t0, t1)).then(|| {
        format!(
            "saturated: requests in flight grew from {f0:.1} to {f1:.1} and mean TTFT from \
             {t0:.0} to {t1:.0} ms between the first and last quarter of sends"
        )
    })
}

/// One objective of a probe, judged over its epochs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Objective {
    /// `goodput_ratio` or a percentile objective's name (`ttft_p99`).
    pub name: String,
    /// The target (a ratio) or limit (ms).
    pub target: f64,
    /// True when the figure must be at least the target (goodput ratio),
    /// false when at most (latency).
    pub at_least: bool,
    /// The mean over epochs with its interval.
    pub interval: MeanInterval,
    pub side: Side,
}

/// One load the search measured, with its verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    /// Request rate (req/s) or concurrency.
    pub load: f64,
    /// The search step that first asked for it (`bracket`, `bisect`,
    /// `confirm`).
    pub stage: String,
    /// When it was first probed (0, 1, ...).
    pub order: usize,
    pub epochs: Vec<ProbeEpoch>,
    pub objectives: Vec<Objective>,
    /// Pass, fail, or uncertain at the epoch cap.
    pub side: Side,
    /// Why, in words (the deciding objective, or `saturated: ...`).
    pub reason: String,
}

impl Probe {
    /// Mean over epochs of one figure, where epochs have it.
    pub fn mean_of(&self, f: impl Fn(&ProbeEpoch) -> Option<f64>) -> Option<f64> {
        let xs: Vec<f64> = self.epochs.iter().filter_map(f).collect();
        (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
    }

    /// True when [`SATURATED_EPOCHS`] of its epochs were judged
    /// over-saturated (one such epoch of a few dozen requests is often a
    /// burst of the arrival process, not a server falling behind).
    pub fn saturated(&self) -> bool {
        self.epochs.iter().filter(|e| e.saturated.is_some()).count() >= SATURATED_EPOCHS
    }
}

/// The answer of a capacity search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacityResult {
    pub name: String,
    pub mode: CapacityMode,
    pub slo: CapacitySlo,
    /// Two-sided confidence level of each probe's intervals.
    pub confidence: f64,
    /// Relative width at which bisection stopped.
    pub precision: f64,
    /// Highest load judged passing (`None`: even the lowest probe failed).
    pub lo: Option<f64>,
    /// Lowest load judged not passing above `lo` (`None`: none up to the
    /// search's maximum).
    pub hi: Option<f64>,
    /// Point estimate: where the objectives' margin crosses zero between
    /// `lo` and `hi` (linear interpolation), inside the interval.
    pub estimate: Option<f64>,
    /// The confidence that the capacity lies in `[lo, hi]` (both boundary
    /// judgements right).
    pub interval_confidence: f64,
    /// Every probe, in load order.
    pub probes: Vec<Probe>,
    pub notes: Vec<String>,
    pub base_url: String,
    pub model: String,
    pub backend: String,
    pub servebench_version: String,
    pub started_unix_s: f64,
}

impl CapacityResult {
    /// `[lo, hi]` with 0 and infinity for the open ends.
    pub fn interval(&self) -> (f64, f64) {
        (self.lo.unwrap_or(0.0), self.hi.unwrap_or(f64::INFINITY))
    }

    /// The answer in words, e.g. `capacity 41.3 req/s, 95 % interval
    /// [38.0, 44.0]`.
    pub fn headline(&self) -> String {
        let unit = self.mode.unit();
        let pct = self.interval_confidence * 100.0;
        match (self.lo, self.hi) {
            (Some(lo), Some(hi)) => format!(
                "capacity {} {unit}, {pct:.0} % interval [{}, {}] (passed at {}, failed at {})",
                num(self.estimate.unwrap_or((lo + hi) / 2.0)),
                num(lo),
                num(hi),
                num(lo),
                num(hi)
            ),
            (Some(lo), None) => format!(
                "capacity at least {} {unit}: the SLOs held at every load probed, up to the \
                 search's maximum",
                num(lo)
            ),
            (None, Some(hi)) => format!(
                "capacity below {} {unit}: the SLOs were not shown to hold even at the lowest \
                 load probed",
                num(hi)
            ),
            (None, None) => "capacity unknown: no probe was judged".to_string(),
        }
    }
}

/// A load for people: up to 3 decimals, no trailing zeros.
pub fn num(x: f64) -> String {
    if !x.is_finite() {
        return "inf".into();
    }
    let s = format!("{x:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}
