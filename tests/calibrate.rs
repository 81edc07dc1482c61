//! `servebench calibrate` and `cargo bench -- --calibrate` against the
//! embedded simulator: the saved noise is the epoch figures' relative
//! spread, the recommendation follows from it, later runs without
//! `--epochs` take it, and bad input is refused before any load.

mod common {
    pub mod sim;
}
use common::sim::SimProcess;
use std::process::Command;

use servebench::analysis::{epochs_for, mde_for, MetricId};
use servebench::baseline::{load_calibration, load_run, CALIBRATION_FILE};
use servebench::bench::{BenchArgs, Configure, Harness, Settings, StaticSweep};
use servebench::cli::{
    run_calibrate_cmd, run_static_cmd, CalibrateArgs, CliError, CommonArgs, EndpointArgs,
    PrecisionArgs, StaticArgs, StaticSweepArgs,
};

const SIM: &str = "time_scale=0.2,jitter=0.03,seed=11";

fn sweep(epochs: u32, target: Option<f64>) -> StaticSweepArgs {
    StaticSweepArgs {
        epochs,
        parallel_num: vec![2],
        prompt_tokens: vec![64],
        output_tokens: vec![8],
        warmup: Some(1),
        requests_per_worker: 4,
        precision: PrecisionArgs {
            target_mde: target,
            max_epochs: None,
        },
        ..StaticSweepArgs::default()
    }
}

fn endpoint() -> EndpointArgs {
    EndpointArgs {
        sim: Some(SIM.into()),
        ..EndpointArgs::default()
    }
}

