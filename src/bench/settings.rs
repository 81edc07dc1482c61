//! What a benchmark is run with: endpoint, warm-up, epochs, SLOs and gate.
//! Settings are layered: the benchmark's own, then its group's, then the
//! harness's; then environment variables and flags override the endpoint.

use std::path::PathBuf;

use super::args::{BenchArgs, EndpointFlags};
use crate::analysis::MetricId;
use crate::metrics::Slo;
use crate::run::TargetSpec as EndpointArgs;
use crate::stats::CompareConfig;

/// Environment variable: base URL of the server to benchmark.
pub const URL_ENV: &str = "SERVEBENCH_URL";
/// Environment variable: API flavour (`openai`, `openai-chat`).
pub const BACKEND_ENV: &str = "SERVEBENCH_BACKEND";
/// Environment variable: served model name.
pub const MODEL_ENV: &str = "SERVEBENCH_MODEL";
/// Environment variable: name of the variable holding the API key.
pub const API_KEY_ENV_ENV: &str = "SERVEBENCH_API_KEY_ENV";

/// Settings of a benchmark; `None` means "inherit, else the default".
///
/// ```
/// use servebench::bench::{Configure, Settings};
/// let s = Settings::new().sim("time_scale=0.2").epochs(5).warmup(1);
/// assert_eq!(s.epochs, Some(5));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings {
    /// Base URL; none (and no flag or env var): the embedded simulator.
    pub url: Option<String>,
    pub backend: Option<String>,
    pub model: Option<String>,
    /// Name of the environment variable holding the API key.
    pub api_key_env: Option<String>,
    /// Embedded simulator settings, `key=value,...`; layers accumulate.
    pub sim: Option<String>,
    /// Hugging Face `tokenizer.json` (or its folder).
    pub tokenizer: Option<PathBuf>,
    pub return_latency: Option<bool>,
    pub num_scheduler_steps: Option<u32>,
    /// The server decodes speculatively (see [`Configure::spec_decode`]).
    pub spec_decode: Option<crate::backend::SpecDecode>,
    /// Read the server's Prometheus metrics during each epoch (default on).
    pub server_metrics: Option<bool>,
    /// Where they are (default `/metrics` at the endpoint's host).
    pub metrics_url: Option<String>,
    /// Seconds between scrapes while an epoch runs (default 1).
    pub metrics_interval: Option<f64>,
    /// Measured epochs per point (default 5).
    pub epochs: Option<u32>,
    /// Warm-up requests per point (static default: one per worker; dynamic: 1).
    pub warmup: Option<usize>,
    pub slo: Option<Slo>,
    /// Seed of prompts and arrivals.
    pub seed: Option<u64>,
    /// Metrics the gate judges (default [`MetricId::DEFAULT_GATED`]).
    pub gated: Option<Vec<MetricId>>,
    pub noise_threshold: Option<f64>,
    pub significance: Option<f64>,
    pub confidence: Option<f64>,
    pub nresamples: Option<usize>,
    /// Fewer epochs than this on a side is inconclusive (default 3).
    pub min_epochs: Option<usize>,
    /// Adaptive epochs: after `epochs`, add epochs at a point until every
    /// gated metric's projected MDE is at most this (0.03: 3 %).
    pub target_mde: Option<f64>,
    /// With `target_mde`: at most this many epochs a point (default 20).
    pub max_epochs: Option<u32>,
    /// Interleaved A/B: side B, a URL or `sim:KEY=VALUE,...`; side A is the
    /// benchmark's own endpoint.
    pub ab: Option<String>,
}

/// Builder methods shared by [`Settings`] and every benchmark.
pub trait Configure: Sized {
    /// The settings being built.
    fn settings_mut(&mut self) -> &mut Settings;

