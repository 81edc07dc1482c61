//! One scrape of a `/metrics` page, reduced to what the run keeps: every
//! counter, gauge and untyped series summed over its label sets (an engine
//! exports one series per model, engine core or rank), and every histogram
//! with its buckets merged the same way.

use std::collections::BTreeMap;

use prom_text_format_parser::{Type, ValueType};
use serde::{Deserialize, Serialize};

/// A histogram: cumulative counts at each upper bound (`le`, seconds for
/// latency histograms), ascending, `+Inf` last; its sum and count.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    /// `+Inf` is written as the string `"+Inf"` (JSON has no infinity).
    #[serde(with = "bounds_text")]
    pub bounds: Vec<f64>,
    pub cumulative: Vec<f64>,
    pub sum: f64,
    pub count: f64,
}

impl Histogram {
    /// `self - earlier`: the observations made between two scrapes (a
    /// counter reset, as after a server restart, gives `None`).
    pub fn delta(&self, earlier: &Histogram) -> Option<Histogram> {
        if earlier.bounds.is_empty() {
            return Some(self.clone());
        }
        if earlier.bounds != self.bounds || earlier.count > self.count {
            return None;
        }
        Some(Histogram {
            bounds: self.bounds.clone(),
            cumulative: self
                .cumulative
                .iter()
                .zip(&earlier.cumulative)
                .map(|(a, b)| (a - b).max(0.0))
                .collect(),
            sum: self.sum - earlier.sum,
            count: self.count - earlier.count,
        })
    }

    /// Add `other`'s observations (same bounds) to these.
    pub fn add(&mut self, other: &Histogram) {
        if self.bounds.is_empty() {
            *self = other.clone();
        } else if self.bounds == other.bounds {
            for (a, b) in self.cumulative.iter_mut().zip(&other.cumulative) {
                *a += b;
            }
            self.sum += other.sum;
            self.count += other.count;
        }
    }

    /// The `q` quantile (0..1) by linear interpolation inside the bucket
    /// that holds it, as Prometheus' `histogram_quantile` does; the lower
    /// edge of the first bucket is 0. A quantile in the `+Inf` bucket is the
    /// highest finite bound. `None` without observations.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let total = *self.cumulative.last()?;
        if total <= 0.0 || self.bounds.len() != self.cumulative.len() {
            return None;
        }
        let rank = q.clamp(0.0, 1.0) * total;
        let i = self.cumulative.partition_point(|&c| c < rank);
        let i = i.min(self.cumulative.len() - 1);
        let upper = self.bounds[i];
        if upper.is_infinite() {
            return self.bounds.iter().rev().find(|b| b.is_finite()).copied();
        }
        let (lower, below) = match i {
            0 => (0.0_f64.min(upper), 0.0),
            _ => (self.bounds[i - 1], self.cumulative[i - 1]),
        };
        let in_bucket = self.cumulative[i] - below;
        if in_bucket <= 0.0 {
            return Some(upper);
        }
        Some(lower + (upper - lower) * (rank - below) / in_bucket)
    }

    /// The mean observation (sum / count).
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0.0).then(|| self.sum / self.count)
    }
}

/// Bounds in JSON: numbers, and `"+Inf"` for the last bucket.
mod bounds_text {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum Bound {
        Num(f64),
        Text(String),
    }

    pub fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
        let out: Vec<Bound> = v
            .iter()
            .map(|&b| match b.is_finite() {
                true => Bound::Num(b),
                false => Bound::Text(if b > 0.0 { "+Inf" } else { "-Inf" }.into()),
            })
            .collect();
        out.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        let v: Vec<Bound> = Vec::deserialize(d)?;
        v.into_iter()
            .map(|b| match b {
                Bound::Num(x) => Ok(x),
                Bound::Text(t) if t == "+Inf" => Ok(f64::INFINITY),
                Bound::Text(t) if t == "-Inf" => Ok(f64::NEG_INFINITY),
                Bound::Text(t) => Err(serde::de::Error::custom(format!("bad bound `{t}`"))),
            })
            .collect()
    }
}

/// A series' kind as the page declared it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Counter,
    Gauge,
    Untyped,
}

