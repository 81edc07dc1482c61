//! Synthetic runs for the report tests, laid out on disk as the harness
//! lays them out.

use std::path::{Path, PathBuf};

use servebench::analysis::{compare_runs, MetricId, RunComparison};
use servebench::baseline::save_run;
use servebench::metrics::{
    Failure, FailureKind, PointData, PointLabel, Rate, RequestRecord, RunData, RunKind, RunMeta,
    ServerLatency, Slo, DEFAULT_PERCENTILES,
};
use servebench::report::{write_html_report, write_markdown, HtmlOptions};
use servebench::stats::CompareConfig;

/// A name that must only ever appear escaped.
pub const EVIL: &str = "<script>alert(1)</script>";

/// A tiny deterministic generator, so the runs are the same every time.
pub struct Lcg(pub u64);
impl Lcg {
    pub fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

pub fn record(id: u64, epoch: u32, start_s: f64, ttft: f64, tpot: f64, out: u32) -> RequestRecord {
    let chunks: Vec<(f64, u32)> = (0..out).map(|i| (ttft + tpot * i as f64, 1)).collect();
    let e2el = chunks.last().map(|c| c.0);
    RequestRecord {
        id,
        epoch,
        start_s,
        scheduled_s: None,
        ttft_ms: Some(ttft),
        e2el_ms: e2el,
        done_ms: e2el.unwrap_or(ttft) + 0.5,
        output_tokens: out as u64,
        input_tokens: 128,
        requested_output_tokens: out as u64,
        usage_output_tokens: Some(out as u64),
        usage_input_tokens: None,
        counted_output_tokens: Some(out as u64),
        chunks,
        server: Some(ServerLatency {
            prefill_latency: Some(ttft * 0.8),
            model_prefill_latency: Some(ttft * 0.5),
            avg_decode_latency: Some(tpot),
            time_in_queue: Some(ttft * 0.2),
            request_latency: e2el,
            ttft_server_ms: None,
            cached_prompt_tokens: None,
        }),
        failure: None,
        resent: 0,
        reasoning: None,
        session: None,
    }
}

/// Epochs of `n` requests whose latency grows with `load`; `slow` scales it.
pub fn epochs(
    rng: &mut Lcg,
    n: usize,
    epochs: u32,
    load: f64,
    out: u32,
    slow: f64,
) -> Vec<Vec<RequestRecord>> {
    (0..epochs)
        .map(|e| {
            (0..n)
                .map(|i| {
                    let ttft = slow * (40.0 + 6.0 * load) * (0.8 + 0.4 * rng.next());
                    let tpot = slow * (8.0 + 0.5 * load) * (0.9 + 0.2 * rng.next());
                    record(i as u64, e, i as f64 * 0.05 / load, ttft, tpot, out)
                })
                .collect()
        })
        .collect()
}

pub fn meta(kind: RunKind, slo: Slo) -> RunMeta {
    RunMeta {
        kind,
        name: format!("bench {EVIL}"),
        servebench_version: "0.1.0".into(),
        started_unix_s: 1_700_000_000.0,
        base_url: "http://127.0.0.1:8000".into(),
        embedded_sim: true,
        backend: "openai".into(),
        model: format!("model {EVIL}"),
        tokenizer: "words".into(),
        percentiles: DEFAULT_PERCENTILES.to_vec(),
        slo,
        interrupted: false,
        stopped_early: None,
        notes: vec![format!("client-limited at one point {EVIL}")],
        images: None,
        assumed_tokens_per_chunk: 1,
        spec_decode: None,
        sampling: Default::default(),
        imported: None,
        shard: None,
        merged: None,
    }
}

pub fn static_run(slow: f64, n: usize, n_epochs: u32) -> RunData {
    let mut rng = Lcg(7);
    let mut points = Vec::new();
    for (prompt, out) in [(128, 32), (512, 64)] {
        for c in [1usize, 4, 8, 16] {
            let mut ep = epochs(&mut rng, n, n_epochs, c as f64, out, slow);
            if c == 8 && prompt == 512 {
                ep[0][0].failure = Some(Failure {
                    kind: FailureKind::Timeout,
                    message: "idle timeout".into(),
                });
            }
            let label = PointLabel::Static {
                prompt_tokens: prompt,
                output_tokens: out as usize,
                concurrency: c,
            };
            points.push(PointData::new(
                label,
                ep,
                &DEFAULT_PERCENTILES,
                &Slo::default(),
            ));
        }
    }
    RunData {
        meta: meta(RunKind::Static, Slo::default()),
        points,
    }
}

pub fn dynamic_run(slow: f64) -> RunData {
    let mut rng = Lcg(11);
    let slo = Slo {
        ttft_ms: Some(80.0),
        tpot_ms: Some(12.0),
        e2el_ms: None,
    };
    let points = [1.0, 2.0, 4.0, f64::INFINITY]
        .into_iter()
        .map(|rate| {
            let load = if rate.is_finite() { rate * 2.0 } else { 16.0 };
            let mut ep = epochs(&mut rng, 30, 3, load, 48, slow);
            for r in ep.iter_mut().flatten() {
                r.scheduled_s = Some(r.start_s - 0.001);
                r.server = None;
            }
            let label = PointLabel::Dynamic {
                request_rate: Rate(rate),
                burstiness: 1.0,
                max_concurrency: None,
                num_prompts: 30,
            };
            PointData::new(label, ep, &DEFAULT_PERCENTILES, &slo)
        })
        .collect();
    RunData {
        meta: meta(RunKind::Dynamic, slo),
        points,
    }
}

pub fn compare(base: &RunData, new: &RunData) -> RunComparison {
    let cfg = CompareConfig {
        nresamples: 500,
        ..CompareConfig::default()
    };
    compare_runs(
        base,
        new,
        &format!("main {EVIL}"),
        &MetricId::DEFAULT_GATED,
        &cfg,
    )
}

/// Lay out a report root as the harness does: `<id>/new/run.json`, the
/// comparison, the Markdown and the page in `<id>/new/report/`.
pub fn write_benchmark(root: &Path, id: &str, run: &RunData, base: Option<&RunData>) -> PathBuf {
    let new = root.join(id).join("new");
    save_run(&new.join("run.json"), run).unwrap();
    let cmp = base.map(|b| compare(b, run));
    if let Some(c) = &cmp {
        std::fs::write(
            new.join("comparison.json"),
            serde_json::to_string(c).unwrap(),
        )
        .unwrap();
    }
    write_markdown(&new.join("summary.md"), run, cmp.as_ref()).unwrap();
    let with = cmp.as_ref().zip(base);
    write_html_report(&new.join("report"), run, with, &HtmlOptions::default()).unwrap()
}
