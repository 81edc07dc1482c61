//! What to send load to, and its resolution into a target: a remote
//! endpoint, or the embedded simulator. The field docs are the `--help` of
//! the command line's endpoint flags; the bench harness fills the same
//! struct from its settings, flags and `SERVEBENCH_*` variables.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::RunError;
use crate::backend::{self, Backend, RequestOptions, Sampling};
use crate::load::{Client, Endpoint, FailureLimit, Timeouts};
use crate::metrics::{unix_now_s, ClientLoad, RunKind, RunMeta, Slo, DEFAULT_PERCENTILES};
use crate::sim::{SimConfig, SimServer};
use crate::workload::Tokenizer;

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
            sim: None,
            connect_timeout: 10.0,
            first_byte_timeout: 600.0,
            idle_timeout: 120.0,
            request_timeout: 3600.0,
            max_failure_rate: 0.5,
            failure_window: 50,
            no_preflight: false,
        }
    }
}

/// What to do instead of the seed's comma-separated replica lists.
const ONE_ENDPOINT: &str = "servebench measures one endpoint a run (the seed's comma lists send \
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

/// Grace period given to in-flight requests after the first Ctrl-C (and
/// after a run stops itself on its failure-rate limit).
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// A resolved target: the client to use, and the embedded simulator when it
/// serves the run (stopped when the target is dropped or [`Target::stop`]ped).
pub struct Target {
    pub client: Arc<Client>,
    pub tokenizer: Tokenizer,
    pub model: String,
    pub base_url: String,
    pub sim: Option<SimServer>,
    /// The model's context length (prompt + output), as `/v1/models`
    /// reports it (vLLM's `max_model_len`) or the simulator is set to.
    pub max_model_len: Option<usize>,
    /// Check `--num-scheduler-steps` against the server before a static
    /// run (the flag was given and the preflight is on).
    pub probe_steps: bool,
}

impl Target {
    /// One line for people: URL, simulator or remote, model.
    pub fn describe(&self) -> String {
        format!(
            "{} ({}), model `{}`, backend {}",
            self.base_url,
            if self.sim.is_some() {
                "embedded simulator"
            } else {
                "remote"
            },
            self.model,
            self.client.backend().name()
        )
    }

    /// The metadata of a run against this target (no API key in it).
    pub fn meta(&self, kind: RunKind, name: &str, slo: Slo) -> RunMeta {
        RunMeta {
            kind,
            name: name.to_string(),
            servebench_version: env!("CARGO_PKG_VERSION").to_string(),
            started_unix_s: unix_now_s(),
            base_url: self.base_url.clone(),
            embedded_sim: self.sim.is_some(),
            backend: self.client.backend().name().to_string(),
            model: self.model.clone(),
            tokenizer: self.tokenizer.name().to_string(),
            percentiles: DEFAULT_PERCENTILES.to_vec(),
            slo,
            interrupted: false,
            stopped_early: None,
            notes: self.notes(),
            images: None,
            assumed_tokens_per_chunk: self.client.options().tokens_per_chunk.max(1),
            sampling: self.client.options().sampling,
        }
    }

    /// The client's cost over a point, from its CPU time, wall time and the
    /// token-carrying chunks its measured epochs received.
    pub fn client_load(&self, cpu_s: f64, wall_s: f64, chunks: u64) -> ClientLoad {
        ClientLoad {
            cpu_s,
            wall_s,
            cores: crate::load::selfwatch::cores(),
            chunks,
            includes_simulator: self.sim.is_some(),
            limited: None,
        }
    }

    /// Make sure `streams` concurrent streams fit under the open-file limit
    /// (raising it when allowed), or say which limit stops them; `flag` is
    /// the flag that asked for them.
    pub fn ensure_streams(&self, streams: usize, flag: &str) -> Result<(), RunError> {
        // Each stream is a socket; the embedded simulator holds the other end.
        let per = if self.sim.is_some() { 2 } else { 1 };
        let wanted = (streams * per + 256) as u64;
        crate::load::selfwatch::ensure_nofile(wanted).map_err(|e| RunError::BadSetting {
            flag: flag.into(),
            reason: e.to_string(),
        })?;
        Ok(())
    }

