//! Sending a benchmark's load and collecting its run. Records of measured
//! requests are appended to `records.jsonl` as they complete.

use std::path::Path;
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::sweep::{Benchmark, DynamicSweep, StaticSweep};
use super::BenchError;
use crate::cli::{resolve_target, EndpointArgs};
use crate::load::{
    arrival_offsets, run_open_loop, run_static, PointKey, PointRun, StaticPlan, SweepObserver,
};
use crate::metrics::{PointData, PointLabel, Rate, RequestRecord, RunData, RunKind, Slo};
use crate::report::RecordsWriter;
use crate::workload::{generate, PromptSynth, RequestSpec};

/// How one benchmark is to be run, all layers resolved.
#[derive(Debug, Clone)]
pub struct Plan {
    pub id: String,
    pub bench: Benchmark,
    pub endpoint: EndpointArgs,
    pub epochs: u32,
    /// `None`: the kind's default.
    pub warmup: Option<usize>,
    pub slo: Slo,
    pub seed: u64,
    pub quiet: bool,
}

/// Progress bar and records file of one benchmark.
struct Observer {
    bar: Option<ProgressBar>,
    records: Option<RecordsWriter>,
}

impl Observer {
    fn new(records: Option<&Path>) -> Result<Self, BenchError> {
        let records = match records {
            Some(p) => {
                let io = |source| BenchError::Write {
                    path: p.to_path_buf(),
                    source,
                };
                if let Some(d) = p.parent() {
                    std::fs::create_dir_all(d).map_err(io)?;
                }
                Some(RecordsWriter::create(p).map_err(io)?)
            }
            None => None,
        };
        Ok(Observer { bar: None, records })
    }

