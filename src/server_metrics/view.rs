//! What the server's metrics showed over one measured epoch, and over a
//! point's epochs together: time series of its queue, batch, KV-cache use
//! and prefix-cache hit rate; what its counters counted (tokens, cache
//! lookups) between the epoch's first and last scrape; its own latency
//! histograms over the same span, as quantiles.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::names::{self, Latency};
use super::snapshot::{Histogram, Kind, Snapshot};

/// One scrape inside an epoch.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SeriesPoint {
    /// Seconds since the epoch's first scrape.
    pub t_s: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<f64>,
    /// KV-cache use, 0..1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kv_usage: Option<f64>,
    /// Prefix-cache hits over lookups since the previous scrape (`None`
    /// when nothing was looked up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_hit_rate: Option<f64>,
}

/// A series the engine dictionary does not know, over the epoch: a
/// counter's increase, or a gauge's range and mean over the scrapes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RawFigure {
    Counter { delta: f64 },
    Gauge { min: f64, mean: f64, max: f64 },
}

/// The server's view of one measured epoch.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EpochServer {
    pub epoch: u32,
    /// Unix times of the scrapes just before and just after the epoch's
    /// load, seconds.
    pub start_unix_s: f64,
    pub end_unix_s: f64,
    /// Every scrape from the first to the last, in order.
    pub series: Vec<SeriesPoint>,
    /// Prompt tokens the server counted over the epoch (cached included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens: Option<f64>,
    /// Output tokens the server counted over the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation_tokens: Option<f64>,
    /// Prefix-cache tokens looked up and found over the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_queries: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_hits: Option<f64>,
    /// The server's latency histograms over the epoch, by
    /// [`Latency::key`], with the name each was read from.
    #[serde(default)]
    pub latency: BTreeMap<String, (String, Histogram)>,
    /// Every other series, by name.
    #[serde(default)]
    pub raw: BTreeMap<String, RawFigure>,
}

impl EpochServer {
    /// The epoch's view from its first scrape, its last, and the periodic
    /// scrapes between them (any order; those outside are ignored).
    pub fn build(epoch: u32, start: &Snapshot, end: &Snapshot, between: &[Snapshot]) -> Self {
        let mut scrapes: Vec<&Snapshot> = std::iter::once(start)
            .chain(
                between
                    .iter()
                    .filter(|s| s.t_unix_s > start.t_unix_s && s.t_unix_s < end.t_unix_s),
            )
            .chain(std::iter::once(end))
            .collect();
        scrapes.sort_by(|a, b| a.t_unix_s.total_cmp(&b.t_unix_s));
        let mut series = Vec::with_capacity(scrapes.len());
        let mut prev_cache: Option<(f64, f64)> = None;
        for s in &scrapes {
            let cache = names::prefix_cache(s);
            let prefix_hit_rate = match (prev_cache, cache) {
                (Some((q0, h0)), Some((q1, h1))) if q1 > q0 => Some((h1 - h0) / (q1 - q0)),
                _ => None,
            };
            prev_cache = cache;
            series.push(SeriesPoint {
                t_s: s.t_unix_s - start.t_unix_s,
                running: names::running(s),
                waiting: names::waiting(s),
                kv_usage: names::kv_usage(s),
                prefix_hit_rate,
            });
        }
        let delta = |f: fn(&Snapshot) -> Option<f64>| match (f(start), f(end)) {
            (Some(a), Some(b)) if b >= a => Some(b - a),
            _ => None,
        };
        let (prefix_queries, prefix_hits) =
            match (names::prefix_cache(start), names::prefix_cache(end)) {
                (Some((q0, h0)), Some((q1, h1))) if q1 >= q0 && h1 >= h0 => {
                    (Some(q1 - q0), Some(h1 - h0))
                }
                _ => (None, None),
            };
        let mut latency = BTreeMap::new();
        for l in Latency::ALL {
            if let (Some((name, h1)), Some((_, h0))) = (l.find(end), l.find(start)) {
                if let Some(d) = h1.delta(h0) {
                    latency.insert(l.key().to_string(), (name.to_string(), d));
                }
            }
        }
        let mut raw = BTreeMap::new();
        for (name, &(kind, v1)) in &end.scalars {
            let fig = match kind {
                Kind::Counter => match start.scalar(name) {
                    Some(v0) if v1 >= v0 => RawFigure::Counter { delta: v1 - v0 },
                    _ => continue,
                },
                Kind::Gauge | Kind::Untyped => {
                    let vals: Vec<f64> = scrapes.iter().filter_map(|s| s.scalar(name)).collect();
                    let mean = vals.iter().sum::<f64>() / vals.len().max(1) as f64;
                    RawFigure::Gauge {
                        min: vals.iter().copied().fold(f64::INFINITY, f64::min),
                        mean,
                        max: vals.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                    }
                }
            };
            raw.insert(name.clone(), fig);
        }
        EpochServer {
            epoch,
            start_unix_s: start.t_unix_s,
            end_unix_s: end.t_unix_s,
            series,
            prompt_tokens: delta(names::prompt_tokens),
            generation_tokens: delta(names::generation_tokens),
            prefix_queries,
            prefix_hits,
            latency,
            raw,
        }
    }
}

