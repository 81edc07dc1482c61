//! The benchmarks a `benches/*.rs` file declares: a static sweep (closed
//! loop over prompt/output pairs × concurrencies), a dynamic sweep (open
//! loop over request rates), a trace replay (open loop at the trace's own
//! times), sessions, or a capacity search ([`super::Capacity`]).

use std::path::PathBuf;
use std::sync::Arc;

use super::settings::{Configure, Settings};
use crate::workload::{GenerateSpec, SharedPrefixSpec, Trace, TraceFormat, TraceWindow};

/// A static sweep: every `(prompt, output)` pair × every concurrency,
/// closed loop, warm-up then epochs.
///
/// ```
/// use servebench::bench::{Configure, StaticSweep};
/// let b = StaticSweep::new("short")
///     .pair(128, 32)
///     .concurrencies([1, 4])
///     .epochs(5)
///     .sim("time_scale=0.2");
/// assert_eq!(b.pairs, [(128, 32)]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct StaticSweep {
    pub name: String,
    /// Optional parameter segment of the id (`group/name/param`).
    pub param: Option<String>,
    /// `(prompt_tokens, output_tokens)` pairs (default `(1024, 128)`,
    /// `(2048, 256)`).
    pub pairs: Vec<(usize, usize)>,
    /// Concurrency levels (default `1 4 8 16 32`).
    pub concurrencies: Vec<usize>,
    /// Requests each worker sends per epoch (default 1).
    pub requests_per_worker: usize,
    /// Tokens of a prefix shared by every prompt (default 0).
    pub shared_prefix_tokens: usize,
    pub settings: Settings,
    explicit_pairs: bool,
}

impl StaticSweep {
    /// A sweep with the defaults of `servebench static`.
    pub fn new(name: impl Into<String>) -> Self {
        StaticSweep {
            name: name.into(),
            param: None,
            pairs: vec![(1024, 128), (2048, 256)],
            concurrencies: vec![1, 4, 8, 16, 32],
            requests_per_worker: 1,
            shared_prefix_tokens: 0,
            settings: Settings::default(),
            explicit_pairs: false,
        }
    }

    /// Add a `(prompt_tokens, output_tokens)` pair (the first call replaces
    /// the default pairs).
    pub fn pair(mut self, prompt_tokens: usize, output_tokens: usize) -> Self {
        if !self.explicit_pairs {
            self.pairs.clear();
            self.explicit_pairs = true;
        }
        self.pairs.push((prompt_tokens, output_tokens));
        self
    }

    /// Set every pair.
    pub fn pairs(mut self, pairs: impl IntoIterator<Item = (usize, usize)>) -> Self {
        self.pairs = pairs.into_iter().collect();
        self.explicit_pairs = true;
        self
    }

    /// Set the concurrency levels.
    pub fn concurrencies(mut self, levels: impl IntoIterator<Item = usize>) -> Self {
        self.concurrencies = levels.into_iter().collect();
        self
    }

    /// Requests each worker sends per epoch.
    pub fn requests_per_worker(mut self, n: usize) -> Self {
        self.requests_per_worker = n;
        self
    }

    /// Give every prompt a common prefix of `k` tokens.
    pub fn shared_prefix_tokens(mut self, k: usize) -> Self {
        self.shared_prefix_tokens = k;
        self
    }

    /// Add a parameter segment to the id: `group/name/param`.
    pub fn param(mut self, param: impl std::fmt::Display) -> Self {
        self.param = Some(param.to_string());
        self
    }
}

impl Configure for StaticSweep {
    fn settings_mut(&mut self) -> &mut Settings {
        &mut self.settings
    }
}

/// A dynamic sweep: generated requests (lengths from a truncated normal,
/// prompts of exact length) sent open loop at each request rate, with
/// gamma-distributed gaps (burstiness 1 = Poisson), `num_prompts` per epoch.
///
/// ```
/// use servebench::bench::{Configure, DynamicSweep};
/// let b = DynamicSweep::new("poisson")
///     .rates([4.0, 8.0])
///     .num_prompts(16)
///     .lengths(128, 32)
///     .epochs(3);
/// assert_eq!(b.rates, [4.0, 8.0]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct DynamicSweep {
    pub name: String,
    pub param: Option<String>,
    /// Request rates, requests/s (`f64::INFINITY`: all at once).
    pub rates: Vec<f64>,
    /// Requests per epoch at each rate (default 50).
    pub num_prompts: usize,
    /// Gamma shape of the gaps (1 = Poisson).
    pub burstiness: f64,
    /// Cap on requests in flight.
    pub max_concurrency: Option<usize>,
    /// Input/output length distribution (its `num_requests` and `seed` are
    /// set by the run).
    pub workload: GenerateSpec,
    /// A shared-prefix workload (SGLang's generated-shared-prefix) instead
    /// of `workload`, set by [`DynamicSweep::shared_prefix`]: every epoch at
    /// every rate sends all its `groups × prompts_per_group` requests, and
    /// `num_prompts` is not used.
    pub shared_prefix: Option<SharedPrefixSpec>,
    pub settings: Settings,
}