    /// Remarks every run against this target carries.
    fn notes(&self) -> Vec<String> {
        let backend = self.client.backend();
        let mut notes = Vec::new();
        let s = self.client.options().sampling;
        if s != Sampling::default() {
            notes.push(format!(
                "sampling: temperature {}, top-k {}, top-p {}",
                s.temperature,
                s.top_k.map_or("the server's".into(), |k| k.to_string()),
                s.top_p.map_or("the server's".into(), |p| p.to_string()),
            ));
        }
        if !backend.can_force_length() {
            notes.push(format!(
                "the {} API cannot force the output length (it has no ignore_eos): records carry \
                 the real output lengths, which may be shorter than asked",
                backend.name()
            ));
        }
        notes
    }

    /// Stop the embedded simulator, if any.
    pub async fn stop(self) {
        if let Some(s) = self.sim {
            s.stop().await;
        }
    }
}

fn timeout_flag(flag: &str, v: f64) -> Result<Duration, RunError> {
    if v.is_finite() && v > 0.0 {
        Ok(Duration::from_secs_f64(v))
    } else {
        Err(RunError::BadSetting {
            flag: flag.into(),
            reason: format!("{v} is not a positive number of seconds"),
        })
    }
}

/// Turn `--url` into a base URL: strip `/v1/...` endpoint suffixes.
fn normalise_url(url: &str) -> String {
    let mut u = url.trim().trim_end_matches('/').to_string();
    for suffix in ["/v1/chat/completions", "/v1/completions", "/v1"] {
        if let Some(s) = u.strip_suffix(suffix) {
            u = s.to_string();
            break;
        }
    }
    u
}

