//! Simulator parameters: [`SimConfig`], its `key=value` parser and the
//! `SERVEBENCH_SIM` environment variable.

pub use super::fault_config::{FaultConfig, MalformedMode};
use super::SimError;

/// Name of the environment variable holding `key=value,key=value` overrides.
pub const SIM_ENV_VAR: &str = "SERVEBENCH_SIM";

/// Every parameter of the simulated server and its performance model.
///
/// Model times are in milliseconds *before* [`SimConfig::time_scale`] is
/// applied (fault times in [`FaultConfig`] are wall-clock and are not scaled);
/// use [`SimConfig::prefill_ms`] and [`SimConfig::decode_step_ms`] for the
/// scaled step times the scheduler actually uses.
///
/// The model (vLLM-v0 style continuous batching):
/// * arrivals queue FIFO; each scheduler iteration admits from the head of the
///   queue while fewer than `max_batch` sequences run and the KV cache can hold
///   the request's **full reservation** `prompt_tokens + max_tokens`
///   (conservative: a sequence never has to be preempted);
/// * if anything was admitted, one prefill step runs alone and costs
///   `prefill_base_ms + prefill_per_token_ms * uncached_prompt_tokens` summed
///   over the admitted requests; each admitted request emits its first token at
///   the end of that step;
/// * otherwise one scheduling step of `num_scheduler_steps` decode steps runs,
///   each costing `decode_step_ms + decode_per_seq_ms * running`, and every
///   running sequence emits up to `num_scheduler_steps` tokens in one chunk.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SimConfig {
    /// Served model name (`/v1/models`, the `model` field of answers).
    pub model: String,
    /// Fixed cost of one prefill step, ms.
    pub prefill_base_ms: f64,
    /// Prefill cost per uncached prompt token, ms.
    pub prefill_per_token_ms: f64,
    /// Fixed cost of one decode step, ms.
    pub decode_step_ms: f64,
    /// Extra decode-step cost per running sequence, ms.
    pub decode_per_seq_ms: f64,
    /// Maximum number of sequences running at once.
    pub max_batch: usize,
    /// KV-cache capacity in tokens (reservations are `prompt + max_tokens`).
    pub kv_cache_tokens: usize,
    /// Longest allowed `prompt_tokens + max_tokens`; longer requests get 400.
    pub max_model_len: usize,
    /// Decode steps per scheduling step: tokens are emitted in bursts of this many.
    pub num_scheduler_steps: usize,
    /// Chat answers of a reasoning model: the first this many output tokens
    /// of each are sent as `reasoning_content` deltas, and usage counts them
    /// in `completion_tokens_details.reasoning_tokens` (0: no reasoning).
    pub reasoning_tokens: usize,
    /// Speculative decoding: draft tokens proposed per decode step (0: off).
    /// Each decode step then emits `1 + accepted` tokens in one chunk, the
    /// accepted drafts drawn with [`SimConfig::spec_accept`], in the time of
    /// one decode step.
    #[serde(default)]
    pub spec_tokens: usize,
    /// Speculative decoding: the probability that each draft token is
    /// accepted, drafts checked in order until the first rejection (seeded).
    /// The expected acceptance rate is `(P + P^2 + ... + P^K) / K`.
    #[serde(default)]
    pub spec_accept: f64,
    /// Enable the prefix cache (cached leading blocks are not charged in prefill).
    pub prefix_cache: bool,
    /// Tokens per prefix-cache block.
    pub prefix_block_tokens: usize,
    /// Fractional standard deviation of a seeded random factor applied to each
    /// step duration (0 = exact model).
    pub jitter: f64,
    /// Seed of the jitter and output-length random generators.
    pub seed: u64,
    /// Mean output length (geometric) when EOS is not ignored; 0 = always run
    /// to `max_tokens`.
    pub eos_mean_tokens: f64,
    /// Multiplies every time of the model (2.0 = everything twice as slow).
    pub time_scale: f64,
    /// Client-benchmark mode: every step takes 0 ms, so tokens are written as
    /// fast as each client reads them (a sequence gets its next burst only
    /// once its handler took the previous one). Batch and KV limits still apply.
    pub no_delay: bool,
    /// llama.cpp's server behaviour: after each streamed response the
    /// connection is closed, although its headers said keep-alive; a request
    /// that arrives on such a connection is discarded unread and the
    /// connection closed cleanly (FIN), with no response.
    pub close_after_stream: bool,
    /// Side in pixels of the square patch that makes one image token
    /// (Qwen2-VL: 28); see the `sim` module docs.
    pub image_patch_px: usize,
    /// Separator after each JSON object of vLLM's legacy `/generate` stream.
    pub vllm_separator: VllmSeparator,
    /// `/generate_stream` sends cumulative `token.text` and `token.id` as a
    /// list, like MindIE's TGI-compatible API.
    pub tgi_cumulative_text: bool,
    /// Fault injection (per-request rates and wall-clock times, not scaled
    /// by `time_scale`); see [`super::planned_fault`].
    #[serde(flatten)]
    pub faults: FaultConfig,
}

