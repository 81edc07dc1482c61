//! `servebench serving`: the dynamic benchmark of `benchmark_serving.py`.
//! A dataset (or synthetic prompts) replayed at each request rate of a list,
//! open loop.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::common::CommonArgs;
use super::observer::RunObserver;
use super::output::write_outputs;
use super::static_cmd::{write_err, RunOutcome};
use super::{resolve_target, CliError, EndpointArgs, Target};
use crate::load::{arrival_offsets, run_open_loop, PreparedRequest};
use crate::metrics::{PointData, PointLabel, Rate, RunData, RunKind, Slo};
use crate::workload::{
    generate, load_and_sample, DatasetFilter, DatasetType, GenerateSpec, RequestSpec,
};

/// The workload and arrival process of a dynamic benchmark.
#[derive(Debug, Clone, clap::Args)]
pub struct ServingSweepArgs {
    /// Dataset file; without it, synthetic prompts of --random-input-len tokens.
    #[arg(long)]
    pub dataset: Option<PathBuf>,
    /// Dataset format: sharegpt, alpaca, custom (from gen-dataset) or jsonl.
    #[arg(long, default_value = "sharegpt")]
    pub dataset_type: String,
    /// Prompt length of synthetic requests (no --dataset), tokens.
    #[arg(long, default_value_t = 512)]
    pub random_input_len: usize,
    /// Output length of synthetic requests (no --dataset), tokens.
    #[arg(long, default_value_t = 128)]
    pub random_output_len: usize,
    /// Request rates, requests/s; `inf` sends all requests at once.
    #[arg(long, num_args = 1.., default_values = ["inf"])]
    pub request_rate: Vec<Rate>,
    /// Requests per rate: one value per --request-rate, or one for all.
    #[arg(long, num_args = 1.., default_values_t = [1000])]
    pub num_prompts: Vec<usize>,
    /// Drop dataset entries whose prompt + output exceed this many tokens.
    #[arg(long)]
    pub max_tokens: Option<usize>,
    /// Drop dataset entries whose prompt exceeds this many tokens.
    #[arg(long)]
    pub max_prompt_tokens: Option<usize>,
    /// Shape of the gamma-distributed inter-arrival times: 1 = Poisson,
    /// < 1 burstier, > 1 more regular.
    #[arg(long, default_value_t = 1.0)]
    pub burstiness: f64,
    /// At most this many requests in flight (later arrivals wait, and their
    /// send lateness shows it).
    #[arg(long)]
    pub max_concurrency: Option<usize>,
    /// Service-level objectives for goodput, e.g. `ttft:500 tpot:50 e2el:5000` (ms).
    #[arg(long, num_args = 1.., value_name = "METRIC:MS")]
    pub goodput: Vec<String>,
}

