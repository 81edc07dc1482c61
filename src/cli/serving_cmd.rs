//! `servebench serving`: the dynamic benchmark of `benchmark_serving.py`.
//! A dataset (or synthetic prompts) replayed at each request rate of a list,
//! open loop.

use std::path::PathBuf;

use super::common::{parse_count, CommonArgs, PrecisionArgs};
use super::static_cmd::{run_plan_on, RunOutcome};
use super::{CliError, EndpointArgs};
use crate::metrics::{Rate, Slo};
use crate::run::{resolve_target, DynamicSweep, DynamicWorkload, Plan, Sweep};
use crate::workload::{DatasetFilter, DatasetType, GenerateSpec, SharedPrefixSpec};

/// The workload and arrival process of a dynamic benchmark.
#[derive(Debug, Clone, clap::Args)]
pub struct ServingSweepArgs {
    /// Dataset file; without it, synthetic prompts of --random-input-len tokens.
    #[arg(long)]
    pub dataset: Option<PathBuf>,
    /// Dataset format: sharegpt, alpaca (input/output, as the seed reads it),
    /// custom (from gen-dataset, or the seed's generate_dataset.py), jsonl
    /// or human-eval (JSONL of prompt/canonical_solution); or
    /// generated-shared-prefix (no --dataset: groups of prompts sharing a
    /// system prompt, the --gsp-* flags).
    #[arg(long, default_value = "sharegpt")]
    pub dataset_type: String,
    /// generated-shared-prefix: groups, each with a system prompt of its own
    /// (SGLang's flag; default 64).
    #[arg(long, value_name = "G")]
    pub gsp_num_groups: Option<usize>,
    /// generated-shared-prefix: requests of each group (default 16); an
    /// epoch sends G x P requests.
    #[arg(long, value_name = "P")]
    pub gsp_prompts_per_group: Option<usize>,
    /// generated-shared-prefix: tokens of each group's system prompt, the
    /// shared prefix (default 2048).
    #[arg(long, value_name = "L")]
    pub gsp_system_prompt_len: Option<usize>,
    /// generated-shared-prefix: tokens of each request's own question, after
    /// the system prompt (default 128).
    #[arg(long, value_name = "Q")]
    pub gsp_question_len: Option<usize>,
    /// generated-shared-prefix: output tokens of every request, forced
    /// (default 256).
    #[arg(long, value_name = "O")]
    pub gsp_output_len: Option<usize>,
    /// Prompt length of synthetic requests (no --dataset), tokens.
    #[arg(long, default_value_t = 512)]
    pub random_input_len: usize,
    /// Output length of synthetic requests (no --dataset), tokens.
    #[arg(long, default_value_t = 128)]
    pub random_output_len: usize,
    /// Request rates, requests/s; `inf` sends all requests at once.
    #[arg(long, num_args = 1.., default_values = ["inf"])]
    pub request_rate: Vec<Rate>,
    /// Requests per rate and epoch: one value per --request-rate, or one
    /// for all.
    #[arg(long, num_args = 1.., default_values_t = [1000], allow_negative_numbers = true, value_parser = parse_count::<usize>)]
    pub num_prompts: Vec<usize>,
    /// Drop dataset entries whose prompt + output exceed this many tokens.
    #[arg(long)]
    pub max_tokens: Option<usize>,
    /// Drop dataset entries whose prompt exceeds this many tokens.
    #[arg(long)]
    pub max_prompt_tokens: Option<usize>,
    /// Shape of the gamma-distributed inter-arrival times: 1 = Poisson,
    /// < 1 burstier, > 1 more regular, inf = evenly spaced.
    #[arg(long, default_value_t = 1.0)]
    pub burstiness: f64,
    /// Evenly spaced arrivals, every gap exactly 1/rate (the seed's flag;
    /// the same as --burstiness inf).
    #[arg(long)]
    pub is_evenly_rate: bool,
    /// Requests sent together at each arrival, one value per --request-rate
    /// or one for all (the seed's flag): the offered load is rate x N.
    #[arg(long, num_args = 1.., value_name = "N")]
    pub concurrent_num: Vec<usize>,
    /// At most this many requests in flight (later arrivals wait, and their
    /// send lateness shows it).
    #[arg(long)]
    pub max_concurrency: Option<usize>,
    /// Service-level objectives for goodput, e.g. `ttft:500 tpot:50 e2el:5000` (ms).
    #[arg(long, num_args = 1.., value_name = "METRIC:MS")]
    pub goodput: Vec<String>,
    /// Let one epoch's --num-prompts exceed the dataset's usable entries
    /// (some are then sent more than once); without it that is an error, as
    /// the seed's random.sample makes it.
    #[arg(long)]
    pub allow_repeat: bool,
}

