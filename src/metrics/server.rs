//! The server's own figures beside the client's: its latency quantiles
//! next to the client's percentiles (with the difference), and the tokens
//! it counted next to those the client sent and received.

use super::PointData;
use crate::server_metrics::Latency;
use crate::stats::Summary;

/// One latency as the server and the client saw it at the median.
#[derive(Debug, Clone, PartialEq)]
pub struct SideBySide {
    pub latency: Latency,
    /// The server's mean (its histogram's sum over its count: exact), ms.
    pub server_mean_ms: Option<f64>,
    /// The server's median (interpolated inside a histogram bucket), ms.
    pub server_p50_ms: f64,
    /// The client's mean and median, ms (`None` where the client has no
    /// such figure).
    pub client_mean_ms: Option<f64>,
    pub client_p50_ms: Option<f64>,
}

impl SideBySide {
    /// Client minus server, ms: the network, the HTTP stack and the
    /// client's own reading (positive when the client saw it later).
    pub fn difference_ms(&self) -> Option<f64> {
        self.client_p50_ms.map(|c| c - self.server_p50_ms)
    }
}

impl PointData {
    /// The client's summary of the latency the server also measures.
    fn client_summary(&self, l: Latency) -> Option<&Summary> {
        let s = &self.summary;
        match l {
            Latency::Ttft => Some(&s.ttft_ms),
            Latency::Itl => Some(&s.itl_ms),
            Latency::Tpot => Some(&s.tpot_ms),
            Latency::E2el => Some(&s.e2el_ms),
            Latency::Queue => None,
        }
    }

    /// Each latency the server reported, beside the client's.
    pub fn server_side_by_side(&self) -> Vec<SideBySide> {
        let Some(server) = &self.server else {
            return Vec::new();
        };
        Latency::ALL
            .iter()
            .filter_map(|&l| {
                let s = server.summary.latency.get(l.key())?;
                let client = self.client_summary(l);
                Some(SideBySide {
                    latency: l,
                    server_mean_ms: s.mean_ms,
                    server_p50_ms: s.p50_ms?,
                    client_mean_ms: client.and_then(|c| c.mean),
                    client_p50_ms: client.and_then(|c| c.p(50.0)),
                })
            })
            .collect()
    }

    /// Prompt and output tokens of the point's completed requests, as
    /// their answers' usage gave them (the client's own counts where an
    /// answer had no usage): what the server's counters should show.
    pub fn client_tokens(&self) -> (f64, f64) {
        let (mut p, mut o) = (0u64, 0u64);
        for r in self.epochs.iter().flatten().filter(|r| r.ok()) {
            p += r.usage_input_tokens.unwrap_or(r.input_tokens);
            o += r.usage_output_tokens.unwrap_or(r.output_tokens);
        }
        (p as f64, o as f64)
    }

    /// The server's view in words: its medians beside the client's, the
    /// tokens it counted beside the client's, its queue, batch and KV use.
    pub fn server_metrics_note(&self) -> Option<String> {
        let server = self.server.as_ref()?;
        let s = &server.summary;
        let mut parts = Vec::new();
        for x in self.server_side_by_side() {
            let name = x.latency.key().to_uppercase();
            let mean = match (x.server_mean_ms, x.client_mean_ms) {
                (Some(s), Some(c)) => format!("mean {s:.2} ms (client {c:.2}, {:+.2}), ", c - s),
                (Some(s), None) => format!("mean {s:.2} ms, "),
                _ => String::new(),
            };
            parts.push(match (x.client_p50_ms, x.difference_ms()) {
                (Some(c), Some(d)) => format!(
                    "{name} {mean}p50 {:.2} ms (client {c:.2}, {d:+.2})",
                    x.server_p50_ms
                ),
                _ => format!("{name} {mean}p50 {:.2} ms", x.server_p50_ms),
            });
        }
        let (cp, co) = self.client_tokens();
        if let (Some(p), Some(o)) = (s.prompt_tokens, s.generation_tokens) {
            parts.push(format!(
                "tokens counted {p:.0} prompt / {o:.0} output (client {cp:.0} / {co:.0})"
            ));
        }
        let g = |name: &str, v: Option<crate::server_metrics::GaugeFigures>, pct: bool| {
            v.map(|g| match pct {
                true => format!(
                    "{name} mean {:.1} %, max {:.1} %",
                    100.0 * g.mean,
                    100.0 * g.max
                ),
                false => format!("{name} mean {:.1}, max {:.0}", g.mean, g.max),
            })
        };
        parts.extend(g("running", s.running, false));
        parts.extend(g("waiting", s.waiting, false));
        parts.extend(g("KV-cache use", s.kv_usage, true));
        if let Some(r) = s.prefix_hit_ratio {
            parts.push(format!("prefix-cache hits {:.1} %", 100.0 * r));
        }
        Some(format!(
            "{}: server metrics ({}, {}): {}",
            self.label.describe(),
            server.engine,
            server.url,
            parts.join("; ")
        ))
    }

    /// A warning when the server counted other token totals than the
    /// client sent and received (beyond 2 %): other traffic reached the
    /// server while the point ran, or the tokenizers differ.
    pub fn server_tokens_warning(&self) -> Option<String> {
        let s = &self.server.as_ref()?.summary;
        let (cp, co) = self.client_tokens();
        let off = |server: Option<f64>, client: f64| {
            server.filter(|&v| client > 0.0 && ((v - client) / client).abs() > 0.02)
        };
        let mut what = Vec::new();
        if let Some(v) = off(s.prompt_tokens, cp) {
            what.push(format!("{v:.0} prompt tokens (the client sent {cp:.0})"));
        }
        if let Some(v) = off(s.generation_tokens, co) {
            what.push(format!(
                "{v:.0} output tokens (the client received {co:.0})"
            ));
        }
        (!what.is_empty()).then(|| {
            format!(
                "{}: the server counted {} over the measured epochs: other requests reached it \
                 meanwhile, or its tokenizer is not the client's",
                self.label.describe(),
                what.join(" and ")
            )
        })
    }
}
