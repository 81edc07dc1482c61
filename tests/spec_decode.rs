//! Speculative decoding (`--use-spec-decode --num-speculative-tokens K`):
//! the simulator's speculative mode (K drafts a step, each accepted with
//! probability P until the first rejection, one chunk a step) against the
//! static benchmark. The acceptance rate must come out at the simulator's
//! known setting, `(P + P^2 + ... + P^K) / K`, in the summary, the JSON, the
//! CSV and the seed CSV, and TPOT must stay per token: the step time over
//! the tokens a step emitted.

mod common {
    pub mod sim;
}

use std::process::Command;

use servebench::cli::{run_static_cmd, CommonArgs, EndpointArgs, StaticArgs, StaticSweepArgs};
use servebench::sim::SimConfig;

const K: u32 = 3;
const P: f64 = 0.6;

/// `(P + P^2 + P^3) / 3` = 0.392. The seed O formula (tokens per step over
/// K + 1) would give about 0.54, accepted over K + 1 about 0.29.
fn expected_rate() -> f64 {
    (1..=K as i32).map(|i| P.powi(i)).sum::<f64>() / f64::from(K)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acceptance_rate_matches_the_simulator_and_tpot_stays_per_token() {
    let kv = format!("time_scale=0.3,spec_tokens={K},spec_accept={P},seed=11");
    let (server, _, cfg) = common::sim::start(&kv).await;
    let dir = tempfile::tempdir().unwrap();
    let a = StaticArgs {
        dataset: Default::default(),
        endpoint: EndpointArgs {
            url: Some(server.base_url()),
            ..EndpointArgs::default()
        },
        sweep: StaticSweepArgs {
            epochs: 3,
            parallel_num: vec![4],
            prompt_tokens: vec![32],
            output_tokens: vec![256],
            warmup: Some(1),
            use_spec_decode: true,
            num_speculative_tokens: i64::from(K),
            ..StaticSweepArgs::default()
        },
        benchmark_csv: None,
        common: CommonArgs::in_dir(dir.path()),
    };
    let out = run_static_cmd(&a).await.unwrap();
    let p = &out.run.points[0];
    assert_eq!(p.summary.failed, 0, "{:?}", p.summary.failures);
    for rec in p.epochs.iter().flatten() {
        // Every step's tokens from the per-chunk usage: 1 to K + 1 each,
        // the prefill's one first, summing to the output.
        assert_eq!(rec.chunks[0].1, 1);
        assert!(rec.chunks[1..].iter().all(|c| (1..=K + 1).contains(&c.1)));
        let sum: u64 = rec.chunks.iter().map(|c| u64::from(c.1)).sum();
        assert_eq!(sum, 256);
        assert_eq!(rec.output_tokens, 256);
    }
    let spec = p.summary.spec_decode.as_ref().expect("acceptance figures");
    assert_eq!(spec.num_speculative_tokens, Some(K));
    assert_eq!(spec.requests, 12);
    let rate = spec.acceptance_rate.mean.unwrap();
    // 12 requests of about 117 steps: the mean's standard error is about
    // 0.011.
    assert!(
        (rate - expected_rate()).abs() < 0.035,
        "acceptance rate {rate}, the simulator's {}",
        expected_rate()
    );
    let a = &spec.acceptance_rate;
    assert!(a.min.unwrap() <= a.p(90.0).unwrap() && a.p(99.0).unwrap() <= a.max.unwrap());
    let tps = spec.tokens_per_step.mean.unwrap();
    assert!((tps - (1.0 + f64::from(K) * rate)).abs() < 1e-9);
    // Per-token TPOT and ITL: a step's time over its tokens (the step with
    // 4 running, prefills of the others interleaved: a little above).
    let step = cfg.decode_step_ms(4);
    let want = step / tps;
    let tpot = p.summary.tpot_ms.mean.unwrap();
    let itl = p.summary.itl_ms.mean.unwrap();
    for (name, v) in [("TPOT", tpot), ("ITL", itl)] {
        assert!(
            v > 0.9 * want && v < 1.25 * want,
            "{name} {v} ms, step {step} ms / {tps} tokens = {want} ms"
        );
    }
    // The chunk gaps are whole steps.
    let gap = p.summary.chunk_gap_ms.mean.unwrap();
    assert!(gap > 0.9 * step && gap < 1.25 * step, "gap {gap} ms");

    // The JSON carries the figures, and reads back.
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out.paths.json).unwrap()).unwrap();
    let js = &json["run"]["points"][0]["summary"]["spec_decode"];
    assert_eq!(js["num_speculative_tokens"], K);
    assert!((js["acceptance_rate"]["mean"].as_f64().unwrap() - rate).abs() < 1e-9);
    assert_eq!(
        json["run"]["meta"]["spec_decode"]["num_speculative_tokens"],
        K
    );
    let back = servebench::baseline::load_run(&out.paths.json).unwrap();
    let read = back.points[0].summary.spec_decode.as_ref().unwrap();
    assert_eq!(read.requests, spec.requests);
    assert!((read.acceptance_rate.mean.unwrap() - rate).abs() < 1e-12);
    // The CSV: the acceptance columns, after mean_reasoning_tokens.
    let csv = std::fs::read_to_string(&out.paths.csv).unwrap();
    let mut rdr = csv::Reader::from_reader(csv.as_bytes());
    let head = rdr.headers().unwrap().clone();
    let row = rdr.records().next().unwrap().unwrap();
    let cell = |name: &str| -> f64 {
        let i = head.iter().position(|h| h == name).expect(name);
        row[i].parse().unwrap()
    };
    assert!((cell("spec_accept_rate_mean") - rate).abs() < 1e-3);
    assert!((cell("spec_accept_rate_p90") - a.p(90.0).unwrap()).abs() < 1e-3);
    assert!((cell("spec_tokens_per_step_mean") - tps).abs() < 1e-3);
    for name in [
        "spec_accept_rate_p99",
        "spec_accept_rate_max",
        "spec_accept_rate_min",
    ] {
        cell(name);
    }
    // The note in the report.
    let note = p.spec_decode_note().unwrap();
    assert!(
        note.contains("acceptance rate (3 draft tokens a step)"),
        "{note}"
    );
    assert!(out.run.notes().contains(&note));
    let md = std::fs::read_to_string(&out.paths.markdown).unwrap();
    assert!(md.contains("acceptance rate"), "not in the Markdown report");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_spec_decode_nothing_changes() {
    let (server, _, _) = common::sim::start("time_scale=0.2,seed=3").await;
    let dir = tempfile::tempdir().unwrap();
    let a = StaticArgs {
        dataset: Default::default(),
        endpoint: EndpointArgs {
            url: Some(server.base_url()),
            ..EndpointArgs::default()
        },
        sweep: StaticSweepArgs {
            epochs: 1,
            parallel_num: vec![2],
            prompt_tokens: vec![16],
            output_tokens: vec![16],
            warmup: Some(1),
            ..StaticSweepArgs::default()
        },
        benchmark_csv: None,
        common: CommonArgs::in_dir(dir.path()),
    };
    let out = run_static_cmd(&a).await.unwrap();
    assert!(out.run.meta.spec_decode.is_none());
    assert!(out.run.points[0].summary.spec_decode.is_none());
    let csv = std::fs::read_to_string(&out.paths.csv).unwrap();
    assert!(!csv.lines().next().unwrap().contains("spec_"));
}

