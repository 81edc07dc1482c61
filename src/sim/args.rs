//! The flags of `servebench sim`.

use std::net::{IpAddr, SocketAddr};

use super::{SimConfig, SimError};

/// Flags of `servebench sim`: where to listen and one flag per
/// [`SimConfig`] parameter. Unset flags keep the default, or the value from
/// `SERVEBENCH_SIM`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SimArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (0 = any free port).
    #[arg(long, default_value_t = 8000)]
    pub port: u16,
    /// Served model name.
    #[arg(long)]
    pub model: Option<String>,
    /// Fixed cost of one prefill step, ms.
    #[arg(long)]
    pub prefill_base_ms: Option<f64>,
    /// Prefill cost per uncached prompt token, ms.
    #[arg(long)]
    pub prefill_per_token_ms: Option<f64>,
    /// Fixed cost of one decode step, ms.
    #[arg(long)]
    pub decode_step_ms: Option<f64>,
    /// Extra decode-step cost per running sequence, ms.
    #[arg(long)]
    pub decode_per_seq_ms: Option<f64>,
    /// Maximum number of running sequences.
    #[arg(long)]
    pub max_batch: Option<usize>,
    /// KV-cache capacity, tokens.
    #[arg(long)]
    pub kv_cache_tokens: Option<usize>,
    /// Longest allowed prompt + max_tokens.
    #[arg(long)]
    pub max_model_len: Option<usize>,
    /// Decode steps per scheduling step (tokens per chunk).
    #[arg(long)]
    pub num_scheduler_steps: Option<usize>,
    /// Chat answers reason first: this many output tokens of each are sent
    /// as `reasoning_content` deltas (0: none).
    #[arg(long)]
    pub reasoning_tokens: Option<usize>,
    /// Speculative decoding: draft tokens proposed per decode step; each
    /// step emits 1 to K+1 tokens in one chunk (0: off).
    #[arg(long)]
    pub spec_tokens: Option<usize>,
    /// Speculative decoding: probability that each draft token is accepted
    /// (drafts checked in order until the first rejection; seeded).
    #[arg(long)]
    pub spec_accept: Option<f64>,
    /// Enable the prefix cache (true/false).
    #[arg(long)]
    pub prefix_cache: Option<bool>,
    /// Tokens per prefix-cache block.
    #[arg(long)]
    pub prefix_block_tokens: Option<usize>,
    /// Fractional std dev of the per-step random factor.
    #[arg(long)]
    pub jitter: Option<f64>,
    /// Random seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Mean output length when EOS is honoured (0 = run to max_tokens).
    #[arg(long)]
    pub eos_mean_tokens: Option<f64>,
    /// Multiplies every time of the model.
    #[arg(long)]
    pub time_scale: Option<f64>,
    /// Client-benchmark mode: all steps take 0 ms (true/false).
    #[arg(long)]
    pub no_delay: Option<bool>,
    /// Image side in pixels per vision token (28 = Qwen2-VL).
    #[arg(long)]
    pub image_patch_px: Option<usize>,
    /// Separator of vLLM's legacy /generate stream: nul or newline.
    #[arg(long)]
    pub vllm_separator: Option<String>,
    /// /generate_stream sends cumulative token.text (MindIE style).
    #[arg(long)]
    pub tgi_cumulative_text: Option<bool>,
    /// Share of requests answered with --error-status.
    #[arg(long)]
    pub error_rate: Option<f64>,
    /// Status of injected errors: 500, 503 or 429.
    #[arg(long)]
    pub error_status: Option<u16>,
    /// Retry-After seconds of an injected 429.
    #[arg(long)]
    pub retry_after_s: Option<u64>,
    /// Share of requests whose connection is reset before the response.
    #[arg(long)]
    pub reset_rate: Option<f64>,
    /// Share of streams reset after some tokens.
    #[arg(long)]
    pub midstream_reset_rate: Option<f64>,
    /// Share of streams that stall for --stall-ms.
    #[arg(long)]
    pub stall_rate: Option<f64>,
    /// Length of a stall, ms (wall clock).
    #[arg(long)]
    pub stall_ms: Option<f64>,
    /// Share of streams with one malformed chunk.
    #[arg(long)]
    pub malformed_rate: Option<f64>,
    /// Malformed chunk: random, json, truncated or utf8.
    #[arg(long)]
    pub malformed_kind: Option<String>,
    /// Share of streams that end without `data: [DONE]`.
    #[arg(long)]
    pub no_done_rate: Option<f64>,
    /// Share of streams with a mid-stream error event.
    #[arg(long)]
    pub error_event_rate: Option<f64>,
    /// Delay before the response headers, ms (wall clock).
    #[arg(long)]
    pub slow_first_byte_ms: Option<f64>,
    /// Request index (0-based) that takes the server down for --refuse-for-ms.
    #[arg(long)]
    pub refuse_after: Option<u64>,
    /// Length of the refusal window, ms (wall clock).
    #[arg(long)]
    pub refuse_for_ms: Option<f64>,
}