impl Default for ServingSweepArgs {
    fn default() -> Self {
        ServingSweepArgs {
            dataset: None,
            dataset_type: "sharegpt".into(),
            random_input_len: 512,
            random_output_len: 128,
            request_rate: vec![Rate(f64::INFINITY)],
            num_prompts: vec![1000],
            max_tokens: None,
            max_prompt_tokens: None,
            burstiness: 1.0,
            max_concurrency: None,
            goodput: Vec::new(),
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
    /// CSV output (default: <output-dir>/<name>/new/benchmark.csv).
    #[arg(long)]
    pub benchmark_csv: Option<PathBuf>,
    #[command(flatten)]
    pub common: CommonArgs,
}

fn bad(flag: &str, reason: impl Into<String>) -> CliError {
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

impl ServingSweepArgs {
    /// Requests per rate, one count per rate.
    pub fn counts(&self) -> Result<Vec<usize>, CliError> {
        let n = &self.num_prompts;
        if n.contains(&0) {
            return Err(bad("--num-prompts", "each count must be at least 1"));
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

    /// Check the flags that need no endpoint.
    pub fn validate(&self) -> Result<(DatasetType, Slo, Vec<usize>), CliError> {
        let kind: DatasetType = self
            .dataset_type
            .parse()
            .map_err(|e: crate::workload::DatasetError| bad("--dataset-type", e.to_string()))?;
        if !(self.burstiness.is_finite() && self.burstiness > 0.0) {
            return Err(bad(
                "--burstiness",
                format!("{}: must be a positive number", self.burstiness),
            ));
        }
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

    /// The requests of the whole run: `max(counts)` of them, each rate using
    /// the first `count` (a uniform sample, so its prefix is one too).
    fn requests(
        &self,
        target: &Target,
        kind: DatasetType,
        n: usize,
        seed: u64,
    ) -> Result<Vec<RequestSpec>, CliError> {
        match &self.dataset {
            Some(path) => {
                let filter = DatasetFilter {
                    max_prompt_tokens: self.max_prompt_tokens,
                    max_tokens: self.max_tokens,
                    ..DatasetFilter::default()
                };
                Ok(load_and_sample(
                    path,
                    kind,
                    &target.tokenizer,
                    &filter,
                    n,
                    seed,
                )?)
            }
            None => {
                let spec = GenerateSpec {
                    min_input: self.random_input_len,
                    max_input: self.random_input_len,
                    avg_input: self.random_input_len as f64,
                    std_input: 0.0,
                    min_output: self.random_output_len,
                    max_output: self.random_output_len,
                    avg_output: self.random_output_len as f64,
                    std_output: 0.0,
                    num_requests: n,
                    seed,
                };
                Ok(generate(&spec, &target.tokenizer)?
                    .into_iter()
                    .enumerate()
                    .map(|(i, g)| RequestSpec {
                        id: i as u64,
                        prompt: g.prompt,
                        prompt_tokens: g.input_tokens,
                        max_tokens: g.output_tokens,
                        force_output_len: true,
                    })
                    .collect())
            }
        }
    }
}

/// Run the dynamic sweep against a resolved target and write its records,
/// JSON, CSV and table.
pub async fn run_serving_on(
    target: &Target,
    sweep: &ServingSweepArgs,
    common: &CommonArgs,
    csv: Option<&Path>,
) -> Result<RunOutcome, CliError> {
    let (kind, slo, counts) = sweep.validate()?;
    let n = counts.iter().copied().max().unwrap_or(0);
    let streams = sweep.max_concurrency.map_or(n, |c| c.min(n));
    target.ensure_streams(streams, "--max-concurrency/--num-prompts")?;
    let specs = sweep.requests(target, kind, n, common.seed)?;
    let dir = common.run_dir("serving")?;
    let records = dir.join("records.jsonl");
    if !common.quiet {
        eprintln!("servebench serving: {}", target.describe());
    }
    let mut meta = target.meta(
        RunKind::Dynamic,
        common.name.as_deref().unwrap_or("serving"),
        slo,
    );
    let mut observer =
        RunObserver::create(&records, common.quiet, &meta).map_err(|e| write_err(&records, e))?;
    let mut points = Vec::new();
    for (i, (&rate, &count)) in sweep.request_rate.iter().zip(&counts).enumerate() {
        if target.client.stopping() {
            break;
        }
        let label = PointLabel::Dynamic {
            request_rate: rate,
            burstiness: sweep.burstiness,
            max_concurrency: sweep.max_concurrency,
            num_prompts: count,
        };
        // Built and serialised before the clock starts.
        let reqs: Vec<PreparedRequest> = specs
            .iter()
            .cycle()
            .take(count)
            .map(|s| target.client.prepare(s))
            .collect();
        let offsets = arrival_offsets(
            count,
            rate.0,
            sweep.burstiness,
            common.seed.wrapping_add(i as u64),
        )
        .map_err(|e| bad("--request-rate", e.to_string()))?;
        observer.start_point(&label, count);
        let (cpu0, wall0) = (
            crate::load::selfwatch::process_cpu_s(),
            std::time::Instant::now(),
        );
        let mut cb = |r: &crate::metrics::RequestRecord| observer.on_record(r, false);
        let mut run = run_open_loop(
            target.client.clone(),
            reqs,
            Arc::new(offsets),
            sweep.max_concurrency,
            0,
            &mut cb,
        )
        .await;
        let load = target.client_load(
            crate::load::selfwatch::process_cpu_s() - cpu0,
            wall0.elapsed().as_secs_f64(),
            std::slice::from_ref(&run),
        );
        let counts = target.client.count_outputs(&mut run);
        observer.counted(run.epoch, &counts);
        observer.finish_point();
        let mut notes = Vec::new();
        points.push(
            PointData::new(label, vec![run.records], &meta.percentiles, &meta.slo)
                .with_client(load, &mut notes),
        );
        meta.notes.extend(notes);
    }
    if let Some(e) = observer.take_error() {
        return Err(write_err(&records, e));
    }
    meta.interrupted = crate::load::interrupt::stopping();
    meta.stopped_early = target.client.guard().tripped();
    let run = RunData { meta, points };
    let paths = write_outputs(&dir, csv, &run, common.quiet, common.noplot)?;
    Ok(RunOutcome { run, paths })
}

/// `servebench serving`: validate, resolve the endpoint, run, write.
pub async fn run_serving_cmd(a: &ServingArgs) -> Result<RunOutcome, CliError> {
    a.sweep.validate()?;
    super::output::check_csv_path(a.benchmark_csv.as_deref())?;
    a.common.run_dir("serving")?;
    let target = resolve_target(&a.endpoint).await?;
    let out = run_serving_on(&target, &a.sweep, &a.common, a.benchmark_csv.as_deref()).await;
    target.stop().await;
    out
}