    /// Benchmark the server at `url` (e.g. `http://127.0.0.1:8000`).
    fn url(mut self, url: impl Into<String>) -> Self {
        self.settings_mut().url = Some(url.into());
        self
    }
    /// API flavour: `openai` or `openai-chat`.
    fn backend(mut self, backend: impl Into<String>) -> Self {
        self.settings_mut().backend = Some(backend.into());
        self
    }
    /// Model name sent with each request.
    fn model(mut self, model: impl Into<String>) -> Self {
        self.settings_mut().model = Some(model.into());
        self
    }
    /// Name of the environment variable holding the API key.
    fn api_key_env(mut self, var: impl Into<String>) -> Self {
        self.settings_mut().api_key_env = Some(var.into());
        self
    }
    /// Embedded simulator settings, e.g. `"time_scale=0.2,jitter=0.02"`;
    /// added after those inherited.
    fn sim(mut self, spec: impl Into<String>) -> Self {
        let s = self.settings_mut();
        s.sim = Some(join_sim(s.sim.as_deref(), Some(&spec.into())));
        self
    }
    /// Tokenizer file or folder.
    fn tokenizer(mut self, path: impl Into<PathBuf>) -> Self {
        self.settings_mut().tokenizer = Some(path.into());
        self
    }
    /// Ask the server for its own latency figures.
    fn return_latency(mut self, on: bool) -> Self {
        self.settings_mut().return_latency = Some(on);
        self
    }
    /// The server emits tokens in bursts of `n`.
    fn num_scheduler_steps(mut self, n: u32) -> Self {
        self.settings_mut().num_scheduler_steps = Some(n);
        self
    }
    /// The server decodes speculatively with `k` draft tokens a step
    /// (`None`: unknown, only tokens per step are reported): each chunk's
    /// tokens are read exactly and the acceptance rate reported, as
    /// `servebench static --use-spec-decode --num-speculative-tokens K`.
    fn spec_decode(mut self, k: Option<u32>) -> Self {
        self.settings_mut().spec_decode = Some(crate::backend::SpecDecode {
            num_speculative_tokens: k,
        });
        self
    }
    /// Read the server's Prometheus metrics during each measured epoch
    /// (on by default; an endpoint without them costs one warning).
    fn server_metrics(mut self, on: bool) -> Self {
        self.settings_mut().server_metrics = Some(on);
        self
    }
    /// The server's metrics are at `url` (default: `/metrics` at the
    /// endpoint's host).
    fn metrics_url(mut self, url: impl Into<String>) -> Self {
        self.settings_mut().metrics_url = Some(url.into());
        self
    }
    /// Seconds between two scrapes of the server's metrics in an epoch.
    fn metrics_interval(mut self, seconds: f64) -> Self {
        self.settings_mut().metrics_interval = Some(seconds);
        self
    }
    /// Measured epochs per point.
    fn epochs(mut self, n: u32) -> Self {
        self.settings_mut().epochs = Some(n);
        self
    }
    /// Warm-up requests per point.
    fn warmup(mut self, n: usize) -> Self {
        self.settings_mut().warmup = Some(n);
        self
    }
    /// Service-level objectives for goodput.
    fn slo(mut self, slo: Slo) -> Self {
        self.settings_mut().slo = Some(slo);
        self
    }
    /// Seed of prompts and arrivals.
    fn seed(mut self, seed: u64) -> Self {
        self.settings_mut().seed = Some(seed);
        self
    }
    /// Metrics the gate judges.
    fn gate_metrics(mut self, metrics: impl IntoIterator<Item = MetricId>) -> Self {
        self.settings_mut().gated = Some(metrics.into_iter().collect());
        self
    }
    /// Relative changes within `±t` count as noise.
    fn noise_threshold(mut self, t: f64) -> Self {
        self.settings_mut().noise_threshold = Some(t);
        self
    }
    /// Family-wise significance level of the gate.
    fn significance(mut self, alpha: f64) -> Self {
        self.settings_mut().significance = Some(alpha);
        self
    }
    /// Confidence level of intervals.
    fn confidence(mut self, level: f64) -> Self {
        self.settings_mut().confidence = Some(level);
        self
    }
    /// Bootstrap resamples.
    fn nresamples(mut self, n: usize) -> Self {
        self.settings_mut().nresamples = Some(n);
        self
    }
    /// Fewest epochs a side needs for a verdict.
    fn min_epochs(mut self, n: usize) -> Self {
        self.settings_mut().min_epochs = Some(n);
        self
    }
    /// Adaptive epochs: keep adding epochs at each point until every gated
    /// metric could show a change of `mde` (0.03: 3 %) against a baseline
    /// as noisy as this run (as `--target-mde`).
    fn target_mde(mut self, mde: f64) -> Self {
        self.settings_mut().target_mde = Some(mde);
        self
    }
    /// With [`Configure::target_mde`]: at most `n` epochs a point.
    fn max_epochs(mut self, n: u32) -> Self {
        self.settings_mut().max_epochs = Some(n);
        self
    }
    /// Run as an interleaved A/B (as `servebench ab`): side A is this
    /// benchmark's endpoint, side B `b` (a URL or `sim:KEY=VALUE,...`);
    /// epochs alternate ABBA and B is judged against A with paired
    /// statistics (the gate included). As `--ab B`.
    fn ab(mut self, b: impl Into<String>) -> Self {
        self.settings_mut().ab = Some(b.into());
        self
    }
}