/// How vLLM's legacy `/generate` stream separates its JSON objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VllmSeparator {
    /// `\0` after each object (older vLLM).
    #[default]
    Nul,
    /// `\n` after each object (newer vLLM).
    Newline,
}

impl Default for SimConfig {
    /// Resembles a 7-8B model on one H100-class GPU.
    fn default() -> Self {
        SimConfig {
            model: "servebench-sim".to_string(),
            prefill_base_ms: 8.0,
            prefill_per_token_ms: 0.06,
            decode_step_ms: 7.0,
            decode_per_seq_ms: 0.06,
            max_batch: 256,
            kv_cache_tokens: 200_000,
            max_model_len: 32_768,
            num_scheduler_steps: 1,
            reasoning_tokens: 0,
            spec_tokens: 0,
            spec_accept: 0.0,
            prefix_cache: false,
            prefix_block_tokens: 16,
            jitter: 0.0,
            seed: 0,
            eos_mean_tokens: 0.0,
            time_scale: 1.0,
            no_delay: false,
            close_after_stream: false,
            image_patch_px: 28,
            vllm_separator: VllmSeparator::Nul,
            tgi_cumulative_text: false,
            faults: FaultConfig::default(),
        }
    }
}

/// Keys accepted by [`SimConfig::apply_kv`] (`-` may be written for `_`).
pub const SIM_KEYS: &[&str] = &[
    "model",
    "prefill_base_ms",
    "prefill_per_token_ms",
    "decode_step_ms",
    "decode_per_seq_ms",
    "max_batch",
    "kv_cache_tokens",
    "max_model_len",
    "num_scheduler_steps",
    "reasoning_tokens",
    "spec_tokens",
    "spec_accept",
    "prefix_cache",
    "prefix_block_tokens",
    "jitter",
    "seed",
    "eos_mean_tokens",
    "time_scale",
    "no_delay",
    "close_after_stream",
    "image_patch_px",
    "vllm_separator",
    "tgi_cumulative_text",
    "error_rate",
    "error_status",
    "retry_after_s",
    "reset_rate",
    "midstream_reset_rate",
    "stall_rate",
    "stall_ms",
    "malformed_rate",
    "malformed_kind",
    "no_done_rate",
    "error_event_rate",
    "slow_first_byte_ms",
    "refuse_after",
    "refuse_for_ms",
];

/// Longest wait a setting may ask of the simulator, ms (about 31,700
/// years): a model step with its jitter, a stall, a delay. A longer one
/// would not fit a `Duration` (or would overflow an `Instant`) and would
/// panic the server's threads.
pub(super) const MAX_WAIT_MS: f64 = 1e15;

/// Most draft tokens a speculative decode step may propose.
pub(super) const MAX_SPEC_TOKENS: usize = 64;

/// Most decode steps per scheduling step (the scheduler runs them in a loop).
pub(super) const MAX_SCHEDULER_STEPS: usize = 1024;

