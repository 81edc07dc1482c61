//! The data of a whole run: its metadata and, per benchmark point, the
//! per-request records by epoch and their summary. Reports, baselines and
//! comparisons all read this one structure.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{summarize, EarlyStop, PointSummary, RequestRecord, Slo};

/// A request rate in requests/s; infinite means "all at once".
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Rate(pub f64);

impl Rate {
    /// True for `inf`.
    pub fn is_inf(&self) -> bool {
        self.0.is_infinite()
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_inf() {
            f.write_str("inf")
        } else {
            write!(f, "{}", self.0)
        }
    }
}

impl std::str::FromStr for Rate {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "inf" | "Inf" | "INF" | "infinity" => Ok(Rate(f64::INFINITY)),
            other => match other.parse::<f64>() {
                Ok(v) if v > 0.0 && v.is_finite() => Ok(Rate(v)),
                _ => Err(format!("`{s}` is not a positive number or inf")),
            },
        }
    }
}

impl Serialize for Rate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.is_inf() {
            s.serialize_str("inf")
        } else {
            s.serialize_f64(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum R {
            N(f64),
            S(String),
        }
        match R::deserialize(d)? {
            R::N(v) => Ok(Rate(v)),
            R::S(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// An `f64` that may be infinite, written as a number or `"inf"` (JSON has
/// no infinity), through [`Rate`]'s format.
mod inf_f64 {
    use super::Rate;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        Rate(*v).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Rate::deserialize(d).map(|r| r.0)
    }
}

/// What a benchmark point is: a static (prompt, output, concurrency) cell,
/// or a dynamic request rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PointLabel {
    Static {
        prompt_tokens: usize,
        output_tokens: usize,
        concurrency: usize,
    },
    Dynamic {
        request_rate: Rate,
        /// Gamma shape of the gaps: 1 Poisson, `inf` evenly spaced
        /// (written `"inf"` in JSON).
        #[serde(with = "inf_f64")]
        burstiness: f64,
        max_concurrency: Option<usize>,
        num_prompts: usize,
    },
    /// A trace replayed at its own send times, `speedup` times as fast.
    Replay {
        /// The trace's format and file (and window), e.g.
        /// `mooncake:conversation_trace.jsonl`.
        trace: String,
        speedup: f64,
        /// The window's mean request rate at this speed, requests/s.
        request_rate: Rate,
        max_concurrency: Option<usize>,
        /// Requests of the trace's window (one replay).
        num_prompts: usize,
    },
    /// Multi-turn sessions started at `session_rate` sessions/s.
    Sessions {
        session_rate: Rate,
        /// Gamma shape of the gaps between session starts.
        #[serde(with = "inf_f64")]
        burstiness: f64,
        /// At most this many sessions active at once.
        max_active: Option<usize>,
        /// Sessions per epoch.
        num_sessions: usize,
    },
}

impl PointLabel {
    /// A short, stable, path-safe id, e.g. `p1024-o128-c8` or `rate-4`.
    pub fn id(&self) -> String {
        match self {
            PointLabel::Static {
                prompt_tokens,
                output_tokens,
                concurrency,
            } => format!("p{prompt_tokens}-o{output_tokens}-c{concurrency}"),
            PointLabel::Dynamic { request_rate, .. } => format!("rate-{request_rate}"),
            PointLabel::Replay { speedup, .. } => format!("replay-x{speedup}"),
            PointLabel::Sessions { session_rate, .. } => format!("sessions-{session_rate}"),
        }
    }

    /// The (mean) request rate of an open-loop point.
    pub fn request_rate(&self) -> Option<Rate> {
        match self {
            PointLabel::Static { .. } => None,
            PointLabel::Dynamic { request_rate, .. } | PointLabel::Replay { request_rate, .. } => {
                Some(*request_rate)
            }
            PointLabel::Sessions { session_rate, .. } => Some(*session_rate),
        }
    }

    /// A label for people, e.g. `prompt 1024, output 128, concurrency 8`.
    pub fn describe(&self) -> String {
        match self {
            PointLabel::Static {
                prompt_tokens,
                output_tokens,
                concurrency,
            } => {
                format!("prompt {prompt_tokens}, output {output_tokens}, concurrency {concurrency}")
            }
            PointLabel::Dynamic {
                request_rate,
                burstiness,
                max_concurrency,
                num_prompts,
            } => {
                let mut s = format!("rate {request_rate} req/s, {num_prompts} prompts");
                if burstiness.is_infinite() {
                    s.push_str(", evenly spaced");
                } else if *burstiness != 1.0 {
                    s.push_str(&format!(", burstiness {burstiness}"));
                }
                if let Some(c) = max_concurrency {
                    s.push_str(&format!(", max concurrency {c}"));
                }
                s
            }
            PointLabel::Replay {
                trace,
                speedup,
                request_rate,
                max_concurrency,
                num_prompts,
            } => {
                let mut s = format!(
                    "trace {trace} at {speedup}x, {num_prompts} requests (mean {:.3} req/s)",
                    request_rate.0
                );
                if let Some(c) = max_concurrency {
                    s.push_str(&format!(", max concurrency {c}"));
                }
                s
            }
            PointLabel::Sessions {
                session_rate,
                burstiness,
                max_active,
                num_sessions,
            } => {
                let mut s = format!("{num_sessions} sessions at {session_rate} sessions/s");
                if *burstiness != 1.0 {
                    s.push_str(&format!(", burstiness {burstiness}"));
                }
                if let Some(c) = max_active {
                    s.push_str(&format!(", at most {c} active"));
                }
                s
            }
        }
    }
}

/// What the client spent measuring one point (it must never be the bottleneck).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientLoad {
    /// CPU time of the servebench process over the point (user + system), s.
    pub cpu_s: f64,
    /// Wall time over the point, s.
    pub wall_s: f64,
    /// Cores the process can keep busy: its load threads, or every core
    /// when the embedded simulator ran in-process.
    pub cores: usize,
    /// Token-carrying chunks received.
    pub chunks: u64,
    /// True when the embedded simulator ran in the same process (its CPU is
    /// in `cpu_s` too).
    pub includes_simulator: bool,
    /// Why the point was client-limited, if it was.
    pub limited: Option<String>,
}

impl ClientLoad {
    /// Share of all cores used, 0..=1.
    pub fn utilisation(&self) -> f64 {
        if self.wall_s > 0.0 {
            self.cpu_s / (self.wall_s * self.cores.max(1) as f64)
        } else {
            0.0
        }
    }

    /// Client CPU per received chunk, microseconds.
    pub fn cpu_us_per_chunk(&self) -> Option<f64> {
        (self.chunks > 0).then(|| self.cpu_s * 1e6 / self.chunks as f64)
    }

    /// Judge the point: client-limited when the process kept its cores above
    /// 85 % busy, or (open loop) when sends ran late by more than 5 ms at p99.
    ///
    /// Under a cap on requests in flight (`capped`: `--max-concurrency`, a
    /// capacity search by concurrency), a request that waits for a slot is
    /// sent late by design: its lateness is the server's, not the client's.
    pub fn judge(mut self, summary: &PointSummary, capped: bool) -> Self {
        let util = self.utilisation();
        let late = if capped {
            0.0
        } else {
            summary.send_lateness_ms.p(99.0).unwrap_or(0.0)
        };
        self.limited = if util > 0.85 {
            Some(format!(
                "client-limited: the servebench process kept {:.0} % of {} cores busy{}",
                util * 100.0,
                self.cores,
                if self.includes_simulator {
                    " (simulator included)"
                } else {
                    ""
                }
            ))
        } else if late > 5.0 {
            Some(format!(
                "client-limited: sends ran late by {late:.1} ms at p99"
            ))
        } else {
            None
        };
        self
    }
}

/// One benchmark point: its label, its records by epoch and their summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointData {
    pub label: PointLabel,
    /// Per-request records of each measured epoch (warm-up excluded).
    pub epochs: Vec<Vec<RequestRecord>>,
    pub summary: PointSummary,
    /// The client's own cost, when it was measured.
    #[serde(default)]
    pub client: Option<ClientLoad>,
    /// What the server's own metrics showed over the point's epochs (when
    /// its `/metrics` was read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<crate::server_metrics::ServerPoint>,
}