/// Validate every flag, load the tokenizer, then start the embedded simulator
/// or settle the remote endpoint and model name. No load is sent.
pub async fn resolve_target(args: &TargetSpec) -> Result<Target, RunError> {
    let backend: Arc<dyn Backend> = Arc::from(backend::by_name(&args.backend)?);
    let timeouts = Timeouts {
        connect: timeout_flag("--connect-timeout", args.connect_timeout)?,
        first_byte: timeout_flag("--first-byte-timeout", args.first_byte_timeout)?,
        idle: timeout_flag("--idle-timeout", args.idle_timeout)?,
        total: timeout_flag("--request-timeout", args.request_timeout)?,
    };
    if !(args.max_failure_rate > 0.0 && args.max_failure_rate <= 1.0) {
        return Err(RunError::BadSetting {
            flag: "--max-failure-rate".into(),
            reason: format!("{} is not in (0, 1]", args.max_failure_rate),
        });
    }
    if args.failure_window == 0 {
        return Err(RunError::BadSetting {
            flag: "--failure-window".into(),
            reason: "must be at least 1".into(),
        });
    }
    if args.num_scheduler_steps == Some(0) {
        return Err(RunError::BadSetting {
            flag: "--num-scheduler-steps".into(),
            reason: "must be at least 1".into(),
        });
    }
    if let Some(h) = args.host.as_deref().filter(|h| h.contains(',')) {
        return Err(RunError::BadSetting {
            flag: "--host".into(),
            reason: format!("`{h}` is a list: {ONE_ENDPOINT}"),
        });
    }
    if args.api_key.is_some() {
        return Err(RunError::BadSetting {
            flag: "--api-key".into(),
            reason: format!(
                "servebench takes the key from the environment so that it never shows in \
                 `ps`, logs or the shell's history: `export {}=<key>` (or name another \
                 variable with --api-key-env VAR)",
                args.api_key_env
            ),
        });
    }
    let sampling = args.sampling()?;
    let app_code = args.app_code.clone().or_else(|| {
        std::env::var("SERVEBENCH_APP_CODE")
            .ok()
            .filter(|c| !c.is_empty())
    });
    if app_code
        .as_deref()
        .is_some_and(|c| reqwest::header::HeaderValue::from_str(c).is_err())
    {
        return Err(RunError::BadSetting {
            flag: "--app-code".into(),
            reason: "not a valid HTTP header value (printable ASCII only)".into(),
        });
    }
    let tokenizer = Tokenizer::load(args.tokenizer.as_deref())?;
    let remote = match (&args.url, &args.host, args.port) {
        (Some(u), _, _) => Some(normalise_url(u)),
        (None, None, None) => None,
        (None, h, p) => {
            let h = h.as_deref().unwrap_or("127.0.0.1");
            let h = h.trim_start_matches("http://").trim_end_matches('/');
            Some(format!("http://{h}:{}", p.unwrap_or(8000)))
        }
    };
    if remote.is_some() && args.sim.is_some() {
        return Err(RunError::BadSetting {
            flag: "--sim".into(),
            reason: "sets the embedded simulator, which does not run with a remote \
                     --url/--host/--port; drop one of them"
                .into(),
        });
    }
    if let Some(u) = &remote {
        let hint = if u.contains("://") {
            String::new()
        } else {
            format!(" (did you mean http://{u}?)")
        };
        let flag = if args.url.is_some() {
            "--url"
        } else {
            "--host/--port"
        };
        let parsed = url::Url::parse(u).map_err(|e| RunError::BadSetting {
            flag: flag.into(),
            reason: format!("`{u}` is not a valid URL: {e}{hint}"),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
            return Err(RunError::BadSetting {
                flag: flag.into(),
                reason: format!("`{u}` must be an http:// or https:// URL with a host{hint}"),
            });
        }
    }
    let api_key = std::env::var(&args.api_key_env)
        .ok()
        .filter(|k| !k.is_empty())
        .map(|k| (args.api_key_env.clone(), k));
    let openai = matches!(args.backend.as_str(), "openai" | "openai-chat");
    let (base_url, sim, model, max_model_len) = match remote {
        Some(base) => {
            let listed = if openai {
                list_models(&base, api_key.as_ref().map(|k| k.1.as_str())).await
            } else {
                None
            };
            let lens = listed.unwrap_or_default();
            let listed =
                (!lens.is_empty()).then(|| lens.iter().map(|m| m.0.clone()).collect::<Vec<_>>());
            let model = match (&args.served_model_name, &listed) {
                (Some(m), Some(ids)) if !ids.is_empty() && !ids.contains(m) => {
                    return Err(RunError::Preflight {
                        url: format!("{base}/v1/models"),
                        reason: format!(
                            "--served-model-name {m}: the server does not serve it (it serves: {})",
                            ids.join(", ")
                        ),
                    })
                }
                (Some(m), _) => m.clone(),
                (None, Some(ids)) if !ids.is_empty() => ids[0].clone(),
                (None, _) => tokenizer.name().to_string(),
            };
            let len = lens.iter().find(|m| m.0 == model).and_then(|m| m.1);
            (base, None, model, len)
        }
        None => {
            let mut cfg = SimConfig::from_env()?;
            if let Some(spec) = &args.sim {
                cfg.apply_kv(spec)?;
            }
            if let Some(n) = args.num_scheduler_steps {
                cfg.num_scheduler_steps = n as usize;
            }
            if let Some(m) = &args.served_model_name {
                cfg.model = m.clone();
            }
            cfg.validate()?;
            let len = cfg.max_model_len;
            let server = SimServer::start(cfg, tokenizer.clone()).await?;
            let model = server.model().to_string();
            (server.base_url(), Some(server), model, Some(len))
        }
    };
    let opts = RequestOptions {
        model: model.clone(),
        return_latency: args.return_latency,
        tokens_per_chunk: args.num_scheduler_steps.unwrap_or(1),
        non_streaming: false,
        sampling,
    };
    let endpoint = Endpoint {
        base_url: base_url.clone(),
        api_key,
        app_code,
    };
    let limit = FailureLimit {
        max_rate: args.max_failure_rate,
        window: args.failure_window,
    };
    let client = Client::new(&endpoint, backend, opts, tokenizer.clone(), timeouts)?
        .with_failure_limit(Some(limit), STOP_GRACE);
    let target = Target {
        client: Arc::new(client),
        tokenizer,
        model,
        base_url,
        sim,
        max_model_len,
        probe_steps: args.num_scheduler_steps.is_some() && !args.no_preflight,
    };
    if args.no_preflight {
        return Ok(target);
    }
    if let Err(e) = target.preflight().await {
        target.stop().await;
        return Err(e);
    }
    Ok(target)
}

impl Target {
    /// Before any load: one tiny request must stream correctly (the endpoint
    /// answers, the model exists, the stream parses).
    pub async fn preflight(&self) -> Result<(), RunError> {
        let spec = crate::workload::RequestSpec {
            id: u64::MAX,
            prompt: "Hello".into(),
            prompt_tokens: self.tokenizer.count("Hello"),
            max_tokens: 2,
            force_output_len: false,
        };
        let req = self.client.prepare(&spec);
        let rec = self
            .client
            .execute(&req, 0, std::time::Instant::now())
            .await;
        match rec.failure {
            None => Ok(()),
            Some(f) => Err(RunError::Preflight {
                url: format!("{}{}", self.base_url, req.http.path),
                reason: format!(
                    "a 2-token test request with model `{}` failed ({}): {}",
                    self.model,
                    f.kind.as_str(),
                    f.message
                ),
            }),
        }
    }
}

impl Target {
    /// The seed's `check_multi_step`, as a warning rather than a refusal:
    /// one streamed request of `output_tokens` tokens (at most 64) before
    /// load, its tokens per chunk after the first compared with
    /// `--num-scheduler-steps`. `Some` says what the server really does
    /// when the two differ by more than a quarter (`None`: they agree, the
    /// probe is off, or the request failed, which the load will show).
    pub async fn probe_scheduler_steps(&self, output_tokens: usize) -> Option<String> {
        if !self.probe_steps {
            return None;
        }
        let assumed = self.client.options().tokens_per_chunk.max(1);
        let n = output_tokens.clamp(2, 64);
        let spec = crate::workload::RequestSpec {
            id: u64::MAX - 1,
            prompt: "Hello".into(),
            prompt_tokens: self.tokenizer.count("Hello"),
            max_tokens: n,
            force_output_len: true,
        };
        let req = self.client.prepare(&spec);
        let rec = self
            .client
            .execute(&req, 0, std::time::Instant::now())
            .await;
        if rec.failure.is_some() || rec.chunks.len() < 2 {
            return None;
        }
        // The server's usage, else the tokenizer's count of the text.
        let tokens = rec
            .usage_output_tokens
            .or(rec.counted_output_tokens)
            .unwrap_or(rec.output_tokens);
        let shown = tokens.saturating_sub(1) as f64 / (rec.chunks.len() - 1) as f64;
        ((shown - assumed as f64).abs() > 0.25 * assumed as f64).then(|| {
            format!(
                "scheduler steps: before load, one {tokens}-token stream came in {} chunks, \
                 {shown:.2} tokens a chunk after the first (the seed's check_multi_step would \
                 refuse to run), not the {assumed} of --num-scheduler-steps; ITL follows what \
                 the streams show, not the flag",
                rec.chunks.len()
            )
        })
    }
}

/// The models listed by `GET /v1/models`, if the server answers: each id
/// with its context length when the server says (vLLM's `max_model_len`).
async fn list_models(base: &str, key: Option<&str>) -> Option<Vec<(String, Option<usize>)>> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .ok()?;
    let mut req = http.get(format!("{base}/v1/models"));
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    let v: serde_json::Value = req.send().await.ok()?.json().await.ok()?;
    Some(
        v["data"]
            .as_array()?
            .iter()
            .filter_map(|m| {
                let id = m["id"].as_str()?.to_string();
                let len = m["max_model_len"].as_u64().map(|n| n as usize);
                Some((id, len))
            })
            .collect(),
    )
}

