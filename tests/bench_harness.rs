//! The bench harness: flags, selection, and a save-then-compare round trip
//! against the embedded simulator, all in a temporary report folder.

use servebench::analysis::MetricId;
use servebench::baseline::{load_run, ReportDir};
use servebench::bench::{BenchArgs, ColorChoice, Configure, DynamicSweep, Harness, StaticSweep};

fn parse(args: &[&str]) -> BenchArgs {
    BenchArgs::parse(args.iter().copied()).unwrap()
}

fn parse_err(args: &[&str]) -> String {
    BenchArgs::parse(args.iter().copied())
        .unwrap_err()
        .to_string()
}

#[test]
fn every_flag_parses() {
    let a = parse(&[
        "--bench",
        "--save-baseline",
        "pr",
        "--baseline=main",
        "--noise-threshold",
        "0.05",
        "--confidence-level=0.9",
        "--significance-level",
        "0.01",
        "--nresamples",
        "500",
        "--color",
        "never",
        "--gate",
        "--gate-metrics",
        "tpot_p50,ttft_p99",
        "--epochs",
        "7",
        "--warmup",
        "0",
        "--quick",
        "--noplot",
        "--exact",
        "--report-dir",
        "/tmp/r",
        "--url",
        "http://h:1",
        "--backend",
        "openai-chat",
        "--model",
        "m",
        "--api-key-env",
        "KEY",
        "--sim",
        "seed=3",
        "--tokenizer",
        "tok.json",
        "--quiet",
        "static/short",
    ]);
    assert!(a.bench && a.gate && a.quick && a.noplot && a.exact && a.quiet);
    assert!(!a.smoke());
    assert_eq!(a.save_baseline.as_deref(), Some("pr"));
    assert_eq!(a.baseline.as_deref(), Some("main"));
    assert_eq!(a.noise_threshold, Some(0.05));
    assert_eq!(a.confidence_level, Some(0.9));
    assert_eq!(a.significance_level, Some(0.01));
    assert_eq!(a.nresamples, Some(500));
    assert_eq!(a.color, ColorChoice::Never);
    assert_eq!(
        a.gate_metrics,
        Some(vec![MetricId::TpotP50, MetricId::TtftP99])
    );
    assert_eq!((a.epochs, a.warmup), (Some(7), Some(0)));
    assert_eq!(
        a.report_dir.as_deref(),
        Some(std::path::Path::new("/tmp/r"))
    );
    assert_eq!(a.endpoint.url.as_deref(), Some("http://h:1"));
    assert_eq!(a.endpoint.backend.as_deref(), Some("openai-chat"));
    assert_eq!(a.endpoint.model.as_deref(), Some("m"));
    assert_eq!(a.endpoint.api_key_env.as_deref(), Some("KEY"));
    assert_eq!(a.endpoint.sim.as_deref(), Some("seed=3"));
    assert_eq!(a.filters, ["static/short"]);

    let a = parse(&["--load-baseline", "main", "--baseline", "pr", "--list"]);
    assert_eq!(a.load_baseline.as_deref(), Some("main"));
    assert!(a.list && a.smoke());
    let a = parse(&[
        "--discard-baseline",
        "--color=always",
        "--baseline-lenient",
        "main",
    ]);
    assert!(a.discard_baseline && a.baseline_lenient);
    assert_eq!(a.baseline.as_deref(), Some("main"));
    assert_eq!(a.color, ColorChoice::Always);
    // The modifier form: --baseline NAME --baseline-lenient.
    let a = parse(&["--baseline", "main", "--baseline-lenient", "--bench"]);
    assert!(a.baseline_lenient && a.bench);
    // libtest flags cargo or IDEs pass are accepted.
    parse(&[
        "--nocapture",
        "--format",
        "terse",
        "--test-threads",
        "1",
        "--help",
    ]);
}

#[test]
fn bad_flags_name_themselves() {
    for (args, flag) in [
        (&["--frobnicate"][..], "--frobnicate"),
        (&["--sample-size", "10"][..], "--sample-size"),
        (&["--baseline"][..], "--baseline"),
        (&["--baseline", "../x"][..], "--baseline"),
        (&["--save-baseline", "new"][..], "--save-baseline"),
        (&["--noise-threshold", "-1"][..], "--noise-threshold"),
        (&["--confidence-level", "1.5"][..], "--confidence-level"),
        (&["--significance-level", "0"][..], "--significance-level"),
        (&["--nresamples", "0"][..], "--nresamples"),
        (&["--color", "purple"][..], "--color"),
        (&["--epochs", "0"][..], "--epochs"),
        (&["--gate-metrics", "speed"][..], "--gate-metrics"),
        (&["--baseline-lenient"][..], "--baseline-lenient"),
        (
            &["--save-baseline", "a", "--discard-baseline"][..],
            "--discard-baseline",
        ),
    ] {
        let e = parse_err(args);
        assert!(e.starts_with(flag), "{args:?}: {e}");
    }
}

