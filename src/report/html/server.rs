//! The page's "Server metrics" section: for each point whose server's
//! `/metrics` was read, its latencies beside the client's, the tokens it
//! counted beside the client's, and its queue, batch and cache figures.

use serde::Serialize;

use crate::metrics::RunData;
use crate::report::figures::num;

/// One latency of one point, server beside client.
#[derive(Debug, Serialize)]
pub(crate) struct ServerLatencyRow {
    pub point: String,
    pub metric: String,
    /// The server's histogram.
    pub source: String,
    pub server_mean: String,
    pub client_mean: String,
    pub server_p50: String,
    pub client_p50: String,
    pub p50_difference: String,
}

/// One point's server figures.
#[derive(Debug, Serialize)]
pub(crate) struct ServerPointRow {
    pub point: String,
    pub engine: String,
    pub url: String,
    pub prompt_tokens: String,
    pub client_prompt_tokens: String,
    pub generation_tokens: String,
    pub client_generation_tokens: String,
    pub running_max: String,
    pub waiting_max: String,
    pub kv_usage_max: String,
    pub prefix_hit_ratio: String,
}

/// The section's two tables (empty when no point has server metrics).
#[derive(Debug, Default, Serialize)]
pub(crate) struct ServerSection {
    pub latencies: Vec<ServerLatencyRow>,
    pub points: Vec<ServerPointRow>,
}

pub(crate) fn server_section(run: &RunData) -> ServerSection {
    let mut out = ServerSection::default();
    let pct = |v: Option<f64>| v.map_or("-".into(), |x| format!("{:.1} %", 100.0 * x));
    for p in &run.points {
        let Some(server) = &p.server else { continue };
        for x in p.server_side_by_side() {
            let source = server
                .summary
                .latency
                .get(x.latency.key())
                .map(|s| s.metric.clone())
                .unwrap_or_default();
            out.latencies.push(ServerLatencyRow {
                point: p.label.id(),
                metric: x.latency.key().to_uppercase(),
                source,
                server_mean: num(x.server_mean_ms),
                client_mean: num(x.client_mean_ms),
                server_p50: num(Some(x.server_p50_ms)),
                client_p50: num(x.client_p50_ms),
                p50_difference: x.difference_ms().map_or("-".into(), |d| format!("{d:+.2}")),
            });
        }
        let s = &server.summary;
        let (cp, co) = p.client_tokens();
        out.points.push(ServerPointRow {
            point: p.label.id(),
            engine: server.engine.clone(),
            url: server.url.clone(),
            prompt_tokens: num(s.prompt_tokens),
            client_prompt_tokens: num(Some(cp)),
            generation_tokens: num(s.generation_tokens),
            client_generation_tokens: num(Some(co)),
            running_max: num(s.running.map(|g| g.max)),
            waiting_max: num(s.waiting.map(|g| g.max)),
            kv_usage_max: pct(s.kv_usage.map(|g| g.max)),
            prefix_hit_ratio: pct(s.prefix_hit_ratio),
        });
    }
    out
}
