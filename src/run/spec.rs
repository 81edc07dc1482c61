//! What to send load to, as the command line's endpoint flags and the bench
//! harness's settings describe it. The field docs are the `--help` of the
//! endpoint flags; the bench harness fills the same struct from its
//! settings, flags and `SERVEBENCH_*` variables.

use std::path::PathBuf;

use super::RunError;
use crate::backend::Sampling;

/// Where to send load, with what API, model, tokenizer and key.
#[derive(Debug, Clone, clap::Args)]
pub struct TargetSpec {
    /// API flavour: openai (/v1/completions), openai-chat
    /// (/v1/chat/completions), vllm (legacy /generate), tgi
    /// (/generate_stream), mindspore (MindIE /infer) or mindspore-tgi
    /// (MindIE's TGI-compatible /generate_stream).
    #[arg(long, default_value = "openai")]
    pub backend: String,
    /// Server host (with --port). Without --host, --port or --url, the
    /// embedded simulated server is used.
    #[arg(long)]
    pub host: Option<String>,
    /// Server port (default 8000 when --host is given).
    #[arg(long, value_parser = parse_port)]
    pub port: Option<u16>,
    /// Full base URL, e.g. http://10.0.0.5:8000 (a trailing /v1 is accepted).
    #[arg(long, conflicts_with_all = ["host", "port"])]
    pub url: Option<String>,
    /// Model name sent with each request (default: the server's first model
    /// from /v1/models, else the tokenizer's name).
    #[arg(long)]
    pub served_model_name: Option<String>,
    /// Name of the environment variable holding the API key (sent as a
    /// Bearer token; never printed or written).
    #[arg(long, default_value = "OPENAI_API_KEY", value_name = "VAR")]
    pub api_key_env: String,
    /// Refused: a key on the command line shows in `ps` and the shell's
    /// history; export it and name the variable with --api-key-env.
    #[arg(long, hide = true, value_name = "KEY")]
    pub api_key: Option<String>,
    /// ModelArts APIG app code, sent as the `X-Apig-AppCode` header (never
    /// printed or written); default: $SERVEBENCH_APP_CODE when set.
    #[arg(long, value_name = "CODE")]
    pub app_code: Option<String>,
    /// Sampling temperature (0: greedy, the default).
    #[arg(long, default_value_t = 0.0, value_name = "T")]
    pub temperature: f64,
    /// Top-k sampling; -1 or 0 leave it to the server (not sent).
    #[arg(long, allow_negative_numbers = true, value_name = "K")]
    pub top_k: Option<i64>,
    /// Top-p (nucleus) sampling, in (0, 1] (default: the server's, not sent).
    #[arg(long, value_name = "P")]
    pub top_p: Option<f64>,
    /// Hugging Face tokenizer.json, a directory holding one, or a hub id
    /// (org/name) found in the local Hugging Face cache (default: the small
    /// BPE tokenizer embedded in servebench).
    #[arg(long)]
    pub tokenizer: Option<PathBuf>,
    /// The server runs N decode steps per scheduling step, so chunks carry N
    /// tokens (also configures the embedded simulator).
    #[arg(long, value_name = "N")]
    pub num_scheduler_steps: Option<u32>,
    /// Ask the server for its own latency figures ("return_latency": true).
    #[arg(long)]
    pub return_latency: bool,
    /// The server decodes speculatively: read each chunk's tokens exactly
    /// (set by `static --use-spec-decode` and the bench's
    /// `Configure::spec_decode`).
    #[arg(skip)]
    pub spec_decode: Option<crate::backend::SpecDecode>,
    /// Settings of the embedded simulator, KEY=VALUE,... (as SERVEBENCH_SIM,
    /// applied after it), e.g. time_scale=0.5,decode_step_ms=10.
    #[arg(long, value_name = "KEY=VALUE,...")]
    pub sim: Option<String>,
    /// Connect timeout, seconds.
    #[arg(long, default_value_t = 10.0, value_name = "S")]
    pub connect_timeout: f64,
    /// Longest wait from sending a request to the first bytes of its
    /// response body (time in the server's queue counts here), seconds.
    #[arg(long, default_value_t = 600.0, value_name = "S")]
    pub first_byte_timeout: f64,
    /// Longest gap between two reads of the response body, seconds.
    #[arg(long, default_value_t = 120.0, value_name = "S")]
    pub idle_timeout: f64,
    /// Longest whole request, seconds.
    #[arg(long, default_value_t = 3600.0, value_name = "S")]
    pub request_timeout: f64,
    /// Stop the run early when more than this share of the last
    /// `--failure-window` requests failed (0 < F <= 1; 1 never stops). The
    /// run keeps what it measured, says why it stopped, and exits with code 5.
    #[arg(long, default_value_t = 0.5, value_name = "F")]
    pub max_failure_rate: f64,
    /// Requests over which `--max-failure-rate` is judged (the most recent
    /// ones; none is judged before this many finished).
    #[arg(long, default_value_t = 50, value_name = "N")]
    pub failure_window: usize,
    /// Skip the check made before any load (one 2-token request must
    /// stream correctly).
    #[arg(long)]
    pub no_preflight: bool,
    /// Where the server's Prometheus metrics are (default: `/metrics` at
    /// the base URL's host). Read during every measured epoch.
    #[arg(long, value_name = "URL")]
    pub metrics_url: Option<String>,
    /// Seconds between two scrapes of the server's metrics while an epoch
    /// runs (each epoch is also scraped just before and just after its load).
    #[arg(long, default_value_t = 1.0, value_name = "S")]
    pub metrics_interval: f64,
    /// Do not read the server's metrics.
    #[arg(long)]
    pub no_server_metrics: bool,
    /// Local addresses to open connections from, in turn, e.g.
    /// 10.0.0.7,10.0.0.8: one address has only its ephemeral ports
    /// (net.ipv4.ip_local_port_range) to each server address. Default: this
    /// machine's choice; against a loopback server, 127.0.0.1, .2, ... as
    /// many as the run's streams need.
    #[arg(long, value_delimiter = ',', value_name = "IP,...")]
    pub source_addresses: Vec<std::net::IpAddr>,
}

