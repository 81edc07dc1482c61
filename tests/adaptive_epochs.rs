//! Adaptive epochs (`--target-mde`, `--max-epochs`) against the embedded
//! simulator: a point adds epochs after its planned ones exactly until every
//! gated metric's projected MDE is within the target, or until the cap, and
//! the run's notes say which.

use servebench::analysis::MetricId;
use servebench::bench::{BenchArgs, Configure, Harness, Settings, StaticSweep};
use servebench::cli::{
    run_serving_cmd, run_static_cmd, CommonArgs, EndpointArgs, PrecisionArgs, ServingArgs,
    ServingSweepArgs, StaticArgs, StaticSweepArgs,
};
use servebench::metrics::{PointData, Rate, RunData, Slo, DEFAULT_PERCENTILES};
use servebench::run::projected_mde;

/// One closed-loop point with step jitter, so that epochs differ.
const SIM: &str = "time_scale=0.2,jitter=0.05,seed=3";

async fn static_run(dir: &std::path::Path, target: f64, epochs: u32, max: u32) -> RunData {
    let a = StaticArgs {
        dataset: Default::default(),
        endpoint: EndpointArgs {
            sim: Some(SIM.into()),
            ..EndpointArgs::default()
        },
        sweep: StaticSweepArgs {
            epochs,
            parallel_num: vec![2],
            prompt_tokens: vec![32],
            output_tokens: vec![8],
            warmup: Some(1),
            requests_per_worker: 8,
            precision: PrecisionArgs {
                target_mde: Some(target),
                max_epochs: Some(max),
            },
            ..StaticSweepArgs::default()
        },
        benchmark_csv: None,
        common: CommonArgs::in_dir(dir),
    };
    run_static_cmd(&a).await.unwrap().run
}