impl Default for ServingSweepArgs {
    fn default() -> Self {
        ServingSweepArgs {
            dataset: None,
            dataset_type: "sharegpt".into(),
            gsp_num_groups: None,
            gsp_prompts_per_group: None,
            gsp_system_prompt_len: None,
            gsp_question_len: None,
            gsp_output_len: None,
            random_input_len: 512,
            random_output_len: 128,
            request_rate: vec![Rate(f64::INFINITY)],
            num_prompts: vec![1000],
            max_tokens: None,
            max_prompt_tokens: None,
            burstiness: 1.0,
            is_evenly_rate: false,
            concurrent_num: Vec::new(),
            max_concurrency: None,
            goodput: Vec::new(),
            allow_repeat: false,
        }
    }
}

/// Flags of `servebench serving`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServingArgs {
    #[command(flatten)]
    pub endpoint: EndpointArgs,
    #[command(flatten)]
    pub sweep: ServingSweepArgs,
    /// Measured rounds per rate, each of --num-prompts requests with its own
    /// prompts and arrival times. Two runs need at least 2 (3 to judge
    /// most changes) to be compared with a verdict; 1 reproduces
    /// benchmark_serving.py.
    #[arg(
        long,
        default_value_t = DEFAULT_SERVING_EPOCHS,
        allow_negative_numbers = true,
        value_parser = parse_count::<u32>
    )]
    pub epochs: u32,
    /// Warm-up requests per rate, sent at the rate and discarded (default 1).
    #[arg(long)]
    pub warmup: Option<usize>,
    #[command(flatten)]
    pub precision: PrecisionArgs,
    /// CSV output (default: <output-dir>/<name>/new/benchmark.csv).
    #[arg(long)]
    pub benchmark_csv: Option<PathBuf>,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Epochs of `servebench serving` when `--epochs` is not given.
pub const DEFAULT_SERVING_EPOCHS: u32 = 3;

pub(super) fn bad(flag: &str, reason: impl Into<String>) -> CliError {
    CliError::BadFlag {
        flag: flag.into(),
        reason: reason.into(),
    }
}

/// Parse `--goodput ttft:500 tpot:50 e2el:5000`.
pub fn parse_goodput(items: &[String]) -> Result<Slo, CliError> {
    let mut slo = Slo::default();
    for item in items {
        let (k, v) = item.split_once(':').ok_or_else(|| {
            bad(
                "--goodput",
                format!("`{item}`: expected METRIC:MS, e.g. ttft:500"),
            )
        })?;
        let ms: f64 = v
            .parse()
            .ok()
            .filter(|x: &f64| x.is_finite() && *x > 0.0)
            .ok_or_else(|| {
                bad(
                    "--goodput",
                    format!("`{item}`: `{v}` is not a positive number of ms"),
                )
            })?;
        match k {
            "ttft" => slo.ttft_ms = Some(ms),
            "tpot" => slo.tpot_ms = Some(ms),
            "e2el" => slo.e2el_ms = Some(ms),
            _ => {
                return Err(bad(
                    "--goodput",
                    format!("`{k}`: unknown metric (expected ttft, tpot or e2el)"),
                ))
            }
        }
    }
    Ok(slo)
}

/// The `--dataset-type` that selects SGLang's shared-prefix workload.
pub const SHARED_PREFIX_DATASET_TYPE: &str = "generated-shared-prefix";