impl PointData {
    /// The point's failures explained: the count per category, each with
    /// the first message met (e.g. the server's 400 "maximum context
    /// length"), not only a count.
    pub fn failure_note(&self) -> Option<String> {
        let mut kinds: Vec<(&'static str, usize, &str)> = Vec::new();
        for f in self
            .epochs
            .iter()
            .flatten()
            .filter_map(|r| r.failure.as_ref())
        {
            let k = f.kind.as_str();
            match kinds.iter_mut().find(|e| e.0 == k) {
                Some(e) => e.1 += 1,
                None => kinds.push((k, 1, f.message.as_str())),
            }
        }
        if kinds.is_empty() {
            return None;
        }
        let total: usize = kinds.iter().map(|k| k.1).sum();
        let parts: Vec<String> = kinds
            .iter()
            .map(|(k, n, first)| {
                let first: String = first.chars().take(200).collect();
                format!("{k} {n} (first: {first})")
            })
            .collect();
        Some(format!(
            "{}: {total} request(s) failed: {}",
            self.label.describe(),
            parts.join("; ")
        ))
    }

    /// The server's own timings beside the client's, when the server sent
    /// them (llama.cpp's `timings`, `return_latency`): mean prefill vs the
    /// client's mean TTFT, mean decode time per token vs the client's mean
    /// TPOT, with the client-minus-server difference.
    pub fn server_note(&self) -> Option<String> {
        let s = &self.summary;
        let server = s.server.as_ref()?;
        let mut parts = Vec::new();
        if let (Some(pre), Some(ttft)) = (server.prefill_latency_ms, s.ttft_ms.mean) {
            parts.push(format!(
                "server prefill {pre:.2} ms vs client TTFT {ttft:.2} ms (client - server {:+.2} ms)",
                ttft - pre
            ));
        }
        if let (Some(dec), Some(tpot)) = (server.avg_decode_latency_ms, s.tpot_ms.mean) {
            parts.push(format!(
                "server decode {dec:.3} ms/token vs client TPOT {tpot:.3} ms ({:+.3} ms)",
                tpot - dec
            ));
        }
        (!parts.is_empty()).then(|| {
            format!(
                "{}: server timings of {} requests (means): {}",
                self.label.describe(),
                server.requests,
                parts.join("; ")
            )
        })
    }

    /// Multi-turn sessions: completed sessions, their duration, and the
    /// median TTFT by turn index.
    pub fn sessions_note(&self) -> Option<String> {
        let f = self.summary.sessions.as_ref()?;
        let ms = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{x:.1}"));
        let by_turn: Vec<String> = f
            .turns
            .iter()
            .take(8)
            .map(|t| format!("{}: {}", t.turn + 1, ms(t.ttft_ms.p(50.0))))
            .collect();
        Some(format!(
            "{}: {} of {} sessions completed, duration p50 {} s; TTFT p50 by turn (ms) {}{}",
            self.label.describe(),
            f.completed,
            f.sessions,
            f.duration_s
                .p(50.0)
                .map_or("-".to_string(), |d| format!("{d:.2}")),
            by_turn.join(", "),
            if f.turns.len() > 8 { ", ..." } else { "" }
        ))
    }

    /// The prefix-cache hit ratio the server reported, when it did.
    pub fn prefix_cache_note(&self) -> Option<String> {
        let r = self.summary.prefix_cache_hit_ratio?;
        Some(format!(
            "{}: the server reported {:.1} % of prompt tokens served from its prefix cache",
            self.label.describe(),
            r * 100.0
        ))
    }

    /// A reasoning model's answers: how many reasoned first, their mean
    /// reasoning tokens, and the time to the first answer token beside the
    /// TTFT (medians). `None` when no answer reasoned.
    pub fn reasoning_note(&self) -> Option<String> {
        let ok = self.epochs.iter().flatten().filter(|r| r.ok());
        let (mut n, mut reasoned) = (0usize, 0usize);
        for r in ok {
            n += 1;
            reasoned += usize::from(r.reasoning.is_some());
        }
        if reasoned == 0 {
            return None;
        }
        let s = &self.summary;
        let ms = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{x:.2} ms"));
        Some(format!(
            "{}: {reasoned} of {n} answers reasoned first (mean {:.1} reasoning tokens a request, \
             counted in the output tokens and TPOT); time to first answer token p50 {} vs \
             TTFT p50 {}",
            self.label.describe(),
            s.reasoning_tokens.mean.unwrap_or(0.0),
            ms(s.ttfat_ms.p(50.0)),
            ms(s.ttft_ms.p(50.0)),
        ))
    }

    /// Build a point and summarise its records.
    pub fn new(
        label: PointLabel,
        epochs: Vec<Vec<RequestRecord>>,
        percentiles: &[f64],
        slo: &Slo,
    ) -> Self {
        let slices: Vec<&[RequestRecord]> = epochs.iter().map(|e| e.as_slice()).collect();
        let summary = summarize(&slices, percentiles, slo);
        PointData {
            label,
            epochs,
            summary,
            client: None,
            server: None,
        }
    }

    /// Attach what the server's metrics showed.
    pub fn with_server(mut self, server: Option<crate::server_metrics::ServerPoint>) -> Self {
        self.server = server;
        self
    }

    /// Attach the client's measured cost, judged against the summary; a
    /// client-limited point says so in `notes`.
    pub fn with_client(mut self, load: ClientLoad, notes: &mut Vec<String>) -> Self {
        let capped = match &self.label {
            PointLabel::Dynamic {
                max_concurrency, ..
            }
            | PointLabel::Replay {
                max_concurrency, ..
            } => max_concurrency.is_some(),
            PointLabel::Sessions { max_active, .. } => max_active.is_some(),
            _ => false,
        };
        let load = load.judge(&self.summary, capped);
        if let Some(why) = &load.limited {
            notes.push(format!("{}: {why}", self.label.describe()));
        }
        self.client = Some(load);
        self
    }
}

/// Static or dynamic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunKind {
    Static,
    Dynamic,
}

