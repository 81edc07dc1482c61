//! The data of a whole run: its metadata and, per benchmark point, the
//! per-request records by epoch and their summary. Reports, baselines and
//! comparisons all read this one structure.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{summarize, PointSummary, RequestRecord, Slo};

/// A request rate in requests/s; infinite means "all at once".
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Rate(pub f64);

impl Rate {
    /// True for `inf`.
    pub fn is_inf(&self) -> bool {
        self.0.is_infinite()
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_inf() {
            f.write_str("inf")
        } else {
            write!(f, "{}", self.0)
        }
    }
}

impl std::str::FromStr for Rate {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "inf" | "Inf" | "INF" | "infinity" => Ok(Rate(f64::INFINITY)),
            other => match other.parse::<f64>() {
                Ok(v) if v > 0.0 && v.is_finite() => Ok(Rate(v)),
                _ => Err(format!("`{s}` is not a positive number or inf")),
            },
        }
    }
}

impl Serialize for Rate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.is_inf() {
            s.serialize_str("inf")
        } else {
            s.serialize_f64(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum R {
            N(f64),
            S(String),
        }
        match R::deserialize(d)? {
            R::N(v) => Ok(Rate(v)),
            R::S(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// What a benchmark point is: a static (prompt, output, concurrency) cell,
/// or a dynamic request rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PointLabel {
    Static {
        prompt_tokens: usize,
        output_tokens: usize,
        concurrency: usize,
    },
    Dynamic {
        request_rate: Rate,
        burstiness: f64,
        max_concurrency: Option<usize>,
        num_prompts: usize,
    },
}

impl PointLabel {
    /// A short, stable, path-safe id, e.g. `p1024-o128-c8` or `rate-4`.
    pub fn id(&self) -> String {
        match self {
            PointLabel::Static {
                prompt_tokens,
                output_tokens,
                concurrency,
            } => format!("p{prompt_tokens}-o{output_tokens}-c{concurrency}"),
            PointLabel::Dynamic { request_rate, .. } => format!("rate-{request_rate}"),
        }
    }

    /// A label for people, e.g. `prompt 1024, output 128, concurrency 8`.
    pub fn describe(&self) -> String {
        match self {
            PointLabel::Static {
                prompt_tokens,
                output_tokens,
                concurrency,
            } => {
                format!("prompt {prompt_tokens}, output {output_tokens}, concurrency {concurrency}")
            }
            PointLabel::Dynamic {
                request_rate,
                burstiness,
                max_concurrency,
                num_prompts,
            } => {
                let mut s = format!("rate {request_rate} req/s, {num_prompts} prompts");
                if *burstiness != 1.0 {
                    s.push_str(&format!(", burstiness {burstiness}"));
                }
                if let Some(c) = max_concurrency {
                    s.push_str(&format!(", max concurrency {c}"));
                }
                s
            }
        }
    }
}

/// One benchmark point: its label, its records by epoch and their summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointData {
    pub label: PointLabel,
    /// Per-request records of each measured epoch (warm-up excluded).
    pub epochs: Vec<Vec<RequestRecord>>,
    pub summary: PointSummary,
}

impl PointData {
    /// Build a point and summarise its records.
    pub fn new(
        label: PointLabel,
        epochs: Vec<Vec<RequestRecord>>,
        percentiles: &[f64],
        slo: &Slo,
    ) -> Self {
        let slices: Vec<&[RequestRecord]> = epochs.iter().map(|e| e.as_slice()).collect();
        let summary = summarize(&slices, percentiles, slo);
        PointData {
            label,
            epochs,
            summary,
        }
    }
}

/// Static or dynamic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunKind {
    Static,
    Dynamic,
}

/// Everything about a run except its measurements. Never holds an API key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunMeta {
    pub kind: RunKind,
    /// The benchmark's name or id.
    pub name: String,
    pub servebench_version: String,
    /// Unix time of the start, seconds.
    pub started_unix_s: f64,
    pub base_url: String,
    pub embedded_sim: bool,
    pub backend: String,
    pub model: String,
    pub tokenizer: String,
    pub percentiles: Vec<f64>,
    pub slo: Slo,
    /// True when the run was stopped before it finished.
    pub interrupted: bool,
    /// Plain-language remarks (e.g. client-limited, lengths not forced).
    pub notes: Vec<String>,
}

/// A whole run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunData {
    pub meta: RunMeta,
    pub points: Vec<PointData>,
}

/// Seconds since the Unix epoch, now.
pub fn unix_now_s() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_round_trips_inf() {
        let j = serde_json::to_string(&[Rate(f64::INFINITY), Rate(2.5)]).unwrap();
        assert_eq!(j, "[\"inf\",2.5]");
        let back: Vec<Rate> = serde_json::from_str(&j).unwrap();
        assert!(back[0].is_inf());
        assert_eq!(back[1], Rate(2.5));
        assert!("0".parse::<Rate>().is_err());
        assert!("-1".parse::<Rate>().is_err());
    }

    #[test]
    fn labels() {
        let l = PointLabel::Static {
            prompt_tokens: 10,
            output_tokens: 2,
            concurrency: 4,
        };
        assert_eq!(l.id(), "p10-o2-c4");
        let d = PointLabel::Dynamic {
            request_rate: Rate(f64::INFINITY),
            burstiness: 1.0,
            max_concurrency: None,
            num_prompts: 5,
        };
        assert_eq!(d.id(), "rate-inf");
        let j = serde_json::to_value(&d).unwrap();
        assert_eq!(j["kind"], "dynamic");
    }
}