fn sim_harness(args: &[&str], dir: &std::path::Path) -> Harness {
    let mut h = Harness::new(parse(args));
    h.report_dir(dir).env_lookup(|_| None);
    h
}

fn register(h: &mut Harness) {
    h.group("static")
        .settings(servebench::bench::Settings::new().sim("time_scale=0.1,jitter=0.02,seed=1"))
        .bench(
            StaticSweep::new("a")
                .pair(32, 8)
                .concurrencies([1])
                .epochs(3)
                .warmup(0),
        )
        .bench(
            StaticSweep::new("ab")
                .pair(32, 8)
                .concurrencies([2])
                .param("x y"),
        );
    h.bench(
        DynamicSweep::new("dyn")
            .rates([50.0])
            .num_prompts(3)
            .lengths(16, 4),
    );
}

#[test]
fn filters_list_and_exact() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = sim_harness(&[], dir.path());
    register(&mut h);
    assert_eq!(h.ids(), ["static/a", "static/ab/x_y", "dyn"]);
    assert_eq!(h.selected().len(), 3);
    let mut h = sim_harness(&["static/a"], dir.path());
    register(&mut h);
    assert_eq!(h.selected(), ["static/a", "static/ab/x_y"]);
    let mut h = sim_harness(&["--exact", "static/a", "dyn"], dir.path());
    register(&mut h);
    assert_eq!(h.selected(), ["static/a", "dyn"]);
    let mut h = sim_harness(&["--list", "--bench"], dir.path());
    register(&mut h);
    let listed = h.list();
    assert_eq!(listed[0], "static/a: benchmark");
    assert!(
        listed[1].starts_with("    points: p") && listed[1].contains("-c"),
        "{listed:?}"
    );
    assert_eq!(listed.len(), 2 * h.selected().len());
    let o = h.run();
    assert!(o.benches.is_empty() && o.exit_code() == 0);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "--list sends no load"
    );
}

#[test]
fn settings_layer_and_flags_override() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = sim_harness(&["--bench", "--epochs", "4", "--sim", "seed=9"], dir.path());
    register(&mut h);
    let plans = h.plans();
    assert_eq!(plans[0].epochs, 4, "--epochs beats the code");
    assert_eq!(plans[0].warmup, Some(0));
    assert_eq!(
        plans[0].endpoint.sim.as_deref(),
        Some("time_scale=0.1,jitter=0.02,seed=1,seed=9")
    );
    assert_eq!(
        plans[2].endpoint.sim.as_deref(),
        Some("seed=9"),
        "no group settings"
    );
    let mut h = sim_harness(&["--bench", "--quick"], dir.path());
    register(&mut h);
    assert_eq!(h.plans()[1].epochs, 3, "--quick caps epochs");
    let mut h = sim_harness(&["--bench"], dir.path());
    h.bench(StaticSweep::new("dup"))
        .bench(StaticSweep::new("dup"));
    let o = h.run();
    assert_eq!(o.exit_code(), 2);
    assert!(o
        .errors()
        .any(|(_, e)| e.to_string().contains("registered twice")));
}