/// The images every request of a multimodal run carried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageInfo {
    pub per_request: usize,
    pub width: u32,
    pub height: u32,
    pub format: crate::workload::ImageFormat,
    /// Mean encoded size of one image, bytes (before base64).
    pub mean_encoded_bytes: f64,
}

/// Everything about a run except its measurements. Never holds an API key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunMeta {
    pub kind: RunKind,
    /// The benchmark's name or id.
    pub name: String,
    pub servebench_version: String,
    /// Unix time of the start, seconds.
    pub started_unix_s: f64,
    pub base_url: String,
    pub embedded_sim: bool,
    pub backend: String,
    pub model: String,
    pub tokenizer: String,
    pub percentiles: Vec<f64>,
    pub slo: Slo,
    /// True when the run was stopped before it finished.
    pub interrupted: bool,
    /// Set when the run stopped itself because too many requests failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_early: Option<EarlyStop>,
    /// Plain-language remarks (e.g. client-limited, lengths not forced).
    pub notes: Vec<String>,
    /// Multimodal runs: the images of each request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images: Option<ImageInfo>,
    /// Tokens per chunk assumed where the stream does not say
    /// (`--num-scheduler-steps`, default 1).
    #[serde(default = "one")]
    pub assumed_tokens_per_chunk: u32,
    /// The sampling parameters every request was sent with.
    #[serde(default, skip_serializing_if = "crate::backend::Sampling::is_default")]
    pub sampling: crate::backend::Sampling,
    /// The server decoded speculatively (`--use-spec-decode`): each point's
    /// summary has its acceptance figures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec_decode: Option<crate::backend::SpecDecode>,
    /// Set when the run was imported from another tool's result file
    /// (`servebench import`), not measured by servebench.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imported: Option<ImportInfo>,
    /// A worker's run of its shard of a plan (`servebench run --shard`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardMeta>,
    /// A run merged from a plan's shards (`servebench merge`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged: Option<MergeInfo>,
}