/// Quantiles of one of the server's latency histograms, milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerLatency {
    /// The histogram's name on the server.
    pub metric: String,
    /// Observations over the point's epochs.
    pub count: f64,
    pub mean_ms: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p90_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

/// Mean and largest value of a gauge over a point's scrapes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct GaugeFigures {
    pub mean: f64,
    pub max: f64,
}

impl GaugeFigures {
    fn of(values: impl Iterator<Item = f64>) -> Option<Self> {
        let (mut n, mut sum, mut max) = (0usize, 0.0, f64::NEG_INFINITY);
        for v in values {
            n += 1;
            sum += v;
            max = max.max(v);
        }
        (n > 0).then(|| GaugeFigures {
            mean: sum / n as f64,
            max,
        })
    }
}

/// The server's view of a point: its epochs and their summary.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerPoint {
    /// The engine its names belong to (`vllm`, `sglang`, `tgi`,
    /// `llama.cpp`, `unknown`).
    pub engine: String,
    /// Where the metrics were read.
    pub url: String,
    pub epochs: Vec<EpochServer>,
    pub summary: ServerSummary,
}

/// A point's server figures over its measured epochs together.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerSummary {
    /// By [`Latency::key`].
    pub latency: BTreeMap<String, ServerLatency>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation_tokens: Option<f64>,
    /// Prefix-cache hits over lookups, over the epochs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_hit_ratio: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running: Option<GaugeFigures>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<GaugeFigures>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kv_usage: Option<GaugeFigures>,
}