/// The largest projected MDE of the gated metrics over the first `n`
/// epochs of `p` (infinite when unknown).
fn worst_mde(p: &PointData, n: usize) -> f64 {
    let part = PointData::new(
        p.label.clone(),
        p.epochs[..n].to_vec(),
        &DEFAULT_PERCENTILES,
        &Slo::default(),
    );
    projected_mde(&part, &MetricId::DEFAULT_GATED, 0.05)
        .into_iter()
        .map(|(_, m)| m.unwrap_or(f64::INFINITY))
        .fold(0.0, f64::max)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_point_stops_at_the_first_epoch_that_meets_the_target() {
    let dir = tempfile::tempdir().unwrap();
    // A target between what 3 epochs give and what many give: whatever the
    // machine's noise, the rule must stop exactly where it is first met.
    let run = static_run(dir.path(), 0.08, 3, 12).await;
    let p = &run.points[0];
    let n = p.epochs.len();
    println!("stopped after {n} epochs: {:?}", run.meta.notes);
    assert!((3..=12).contains(&n), "{n} epochs");
    let note = run
        .meta
        .notes
        .iter()
        .find(|n| n.contains("target MDE") || n.contains("within the target"))
        .unwrap_or_else(|| panic!("no stop note in {:?}", run.meta.notes));
    // Met at the cap itself counts as met (the note then says so).
    if n < 12 || worst_mde(p, n) <= 0.08 {
        assert!(worst_mde(p, n) <= 0.08, "stopped at {n} above the target");
        assert!(
            note.contains(&format!("stopped after {n} epochs")),
            "{note}"
        );
        assert!(note.contains("within the target 8.0 %"), "{note}");
    } else {
        assert!(note.contains("--max-epochs 12"), "{note}");
    }
    for k in 3..n {
        assert!(
            worst_mde(p, k) > 0.08,
            "the target was met at {k} epochs, yet the run went on to {n}"
        );
    }
    // The saved run (run.json) holds every epoch, and the epoch indices of
    // the added ones follow the planned ones.
    let saved = servebench::baseline::load_run(&dir.path().join("static/new/run.json")).unwrap();
    assert_eq!(saved.points[0].epochs.len(), n);
    let idx: Vec<u32> = p.epochs.iter().map(|e| e[0].epoch).collect();
    assert_eq!(idx, (0..n as u32).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_target_stops_at_the_cap_and_an_easy_one_at_once() {
    let dir = tempfile::tempdir().unwrap();
    // 0.01 % is out of reach of a jittered simulator.
    let run = static_run(dir.path(), 0.0001, 2, 5).await;
    assert_eq!(run.points[0].epochs.len(), 5);
    assert!(
        run.meta.notes.iter().any(|n| n.contains("--max-epochs 5")),
        "{:?}",
        run.meta.notes
    );
    // 90 % is met by the planned epochs on any but a very noisy machine:
    // nothing added then. Either way the point stops at the first epoch
    // (from the planned 3) whose projected MDE is within the target.
    let dir = tempfile::tempdir().unwrap();
    let run = static_run(dir.path(), 0.9, 3, 10).await;
    let p = &run.points[0];
    let n = p.epochs.len();
    let first_met = (3..=n).find(|&k| k == 10 || worst_mde(p, k) <= 0.9);
    assert_eq!(first_met, Some(n), "{:?}", run.meta.notes);
    if n < 10 {
        assert!(
            run.meta
                .notes
                .iter()
                .any(|x| x.contains(&format!("stopped after {n} epochs"))),
            "{:?}",
            run.meta.notes
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dynamic_sweep_adds_epochs_too() {
    let dir = tempfile::tempdir().unwrap();
    let a = ServingArgs {
        endpoint: EndpointArgs {
            sim: Some(SIM.into()),
            ..EndpointArgs::default()
        },
        sweep: ServingSweepArgs {
            random_input_len: 32,
            random_output_len: 8,
            request_rate: vec![Rate(100.0)],
            num_prompts: vec![6],
            ..ServingSweepArgs::default()
        },
        epochs: 2,
        warmup: None,
        precision: PrecisionArgs {
            target_mde: Some(0.0001),
            max_epochs: Some(4),
        },
        benchmark_csv: None,
        common: CommonArgs::in_dir(dir.path()),
    };
    let run = run_serving_cmd(&a).await.unwrap().run;
    let p = &run.points[0];
    assert_eq!(p.epochs.len(), 4);
    assert!(
        p.epochs.iter().all(|e| e.len() == 6),
        "each added epoch is a whole one"
    );
    assert!(run.meta.notes.iter().any(|n| n.contains("--max-epochs 4")));
}

#[test]
fn the_bench_harness_takes_the_setting_and_the_flags() {
    let dir = tempfile::tempdir().unwrap();
    // From the code: a target out of reach, capped at 4.
    let args = BenchArgs::parse(["--bench", "--quiet", "--discard-baseline"]).unwrap();
    let mut h = Harness::new(args);
    h.report_dir(dir.path()).env_lookup(|_| None);
    h.group("g")
        .settings(Settings::new().sim(SIM).target_mde(0.0001).max_epochs(4))
        .bench(
            StaticSweep::new("s")
                .pair(32, 8)
                .concurrencies([1])
                .requests_per_worker(4)
                .epochs(3)
                .warmup(0),
        );
    let o = h.run();
    assert_eq!(o.exit_code(), 0, "{:?}", o.errors().collect::<Vec<_>>());
    let run = o.benches[0].run.as_ref().unwrap();
    assert_eq!(run.points[0].epochs.len(), 4);
    // The flags beat the code: the flag's target is the one judged and the
    // flag's cap (3, the planned epochs) is the one that stops the point.
    // (Whether a loose target is met at 3 epochs depends on the machine's
    // noise, so the test reads which target and cap were applied.)
    let args = BenchArgs::parse([
        "--bench",
        "--quiet",
        "--discard-baseline",
        "--target-mde",
        "90%",
        "--max-epochs",
        "3",
    ])
    .unwrap();
    let mut h = Harness::new(args);
    h.report_dir(dir.path()).env_lookup(|_| None);
    h.group("g")
        .settings(Settings::new().sim(SIM).target_mde(0.0001).max_epochs(4))
        .bench(
            StaticSweep::new("s")
                .pair(32, 8)
                .concurrencies([1])
                .requests_per_worker(4)
                .epochs(3)
                .warmup(0),
        );
    let o = h.run();
    assert_eq!(o.exit_code(), 0);
    let run = o.benches[0].run.as_ref().unwrap();
    assert_eq!(run.points[0].epochs.len(), 3);
    assert!(
        run.meta.notes.iter().any(|n| n.contains("90.0 %")),
        "the flag's target is the one judged: {:?}",
        run.meta.notes
    );
    // A cap below the planned epochs is refused before any load.
    let args = BenchArgs::parse([
        "--bench",
        "--quiet",
        "--target-mde",
        "5%",
        "--max-epochs",
        "3",
    ])
    .unwrap();
    let mut h = Harness::new(args);
    h.report_dir(dir.path()).env_lookup(|_| None);
    h.bench(
        StaticSweep::new("t")
            .pair(32, 8)
            .concurrencies([1])
            .epochs(5),
    );
    let o = h.run();
    assert_ne!(o.exit_code(), 0);
    let errs: Vec<String> = o.errors().map(|(_, e)| e.to_string()).collect();
    assert!(
        errs.iter()
            .any(|e| e.contains("--max-epochs") && e.contains("3 is below the 5 epochs")),
        "{errs:?}"
    );
}