/// What a worker's run records of its shard (in its `meta.json`, and per
/// worker in a merged run's).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ShardMeta {
    pub rank: u32,
    pub count: u32,
    /// The plan's id.
    pub plan_id: String,
    /// The worker's host name.
    pub host: String,
    /// The agreed start instant, Unix seconds.
    pub start_at_unix_s: f64,
    /// The worker's clock minus the target's (its HTTP `Date` header),
    /// milliseconds: an interval `[lo, hi]` narrowed over several requests
    /// (`None`: the target sent no usable `Date`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_offset_ms: Option<(f64, f64)>,
    /// Steps (each point's warm-up and each measured epoch, in order):
    /// how late this worker began each after its agreed instant, ms.
    #[serde(default)]
    pub step_late_ms: Vec<f64>,
    /// Ranks this worker stopped waiting for (they missed a step by more
    /// than the sync timeout, or ended early).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gave_up_on: Vec<u32>,
    /// p99 of the worker's send lateness (open loop), ms; set by `merge`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_late_p99_ms: Option<f64>,
}

/// A run merged from the shards of one plan (`servebench merge`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MergeInfo {
    /// Shards the plan has.
    pub count: u32,
    /// The workers merged, by rank.
    pub workers: Vec<ShardMeta>,
    /// Ranks whose run was missing (only with `--allow-partial`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<u32>,
    /// True when shards were missing or ended early: the run holds only
    /// part of the plan's load.
    pub partial: bool,
}