impl Configure for Settings {
    fn settings_mut(&mut self) -> &mut Settings {
        self
    }
}

fn join_sim(first: Option<&str>, then: Option<&str>) -> String {
    [first, then]
        .into_iter()
        .flatten()
        .map(|s| s.trim().trim_matches(','))
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(",")
}

impl Settings {
    /// Empty settings (everything inherited).
    pub fn new() -> Self {
        Settings::default()
    }

    /// These settings over `base`: each unset field taken from `base`; the
    /// simulator settings of both applied, `base`'s first.
    pub fn over(&self, base: &Settings) -> Settings {
        macro_rules! pick {
            ($($f:ident),*) => { Settings { $($f: self.$f.clone().or_else(|| base.$f.clone()),)* sim: None } };
        }
        let mut s = pick!(
            url,
            backend,
            model,
            api_key_env,
            tokenizer,
            return_latency,
            num_scheduler_steps,
            spec_decode,
            server_metrics,
            metrics_url,
            metrics_interval,
            epochs,
            warmup,
            slo,
            seed,
            gated,
            noise_threshold,
            significance,
            confidence,
            nresamples,
            min_epochs,
            target_mde,
            max_epochs,
            ab
        );
        let sim = join_sim(base.sim.as_deref(), self.sim.as_deref());
        s.sim = (!sim.is_empty()).then_some(sim);
        s
    }