/// One scrape.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// Unix time at which the answer arrived, seconds.
    pub t_unix_s: f64,
    /// Counters, gauges and untyped series (and a summary's `_sum` and
    /// `_count`), summed over label sets.
    pub scalars: BTreeMap<String, (Kind, f64)>,
    pub histograms: BTreeMap<String, Histogram>,
    /// Lines the parser could not read (kept out; the rest is used).
    pub bad_lines: usize,
}

impl Snapshot {
    /// Read an exposition page. `None` when nothing in it is a metric (an
    /// HTML page, a JSON error): the endpoint is not a Prometheus one.
    pub fn parse(text: &str, t_unix_s: f64) -> Option<Snapshot> {
        let (metrics, err) = prom_text_format_parser::parse_scrape(text);
        let bad_lines = err.map_or(0, |e| match e {
            prom_text_format_parser::ScrapeParseError::Collect(v) => v.len(),
            _ => 1,
        });
        if metrics.is_empty() {
            return None;
        }
        let mut snap = Snapshot {
            t_unix_s,
            bad_lines,
            ..Snapshot::default()
        };
        for m in metrics {
            match m.kind {
                Type::Histogram => {
                    let h = merge_histogram(&m.samples);
                    snap.histograms.insert(m.name, h);
                }
                Type::Summary => {
                    for (suffix, vt) in [("_sum", ValueType::Sum), ("_count", ValueType::Count)] {
                        let v = m
                            .samples
                            .iter()
                            .filter(|s| s.value.value_type == vt)
                            .filter_map(|s| number(&s.value.value))
                            .sum();
                        snap.scalars
                            .insert(format!("{}{suffix}", m.name), (Kind::Untyped, v));
                    }
                }
                kind => {
                    let kind = match kind {
                        Type::Counter => Kind::Counter,
                        Type::Gauge => Kind::Gauge,
                        _ => Kind::Untyped,
                    };
                    let vals: Vec<f64> = m
                        .samples
                        .iter()
                        .filter_map(|s| number(&s.value.value))
                        .collect();
                    if !vals.is_empty() {
                        snap.scalars.insert(m.name, (kind, vals.iter().sum()));
                    }
                }
            }
        }
        Some(snap)
    }

    /// A scalar's value (summed over label sets).
    pub fn scalar(&self, name: &str) -> Option<f64> {
        self.scalars.get(name).map(|v| v.1)
    }
}

/// A sample's value (`NaN`, `+Inf` and malformed text give `None`, never a
/// panic).
fn number(text: &str) -> Option<f64> {
    let v: f64 = match text {
        "+Inf" | "Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        t => t.parse().ok()?,
    };
    v.is_finite().then_some(v)
}

/// One histogram from its samples: the buckets of every label set added
/// by bound.
fn merge_histogram(samples: &[prom_text_format_parser::Sample]) -> Histogram {
    let mut by_bound: BTreeMap<u64, (f64, f64)> = BTreeMap::new();
    let (mut sum, mut count) = (0.0, 0.0);
    for s in samples {
        match s.value.value_type {
            ValueType::Sample => {
                let le = s
                    .labels
                    .iter()
                    .find(|l| l.key == "le")
                    .map(|l| match l.value.as_str() {
                        "+Inf" | "Inf" => Some(f64::INFINITY),
                        v => v.parse::<f64>().ok(),
                    });
                let (Some(Some(le)), Some(c)) = (le, number(&s.value.value)) else {
                    continue;
                };
                // Ordered by bound: the key is the bound's bits, made
                // monotonic for non-negative floats.
                let e = by_bound.entry(order_key(le)).or_insert((le, 0.0));
                e.1 += c;
            }
            ValueType::Sum => sum += number(&s.value.value).unwrap_or(0.0),
            ValueType::Count => count += number(&s.value.value).unwrap_or(0.0),
        }
    }
    let (bounds, cumulative) = by_bound.into_values().unzip();
    Histogram {
        bounds,
        cumulative,
        sum,
        count,
    }
}