impl Target {
    /// Before any load: every request of `plan` must fit the model's
    /// context (prompt + output within `max_model_len`), else an error
    /// naming the flags, the lengths and where the limit came from.
    pub fn check_context(&self, plan: &super::Plan) -> Result<(), RunError> {
        let Some(limit) = self.max_model_len else {
            return Ok(());
        };
        let (longest, flag) = match &plan.sweep {
            super::Sweep::Static(s) => (
                s.pairs
                    .iter()
                    .map(|&(p, o)| (p, o))
                    .max_by_key(|(p, o)| p + o),
                "--prompt-tokens/--output-tokens",
            ),
            super::Sweep::Dynamic(d) => match &d.workload {
                super::DynamicWorkload::Generated(g) => (
                    Some((g.max_input, g.max_output)),
                    "--random-input-len/--random-output-len (or the max lengths)",
                ),
                super::DynamicWorkload::Dataset { .. } => (None, ""),
            },
        };
        match longest {
            Some((p, o)) if p + o > limit => Err(RunError::BadSetting {
                flag: flag.into(),
                reason: format!(
                    "prompt {p} + output {o} = {} tokens exceed the context of model `{}` \
                     (max_model_len {limit}, from {}); shorten them",
                    p + o,
                    self.model,
                    if self.sim.is_some() {
                        "the simulator's settings".to_string()
                    } else {
                        format!("{}/v1/models", self.base_url)
                    }
                ),
            }),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_suffixes_stripped() {
        assert_eq!(normalise_url("http://h:1/v1/"), "http://h:1");
        assert_eq!(normalise_url("http://h:1/v1/completions"), "http://h:1");
        assert_eq!(normalise_url("https://h/api"), "https://h/api");
    }
}