    /// The endpoint flags of `resolve_target`: flags beat environment
    /// variables (`SERVEBENCH_URL`...), which beat the code. Simulator
    /// settings apply in the order code, `SERVEBENCH_SIM`, `--sim`.
    pub fn endpoint_args(
        &self,
        flags: &EndpointFlags,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> EndpointArgs {
        let env = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        let d = EndpointArgs::default();
        let sim_env = env(crate::sim::SIM_ENV_VAR);
        let sim = join_sim(
            Some(&join_sim(self.sim.as_deref(), sim_env.as_deref())),
            flags.sim.as_deref(),
        );
        let url = flags
            .url
            .clone()
            .or_else(|| env(URL_ENV))
            .or_else(|| self.url.clone());
        // Simulator settings apply only when the simulator runs.
        let sim = (url.is_none() && !sim.is_empty()).then_some(sim);
        EndpointArgs {
            backend: flags
                .backend
                .clone()
                .or_else(|| env(BACKEND_ENV))
                .or_else(|| self.backend.clone())
                .unwrap_or(d.backend),
            url,
            served_model_name: flags
                .model
                .clone()
                .or_else(|| env(MODEL_ENV))
                .or_else(|| self.model.clone()),
            api_key_env: flags
                .api_key_env
                .clone()
                .or_else(|| env(API_KEY_ENV_ENV))
                .or_else(|| self.api_key_env.clone())
                .unwrap_or(d.api_key_env),
            tokenizer: flags.tokenizer.clone().or_else(|| self.tokenizer.clone()),
            sim,
            return_latency: self.return_latency.unwrap_or(false),
            num_scheduler_steps: self.num_scheduler_steps,
            spec_decode: self.spec_decode,
            no_server_metrics: self.server_metrics == Some(false),
            metrics_url: self.metrics_url.clone(),
            metrics_interval: self.metrics_interval.unwrap_or(d.metrics_interval),
            ..d
        }
    }

    /// The comparison settings, flags first.
    pub fn compare_config(&self, args: &BenchArgs) -> CompareConfig {
        let d = CompareConfig::default();
        CompareConfig {
            confidence: args
                .confidence_level
                .or(self.confidence)
                .unwrap_or(d.confidence),
            significance: args
                .significance_level
                .or(self.significance)
                .unwrap_or(d.significance),
            noise_threshold: args
                .noise_threshold
                .or(self.noise_threshold)
                .unwrap_or(d.noise_threshold),
            nresamples: args.nresamples.or(self.nresamples).unwrap_or(d.nresamples),
            min_epochs: self.min_epochs.unwrap_or(d.min_epochs),
            seed: self.seed.unwrap_or(d.seed),
            run_noise: None,
        }
    }

    /// The gated metrics, flags first.
    pub fn gated(&self, args: &BenchArgs) -> Vec<MetricId> {
        args.gate_metrics
            .clone()
            .or_else(|| self.gated.clone())
            .unwrap_or_else(|| MetricId::DEFAULT_GATED.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_decode_reaches_the_endpoint() {
        let group = Settings::new().spec_decode(Some(3));
        let s = Settings::new().over(&group);
        let e = s.endpoint_args(&EndpointFlags::default(), &|_: &str| None);
        assert_eq!(
            e.spec_decode,
            Some(crate::backend::SpecDecode {
                num_speculative_tokens: Some(3)
            })
        );
        let e = Settings::new().endpoint_args(&EndpointFlags::default(), &|_: &str| None);
        assert_eq!(e.spec_decode, None);
    }

    #[test]
    fn layering_and_precedence() {
        let group = Settings::new()
            .sim("time_scale=0.2")
            .epochs(5)
            .url("http://code:1");
        let bench = Settings::new().sim("jitter=0.1").epochs(3);
        let s = bench.over(&group);
        assert_eq!(s.epochs, Some(3));
        assert_eq!(s.sim.as_deref(), Some("time_scale=0.2,jitter=0.1"));
        let none = |_: &str| None;
        let e = s.endpoint_args(&EndpointFlags::default(), &none);
        assert_eq!(e.url.as_deref(), Some("http://code:1"));
        let env = |k: &str| (k == URL_ENV).then(|| "http://env:2".to_string());
        assert_eq!(
            s.endpoint_args(&EndpointFlags::default(), &env)
                .url
                .as_deref(),
            Some("http://env:2")
        );
        let flags = EndpointFlags {
            url: Some("http://flag:3".into()),
            sim: Some("seed=4".into()),
            ..Default::default()
        };
        let e = s.endpoint_args(&flags, &env);
        assert_eq!(e.url.as_deref(), Some("http://flag:3"));
        // A remote endpoint runs no simulator: its settings are dropped.
        assert_eq!(e.sim, None);
        let local = Settings::new().sim("time_scale=0.2").over(&Settings::new());
        let e = local.endpoint_args(&flags_sim_only(), &none);
        assert_eq!(e.url, None);
        assert_eq!(e.sim.as_deref(), Some("time_scale=0.2,seed=4"));
    }

    #[test]
    fn server_metrics_settings_reach_the_endpoint() {
        let none = |_: &str| None;
        let d = Settings::new().endpoint_args(&EndpointFlags::default(), &none);
        assert!(!d.no_server_metrics);
        assert_eq!(d.metrics_interval, 1.0);
        let group = Settings::new()
            .server_metrics(false)
            .metrics_url("http://m:9/metrics")
            .metrics_interval(0.5);
        let e = Settings::new()
            .over(&group)
            .endpoint_args(&EndpointFlags::default(), &none);
        assert!(e.no_server_metrics);
        assert_eq!(e.metrics_url.as_deref(), Some("http://m:9/metrics"));
        assert_eq!(e.metrics_interval, 0.5);
    }

    fn flags_sim_only() -> EndpointFlags {
        EndpointFlags {
            sim: Some("seed=4".into()),
            ..Default::default()
        }
    }
}