/// A key that sorts floats (negative ones included) in numeric order.
fn order_key(x: f64) -> u64 {
    let b = x.to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | (1 << 63)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = "\
# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine=\"0\",model_name=\"m\"} 3.0
vllm:num_requests_running{engine=\"1\",model_name=\"m\"} 2.0
# TYPE vllm:prompt_tokens_total counter
vllm:prompt_tokens_total{engine=\"0\",model_name=\"m\"} 1234.0
# TYPE vllm:time_to_first_token_seconds histogram
vllm:time_to_first_token_seconds_bucket{engine=\"0\",le=\"0.1\"} 2.0
vllm:time_to_first_token_seconds_bucket{engine=\"0\",le=\"0.2\"} 6.0
vllm:time_to_first_token_seconds_bucket{engine=\"0\",le=\"+Inf\"} 8.0
vllm:time_to_first_token_seconds_bucket{engine=\"1\",le=\"0.1\"} 2.0
vllm:time_to_first_token_seconds_bucket{engine=\"1\",le=\"0.2\"} 2.0
vllm:time_to_first_token_seconds_bucket{engine=\"1\",le=\"+Inf\"} 2.0
vllm:time_to_first_token_seconds_sum{engine=\"0\"} 1.5
vllm:time_to_first_token_seconds_sum{engine=\"1\"} 0.1
vllm:time_to_first_token_seconds_count{engine=\"0\"} 8.0
vllm:time_to_first_token_seconds_count{engine=\"1\"} 2.0
weird_value NaN
";

    #[test]
    fn series_are_summed_over_label_sets_and_buckets_merged_by_bound() {
        let s = Snapshot::parse(PAGE, 1.0).unwrap();
        assert_eq!(s.scalar("vllm:num_requests_running"), Some(5.0));
        assert_eq!(s.scalar("vllm:prompt_tokens_total"), Some(1234.0));
        assert_eq!(s.scalar("weird_value"), None);
        let h = &s.histograms["vllm:time_to_first_token_seconds"];
        assert_eq!(h.bounds, vec![0.1, 0.2, f64::INFINITY]);
        assert_eq!(h.cumulative, vec![4.0, 8.0, 10.0]);
        assert_eq!((h.sum, h.count), (1.6, 10.0));
    }

    #[test]
    fn quantiles_interpolate_inside_the_bucket() {
        let h = Histogram {
            bounds: vec![0.1, 0.2, f64::INFINITY],
            cumulative: vec![4.0, 8.0, 10.0],
            sum: 1.6,
            count: 10.0,
        };
        // Rank 5 of 10 is the first of the 4 in (0.1, 0.2]: 0.1 + 0.1/4.
        assert!((h.quantile(0.5).unwrap() - 0.125).abs() < 1e-12);
        // Rank 2 of the 4 in [0, 0.1].
        assert!((h.quantile(0.2).unwrap() - 0.05).abs() < 1e-12);
        // In the +Inf bucket: the highest finite bound.
        assert_eq!(h.quantile(0.99), Some(0.2));
        let earlier = Histogram {
            cumulative: vec![4.0, 4.0, 4.0],
            sum: 0.2,
            count: 4.0,
            ..h.clone()
        };
        let d = h.delta(&earlier).unwrap();
        assert_eq!(d.cumulative, vec![0.0, 4.0, 6.0]);
        assert!((d.mean().unwrap() - 0.14 / 0.6).abs() < 1e-9);
        // A reset (fewer observations than before) is no delta.
        assert!(earlier.delta(&h).is_none());
    }

    #[test]
    fn infinite_bounds_survive_json() {
        let h = Histogram {
            bounds: vec![0.1, f64::INFINITY],
            cumulative: vec![1.0, 2.0],
            sum: 0.3,
            count: 2.0,
        };
        let text = serde_json::to_string(&h).unwrap();
        assert!(text.contains("\"+Inf\""), "{text}");
        assert_eq!(serde_json::from_str::<Histogram>(&text).unwrap(), h);
    }

    #[test]
    fn a_page_that_is_not_prometheus_text_is_refused() {
        assert!(Snapshot::parse("<html><body>Not here</body></html>", 0.0).is_none());
        assert!(Snapshot::parse("", 0.0).is_none());
        assert!(Snapshot::parse("{\"error\": \"not found\"}", 0.0).is_none());
    }
}