impl Default for TargetSpec {
    fn default() -> Self {
        TargetSpec {
            backend: "openai".into(),
            host: None,
            port: None,
            url: None,
            served_model_name: None,
            api_key_env: "OPENAI_API_KEY".into(),
            api_key: None,
            app_code: None,
            temperature: 0.0,
            top_k: None,
            top_p: None,
            tokenizer: None,
            num_scheduler_steps: None,
            return_latency: false,
            spec_decode: None,
            sim: None,
            connect_timeout: 10.0,
            first_byte_timeout: 600.0,
            idle_timeout: 120.0,
            request_timeout: 3600.0,
            max_failure_rate: 0.5,
            failure_window: 50,
            no_preflight: false,
            metrics_url: None,
            metrics_interval: 1.0,
            no_server_metrics: false,
            source_addresses: Vec::new(),
        }
    }
}

/// What to do instead of the seed's comma-separated replica lists.
pub(super) const ONE_ENDPOINT: &str =
    "servebench measures one endpoint a run (the seed's comma lists send \
     round-robin to several replicas): put the replicas behind one load balancer and pass its \
     --url, or run servebench once per replica";

/// `--port`: one port; a comma list (the seed's replicas) is refused with
/// what to do instead.
fn parse_port(v: &str) -> Result<u16, String> {
    if v.contains(',') {
        return Err(format!("`{v}` is a list: {ONE_ENDPOINT}"));
    }
    v.trim()
        .parse()
        .map_err(|_| format!("`{v}` is not a port number (1-65535)"))
}

impl TargetSpec {
    /// The sampling parameters of the flags, checked.
    pub fn sampling(&self) -> Result<Sampling, RunError> {
        let bad = |flag: &str, reason: String| RunError::BadSetting {
            flag: flag.into(),
            reason,
        };
        if !(self.temperature.is_finite() && self.temperature >= 0.0) {
            return Err(bad(
                "--temperature",
                format!("{} is not a number of 0 or more", self.temperature),
            ));
        }
        if let Some(k) = self.top_k.filter(|&k| k < -1) {
            return Err(bad(
                "--top-k",
                format!("{k}: must be at least 1 (-1 or 0: the server's own)"),
            ));
        }
        if let Some(p) = self.top_p.filter(|p| !(*p > 0.0 && *p <= 1.0)) {
            return Err(bad("--top-p", format!("{p} is not in (0, 1]")));
        }
        Ok(Sampling {
            temperature: self.temperature,
            top_k: self.top_k.filter(|&k| k >= 1),
            top_p: self.top_p,
        })
    }
}
