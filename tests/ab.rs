//! `servebench ab`: an interleaved A/B of two endpoints, judged with paired
//! statistics, against embedded simulators and a separately started
//! `servebench sim`.

mod common {
    pub mod sim;
}
use common::sim::SimProcess;
use std::process::Command;

use servebench::analysis::{MetricId, GATE_FAILED, GATE_INCONCLUSIVE};
use servebench::baseline::{load_run, COMPARISON_FILE};
use servebench::cli::{run_ab_cmd, AbArgs, CommonArgs, EndpointArgs, JudgeArgs, StaticSweepArgs};
use servebench::run::a_first;
use servebench::stats::{TestMethod, Verdict};

fn args(dir: &std::path::Path, a: &str, b: &str, pairs: u32, judge: JudgeArgs) -> AbArgs {
    AbArgs {
        a: a.into(),
        b: b.into(),
        endpoint: EndpointArgs::default(),
        sweep: StaticSweepArgs {
            epochs: pairs,
            parallel_num: vec![4],
            prompt_tokens: vec![128],
            output_tokens: vec![32],
            warmup: Some(2),
            requests_per_worker: 4,
            ..StaticSweepArgs::default()
        },
        judge,
        common: CommonArgs {
            quiet: true,
            ..CommonArgs::in_dir(dir)
        },
    }
}

/// The timed tests one at a time: two of them side by side on 2 cores
/// would measure each other.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn gate() -> JudgeArgs {
    JudgeArgs {
        gate: true,
        color: "never".into(),
        ..JudgeArgs::default()
    }
}

