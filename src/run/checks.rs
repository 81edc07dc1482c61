//! What a target is checked for before any load: one tiny request that
//! must stream (the preflight), `--num-scheduler-steps` against what the
//! server streams, the model's context against the plan's longest request,
//! and the models `/v1/models` lists.

use std::time::Duration;

use super::{RunError, Target};

impl Target {
    /// One "Hello" request of `max_tokens` tokens (request `id`, outside
    /// every run's ids), sent before any load; the request and its record.
    async fn hello(
        &self,
        id: u64,
        max_tokens: usize,
        force_output_len: bool,
    ) -> (crate::load::PreparedRequest, crate::record::RequestRecord) {
        let spec = crate::workload::RequestSpec {
            id,
            prompt: "Hello".into(),
            prompt_tokens: self.tokenizer.count("Hello"),
            max_tokens,
            force_output_len,
        };
        let req = self.client.prepare(&spec);
        let rec = self
            .client
            .execute(&req, 0, std::time::Instant::now())
            .await;
        (req, rec)
    }

    /// Before any load: one tiny request must stream correctly (the endpoint
    /// answers, the model exists, the stream parses).
    pub async fn preflight(&self) -> Result<(), RunError> {
        let (req, rec) = self.hello(u64::MAX, 2, false).await;
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
        let (_, rec) = self.hello(u64::MAX - 1, n, true).await;
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
pub(super) async fn list_models(
    base: &str,
    key: Option<&str>,
) -> Option<Vec<(String, Option<usize>)>> {
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
                super::DynamicWorkload::SharedPrefix(sp) => (
                    Some((sp.prompt_tokens(), sp.output_tokens)),
                    "--gsp-system-prompt-len/--gsp-question-len/--gsp-output-len",
                ),
                super::DynamicWorkload::Sessions(s) => match &s.source {
                    super::SessionSource::Generated(g) => (
                        Some((g.user_tokens * g.turns + g.output_tokens * g.turns, 0)),
                        "--turns/--turn-input-len/--turn-output-len (a whole conversation)",
                    ),
                    super::SessionSource::ShareGpt { .. } => (None, ""),
                },
                super::DynamicWorkload::Trace(t) => (
                    Some(t.trace.longest()),
                    "--trace (its longest request; shorten it with --trace-start/--trace-duration)",
                ),
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
