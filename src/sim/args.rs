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
        set("prefix_cache", self.prefix_cache.map(|v| v.to_string()))?;
        let block = self.prefix_block_tokens.map(|v| v.to_string());
        set("prefix_block_tokens", block)?;
        set("jitter", s(self.jitter))?;
        set("seed", self.seed.map(|v| v.to_string()))?;
        set("eos_mean_tokens", s(self.eos_mean_tokens))?;
        set("time_scale", s(self.time_scale))?;
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