#[test]
fn pairs_alternate_abba() {
    let order: String = (0..6)
        .map(|k| if a_first(k) { "AB" } else { "BA" })
        .collect();
    assert_eq!(order, "ABBAABBAABBA");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slower_b_fails_the_gate_with_paired_statistics() {
    let _one = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let out = run_ab_cmd(&args(
        dir.path(),
        "sim:time_scale=0.2,jitter=0.02,seed=1",
        "sim:time_scale=0.25,jitter=0.02,seed=1",
        6,
        gate(),
    ))
    .await
    .unwrap();
    assert_eq!(out.gate_code, GATE_FAILED);
    for side in [&out.a, &out.b] {
        let p = &side.points[0];
        assert_eq!(p.epochs.len(), 6);
        assert!(p
            .epochs
            .iter()
            .all(|e| e.len() == 16 && e.iter().all(|r| r.ok())));
    }
    let tpot = out
        .comparison
        .metrics
        .iter()
        .find(|m| m.metric == MetricId::TpotP50)
        .unwrap();
    let c = &tpot.comparison;
    assert_eq!(c.test, TestMethod::PairedLogT);
    assert_eq!(
        c.verdict,
        Verdict::Regressed,
        "{} {:?} {:?}",
        c.explain(),
        tpot.base_figure,
        tpot.new_figure
    );
    // Every step of B takes 25 % longer: TPOT is 25 % higher (less on a
    // busy machine, where late wake-ups add the same to both sides).
    assert!(
        (0.15..=0.35).contains(&c.rel_change),
        "tpot change {}",
        c.rel_change
    );
    // Both runs and the comparison are saved.
    let saved = load_run(&out.dir.join("b/run.json")).unwrap();
    assert_eq!(saved.points[0].epochs.len(), 6);
    assert!(out.dir.join("a/run.json").is_file());
    assert!(out.dir.join(COMPARISON_FILE).is_file());
    assert!(!out.dir.join("new").exists(), "no empty run folder");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_a_a_never_fails_the_gate() {
    let _one = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let sim = "sim:time_scale=0.2,jitter=0.02,seed=4";
    // A 10 % threshold: one A/A trial, not a rate (the rate is in
    // stats::calibration::paired_ab_intervals_cover_under_shared_drift).
    let judge = JudgeArgs {
        noise_threshold: Some(0.1),
        ..gate()
    };
    let out = run_ab_cmd(&args(dir.path(), sim, sim, 4, judge))
        .await
        .unwrap();
    assert!(
        out.gate_code == 0 || out.gate_code == GATE_INCONCLUSIVE,
        "{:?}",
        out.comparison.regressions().collect::<Vec<_>>()
    );
    assert_eq!(out.comparison.regressions().count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_sides_and_too_few_pairs_are_refused_before_any_load() {
    let dir = tempfile::tempdir().unwrap();
    let sim = "sim:time_scale=0.2";
    for (a, b, pairs, needle) in [
        ("nope", sim, 4, "--a"),
        (sim, "ftp://x", 4, "--b"),
        (sim, sim, 2, "--epochs"),
    ] {
        let e = run_ab_cmd(&args(dir.path(), a, b, pairs, gate()))
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains(needle), "{e}");
    }
    let mut with_url = args(dir.path(), sim, sim, 4, gate());
    with_url.endpoint.url = Some("http://127.0.0.1:1".into());
    let e = run_ab_cmd(&with_url).await.unwrap_err().to_string();
    assert!(e.contains("--a and --b"), "{e}");
    assert!(!dir.path().join("ab").exists(), "nothing written");
}

#[test]
fn the_binary_against_a_separate_simulator() {
    let _one = SERIAL.blocking_lock();
    let sim = SimProcess::start("time_scale=0.2,jitter=0.02,seed=2");
    let dir = tempfile::tempdir().unwrap();
    // B: an embedded simulator 25 % slower than the process A.
    let out = Command::new(env!("CARGO_BIN_EXE_servebench"))
        .args([
            "ab",
            "--a",
            &sim.url,
            "--b",
            "sim:time_scale=0.25,jitter=0.02,seed=2",
        ])
        .args([
            "--epochs",
            "4",
            "--parallel-num",
            "2",
            "--prompt-tokens",
            "64",
        ])
        .args([
            "--output-tokens",
            "16",
            "--requests-per-worker",
            "4",
            "--gate",
        ])
        .args(["--color", "never", "--output-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(GATE_FAILED),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("paired, ABBA"), "{text}");
    assert!(text.contains("gate: FAILED"), "{text}");
}

#[test]
fn a_benchmark_with_an_ab_setting_is_judged_paired_and_gated() {
    use servebench::bench::{BenchArgs, Configure, Harness, Settings, StaticSweep};
    let _one = SERIAL.blocking_lock();
    let dir = tempfile::tempdir().unwrap();
    let harness = |args: &[&str], b: Option<&str>| {
        let mut h = Harness::new(BenchArgs::parse(args.iter().copied()).unwrap());
        h.report_dir(dir.path()).env_lookup(|_| None);
        let mut s = Settings::new().sim("time_scale=0.2,jitter=0.02,seed=1");
        if let Some(b) = b {
            s = s.ab(b);
        }
        h.group("g").settings(s).bench(
            StaticSweep::new("s")
                .pair(128, 32)
                .concurrencies([4])
                .requests_per_worker(4)
                .epochs(6)
                .warmup(2),
        );
        h
    };
    // From the code: B 25 % slower fails the gate.
    let o = harness(
        &["--bench", "--quiet", "--gate"],
        Some("sim:time_scale=0.25,jitter=0.02,seed=1"),
    )
    .run();
    assert_eq!(
        o.exit_code(),
        GATE_FAILED,
        "{:?}",
        o.errors().collect::<Vec<_>>()
    );
    let b = &o.benches[0];
    let cmp = b.comparison.as_ref().unwrap();
    assert_eq!(cmp.baseline, "A");
    assert!(cmp
        .metrics
        .iter()
        .all(|m| m.comparison.test == TestMethod::PairedLogT));
    assert_eq!(b.run.as_ref().unwrap().points[0].epochs.len(), 6);
    // B's run is saved as the benchmark's new run, with the comparison.
    assert!(dir.path().join("g/s/new/run.json").is_file());
    assert!(dir.path().join("g/s/new").join(COMPARISON_FILE).is_file());
    // The flag, on a benchmark without the setting; a baseline flag with it
    // is refused.
    let o = harness(
        &[
            "--bench",
            "--quiet",
            "--ab",
            "sim:time_scale=0.25,jitter=0.02,seed=1",
        ],
        None,
    )
    .run();
    assert_eq!(o.exit_code(), 0);
    assert!(o.benches[0].comparison.is_some());
    let e = BenchArgs::parse(["--bench", "--ab", "sim:", "--baseline", "main"])
        .unwrap_err()
        .to_string();
    assert!(e.contains("--ab") && e.contains("--baseline"), "{e}");
}
