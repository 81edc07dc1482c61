//! The resolution of a [`TargetSpec`] into a target: a remote endpoint, or
//! the embedded simulator; its client, tokenizer and model.

use std::sync::Arc;
use std::time::Duration;

use super::spec::ONE_ENDPOINT;
use super::{RunError, TargetSpec};
use crate::backend::{self, Backend, RequestOptions, Sampling};
use crate::load::{Client, Endpoint, FailureLimit, Timeouts};
use crate::metrics::{unix_now_s, ClientLoad, RunKind, RunMeta, Slo, DEFAULT_PERCENTILES};
use crate::sim::{SimConfig, SimServer};
use crate::workload::Tokenizer;

/// The local source addresses `streams` connections to one server address
/// need, given the ephemeral port range `(lo, hi)` (each address used to
/// 90 % of it, for TIME_WAIT and reconnects): `explicit` when given and
/// enough; else `None` when one address is enough, 127.0.0.1, .2, ...
/// against a `loopback` server, and an error otherwise. The error says
/// whether `explicit` was at fault, and what to do.
pub fn source_addresses_for(
    streams: usize,
    (lo, hi): (u32, u32),
    explicit: &[std::net::IpAddr],
    loopback: bool,
) -> Result<Option<Vec<std::net::IpAddr>>, (bool, String)> {
    let ports = (hi.saturating_sub(lo) + 1) as usize;
    let usable = (ports * 9 / 10).max(1);
    let need = streams.div_ceil(usable).max(1);
    if !explicit.is_empty() {
        if explicit.len() < need {
            return Err((
                true,
                format!(
                    "{streams} streams need {need} source addresses at {usable} connections \
                     each (net.ipv4.ip_local_port_range {lo}-{hi}, 90 %); {} given",
                    explicit.len()
                ),
            ));
        }
        return Ok(Some(explicit.to_vec()));
    }
    if need == 1 {
        return Ok(None);
    }
    if !loopback || need > 254 {
        return Err((
            false,
            format!(
                "{streams} streams to one server address need more than one source address's \
                 {ports} ephemeral ports (net.ipv4.ip_local_port_range {lo}-{hi}): give \
                 --source-addresses with {need} or more addresses of this machine, widen the \
                 range (sysctl net.ipv4.ip_local_port_range=\"1024 65535\"), or run sharded \
                 over several machines (servebench plan/run)"
            ),
        ));
    }
    // All of 127.0.0.0/8 reaches the loopback interface.
    Ok(Some(
        (1..=need as u8)
            .map(|i| std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, i)))
            .collect(),
    ))
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
    /// The server's metrics, scraped during every measured epoch (`None`
    /// with `--no-server-metrics` or when the endpoint has none).
    pub server: Option<crate::server_metrics::ServerWatch>,
    /// Why the server's metrics are not read, when they were wanted.
    pub server_warning: Option<String>,
    /// `--source-addresses`: local addresses to spread connections over.
    pub source_addresses: Vec<std::net::IpAddr>,
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
            spec_decode: self.client.options().spec_decode,
            sampling: self.client.options().sampling,
            imported: None,
            shard: None,
            merged: None,
        }
    }

    /// The client's cost over a point, from its CPU time, wall time and the
    /// token-carrying chunks its measured epochs received.
    pub fn client_load(&self, cpu_s: f64, wall_s: f64, chunks: u64) -> ClientLoad {
        ClientLoad {
            cpu_s,
            wall_s,
            cores: busy_threads(self.sim.is_some()),
            chunks,
            includes_simulator: self.sim.is_some(),
            limited: None,
        }
    }

    /// Make sure `streams` concurrent streams fit under the open-file limit
    /// (raising it when allowed), or say which limit stops them; `flag` is
    /// the flag that asked for them. When `streams` is only an upper bound
    /// (an open loop's requests), too few source addresses for it is not
    /// an error.
    pub fn ensure_streams(
        &self,
        streams: usize,
        flag: &str,
        upper_bound: bool,
    ) -> Result<(), RunError> {
        // Each stream is a socket; the embedded simulator holds the other end.
        let per = if self.sim.is_some() { 2 } else { 1 };
        let wanted = (streams * per + 256) as u64;
        self.spread_connections(streams, flag, upper_bound)?;
        crate::load::selfwatch::ensure_nofile(wanted).map_err(|e| RunError::BadSetting {
            flag: flag.into(),
            reason: e.to_string(),
        })?;
        Ok(())
    }

    /// Spread the run's connections over enough local source addresses:
    /// `--source-addresses` when given (checked to be enough), else, against
    /// a loopback server, as many of 127.0.0.1, .2, ... as `streams` need;
    /// a remote server that needs more than one address's ports is refused
    /// before any load, naming the flag and the limit.
    fn spread_connections(
        &self,
        streams: usize,
        flag: &str,
        upper_bound: bool,
    ) -> Result<(), RunError> {
        let Some(range) = crate::load::selfwatch::local_port_range() else {
            return Ok(());
        };
        // 127.0.0.x source addresses reach an IPv4 loopback server only.
        let loopback = url::Url::parse(&self.base_url).is_ok_and(|u| {
            crate::load::is_loopback(&u) && !matches!(u.host(), Some(url::Host::Ipv6(_)))
        });
        let wanted = match source_addresses_for(streams, range, &self.source_addresses, loopback) {
            // Only an upper bound: the given addresses, or none, serve.
            Err(_) if upper_bound => {
                Ok((!self.source_addresses.is_empty()).then(|| self.source_addresses.clone()))
            }
            other => other,
        };
        match wanted {
            Ok(Some(addrs)) => self
                .client
                .spread_over(&addrs)
                .map(|_| ())
                .map_err(RunError::Client),
            Ok(None) => Ok(()),
            Err((explicit, reason)) => Err(RunError::BadSetting {
                flag: if explicit {
                    "--source-addresses".into()
                } else {
                    flag.into()
                },
                reason,
            }),
        }
    }

    /// Remarks every run against this target carries.
    /// True when `note` is one of the target's own notes.
    pub(crate) fn notes_contain(&self, note: &str) -> bool {
        self.notes().iter().any(|n| n == note)
    }

    pub(crate) fn notes(&self) -> Vec<String> {
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
        notes.extend(self.server_warning.clone());
        notes
    }

    /// An epoch's load is about to start: the server's metrics just before.
    pub(super) async fn server_epoch_start(&self) {
        if let Some(w) = &self.server {
            w.epoch_start().await;
        }
    }

    /// The epoch's load ended: what the server's metrics showed over it.
    pub(super) async fn server_epoch_end(
        &self,
        epoch: u32,
    ) -> Option<crate::server_metrics::EpochServer> {
        self.server.as_ref()?.epoch_end(epoch).await
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

/// The cores the process can keep busy: its load threads, or every core
/// when the embedded simulator runs in-process (on a thread per core).
fn busy_threads(embedded_sim: bool) -> usize {
    let cores = crate::load::selfwatch::cores();
    match embedded_sim {
        true => cores,
        false => crate::load::load_threads().min(cores),
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
    crate::load::check_env().map_err(|(var, reason)| RunError::BadSetting {
        flag: format!("environment variable {var}"),
        reason,
    })?;
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
    if !(args.metrics_interval.is_finite() && args.metrics_interval > 0.0) {
        return Err(RunError::BadSetting {
            flag: "--metrics-interval".into(),
            reason: format!("{} is not a number of seconds > 0", args.metrics_interval),
        });
    }
    if let Some(u) = &args.metrics_url {
        let ok = url::Url::parse(u)
            .is_ok_and(|p| matches!(p.scheme(), "http" | "https") && p.host().is_some());
        if !ok {
            return Err(RunError::BadSetting {
                flag: "--metrics-url".into(),
                reason: format!("`{u}` is not an http:// or https:// URL with a host"),
            });
        }
    }
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
                super::checks::list_models(&base, api_key.as_ref().map(|k| k.1.as_str())).await
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
        spec_decode: args.spec_decode,
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
    let mut target = Target {
        client: Arc::new(client),
        tokenizer,
        model,
        base_url,
        sim,
        max_model_len,
        probe_steps: args.num_scheduler_steps.is_some() && !args.no_preflight,
        server: None,
        server_warning: None,
        source_addresses: args.source_addresses.clone(),
    };
    if !args.no_preflight {
        if let Err(e) = target.preflight().await {
            target.stop().await;
            return Err(e);
        }
    }
    if !args.no_server_metrics {
        let url = crate::server_metrics::metrics_url(&target.base_url, args.metrics_url.as_deref());
        let every = Duration::from_secs_f64(args.metrics_interval);
        match crate::server_metrics::ServerWatch::start(&url, every).await {
            Ok(w) => target.server = Some(w),
            Err(e) => {
                target.server_warning = Some(format!(
                    "server metrics: not read ({e}); the run has no server-side view \
                     (--metrics-url names another place, --no-server-metrics turns this off)"
                ))
            }
        }
    }
    Ok(target)
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

#[cfg(test)]
mod source_tests {
    use super::source_addresses_for;
    use std::net::IpAddr;

    #[test]
    fn streams_beyond_one_addresss_ports_take_more_addresses() {
        let range = (32768, 60999); // 28,232 ports, 25,408 usable
        assert_eq!(source_addresses_for(25_000, range, &[], false), Ok(None));
        let v = source_addresses_for(50_000, range, &[], true)
            .unwrap()
            .unwrap();
        let want: Vec<IpAddr> = ["127.0.0.1", "127.0.0.2"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        assert_eq!(v, want);
        assert_eq!(
            source_addresses_for(100_000, range, &[], true)
                .unwrap()
                .unwrap()
                .len(),
            4
        );
        let (explicit, e) = source_addresses_for(50_000, range, &[], false).unwrap_err();
        assert!(
            !explicit && e.contains("--source-addresses") && e.contains("2 or more"),
            "{e}"
        );
        let one: Vec<IpAddr> = vec!["10.0.0.7".parse().unwrap()];
        let (explicit, e) = source_addresses_for(50_000, range, &one, false).unwrap_err();
        assert!(explicit && e.contains("need 2"), "{e}");
        // Given and enough: used even when one address would do.
        assert_eq!(source_addresses_for(10, range, &one, false), Ok(Some(one)));
    }
}
