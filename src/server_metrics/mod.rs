//! The server's own view of a run: its Prometheus `/metrics` page, scraped
//! while each measured epoch runs (every `--metrics-interval`, and once
//! just before and just after the epoch's load), read under the metric
//! names of vLLM, SGLang, TGI and llama.cpp's server, and turned into time
//! series (queue, batch, KV-cache use, prefix-cache hit rate), counter
//! increases (the tokens the server counted beside the client's) and the
//! server's own latency quantiles beside the client's percentiles.
//!
//! An endpoint without metrics costs one warning, never a failed run.

mod names;
mod scraper;
mod snapshot;
mod view;

pub use names::{engine, Latency};
pub use scraper::ServerWatch;
pub use snapshot::{Histogram, Kind, Snapshot};
pub use view::{
    EpochServer, GaugeFigures, RawFigure, SeriesPoint, ServerLatency, ServerPoint, ServerSummary,
};

/// Why the metrics could not be read.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ScrapeError {
    /// No answer (connection refused, timeout, ...).
    #[error("{url}: {reason}")]
    Http { url: String, reason: String },
    /// An answer that is not a success.
    #[error("{url}: HTTP {status}")]
    Status { url: String, status: u16 },
    /// An answer that holds no Prometheus metric.
    #[error("{url}: not Prometheus text (it starts {start:?})")]
    NotPrometheus { url: String, start: String },
}

/// The metrics URL of an endpoint: `metrics_url` when given, else
/// `/metrics` at the base URL's host (`http://h:8000/v1` gives
/// `http://h:8000/metrics`).
pub fn metrics_url(base_url: &str, metrics_url: Option<&str>) -> String {
    if let Some(u) = metrics_url {
        return u.to_string();
    }
    match url::Url::parse(base_url) {
        Ok(u) => {
            let mut m = u.clone();
            m.set_path("/metrics");
            m.set_query(None);
            m.set_fragment(None);
            m.to_string()
        }
        Err(_) => format!("{}/metrics", base_url.trim_end_matches('/')),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_metrics_url_is_at_the_host_root() {
        assert_eq!(
            super::metrics_url("http://h:8000/v1", None),
            "http://h:8000/metrics"
        );
        assert_eq!(
            super::metrics_url("http://127.0.0.1:9/", None),
            "http://127.0.0.1:9/metrics"
        );
        assert_eq!(
            super::metrics_url("http://h/v1", Some("http://m:9/x")),
            "http://m:9/x"
        );
    }
}