#[test]
fn save_baseline_then_compare_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let reports = ReportDir::new(dir.path());
    let args = [
        "--bench",
        "--quiet",
        "--exact",
        "static/a",
        "--save-baseline",
        "main",
    ];
    let mut h = sim_harness(&args, dir.path());
    register(&mut h);
    let o = h.run();
    assert_eq!(o.exit_code(), 0, "{:?}", o.errors().collect::<Vec<_>>());
    let saved = load_run(&reports.run_file("static/a", "main")).unwrap();
    assert_eq!(saved.points.len(), 1);
    assert_eq!(saved.points[0].epochs.len(), 3);
    assert_eq!(saved.meta.name, "static/a");
    assert!(reports.run_file("static/a", "new").is_file());
    assert!(reports.new_dir("static/a").join("records.jsonl").is_file());
    assert!(!reports.new_dir("static/ab/x_y").exists(), "filtered out");

    let args = [
        "--bench",
        "--quiet",
        "--exact",
        "static/a",
        "--baseline",
        "main",
        "--gate",
    ];
    let mut h = sim_harness(&args, dir.path());
    register(&mut h);
    let o = h.run();
    assert!(
        o.errors().next().is_none(),
        "{:?}",
        o.errors().collect::<Vec<_>>()
    );
    let cmp = o.benches[0]
        .comparison
        .as_ref()
        .expect("compared with main");
    assert_eq!(cmp.baseline, "main");
    assert_eq!(cmp.metrics.len(), MetricId::ALL.len());
    assert!(reports
        .new_dir("static/a")
        .join("comparison.json")
        .is_file());
    let summary = std::fs::read_to_string(reports.gate_summary()).unwrap();
    assert!(
        summary.contains("static/a") && summary.contains("main"),
        "{summary}"
    );

    // --load-baseline analyses saved data only: nothing is measured or saved.
    let before = std::fs::metadata(reports.run_file("static/a", "new"))
        .unwrap()
        .modified()
        .unwrap();
    let args = [
        "--bench",
        "--quiet",
        "--exact",
        "static/a",
        "--load-baseline",
        "main",
        "--baseline",
        "main",
    ];
    let mut h = sim_harness(&args, dir.path());
    register(&mut h);
    let o = h.run();
    assert_eq!(o.exit_code(), 0);
    assert_eq!(o.benches[0].run.as_ref().unwrap(), &saved);
    let after = std::fs::metadata(reports.run_file("static/a", "new"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(before, after);

    // servebench compare reads the same files.
    let a = servebench::cli::CompareArgs {
        baseline: "static/a/main".into(),
        new: reports.new_dir("static/a").display().to_string(),
        report_dir: Some(dir.path().to_path_buf()),
        judge: servebench::cli::JudgeArgs {
            gate: true,
            nresamples: Some(500),
            color: "never".into(),
            ..servebench::cli::JudgeArgs::default()
        },
        save_comparison: None,
        markdown: Some(dir.path().join("cmp.md")),
    };
    let cmp = servebench::cli::compare_cmd(&a).unwrap();
    assert_eq!(cmp.metrics.len(), MetricId::ALL.len());
    assert!(dir.path().join("cmp.md").is_file());
    let mut bad = a.clone();
    bad.baseline = "static/a/nope".into();
    let e = servebench::cli::compare_cmd(&bad).unwrap_err().to_string();
    assert!(e.contains("static/a/nope"), "{e}");
}

#[test]
fn dynamic_sweep_runs_epochs_per_rate() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = sim_harness(
        &["--bench", "--quiet", "--exact", "dyn", "--epochs", "2"],
        dir.path(),
    );
    h.bench(
        DynamicSweep::new("dyn")
            .rates([100.0, f64::INFINITY])
            .num_prompts(3)
            .lengths(16, 4)
            .sim("time_scale=0.1"),
    );
    let o = h.run();
    assert_eq!(o.exit_code(), 0, "{:?}", o.errors().collect::<Vec<_>>());
    let run = o.benches[0].run.as_ref().unwrap();
    assert_eq!(run.points.len(), 2);
    for p in &run.points {
        assert_eq!(p.epochs.len(), 2);
        assert!(p
            .epochs
            .iter()
            .all(|e| e.len() == 3 && e.iter().all(|r| r.ok())));
    }
    assert_eq!(run.points[1].label.id(), "rate-inf");
}

#[test]
fn the_gate_says_before_any_load_what_too_few_epochs_cannot_judge() {
    let dir = tempfile::tempdir().unwrap();
    // A baseline of 2 epochs a point.
    let save = [
        "--bench",
        "--quiet",
        "--exact",
        "static/a",
        "--epochs",
        "2",
        "--save-baseline",
        "main",
    ];
    let mut h = sim_harness(&save, dir.path());
    register(&mut h);
    let o = h.run();
    assert_eq!(o.exit_code(), 0, "{:?}", o.errors().collect::<Vec<_>>());
    assert!(o.warnings.is_empty(), "no gate, nothing to say");
    // Gated against it with 2 epochs: both sides are named, with the fix.
    let gate = [
        "--bench",
        "--quiet",
        "--exact",
        "static/a",
        "--epochs",
        "2",
        "--baseline",
        "main",
        "--gate",
    ];
    let mut h = sim_harness(&gate, dir.path());
    register(&mut h);
    let o = h.run();
    let w = o.warnings.join("\n");
    assert!(
        w.contains("static/a: 2 epoch(s) a point cannot be judged"),
        "{w}"
    );
    assert!(w.contains("run --epochs 3 or more"), "{w}");
    assert!(w.contains("baseline `main` holds 2 epoch(s)"), "{w}");
    // As said: inconclusive, exit 6.
    assert_eq!(o.exit_code(), 6);
    // With 3 epochs this run is fine; the baseline still is not.
    let gate3 = [
        "--bench",
        "--quiet",
        "--exact",
        "static/a",
        "--epochs",
        "3",
        "--baseline",
        "main",
        "--gate",
    ];
    let mut h = sim_harness(&gate3, dir.path());
    register(&mut h);
    let o = h.run();
    assert_eq!(o.warnings.len(), 1, "{:?}", o.warnings);
    assert!(o.warnings[0].contains("baseline `main`"));
}