impl ServingSweepArgs {
    /// The shared-prefix workload of `--dataset-type generated-shared-prefix`
    /// and the `--gsp-*` flags (SGLang's defaults for those not given);
    /// `None` for any other dataset type, where a `--gsp-*` flag is an error.
    pub fn shared_prefix(&self) -> Result<Option<SharedPrefixSpec>, CliError> {
        let given = [
            ("--gsp-num-groups", self.gsp_num_groups),
            ("--gsp-prompts-per-group", self.gsp_prompts_per_group),
            ("--gsp-system-prompt-len", self.gsp_system_prompt_len),
            ("--gsp-question-len", self.gsp_question_len),
            ("--gsp-output-len", self.gsp_output_len),
        ];
        if self.dataset_type != SHARED_PREFIX_DATASET_TYPE {
            return match given.iter().find(|(_, v)| v.is_some()) {
                Some((flag, _)) => Err(bad(
                    flag,
                    format!("needs --dataset-type {SHARED_PREFIX_DATASET_TYPE}"),
                )),
                None => Ok(None),
            };
        }
        for (flag, off) in [
            ("--dataset", self.dataset.is_some()),
            ("--max-tokens", self.max_tokens.is_some()),
            ("--max-prompt-tokens", self.max_prompt_tokens.is_some()),
            ("--allow-repeat", self.allow_repeat),
        ] {
            if off {
                return Err(bad(
                    flag,
                    format!(
                        "--dataset-type {SHARED_PREFIX_DATASET_TYPE} generates its prompts \
                         (the --gsp-* flags); it reads no dataset"
                    ),
                ));
            }
        }
        let d = SharedPrefixSpec::sglang_defaults();
        let spec = SharedPrefixSpec {
            groups: self.gsp_num_groups.unwrap_or(d.groups),
            prompts_per_group: self.gsp_prompts_per_group.unwrap_or(d.prompts_per_group),
            prefix_tokens: self.gsp_system_prompt_len.unwrap_or(d.prefix_tokens),
            question_tokens: self.gsp_question_len.unwrap_or(d.question_tokens),
            output_tokens: self.gsp_output_len.unwrap_or(d.output_tokens),
        };
        spec.validate().map_err(|e| bad(&e.flag, e.reason))?;
        Ok(Some(spec))
    }

    /// Requests per rate, one count per rate (a shared-prefix workload:
    /// `G x P` at every rate).
    pub fn counts(&self) -> Result<Vec<usize>, CliError> {
        let n = &self.num_prompts;
        if n.contains(&0) {
            return Err(bad("--num-prompts", "each count must be at least 1"));
        }
        if let Some(sp) = self.shared_prefix()? {
            let per = sp.requests_per_round();
            // The default (1000) is not a choice; any other count must be G x P.
            if n.as_slice() != [1000] && n.iter().any(|&c| c != per) {
                return Err(bad(
                    "--num-prompts",
                    format!(
                        "a shared-prefix epoch sends every group's prompts, {} x {} = {per} \
                         requests; leave --num-prompts out (or give {per})",
                        sp.groups, sp.prompts_per_group
                    ),
                ));
            }
            return Ok(vec![per; self.request_rate.len()]);
        }
        match (n.len(), self.request_rate.len()) {
            (1, r) => Ok(vec![n[0]; r]),
            (a, b) if a == b => Ok(n.clone()),
            (a, b) => Err(bad(
                "--num-prompts/--request-rate",
                format!("{a} counts for {b} rates: give one count per rate, or one for all"),
            )),
        }
    }

    /// Requests per arrival, one count per rate (empty: 1 everywhere).
    pub fn per_arrival(&self) -> Result<Vec<usize>, CliError> {
        let c = &self.concurrent_num;
        if c.contains(&0) {
            return Err(bad("--concurrent-num", "each count must be at least 1"));
        }
        match (c.len(), self.request_rate.len()) {
            (0, _) => Ok(Vec::new()),
            (1, r) => Ok(vec![c[0]; r]),
            (a, b) if a == b => Ok(c.clone()),
            (a, b) => Err(bad(
                "--concurrent-num/--request-rate",
                format!("{a} counts for {b} rates: give one count per rate, or one for all"),
            )),
        }
    }

    /// The gamma shape of the arrivals (infinite: evenly spaced).
    pub fn shape(&self) -> f64 {
        if self.is_evenly_rate {
            f64::INFINITY
        } else {
            self.burstiness
        }
    }