/// Where an imported run came from and what it lacks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImportInfo {
    /// The other tool: `vllm`, `aiperf` or `guidellm`.
    pub tool: String,
    /// The files read, as given on the command line.
    pub files: Vec<String>,
    /// Ids of the points that hold only the tool's summary figures (no
    /// per-request records): their percentiles are the tool's own.
    #[serde(default)]
    pub summary_only_points: Vec<String>,
    /// What had to be inferred to rebuild per-request records (e.g. the
    /// tokens of each chunk), one line each.
    #[serde(default)]
    pub inferred: Vec<String>,
}

impl ImportInfo {
    /// True when point `id` holds only the tool's summary figures.
    pub fn is_summary_only(&self, id: &str) -> bool {
        self.summary_only_points.iter().any(|p| p == id)
    }
}

fn one() -> u32 {
    1
}

impl RunData {
    /// Every note of the run: its metadata's notes, then what the records
    /// themselves show (see [`RunData::chunking_warning`]), each once.
    pub fn notes(&self) -> Vec<String> {
        let mut notes = self.meta.notes.clone();
        let derived = self
            .chunking_warning()
            .into_iter()
            .chain(self.resend_note())
            .chain(self.points.iter().filter_map(PointData::failure_note))
            .chain(self.points.iter().filter_map(PointData::server_note))
            .chain(self.points.iter().filter_map(PointData::reasoning_note))
            .chain(self.points.iter().filter_map(PointData::prefix_cache_note))
            .chain(self.points.iter().filter_map(PointData::sessions_note))
            .chain(self.points.iter().filter_map(PointData::spec_decode_note))
            .chain(
                self.points
                    .iter()
                    .filter_map(PointData::server_metrics_note),
            )
            .chain(
                self.points
                    .iter()
                    .filter_map(PointData::server_tokens_warning),
            );
        for w in derived {
            if !notes.contains(&w) {
                notes.push(w);
            }
        }
        notes
    }

    /// How many requests were sent again on a fresh connection after the
    /// server closed a reused one before answering (not failures).
    pub fn resend_note(&self) -> Option<String> {
        let all = self.points.iter().flat_map(|p| p.epochs.iter().flatten());
        let (n, total) = all.fold((0u64, 0u64), |(n, t), r| {
            (n + u64::from(r.resent > 0), t + 1)
        });
        (n > 0).then(|| {
            format!(
                "connections: {n} of {total} requests were sent again on a fresh connection \
                 because the server closed a reused one before answering (timed from the \
                 second send; not failures)"
            )
        })
    }