impl DynamicSweep {
    /// Rates 1, 4 and 16 req/s; 50 prompts of 256±64 tokens in, 64±16 out.
    pub fn new(name: impl Into<String>) -> Self {
        DynamicSweep {
            name: name.into(),
            param: None,
            rates: vec![1.0, 4.0, 16.0],
            num_prompts: 50,
            burstiness: 1.0,
            max_concurrency: None,
            workload: GenerateSpec {
                min_input: 1,
                max_input: 512,
                avg_input: 256.0,
                std_input: 64.0,
                min_output: 1,
                max_output: 128,
                avg_output: 64.0,
                std_output: 16.0,
                num_requests: 1,
                seed: 0,
            },
            shared_prefix: None,
            settings: Settings::default(),
        }
    }

    /// Set the request rates (req/s).
    pub fn rates(mut self, rates: impl IntoIterator<Item = f64>) -> Self {
        self.rates = rates.into_iter().collect();
        self
    }

    /// Requests per epoch at each rate.
    pub fn num_prompts(mut self, n: usize) -> Self {
        self.num_prompts = n;
        self
    }

    /// Gamma shape of the inter-arrival gaps (1 = Poisson).
    pub fn burstiness(mut self, b: f64) -> Self {
        self.burstiness = b;
        self
    }

    /// At most `n` requests in flight.
    pub fn max_concurrency(mut self, n: usize) -> Self {
        self.max_concurrency = Some(n);
        self
    }

    /// Constant lengths: every prompt `input` tokens, every output `output`.
    pub fn lengths(mut self, input: usize, output: usize) -> Self {
        let w = &mut self.workload;
        (w.min_input, w.max_input, w.avg_input, w.std_input) = (input, input, input as f64, 0.0);
        (w.min_output, w.max_output, w.avg_output, w.std_output) =
            (output, output, output as f64, 0.0);
        self
    }

    /// Lengths from a normal distribution truncated to `[min, max]` (the
    /// generator's `--avg-input` ... flags).
    pub fn workload(mut self, spec: GenerateSpec) -> Self {
        self.workload = spec;
        self
    }

    /// Add a parameter segment to the id: `group/name/param`.
    pub fn param(mut self, param: impl std::fmt::Display) -> Self {
        self.param = Some(param.to_string());
        self
    }

    /// SGLang's generated-shared-prefix workload instead of generated
    /// lengths: `groups` groups of `prompts_per_group` requests, each
    /// prompt a `system_len`-token system prompt of its group followed by a
    /// unique `question_len`-token question, `output_len` output tokens
    /// (forced). Each epoch sends all `groups × prompts_per_group` requests
    /// (shuffled across groups; `num_prompts` is not used) with system
    /// prompts of its own; the run's notes give the expected prefix-cache
    /// hit ratio and, when the server reports cached tokens, the observed one.
    ///
    /// ```
    /// use servebench::bench::{Configure, DynamicSweep};
    /// let b = DynamicSweep::new("gsp")
    ///     .rates([8.0])
    ///     .shared_prefix(4, 8, 512, 32, 16)
    ///     .epochs(3);
    /// assert_eq!(b.shared_prefix.unwrap().requests_per_round(), 32);
    /// ```
    pub fn shared_prefix(
        mut self,
        groups: usize,
        prompts_per_group: usize,
        system_len: usize,
        question_len: usize,
        output_len: usize,
    ) -> Self {
        self.shared_prefix = Some(SharedPrefixSpec {
            groups,
            prompts_per_group,
            prefix_tokens: system_len,
            question_tokens: question_len,
            output_tokens: output_len,
        });
        self
    }
}

impl Configure for DynamicSweep {
    fn settings_mut(&mut self) -> &mut Settings {
        &mut self.settings
    }
}