impl SimArgs {
    /// Defaults, then `SERVEBENCH_SIM`, then the flags given.
    pub fn to_config(&self) -> Result<SimConfig, SimError> {
        let mut c = SimConfig::from_env()?;
        let mut set = |k: &str, v: Option<String>| match v {
            Some(v) => c.set(k, &v).map_err(|e| match e {
                SimError::BadValue { value, reason, .. } => SimError::BadValue {
                    key: format!("--{}", k.replace('_', "-")),
                    value,
                    reason,
                },
                e => e,
            }),
            None => Ok(()),
        };
        let s = |x: Option<f64>| x.map(|v| v.to_string());
        set("model", self.model.clone())?;
        set("prefill_base_ms", s(self.prefill_base_ms))?;
        set("prefill_per_token_ms", s(self.prefill_per_token_ms))?;
        set("decode_step_ms", s(self.decode_step_ms))?;
        set("decode_per_seq_ms", s(self.decode_per_seq_ms))?;
        set("max_batch", self.max_batch.map(|v| v.to_string()))?;
        set(
            "kv_cache_tokens",
            self.kv_cache_tokens.map(|v| v.to_string()),
        )?;
        set("max_model_len", self.max_model_len.map(|v| v.to_string()))?;
        let steps = self.num_scheduler_steps.map(|v| v.to_string());
        set("num_scheduler_steps", steps)?;
        let reasoning = self.reasoning_tokens.map(|v| v.to_string());
        set("reasoning_tokens", reasoning)?;
        set("spec_tokens", self.spec_tokens.map(|v| v.to_string()))?;
        set("spec_accept", s(self.spec_accept))?;
        set("prefix_cache", self.prefix_cache.map(|v| v.to_string()))?;
        let block = self.prefix_block_tokens.map(|v| v.to_string());
        set("prefix_block_tokens", block)?;
        set("jitter", s(self.jitter))?;
        set("seed", self.seed.map(|v| v.to_string()))?;
        set("eos_mean_tokens", s(self.eos_mean_tokens))?;
        set("time_scale", s(self.time_scale))?;
        let b = |x: Option<bool>| x.map(|v| v.to_string());
        let n = |x: Option<u64>| x.map(|v| v.to_string());
        set("no_delay", b(self.no_delay))?;
        let px = self.image_patch_px.map(|v| v.to_string());
        set("image_patch_px", px)?;
        set("vllm_separator", self.vllm_separator.clone())?;
        set("tgi_cumulative_text", b(self.tgi_cumulative_text))?;
        set("error_rate", s(self.error_rate))?;
        set("error_status", self.error_status.map(|v| v.to_string()))?;
        set("retry_after_s", n(self.retry_after_s))?;
        set("reset_rate", s(self.reset_rate))?;
        set("midstream_reset_rate", s(self.midstream_reset_rate))?;
        set("stall_rate", s(self.stall_rate))?;
        set("stall_ms", s(self.stall_ms))?;
        set("malformed_rate", s(self.malformed_rate))?;
        set("malformed_kind", self.malformed_kind.clone())?;
        set("no_done_rate", s(self.no_done_rate))?;
        set("error_event_rate", s(self.error_event_rate))?;
        set("slow_first_byte_ms", s(self.slow_first_byte_ms))?;
        set("refuse_after", n(self.refuse_after))?;
        set("refuse_for_ms", s(self.refuse_for_ms))?;
        c.validate()?;
        Ok(c)
    }

    /// The socket address `--host`:`--port`.
    pub fn addr(&self) -> Result<SocketAddr, SimError> {
        let host = if self.host.is_empty() {
            "127.0.0.1"
        } else {
            &self.host
        };
        let ip: IpAddr = host.parse().map_err(|_| SimError::BadValue {
            key: "--host".to_string(),
            value: host.to_string(),
            reason: "expected an IP address".to_string(),
        })?;
        Ok(SocketAddr::new(ip, self.port))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_override() {
        let a = SimArgs {
            host: "127.0.0.1".into(),
            port: 0,
            decode_step_ms: Some(3.0),
            max_batch: Some(4),
            ..Default::default()
        };
        // SERVEBENCH_SIM may be set by the user's shell; flags win anyway.
        let c = a.to_config().unwrap();
        assert_eq!((c.decode_step_ms, c.max_batch), (3.0, 4));
        assert_eq!(a.addr().unwrap().port(), 0);
        let f = SimArgs {
            error_rate: Some(0.1),
            error_status: Some(429),
            malformed_kind: Some("utf8".into()),
            vllm_separator: Some("newline".into()),
            refuse_after: Some(5),
            no_delay: Some(true),
            ..a.clone()
        };
        let c = f.to_config().unwrap();
        assert_eq!((c.faults.error_rate, c.faults.error_status), (0.1, 429));
        assert_eq!(c.faults.malformed_kind, super::super::MalformedMode::Utf8);
        assert_eq!(c.vllm_separator, super::super::VllmSeparator::Newline);
        assert_eq!(c.faults.refuse_after, Some(5));
        assert!(c.no_delay && c.prefill_ms(1000) == 0.0);
        let e = SimArgs {
            error_status: Some(404),
            ..a.clone()
        };
        let msg = e.to_config().unwrap_err().to_string();
        assert!(msg.contains("--error-status"), "{msg}");
        let bad = SimArgs {
            time_scale: Some(-1.0),
            ..a
        };
        assert!(bad
            .to_config()
            .unwrap_err()
            .to_string()
            .contains("--time-scale"));
    }
}