impl ServerPoint {
    /// A point's view from its epochs' views.
    pub fn new(engine: &str, url: &str, epochs: Vec<EpochServer>) -> Self {
        let sum = |f: fn(&EpochServer) -> Option<f64>| {
            let v: Vec<f64> = epochs.iter().filter_map(f).collect();
            (v.len() == epochs.len() && !v.is_empty()).then(|| v.iter().sum())
        };
        let prompt_tokens = sum(|e| e.prompt_tokens);
        let generation_tokens = sum(|e| e.generation_tokens);
        let prefix_hit_ratio = match (sum(|e| e.prefix_queries), sum(|e| e.prefix_hits)) {
            (Some(q), Some(h)) if q > 0.0 => Some(h / q),
            _ => None,
        };
        let mut latency = BTreeMap::new();
        for l in Latency::ALL {
            let mut pooled = Histogram::default();
            let mut metric = None;
            for e in &epochs {
                if let Some((name, h)) = e.latency.get(l.key()) {
                    pooled.add(h);
                    metric.get_or_insert_with(|| name.clone());
                }
            }
            let Some(metric) = metric else { continue };
            if pooled.count <= 0.0 {
                continue;
            }
            let ms = |v: Option<f64>| v.map(|s| s * 1000.0);
            latency.insert(
                l.key().to_string(),
                ServerLatency {
                    metric,
                    count: pooled.count,
                    mean_ms: ms(pooled.mean()),
                    p50_ms: ms(pooled.quantile(0.5)),
                    p90_ms: ms(pooled.quantile(0.9)),
                    p99_ms: ms(pooled.quantile(0.99)),
                },
            );
        }
        let points = || epochs.iter().flat_map(|e| e.series.iter());
        let summary = ServerSummary {
            latency,
            prompt_tokens,
            generation_tokens,
            prefix_hit_ratio,
            running: GaugeFigures::of(points().filter_map(|p| p.running)),
            waiting: GaugeFigures::of(points().filter_map(|p| p.waiting)),
            kv_usage: GaugeFigures::of(points().filter_map(|p| p.kv_usage)),
        };
        ServerPoint {
            engine: engine.to_string(),
            url: url.to_string(),
            epochs,
            summary,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(running: f64, prompt: f64, hits: f64, queries: f64, ttft: [f64; 3]) -> String {
        format!(
            "# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running {running}\n\
             # TYPE vllm:prompt_tokens_total counter\nvllm:prompt_tokens_total {prompt}\n\
             # TYPE vllm:prefix_cache_hits_total counter\nvllm:prefix_cache_hits_total {hits}\n\
             # TYPE vllm:prefix_cache_queries_total counter\nvllm:prefix_cache_queries_total {queries}\n\
             # TYPE other_gauge gauge\nother_gauge {running}\n\
             # TYPE vllm:time_to_first_token_seconds histogram\n\
             vllm:time_to_first_token_seconds_bucket{{le=\"0.01\"}} {}\n\
             vllm:time_to_first_token_seconds_bucket{{le=\"0.02\"}} {}\n\
             vllm:time_to_first_token_seconds_bucket{{le=\"+Inf\"}} {}\n\
             vllm:time_to_first_token_seconds_sum 0\n\
             vllm:time_to_first_token_seconds_count {}\n",
            ttft[0], ttft[1], ttft[2], ttft[2]
        )
    }

    #[test]
    fn an_epoch_is_the_difference_of_its_scrapes() {
        let s0 = Snapshot::parse(&page(0.0, 100.0, 0.0, 100.0, [5.0, 5.0, 5.0]), 10.0).unwrap();
        let mid = Snapshot::parse(&page(8.0, 500.0, 200.0, 500.0, [5.0, 9.0, 9.0]), 11.0).unwrap();
        let s1 = Snapshot::parse(&page(2.0, 900.0, 200.0, 900.0, [5.0, 15.0, 15.0]), 12.0).unwrap();
        let late = Snapshot::parse(&page(50.0, 0.0, 0.0, 0.0, [0.0; 3]), 13.0).unwrap();
        let e = EpochServer::build(0, &s0, &s1, &[late, mid]);
        assert_eq!(e.series.len(), 3);
        assert_eq!(e.series[1].t_s, 1.0);
        assert_eq!(e.series[1].prefix_hit_rate, Some(0.5));
        assert_eq!(e.series[2].prefix_hit_rate, Some(0.0));
        assert_eq!(e.prompt_tokens, Some(800.0));
        assert_eq!(
            (e.prefix_queries, e.prefix_hits),
            (Some(800.0), Some(200.0))
        );
        let ttft = &e.latency["ttft"].1;
        assert_eq!(ttft.cumulative, vec![0.0, 10.0, 10.0]);
        assert_eq!(
            e.raw["other_gauge"],
            RawFigure::Gauge {
                min: 0.0,
                mean: 10.0 / 3.0,
                max: 8.0
            }
        );
        let p = ServerPoint::new("vllm", "http://x/metrics", vec![e.clone(), e]);
        let s = &p.summary;
        assert_eq!(s.prompt_tokens, Some(1600.0));
        assert_eq!(s.prefix_hit_ratio, Some(0.25));
        assert_eq!(s.running.unwrap().max, 8.0);
        // All 20 TTFTs in (10, 20] ms: the median is halfway.
        let t = &s.latency["ttft"];
        assert_eq!(t.count, 20.0);
        assert!((t.p50_ms.unwrap() - 15.0).abs() < 1e-9);
    }
}