    /// A warning when the tokens per chunk that the streams showed (the
    /// server's usage after the prefill's first token, over the chunks after
    /// the first) disagree with
    /// `--num-scheduler-steps`, or when that flag had to be assumed because
    /// the server sent no usage. Per-token ITL always uses what the stream
    /// showed.
    pub fn chunking_warning(&self) -> Option<String> {
        let assumed = self.meta.assumed_tokens_per_chunk.max(1);
        let (mut tokens, mut chunks, mut without) = (0u64, 0u64, 0u64);
        for r in self.points.iter().flat_map(|p| p.epochs.iter().flatten()) {
            if !r.ok() || r.chunks.len() < 2 {
                continue;
            }
            match r.usage_output_tokens {
                Some(u) => {
                    tokens += u.saturating_sub(1);
                    chunks += r.chunks.len() as u64 - 1;
                }
                None => without += 1,
            }
        }
        if chunks > 0 {
            let shown = tokens as f64 / chunks as f64;
            if (shown - assumed as f64).abs() > 0.25 * assumed as f64 {
                return Some(format!(
                    "tokens per chunk: the streams showed {shown:.2} tokens per chunk (the \
                     server's usage over the chunks, after the first token), not the {assumed} of \
                     --num-scheduler-steps; per-token ITL uses what the streams showed"
                ));
            }
        }
        (without > 0 && assumed > 1).then(|| {
            format!(
                "tokens per chunk: {without} request(s) had no usage from the server, so ITL \
                 took each chunk to carry {assumed} tokens (--num-scheduler-steps), unchecked"
            )
        })
    }
}

/// A whole run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunData {
    pub meta: RunMeta,
    pub points: Vec<PointData>,
}

/// Seconds since the Unix epoch, now.
pub fn unix_now_s() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_round_trips_inf() {
        let j = serde_json::to_string(&[Rate(f64::INFINITY), Rate(2.5)]).unwrap();
        assert_eq!(j, "[\"inf\",2.5]");
        let back: Vec<Rate> = serde_json::from_str(&j).unwrap();
        assert!(back[0].is_inf());
        assert_eq!(back[1], Rate(2.5));
        assert!("0".parse::<Rate>().is_err());
        assert!("-1".parse::<Rate>().is_err());
    }

    #[test]
    fn labels() {
        let l = PointLabel::Static {
            prompt_tokens: 10,
            output_tokens: 2,
            concurrency: 4,
        };
        assert_eq!(l.id(), "p10-o2-c4");
        let d = PointLabel::Dynamic {
            request_rate: Rate(f64::INFINITY),
            burstiness: 1.0,
            max_concurrency: None,
            num_prompts: 5,
        };
        assert_eq!(d.id(), "rate-inf");
        let j = serde_json::to_value(&d).unwrap();
        assert_eq!(j["kind"], "dynamic");
    }

    #[test]
    fn waiting_for_a_slot_under_a_cap_is_not_a_client_limit() {
        // Requests all due at 0, sent as slots free up: 200 ms "late".
        let recs: Vec<RequestRecord> = (0..20)
            .map(|i| RequestRecord {
                id: i,
                epoch: 0,
                start_s: 0.01 * i as f64,
                scheduled_s: Some(0.0),
                ttft_ms: Some(5.0),
                e2el_ms: Some(6.0),
                done_ms: 7.0,
                output_tokens: 2,
                input_tokens: 8,
                requested_output_tokens: 2,
                usage_output_tokens: Some(2),
                usage_input_tokens: None,
                counted_output_tokens: Some(2),
                chunks: vec![(5.0, 1), (6.0, 1)],
                server: None,
                failure: None,
                resent: 0,
                reasoning: None,
                session: None,
            })
            .collect();
        let load = ClientLoad {
            cpu_s: 0.1,
            wall_s: 1.0,
            cores: 2,
            chunks: 40,
            includes_simulator: false,
            limited: None,
        };
        let label = |cap: Option<usize>| PointLabel::Dynamic {
            request_rate: Rate(f64::INFINITY),
            burstiness: 1.0,
            max_concurrency: cap,
            num_prompts: 20,
        };
        let mut notes = Vec::new();
        let open = PointData::new(
            label(None),
            vec![recs.clone()],
            &[50.0, 99.0],
            &Slo::default(),
        )
        .with_client(load.clone(), &mut notes);
        assert!(open
            .client
            .unwrap()
            .limited
            .is_some_and(|l| l.contains("late")));
        let mut notes = Vec::new();
        let capped = PointData::new(label(Some(2)), vec![recs], &[50.0, 99.0], &Slo::default())
            .with_client(load, &mut notes);
        assert_eq!(capped.client.unwrap().limited, None);
        assert!(notes.is_empty(), "{notes:?}");
    }
}