#[test]
fn the_cli_runs_it_against_the_embedded_simulator_with_the_seed_columns() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("benchmark_parallel.csv");
    let sim = format!("time_scale=0.2,spec_tokens={K},spec_accept={P},seed=4");
    let out = Command::new(env!("CARGO_BIN_EXE_servebench"))
        .args(["static", "--use-spec-decode", "--num-speculative-tokens"])
        .arg(K.to_string())
        .args([
            "--sim",
            &sim,
            "--parallel-num",
            "2",
            "--prompt-tokens",
            "16",
        ])
        .args([
            "--output-tokens",
            "128",
            "--epochs",
            "2",
            "--csv-format",
            "seed-n",
        ])
        .args(["--quiet", "--noplot", "--output-dir"])
        .arg(dir.path())
        .arg("--benchmark-csv")
        .arg(&seed)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&seed).unwrap();
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let head = rdr.headers().unwrap().clone();
    let n = head.len();
    let tail: Vec<&str> = head.iter().skip(n - 5).collect();
    assert_eq!(
        tail,
        [
            "TP90_SPEC_ACCEPT_RATE",
            "TP99_SPEC_ACCEPT_RATE",
            "MAX_SPEC_ACCEPT_RATE",
            "MIN_SPEC_ACCEPT_RATE",
            "AVG_SPEC_ACCEPT_RATE"
        ]
    );
    let row = rdr.records().next().unwrap().unwrap();
    assert_eq!(row.len(), n);
    let mean: f64 = row[n - 1].parse().unwrap();
    // 4 requests of about 58 steps: a wide band, still far from the wrong
    // formulas' 0.29 and 0.54.
    assert!((mean - expected_rate()).abs() < 0.08, "{mean}");
    // The simulator's flags are known to its own command too.
    let mut cfg = SimConfig::default();
    cfg.apply_kv(&sim).unwrap();
    assert_eq!(cfg.spec_tokens, K as usize);
}

/// The same figures through the run engine with the endpoint's
/// `spec_decode` set, as `Configure::spec_decode` sets it for a benchmark
/// in `benches/` (and any command built on `run_plan`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_endpoint_setting_brings_the_figures_to_any_run() {
    use servebench::run::{run_plan, Output, Plan, StaticSweep, Sweep, TargetSpec};
    let spec = TargetSpec {
        sim: Some(format!(
            "time_scale=0.3,spec_tokens={K},spec_accept={P},seed=5"
        )),
        spec_decode: Some(servebench::backend::SpecDecode {
            num_speculative_tokens: Some(K),
        }),
        ..TargetSpec::default()
    };
    let plan = Plan {
        epochs: 2,
        warmup: Some(0),
        ..Plan::new(
            "spec",
            Sweep::Static(StaticSweep {
                requests_per_worker: 3,
                ..StaticSweep::new(vec![(32, 192)], vec![4])
            }),
        )
    };
    let run = run_plan(&spec, &plan, &Output::quiet()).await.unwrap();
    let s = run.points[0].summary.spec_decode.as_ref().expect("figures");
    let mean = s.acceptance_rate.mean.unwrap();
    assert!(
        (mean - expected_rate()).abs() < 0.05,
        "mean acceptance {mean:.3}, the simulator's {:.3}",
        expected_rate()
    );
    assert_eq!(
        run.meta.spec_decode.unwrap().num_speculative_tokens,
        Some(K)
    );
}