    fn start(&mut self, label: &PointLabel, requests: usize, quiet: bool) {
        if let Some(w) = self.records.as_mut() {
            w.start_point(label);
        }
        if quiet {
            return;
        }
        let bar =
            ProgressBar::with_draw_target(Some(requests as u64), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("  {prefix:<28} [{bar:30}] {pos}/{len}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(label.id());
        self.bar = Some(bar);
    }

    fn record(&mut self, r: &RequestRecord, warmup: bool) {
        if let Some(b) = &self.bar {
            b.inc(1);
        }
        if let (Some(w), false) = (self.records.as_mut(), warmup) {
            w.record(r);
        }
    }

    fn counted(&mut self, epoch: u32, counts: &[(u64, u64)]) {
        if let Some(w) = self.records.as_mut() {
            w.counted(epoch, counts);
        }
    }

    fn take_error(&mut self) -> Option<std::io::Error> {
        self.records.as_mut().and_then(|w| w.take_error())
    }

    fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

struct StaticObserver<'a>(&'a mut Observer, bool);

impl SweepObserver for StaticObserver<'_> {
    fn point_started(&mut self, k: &PointKey, requests: usize) {
        self.0.start(&static_label(k), requests, self.1);
    }
    fn record(&mut self, _: &PointKey, r: &RequestRecord, warmup: bool) {
        self.0.record(r, warmup);
    }
    fn counted(&mut self, _: &PointKey, epoch: u32, counts: &[(u64, u64)]) {
        self.0.counted(epoch, counts);
    }
    fn point_finished(&mut self, _: &PointRun) {
        self.0.finish();
    }
}

fn static_label(k: &PointKey) -> PointLabel {
    PointLabel::Static {
        prompt_tokens: k.prompt_tokens,
        output_tokens: k.output_tokens,
        concurrency: k.concurrency,
    }
}

fn invalid(id: &str, reason: impl Into<String>) -> BenchError {
    BenchError::Invalid {
        id: id.to_string(),
        reason: reason.into(),
    }
}

/// Check a plan before any load is sent.
pub fn validate(p: &Plan) -> Result<(), BenchError> {
    if p.epochs == 0 {
        return Err(invalid(&p.id, "epochs must be at least 1"));
    }
    match &p.bench {
        Benchmark::Static(s) => {
            if s.pairs.is_empty() || s.pairs.iter().any(|&(a, b)| a == 0 || b == 0) {
                return Err(invalid(
                    &p.id,
                    "needs (prompt, output) pairs, each at least 1 token",
                ));
            }
            if s.concurrencies.is_empty() || s.concurrencies.contains(&0) {
                return Err(invalid(&p.id, "needs concurrency levels, each at least 1"));
            }
            if s.requests_per_worker == 0 {
                return Err(invalid(&p.id, "requests_per_worker must be at least 1"));
            }
            if s.shared_prefix_tokens > 0
                && s.pairs.iter().any(|&(a, _)| a <= s.shared_prefix_tokens)
            {
                return Err(invalid(
                    &p.id,
                    "shared_prefix_tokens must be below every prompt length",
                ));
            }
        }
        Benchmark::Dynamic(d) => {
            if d.rates.is_empty() || d.rates.iter().any(|r| r.is_nan() || *r <= 0.0) {
                return Err(invalid(
                    &p.id,
                    "needs request rates, each positive (or infinity)",
                ));
            }
            if d.num_prompts == 0 {
                return Err(invalid(&p.id, "num_prompts must be at least 1"));
            }
            let mut w = d.workload.clone();
            w.num_requests = 1;
            w.validate()
                .map_err(|e| invalid(&p.id, format!("workload: {e}")))?;
        }
    }
    Ok(())
}

/// Run the benchmark's load and return the run. `records`: where measured
/// records are appended as they complete (none in smoke mode).
pub async fn measure(p: &Plan, records: Option<&Path>) -> Result<RunData, BenchError> {
    validate(p)?;
    let target = resolve_target(&p.endpoint).await?;
    let mut obs = Observer::new(records)?;
    let kind = match p.bench {
        Benchmark::Static(_) => RunKind::Static,
        Benchmark::Dynamic(_) => RunKind::Dynamic,
    };
    let mut meta = target.meta(kind, &p.id, p.slo);
    let client = target.client.clone();
    let synth = PromptSynth::new(&target.tokenizer)?;
    let result = match &p.bench {
        Benchmark::Static(s) => run_static_sweep(p, s, client, &synth, &mut obs).await,
        Benchmark::Dynamic(d) => run_dynamic_sweep(p, d, client, &target.tokenizer, &mut obs).await,
    };
    meta.interrupted = crate::load::interrupt::stopping();
    meta.stopped_early = target.client.guard().tripped();
    target.stop().await;
    let points: Vec<(PointLabel, Vec<Vec<RequestRecord>>)> = result?;
    if let (Some(e), Some(path)) = (obs.take_error(), records) {
        return Err(BenchError::Write {
            path: path.to_path_buf(),
            source: e,
        });
    }
    let points = points
        .into_iter()
        .map(|(label, epochs)| PointData::new(label, epochs, &meta.percentiles, &meta.slo))
        .collect();
    Ok(RunData { meta, points })
}

type Points = Vec<(PointLabel, Vec<Vec<RequestRecord>>)>;

async fn run_static_sweep(
    p: &Plan,
    s: &StaticSweep,
    client: Arc<crate::load::Client>,
    synth: &PromptSynth,
    obs: &mut Observer,
) -> Result<Points, BenchError> {
    let plan = StaticPlan {
        pairs: s.pairs.clone(),
        concurrencies: s.concurrencies.clone(),
        epochs: p.epochs,
        warmup_requests: p.warmup,
        requests_per_worker: s.requests_per_worker,
        unique_prefix: true,
        shared_prefix_tokens: s.shared_prefix_tokens,
        seed: p.seed,
    };
    let runs = run_static(client, synth, &plan, &mut StaticObserver(obs, p.quiet)).await?;
    Ok(runs
        .into_iter()
        .map(|r| {
            let epochs = r.epochs.into_iter().map(|e| e.records).collect();
            (static_label(&r.key), epochs)
        })
        .collect())
}

async fn run_dynamic_sweep(
    p: &Plan,
    d: &DynamicSweep,
    client: Arc<crate::load::Client>,
    tok: &crate::workload::Tokenizer,
    obs: &mut Observer,
) -> Result<Points, BenchError> {
    let warm = p.warmup.unwrap_or(1);
    let per_rate = warm + d.num_prompts * p.epochs as usize;
    let mut spec = d.workload.clone();
    spec.num_requests = per_rate;
    spec.seed = p.seed;
    let tok = tok.clone();
    let generated = tokio::task::spawn_blocking(move || generate(&spec, &tok))
        .await
        .map_err(|e| invalid(&p.id, format!("request generator panicked: {e}")))??;
    let prepared: Vec<_> = generated
        .iter()
        .enumerate()
        .map(|(i, g)| {
            client.prepare(&RequestSpec {
                id: i as u64,
                prompt: g.prompt.clone(),
                prompt_tokens: g.input_tokens,
                max_tokens: g.output_tokens,
                force_output_len: true,
            })
        })
        .collect();
    let mut out = Vec::new();
    for (ri, &rate) in d.rates.iter().enumerate() {
        if client.stopping() {
            break;
        }
        let label = PointLabel::Dynamic {
            request_rate: Rate(rate),
            burstiness: d.burstiness,
            max_concurrency: d.max_concurrency,
            num_prompts: d.num_prompts,
        };
        obs.start(&label, per_rate, p.quiet);
        let mut slices = vec![(0..warm, true, u32::MAX)];
        for e in 0..p.epochs {
            let from = warm + e as usize * d.num_prompts;
            slices.push((from..from + d.num_prompts, false, e));
        }
        let mut epochs = Vec::new();
        for (range, warmup, e) in slices {
            if range.is_empty() {
                continue;
            }
            let seed = p.seed ^ ((ri as u64) << 32) ^ u64::from(e);
            let offsets = arrival_offsets(range.len(), rate, d.burstiness, seed)?;
            let reqs = prepared[range].to_vec();
            let mut cb = |r: &RequestRecord| obs.record(r, warmup);
            let epoch = if warmup { 0 } else { e };
            let offsets = Arc::new(offsets);
            let mut run = run_open_loop(
                client.clone(),
                reqs,
                offsets,
                d.max_concurrency,
                epoch,
                &mut cb,
            )
            .await;
            if !warmup {
                let counts = client.count_outputs(&mut run);
                obs.counted(epoch, &counts);
                epochs.push(run.records);
            }
        }
        obs.finish();
        out.push((label, epochs));
    }
    Ok(out)
}