/// A trace replayed at its own send times (open loop), at one or more
/// speeds: Mooncake JSONL (prompts sharing the blocks their hash ids share),
/// BurstGPT or Azure CSV. The trace is read when the benchmark is planned,
/// before any load; a bad one fails the benchmark with its file and line.
///
/// ```
/// use servebench::bench::{Configure, Replay};
/// use servebench::workload::TraceFormat;
/// let b = Replay::new(
///     "mooncake",
///     concat!(env!("CARGO_MANIFEST_DIR"), "/benches/data/mooncake_sample.jsonl"),
///     TraceFormat::Mooncake,
/// )
/// .speedups([2.0])
/// .max_requests(16)
/// .epochs(3);
/// assert_eq!(b.speedups, [2.0]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Replay {
    pub name: String,
    pub param: Option<String>,
    /// The trace file (relative paths from the directory `cargo bench`
    /// runs in, the package's root).
    pub path: PathBuf,
    pub format: TraceFormat,
    /// Speed factors, one point each (default 1: the trace's own times).
    pub speedups: Vec<f64>,
    /// The part of the trace replayed (default: all of it).
    pub window: TraceWindow,
    /// Tokens of one Mooncake hash-id block (default 512).
    pub block_tokens: usize,
    /// Cap on requests in flight.
    pub max_concurrency: Option<usize>,
    pub settings: Settings,
    /// The trace's window, read when the benchmark is planned.
    pub(crate) loaded: Option<Arc<Trace>>,
}

impl Replay {
    /// Replay the trace at `path` in `format`, at its own speed.
    pub fn new(name: impl Into<String>, path: impl Into<PathBuf>, format: TraceFormat) -> Self {
        Replay {
            name: name.into(),
            param: None,
            path: path.into(),
            format,
            speedups: vec![1.0],
            window: TraceWindow::default(),
            block_tokens: 512,
            max_concurrency: None,
            settings: Settings::default(),
            loaded: None,
        }
    }

    /// Speed factors, one point each (2 = twice as fast as the trace).
    pub fn speedups(mut self, s: impl IntoIterator<Item = f64>) -> Self {
        self.speedups = s.into_iter().collect();
        self
    }

    /// Replay only `duration_s` seconds of the trace from `start_s`.
    pub fn window(mut self, start_s: f64, duration_s: f64) -> Self {
        self.window.start_s = start_s;
        self.window.duration_s = Some(duration_s);
        self
    }

    /// At most `n` requests (the first ones of the window).
    pub fn max_requests(mut self, n: usize) -> Self {
        self.window.max_requests = Some(n);
        self
    }

    /// Tokens of one hash-id block (Mooncake).
    pub fn block_tokens(mut self, n: usize) -> Self {
        self.block_tokens = n;
        self
    }

    /// At most `n` requests in flight.
    pub fn max_concurrency(mut self, n: usize) -> Self {
        self.max_concurrency = Some(n);
        self
    }

    /// Add a parameter segment to the id: `group/name/param`.
    pub fn param(mut self, param: impl std::fmt::Display) -> Self {
        self.param = Some(param.to_string());
        self
    }

    /// Read the trace's window (when the benchmark is planned).
    pub(crate) fn load(&mut self) -> Result<(), crate::workload::TraceError> {
        self.loaded = Some(Arc::new(Trace::read(&self.path, self.format, self.window)?));
        Ok(())
    }
}

impl Configure for Replay {
    fn settings_mut(&mut self) -> &mut Settings {
        &mut self.settings
    }
}

/// Multi-turn sessions: each turn carries the conversation so far,
/// sessions started open loop at each session rate (generated sessions, or
/// a ShareGPT file's conversations). Needs a chat backend (`openai-chat`).
///
/// ```
/// use servebench::bench::{Configure, Sessions};
/// let b = Sessions::new("chat")
///     .rates([2.0])
///     .num_sessions(8)
///     .turns(4, 128, 32)
///     .think_time_ms(50.0)
///     .epochs(3);
/// assert_eq!(b.shape.turns, 4);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Sessions {
    pub name: String,
    pub param: Option<String>,
    /// Sessions started per second, one point each (default 1).
    pub rates: Vec<f64>,
    /// Sessions per epoch at each rate (default 10).
    pub num_sessions: usize,
    /// Gamma shape of the gaps between session starts (1 = Poisson).
    pub burstiness: f64,
    /// At most this many sessions active at once.
    pub max_active: Option<usize>,
    /// Generated sessions (default 4 turns of 128 tokens in, 32 out).
    pub shape: crate::workload::SessionShape,
    /// A ShareGPT file whose conversations are replayed instead (with at
    /// least `min_turns` turns, at most `max_turns` of them).
    pub sharegpt: Option<(PathBuf, usize, usize)>,
    /// Pause between an answer and the next turn, ms (default 0).
    pub think_time_ms: f64,
    /// The dataset's replies in the history instead of the model's answers.
    pub dataset_replies: bool,
    pub settings: Settings,
}