    /// Check the flags that need no endpoint.
    /// The dataset type is `None` for the shared-prefix workload.
    pub fn validate(&self) -> Result<(Option<DatasetType>, Slo, Vec<usize>), CliError> {
        let kind: Option<DatasetType> = match self.shared_prefix()? {
            Some(_) => None,
            None => Some(self.dataset_type.parse().map_err(
                |e: crate::workload::DatasetError| {
                    bad(
                        "--dataset-type",
                        format!("{e} (or {SHARED_PREFIX_DATASET_TYPE})"),
                    )
                },
            )?),
        };
        if self.burstiness.is_nan() || self.burstiness <= 0.0 {
            return Err(bad(
                "--burstiness",
                format!("{}: must be a positive number (or inf)", self.burstiness),
            ));
        }
        if self.is_evenly_rate && self.burstiness != 1.0 && self.burstiness.is_finite() {
            return Err(bad(
                "--is-evenly-rate/--burstiness",
                "evenly spaced arrivals have no burstiness; give one of them",
            ));
        }
        self.per_arrival()?;
        if self.max_concurrency == Some(0) {
            return Err(bad("--max-concurrency", "must be at least 1"));
        }
        if self.dataset.is_none() && (self.random_input_len == 0 || self.random_output_len == 0) {
            return Err(bad(
                "--random-input-len/--random-output-len",
                "must be at least 1",
            ));
        }
        if let Some(d) = &self.dataset {
            if !d.is_file() {
                return Err(bad("--dataset", format!("{}: no such file", d.display())));
            }
        }
        Ok((kind, parse_goodput(&self.goodput)?, self.counts()?))
    }

    /// The run plan of this sweep, named `name` (flags already valid).
    pub fn plan(
        &self,
        name: &str,
        seed: u64,
        epochs: u32,
        warmup: Option<usize>,
    ) -> Result<Plan, CliError> {
        let (kind, slo, counts) = self.validate()?;
        if epochs == 0 {
            return Err(bad("--epochs", "must be at least 1"));
        }
        let workload = match (&self.dataset, kind, self.shared_prefix()?) {
            (_, _, Some(sp)) => DynamicWorkload::SharedPrefix(sp),
            (Some(path), Some(kind), None) => DynamicWorkload::Dataset {
                path: path.clone(),
                kind,
                filter: DatasetFilter {
                    max_prompt_tokens: self.max_prompt_tokens,
                    max_tokens: self.max_tokens,
                    ..DatasetFilter::for_type(kind)
                },
                allow_repeat: self.allow_repeat,
            },
            _ => DynamicWorkload::Generated(GenerateSpec::constant(
                self.random_input_len,
                self.random_output_len,
            )),
        };
        let sweep = DynamicSweep {
            rates: self.request_rate.iter().copied().zip(counts).collect(),
            burstiness: self.shape(),
            per_arrival: self.per_arrival()?,
            max_concurrency: self.max_concurrency,
            workload,
        };
        let notes = match self.per_arrival()?.iter().max() {
            Some(&m) if m > 1 => vec![format!(
                "--concurrent-num: {} requests sent together at each arrival (one per rate), \
                 so the offered load is the rate times that",
                self.per_arrival()?
                    .iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )],
            _ => Vec::new(),
        };
        Ok(Plan {
            epochs,
            warmup,
            slo,
            seed,
            notes,
            ..Plan::new(name, Sweep::Dynamic(sweep))
        })
    }
}

/// `servebench serving`: validate, resolve the endpoint, run, write.
pub async fn run_serving_cmd(a: &ServingArgs) -> Result<RunOutcome, CliError> {
    let name = a.common.name.as_deref().unwrap_or("serving");
    let plan = a.sweep.plan(name, a.common.seed, a.epochs, a.warmup)?;
    let out = OpenLoopOutput {
        precision: &a.precision,
        epochs: a.epochs,
        csv: a.benchmark_csv.as_deref(),
        common: &a.common,
    };
    run_open_plan(&a.endpoint, plan, &out, "serving").await
}

/// What an open-loop command (`serving`, `replay`, `sessions`) writes and
/// how many epochs it may add.
pub(super) struct OpenLoopOutput<'a> {
    pub precision: &'a PrecisionArgs,
    pub epochs: u32,
    pub csv: Option<&'a std::path::Path>,
    pub common: &'a CommonArgs,
}

/// Run a checked open-loop `plan` of the `command`: its adaptive epochs,
/// its output paths checked, the endpoint resolved, run, written.
pub(super) async fn run_open_plan(
    endpoint: &EndpointArgs,
    mut plan: Plan,
    out: &OpenLoopOutput<'_>,
    command: &str,
) -> Result<RunOutcome, CliError> {
    plan.precision = out.precision.rule(out.epochs)?;
    super::output::check_csv_path(out.csv)?;
    out.common.run_dir(command)?;
    let target = resolve_target(endpoint).await?;
    let res = run_plan_on(&target, &plan, out.common, out.csv).await;
    target.stop().await;
    res
}