fn relative_sd(x: &[f64]) -> f64 {
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    (x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt() / m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calibrate_saves_noise_and_epochs_that_later_runs_use() {
    let dir = tempfile::tempdir().unwrap();
    let a = CalibrateArgs {
        endpoint: endpoint(),
        sweep: sweep(6, Some(0.5)),
        common: CommonArgs::in_dir(dir.path()),
    };
    let out = run_calibrate_cmd(&a).await.unwrap();
    assert_eq!(out.path, dir.path().join("static").join(CALIBRATION_FILE));
    let c = load_calibration(&dir.path().join("static"))
        .unwrap()
        .unwrap();
    // What was saved is what was computed (JSON floats to the last digit).
    assert_eq!(c.recommended_epochs, out.calibration.recommended_epochs);
    for (a, b) in c.points[0]
        .metrics
        .iter()
        .zip(&out.calibration.points[0].metrics)
    {
        assert_eq!((a.metric, a.epochs_needed), (b.metric, b.epochs_needed));
        assert!((a.noise.unwrap() - b.noise.unwrap()).abs() < 1e-12);
    }
    assert_eq!(c.target_mde, 0.5);
    // The A/A run itself sits apart, not in the static run's folder.
    let run = load_run(&dir.path().join("static-calibration/new/run.json")).unwrap();
    assert!(!dir.path().join("static/new/run.json").exists());
    let p = &run.points[0];
    assert_eq!(p.epochs.len(), 6);
    let pc = &c.points[0];
    assert_eq!(pc.point, p.label.id());
    assert_eq!(pc.metrics.len(), MetricId::DEFAULT_GATED.len());
    let mut most = 3;
    for m in &pc.metrics {
        // The noise is the relative sd of the epoch figures a comparison uses.
        let want = relative_sd(&m.metric.epoch_figures(p));
        let got = m.noise.unwrap();
        assert!(
            (got - want).abs() < 1e-12,
            "{}: {got} vs {want}",
            m.metric.name()
        );
        for &(n, mde) in &m.mde_at {
            assert!((mde - mde_for(got, n, 0.05)).abs() < 1e-12);
        }
        assert_eq!(m.epochs_needed, epochs_for(got, 0.5, 0.05, c.max_epochs));
        most = most.max(m.epochs_needed.unwrap_or(u32::MAX));
    }
    assert_eq!(c.recommended_epochs, (most != u32::MAX).then_some(most));

    // A later static run of that name without --epochs runs what the
    // calibration recommends, and says so; with --epochs it runs those.
    let later = |explicit: bool| StaticArgs {
        dataset: Default::default(),
        endpoint: endpoint(),
        sweep: StaticSweepArgs {
            epochs_explicit: explicit,
            ..sweep(2, None)
        },
        benchmark_csv: None,
        common: CommonArgs {
            quiet: true,
            ..CommonArgs::in_dir(dir.path())
        },
    };
    let r = run_static_cmd(&later(false)).await.unwrap().run;
    assert_eq!(r.points[0].epochs.len() as u32, c.epochs_to_use());
    assert!(
        r.meta.notes.iter().any(|n| n.contains("as calibrated in")),
        "{:?}",
        r.meta.notes
    );
    let r = run_static_cmd(&later(true)).await.unwrap().run;
    assert_eq!(r.points[0].epochs.len(), 2);

    // A calibration file that is not one is refused before any load.
    std::fs::write(
        dir.path().join("static").join(CALIBRATION_FILE),
        "{\"format\":1}",
    )
    .unwrap();
    let e = run_static_cmd(&later(false)).await.unwrap_err();
    assert!(matches!(e, CliError::BadFlag { .. }), "{e}");
    assert!(e.to_string().contains(CALIBRATION_FILE), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_few_calibration_epochs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let a = CalibrateArgs {
        endpoint: endpoint(),
        sweep: sweep(3, None),
        common: CommonArgs::in_dir(dir.path()),
    };
    let e = run_calibrate_cmd(&a).await.unwrap_err();
    assert!(e.to_string().contains("--epochs"), "{e}");
    assert!(!dir
        .path()
        .join("static-calibration/new/records.jsonl")
        .exists());
}

/// The binary: `--epochs` left at its default is what lets a calibration
/// choose (clap's value source), given on the command line it wins.
#[test]
fn the_binary_takes_calibrated_epochs_only_without_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_servebench");
    let common = [
        "--parallel-num",
        "1",
        "--prompt-tokens",
        "32",
        "--output-tokens",
        "4",
        "--sim",
        SIM,
        "--quiet",
        "--output-dir",
    ];
    let run = |extra: &[&str]| {
        let out = Command::new(bin)
            .args(extra)
            .args(common)
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{extra:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&["calibrate", "--epochs", "4", "--target-mde", "90%"]);
    let c = load_calibration(&dir.path().join("static"))
        .unwrap()
        .unwrap();
    let epochs = || {
        load_run(&dir.path().join("static/new/run.json"))
            .unwrap()
            .points[0]
            .epochs
            .len() as u32
    };
    let calibrated_note = || {
        load_run(&dir.path().join("static/new/run.json"))
            .unwrap()
            .meta
            .notes
            .iter()
            .any(|n| n.contains("as calibrated in"))
    };
    run(&["static"]);
    assert_eq!(epochs(), c.epochs_to_use());
    assert!(calibrated_note(), "the run says it took the calibration");
    // Given on the command line, --epochs wins (a count the calibration
    // did not choose, whatever the machine's noise made it choose).
    let explicit = if c.epochs_to_use() == 6 { 7 } else { 6 };
    run(&["static", "--epochs", &explicit.to_string()]);
    assert_eq!(epochs(), explicit);
    assert!(!calibrated_note(), "an explicit --epochs ignores it");
}

#[test]
fn cargo_bench_calibrate_saves_per_benchmark_and_later_runs_use_it() {
    let dir = tempfile::tempdir().unwrap();
    // The code's target MDE is the calibration's target (and, on later
    // runs, the adaptive rule's: left out there to see the epochs alone).
    let harness = |args: &[&str], target: Option<f64>| {
        let mut h = Harness::new(BenchArgs::parse(args.iter().copied()).unwrap());
        h.report_dir(dir.path()).env_lookup(|_| None);
        let mut s = Settings::new().sim(SIM);
        if let Some(t) = target {
            s = s.target_mde(t);
        }
        h.group("g").settings(s).bench(
            StaticSweep::new("s")
                .pair(32, 4)
                .concurrencies([1])
                .epochs(7)
                .warmup(0),
        );
        h
    };
    let o = harness(
        &["--bench", "--quiet", "--calibrate", "--epochs", "5"],
        Some(0.9),
    )
    .run();
    assert_eq!(o.exit_code(), 0, "{:?}", o.errors().collect::<Vec<_>>());
    assert_eq!(o.benches[0].run.as_ref().unwrap().points[0].epochs.len(), 5);
    let c = load_calibration(&dir.path().join("g/s")).unwrap().unwrap();
    assert_eq!(c.target_mde, 0.9, "the code's target");
    // Calibrating saved no run.
    assert!(!dir.path().join("g/s/new/run.json").exists());
    // The next run takes the calibrated epochs over the code's 7.
    let o = harness(&["--bench", "--quiet", "--discard-baseline"], None).run();
    assert_eq!(o.exit_code(), 0, "{:?}", o.errors().collect::<Vec<_>>());
    let run = o.benches[0].run.as_ref().unwrap();
    assert_eq!(run.points[0].epochs.len() as u32, c.epochs_to_use());
    assert!(run
        .meta
        .notes
        .iter()
        .any(|n| n.contains("as calibrated in")));
    // --calibrate measures only: it refuses the flags that save or judge.
    for other in ["--gate", "--save-baseline"] {
        let mut args = vec!["--bench", "--calibrate", other];
        if other == "--save-baseline" {
            args.push("main");
        }
        let e = BenchArgs::parse(args).unwrap_err().to_string();
        assert!(e.contains("--calibrate") && e.contains(other), "{e}");
    }
}

/// Against a separately started `servebench sim`: calibrate, then a static
/// run without --epochs takes the calibration, and --target-mde adds epochs.
#[test]
fn calibrate_and_target_mde_against_a_separate_simulator() {
    let sim = SimProcess::start(SIM);
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().to_str().unwrap();
    let base = [
        "--url",
        sim.url.as_str(),
        "--parallel-num",
        "2",
        "--prompt-tokens",
        "32",
        "--output-tokens",
        "4",
        "--requests-per-worker",
        "2",
        "--quiet",
        "--output-dir",
        out_dir,
    ];
    let run = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_servebench"))
            .args(extra)
            .args(base)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{extra:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&["calibrate", "--epochs", "5", "--target-mde", "80%"]);
    let c = load_calibration(&dir.path().join("static"))
        .unwrap()
        .unwrap();
    assert_eq!(
        c.base_url.trim_end_matches('/'),
        sim.url.trim_end_matches('/')
    );
    run(&["static"]);
    let r = load_run(&dir.path().join("static/new/run.json")).unwrap();
    assert_eq!(r.points[0].epochs.len() as u32, c.epochs_to_use());
    // An unreachable target runs to the cap and says so.
    run(&[
        "static",
        "--epochs",
        "2",
        "--target-mde",
        "0.01%",
        "--max-epochs",
        "4",
    ]);
    let r = load_run(&dir.path().join("static/new/run.json")).unwrap();
    assert_eq!(r.points[0].epochs.len(), 4);
    assert!(r.meta.notes.iter().any(|n| n.contains("--max-epochs 4")));
}