impl Sessions {
    /// Generated sessions with the defaults above, against `openai-chat`.
    pub fn new(name: impl Into<String>) -> Self {
        Sessions {
            name: name.into(),
            param: None,
            rates: vec![1.0],
            num_sessions: 10,
            burstiness: 1.0,
            max_active: None,
            shape: crate::workload::SessionShape {
                turns: 4,
                user_tokens: 128,
                output_tokens: 32,
            },
            sharegpt: None,
            think_time_ms: 0.0,
            dataset_replies: false,
            settings: Settings::default().backend("openai-chat"),
        }
    }

    /// Session rates (sessions/s).
    pub fn rates(mut self, rates: impl IntoIterator<Item = f64>) -> Self {
        self.rates = rates.into_iter().collect();
        self
    }

    /// Sessions per epoch at each rate.
    pub fn num_sessions(mut self, n: usize) -> Self {
        self.num_sessions = n;
        self
    }

    /// Generated sessions: `turns` turns of `user_tokens` in, `output_tokens` out.
    pub fn turns(mut self, turns: usize, user_tokens: usize, output_tokens: usize) -> Self {
        self.shape = crate::workload::SessionShape {
            turns,
            user_tokens,
            output_tokens,
        };
        self
    }

    /// Replay a ShareGPT file's conversations of `min_turns` or more turns
    /// (at most `max_turns` of each).
    pub fn sharegpt(
        mut self,
        path: impl Into<PathBuf>,
        min_turns: usize,
        max_turns: usize,
    ) -> Self {
        self.sharegpt = Some((path.into(), min_turns, max_turns));
        self
    }

    /// Pause between an answer and the next turn, ms.
    pub fn think_time_ms(mut self, ms: f64) -> Self {
        self.think_time_ms = ms;
        self
    }

    /// At most `n` sessions active at once.
    pub fn max_active(mut self, n: usize) -> Self {
        self.max_active = Some(n);
        self
    }

    /// The dataset's replies in the history instead of the model's answers.
    pub fn dataset_replies(mut self) -> Self {
        self.dataset_replies = true;
        self
    }

    /// Add a parameter segment to the id: `group/name/param`.
    pub fn param(mut self, param: impl std::fmt::Display) -> Self {
        self.param = Some(param.to_string());
        self
    }
}

impl Configure for Sessions {
    fn settings_mut(&mut self) -> &mut Settings {
        &mut self.settings
    }
}

/// Any benchmark.
#[derive(Debug, Clone, PartialEq)]
pub enum Benchmark {
    Static(StaticSweep),
    Dynamic(DynamicSweep),
    Replay(Replay),
    Sessions(Sessions),
    /// A capacity search: the highest load at which the SLOs hold.
    Capacity(super::Capacity),
}

impl Benchmark {
    /// `name[/param]`.
    pub fn local_id(&self) -> String {
        let (n, p) = match self {
            Benchmark::Static(s) => (&s.name, &s.param),
            Benchmark::Dynamic(d) => (&d.name, &d.param),
            Benchmark::Replay(r) => (&r.name, &r.param),
            Benchmark::Sessions(s) => (&s.name, &s.param),
            Benchmark::Capacity(c) => (&c.name, &None),
        };
        match p {
            Some(p) => format!("{n}/{p}"),
            None => n.clone(),
        }
    }

    /// The benchmark's own settings.
    pub fn settings(&self) -> &Settings {
        match self {
            Benchmark::Static(s) => &s.settings,
            Benchmark::Dynamic(d) => &d.settings,
            Benchmark::Replay(r) => &r.settings,
            Benchmark::Sessions(s) => &s.settings,
            Benchmark::Capacity(c) => &c.workload.settings,
        }
    }

    pub(crate) fn settings_mut(&mut self) -> &mut Settings {
        match self {
            Benchmark::Static(s) => &mut s.settings,
            Benchmark::Dynamic(d) => &mut d.settings,
            Benchmark::Replay(r) => &mut r.settings,
            Benchmark::Sessions(s) => &mut s.settings,
            Benchmark::Capacity(c) => &mut c.workload.settings,
        }
    }
}

impl From<StaticSweep> for Benchmark {
    fn from(s: StaticSweep) -> Self {
        Benchmark::Static(s)
    }
}

impl From<DynamicSweep> for Benchmark {
    fn from(d: DynamicSweep) -> Self {
        Benchmark::Dynamic(d)
    }
}

impl From<Replay> for Benchmark {
    fn from(r: Replay) -> Self {
        Benchmark::Replay(r)
    }
}

impl From<Sessions> for Benchmark {
    fn from(s: Sessions) -> Self {
        Benchmark::Sessions(s)
    }
}

impl From<super::Capacity> for Benchmark {
    fn from(c: super::Capacity) -> Self {
        Benchmark::Capacity(c)
    }
}