pub(super) fn bad(key: &str, value: &str, reason: &str) -> SimError {
    SimError::BadValue {
        key: key.to_string(),
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

pub(super) fn parse_ms(key: &str, v: &str) -> Result<f64, SimError> {
    match v.parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
        _ => Err(bad(key, v, "expected a finite number >= 0")),
    }
}

pub(super) fn parse_count(key: &str, v: &str) -> Result<usize, SimError> {
    match v.parse::<usize>() {
        Ok(x) if x >= 1 => Ok(x),
        _ => Err(bad(key, v, "expected an integer >= 1")),
    }
}

pub(super) fn parse_bool(key: &str, v: &str) -> Result<bool, SimError> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(bad(key, v, "expected true or false")),
    }
}

impl SimConfig {
    /// Apply `key=value,key=value` overrides (the `SERVEBENCH_SIM` syntax).
    ///
    /// Keys are those of [`SIM_KEYS`]; `-` is accepted for `_`. An unknown key
    /// or a bad value is an error naming the key; the config is left with the
    /// pairs before the bad one applied.
    ///
    /// ```
    /// let mut c = servebench::sim::SimConfig::default();
    /// c.apply_kv("decode_step_ms=5, max-batch=8").unwrap();
    /// assert_eq!((c.decode_step_ms, c.max_batch), (5.0, 8));
    /// assert!(c.apply_kv("warp=9").unwrap_err().to_string().contains("warp"));
    /// ```
    pub fn apply_kv(&mut self, spec: &str) -> Result<(), SimError> {
        for pair in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').ok_or_else(|| SimError::BadValue {
                key: pair.to_string(),
                value: String::new(),
                reason: "expected key=value".to_string(),
            })?;
            self.set(&k.trim().replace('-', "_"), v.trim())?;
        }
        Ok(())
    }

    /// Set one parameter by name.
    pub(crate) fn set(&mut self, key: &str, v: &str) -> Result<(), SimError> {
        match key {
            "model" if v.is_empty() => return Err(bad(key, v, "must not be empty")),
            "model" => self.model = v.to_string(),
            "prefill_base_ms" => self.prefill_base_ms = parse_ms(key, v)?,
            "prefill_per_token_ms" => self.prefill_per_token_ms = parse_ms(key, v)?,
            "decode_step_ms" => self.decode_step_ms = parse_ms(key, v)?,
            "decode_per_seq_ms" => self.decode_per_seq_ms = parse_ms(key, v)?,
            "max_batch" => self.max_batch = parse_count(key, v)?,
            "kv_cache_tokens" => self.kv_cache_tokens = parse_count(key, v)?,
            "max_model_len" => self.max_model_len = parse_count(key, v)?,
            "num_scheduler_steps" => self.num_scheduler_steps = parse_count(key, v)?,
            "reasoning_tokens" => {
                self.reasoning_tokens = v
                    .parse()
                    .map_err(|_| bad(key, v, "expected an integer >= 0"))?
            }
            "spec_tokens" => match v.parse::<usize>() {
                Ok(k) if k <= MAX_SPEC_TOKENS => self.spec_tokens = k,
                _ => return Err(bad(key, v, "expected an integer from 0 to 64")),
            },
            "spec_accept" => match v.parse::<f64>() {
                Ok(p) if (0.0..=1.0).contains(&p) => self.spec_accept = p,
                _ => return Err(bad(key, v, "expected a probability from 0 to 1")),
            },
            "prefix_cache" => self.prefix_cache = parse_bool(key, v)?,
            "prefix_block_tokens" => self.prefix_block_tokens = parse_count(key, v)?,
            "jitter" => self.jitter = parse_ms(key, v)?,
            "seed" => {
                self.seed = v
                    .parse()
                    .map_err(|_| bad(key, v, "expected an unsigned integer"))?
            }
            "eos_mean_tokens" => {
                let x = parse_ms(key, v)?;
                if x > 0.0 && x < 1.0 {
                    return Err(bad(key, v, "expected 0 (off) or a mean >= 1"));
                }
                self.eos_mean_tokens = x;
            }
            "time_scale" => {
                let x = parse_ms(key, v)?;
                if x <= 0.0 {
                    return Err(bad(key, v, "expected a number > 0"));
                }
                self.time_scale = x;
            }
            "no_delay" => self.no_delay = parse_bool(key, v)?,
            "close_after_stream" => self.close_after_stream = parse_bool(key, v)?,
            "image_patch_px" => self.image_patch_px = parse_count(key, v)?,
            "vllm_separator" => {
                self.vllm_separator = match v.to_ascii_lowercase().as_str() {
                    "nul" | "null" | "zero" | "\\0" => VllmSeparator::Nul,
                    "newline" | "nl" | "\\n" => VllmSeparator::Newline,
                    _ => return Err(bad(key, v, "expected nul or newline")),
                }
            }
            "tgi_cumulative_text" => self.tgi_cumulative_text = parse_bool(key, v)?,
            _ if self.faults.set(key, v)? => {}
            _ => {
                return Err(SimError::UnknownKey {
                    key: key.to_string(),
                    valid: SIM_KEYS.join(", "),
                })
            }
        }
        Ok(())
    }

    /// Check invariants that struct-literal construction could break.
    pub fn validate(&self) -> Result<(), SimError> {
        let ms = [
            ("prefill_base_ms", self.prefill_base_ms),
            ("prefill_per_token_ms", self.prefill_per_token_ms),
            ("decode_step_ms", self.decode_step_ms),
            ("decode_per_seq_ms", self.decode_per_seq_ms),
            ("jitter", self.jitter),
            ("eos_mean_tokens", self.eos_mean_tokens),
        ];
        for (k, x) in ms {
            if !(x.is_finite() && x >= 0.0) {
                return Err(bad(k, &x.to_string(), "expected a finite number >= 0"));
            }
        }
        let counts = [
            ("max_batch", self.max_batch),
            ("kv_cache_tokens", self.kv_cache_tokens),
            ("max_model_len", self.max_model_len),
            ("num_scheduler_steps", self.num_scheduler_steps),
            ("prefix_block_tokens", self.prefix_block_tokens),
            ("image_patch_px", self.image_patch_px),
        ];
        for (k, x) in counts {
            if x == 0 {
                return Err(bad(k, "0", "expected an integer >= 1"));
            }
        }
        if !(self.time_scale.is_finite() && self.time_scale > 0.0) {
            let v = self.time_scale.to_string();
            return Err(bad("time_scale", &v, "expected a number > 0"));
        }
        if self.eos_mean_tokens > 0.0 && self.eos_mean_tokens < 1.0 {
            let v = self.eos_mean_tokens.to_string();
            return Err(bad("eos_mean_tokens", &v, "expected 0 (off) or >= 1"));
        }
        if self.model.is_empty() {
            return Err(bad("model", "", "must not be empty"));
        }
        if self.spec_tokens > MAX_SPEC_TOKENS {
            let v = self.spec_tokens.to_string();
            return Err(bad("spec_tokens", &v, "expected an integer from 0 to 64"));
        }
        if !(0.0..=1.0).contains(&self.spec_accept) {
            let v = self.spec_accept.to_string();
            return Err(bad("spec_accept", &v, "expected a probability from 0 to 1"));
        }
        if self.num_scheduler_steps > MAX_SCHEDULER_STEPS {
            let v = self.num_scheduler_steps.to_string();
            return Err(bad("num_scheduler_steps", &v, "expected at most 1024"));
        }
        // The longest steps: a prefill of all the KV cache holds, a
        // scheduling step of a full batch; 8 standard deviations of jitter.
        let jitter = 1.0 + 8.0 * self.jitter;
        let steps = [
            (
                "prefill step",
                self.prefill_ms(self.kv_cache_tokens) * jitter,
            ),
            (
                "decode step",
                self.decode_step_ms(self.max_batch) * self.num_scheduler_steps as f64 * jitter,
            ),
        ];
        for (k, ms) in steps {
            if ms.is_nan() || ms > MAX_WAIT_MS {
                let reason = "the longest one (time_scale and jitter included) must be \
                              at most 1e15 ms; lower the step times, time_scale or jitter";
                return Err(bad(k, &format!("{ms} ms"), reason));
            }
        }
        self.faults.validate()
    }

    /// [`SimConfig::default`] with the `SERVEBENCH_SIM` variable (if set) applied.
    pub fn from_env() -> Result<SimConfig, SimError> {
        let mut c = SimConfig::default();
        c.apply_env()?;
        Ok(c)
    }

    /// Apply the `SERVEBENCH_SIM` variable, if set, to `self`.
    pub fn apply_env(&mut self) -> Result<(), SimError> {
        match std::env::var(SIM_ENV_VAR) {
            Ok(spec) => self.apply_kv(&spec).map_err(|e| SimError::Env(Box::new(e))),
            Err(std::env::VarError::NotPresent) => Ok(()),
            Err(std::env::VarError::NotUnicode(_)) => Err(SimError::Env(Box::new(bad(
                SIM_ENV_VAR,
                "<non-UTF-8>",
                "not valid UTF-8",
            )))),
        }
    }

    /// Duration of a prefill step over `uncached_tokens` tokens, ms, after
    /// `time_scale` (without jitter); 0 with `no_delay`.
    pub fn prefill_ms(&self, uncached_tokens: usize) -> f64 {
        if self.no_delay {
            return 0.0;
        }
        (self.prefill_base_ms + self.prefill_per_token_ms * uncached_tokens as f64)
            * self.time_scale
    }

    /// Duration of one decode step with `running` sequences, ms, after
    /// `time_scale` (without jitter); 0 with `no_delay`.
    pub fn decode_step_ms(&self, running: usize) -> f64 {
        if self.no_delay {
            return 0.0;
        }
        (self.decode_step_ms + self.decode_per_seq_ms * running as f64) * self.time_scale
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kv_good_bad() {
        let mut c = SimConfig::default();
        c.apply_kv(" prefix_cache=true , num-scheduler-steps=4,time_scale=0.5,model=m ")
            .unwrap();
        assert!(c.prefix_cache);
        assert_eq!(c.num_scheduler_steps, 4);
        assert_eq!(c.model, "m");
        assert_eq!(c.decode_step_ms(0), 3.5);
        let e = c.apply_kv("bogus=1").unwrap_err().to_string();
        assert!(e.contains("bogus") && e.contains("decode_step_ms"), "{e}");
        let e = c.apply_kv("max_batch=0").unwrap_err().to_string();
        assert!(e.contains("max_batch"), "{e}");
        let e = c.apply_kv("jitter=abc").unwrap_err().to_string();
        assert!(e.contains("jitter") && e.contains("abc"), "{e}");
        assert!(c.apply_kv("time_scale=0").is_err());
        assert!(c.apply_kv("novalue").is_err());
        c.apply_kv("").unwrap();
        c.validate().unwrap();
        c.apply_kv("spec-tokens=3,spec_accept=0.6").unwrap();
        assert_eq!((c.spec_tokens, c.spec_accept), (3, 0.6));
        for kv in [
            "spec_tokens=65",
            "spec_tokens=-1",
            "spec_accept=1.5",
            "spec_accept=x",
        ] {
            let e = c.apply_kv(kv).unwrap_err().to_string();
            assert!(e.contains(kv.split('=').next().unwrap()), "{e}");
        }
        c.validate().unwrap();
    }

    #[test]
    fn waits_the_server_cannot_sleep_are_refused() {
        // Found by fuzzing: these validated, then panicked the scheduler
        // thread converting the step time to a Duration.
        for kv in [
            "time_scale=1e300",
            "prefill_per_token_ms=1e300",
            "decode_step_ms=1e20",
            "jitter=1e300",
            "num_scheduler_steps=1025",
        ] {
            let mut c = SimConfig::default();
            c.apply_kv(kv).unwrap();
            assert!(c.validate().is_err(), "{kv} validates");
        }
        let mut c = SimConfig::default();
        c.apply_kv("time_scale=1000,jitter=0.5,num_scheduler_steps=1024")
            .unwrap();
        c.validate().unwrap();
        // no_delay: nothing is slept, any time is fine.
        c.apply_kv("time_scale=1e300,no_delay=true").unwrap();
        c.validate().unwrap();
    }

    #[test]
    fn step_helpers() {
        let c = SimConfig::default();
        assert!((c.prefill_ms(1000) - 68.0).abs() < 1e-9);
        assert!((c.decode_step_ms(100) - 13.0).abs() < 1e-9);
    }
}
