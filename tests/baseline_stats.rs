//! The statistics of baselines, proved on the embedded simulator: A/A gives
//! no verdict (at a measured false-alarm rate), a 20 % decode slowdown is
//! found with its size (the power at 10 % and below is established over
//! seeded trials in `stats::calibration`; live runs on a shared machine see
//! a 10 % model change as 5-11 %), a speed-up is an improvement, too few epochs is
//! inconclusive, and bad baseline files are refused by name.
//!
//! Rates are printed with
//! `cargo test --release --test baseline_stats -- --nocapture`.

use std::path::Path;
use std::time::{Duration, Instant};

use servebench::analysis::{compare_runs, MetricId, RunComparison};
use servebench::baseline::{load_run, save_run, ReportDir};
use servebench::bench::{BenchArgs, Configure, Harness, Outcome, StaticSweep};
use servebench::metrics::RunData;
use servebench::stats::{CompareConfig, Verdict};

/// The simulated server: fast (time_scale), seeded jitter so epochs differ.
const SIM: &str = "time_scale=0.4,jitter=0.05,seed=7";
const TIME_SCALE: f64 = 0.4;

/// Every time of the model multiplied by `factor` (1.1 = 10 % slower), so
/// TPOT changes by exactly that factor in the model.
fn decode_times(factor: f64) -> String {
    format!("time_scale={}", TIME_SCALE * factor)
}

/// These tests time a live simulator: run them one at a time so that one's
/// load is not another's noise.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// One bench run of the `stats/decode` benchmark.
fn bench(dir: &Path, sim_extra: &str, epochs: u32, flags: &[&str]) -> Outcome {
    let mut args = vec!["--bench", "--quiet", "--noplot", "--color", "never"];
    args.extend_from_slice(flags);
    let mut h = Harness::new(BenchArgs::parse(args).unwrap());
    h.report_dir(dir).env_lookup(|_| None);
    h.group("stats").bench(
        StaticSweep::new("decode")
            .pair(64, 24)
            .concurrencies([2])
            .requests_per_worker(3)
            .epochs(epochs)
            .warmup(2)
            .sim(SIM)
            .sim(sim_extra)
            .nresamples(2_000),
    );
    h.run()
}

fn run_of(o: &Outcome) -> RunData {
    assert!(
        o.errors().next().is_none(),
        "{:?}",
        o.errors().collect::<Vec<_>>()
    );
    o.benches[0].run.clone().expect("a run")
}

fn cfg() -> CompareConfig {
    CompareConfig {
        nresamples: 2_000,
        ..CompareConfig::default()
    }
}

fn verdict(c: &RunComparison, m: MetricId) -> (Verdict, f64, f64, f64) {
    let x = c.metrics.iter().find(|x| x.metric == m).unwrap();
    let k = &x.comparison;
    (k.verdict, k.rel_change, k.ci_low, k.ci_high)
}

fn false_alarm(c: &RunComparison) -> bool {
    c.metrics
        .iter()
        .any(|m| m.gated && matches!(m.comparison.verdict, Verdict::Regressed | Verdict::Improved))
}

#[test]
fn a_a_gives_no_verdict_at_a_low_false_alarm_rate() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    // The harness's own round trip first: save, then compare the same server.
    let o = bench(dir.path(), "", 5, &["--save-baseline", "a"]);
    let mut runs = vec![run_of(&o)];
    // Runs made one after another on a shared 2-core machine drift by more
    // than the 2 % default threshold now and then; the default's false-alarm
    // rate is established over 2,000 seeded trials in `stats::calibration`.
    // Here the live round trip is judged at the 10 % a noisy CI runner
    // would use (`--noise-threshold 0.10`).
    let o = bench(
        dir.path(),
        "",
        5,
        &["--baseline", "a", "--gate", "--noise-threshold", "0.10"],
    );
    runs.push(run_of(&o));
    let first = o.benches[0].comparison.as_ref().unwrap();
    // Then as many repetitions as fit in about ten seconds.
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(8) && runs.len() < 12 {
        runs.push(run_of(&bench(dir.path(), "", 5, &["--discard-baseline"])));
    }
    let (mut families, mut alarms, mut metric_tests, mut metric_alarms) = (0, 0, 0, 0);
    let mut raw_significant = 0;
    for i in 0..runs.len() {
        for j in i + 1..runs.len() {
            let live = CompareConfig {
                noise_threshold: 0.10,
                ..cfg()
            };
            let c = compare_runs(&runs[i], &runs[j], "a", &MetricId::DEFAULT_GATED, &live);
            families += 1;
            alarms += usize::from(false_alarm(&c));
            for m in c.metrics.iter().filter(|m| m.gated) {
                metric_tests += 1;
                raw_significant += usize::from(m.comparison.p_value < 0.05);
                metric_alarms += usize::from(matches!(
                    m.comparison.verdict,
                    Verdict::Regressed | Verdict::Improved
                ));
            }
        }
    }
    let rate = alarms as f64 / families as f64;
    println!(
        "A/A: {} runs, {families} pairwise comparisons: gate false alarms in {alarms} ({:.1} %), \
         gated metric verdicts {metric_alarms}/{metric_tests} ({:.1} %), raw p < 0.05 in {raw_significant}",
        runs.len(),
        rate * 100.0,
        metric_alarms as f64 / metric_tests as f64 * 100.0
    );
    for m in first.metrics.iter().filter(|m| m.gated) {
        println!(
            "  first A/A {}: {:?} {:+.2}%",
            m.metric.name(),
            m.comparison.verdict,
            m.comparison.rel_change * 100.0
        );
    }
    assert!(
        !first.gate_fails(),
        "the harness's own A/A failed the gate: {first:?}"
    );
    // No regression; what the A/A could not rule out (an interval wider
    // than the noise threshold on both sides) is inconclusive, exit 6.
    let want = if first.undecided().is_empty() { 0 } else { 6 };
    assert_eq!(o.exit_code(), want, "{:?}", first.undecided());
    assert!(rate <= 0.15, "A/A false-alarm rate {rate}");
}

#[test]
fn a_b_twenty_percent_slowdown_regresses_and_speed_up_improves() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let o = bench(dir.path(), "", 5, &["--save-baseline", "base"]);
    run_of(&o);
    let slow = bench(
        dir.path(),
        &decode_times(1.2),
        5,
        &["--baseline", "base", "--gate"],
    );
    run_of(&slow);
    let c = slow.benches[0].comparison.as_ref().unwrap();
    let (v, rel, lo, hi) = verdict(c, MetricId::TpotP50);
    println!(
        "A/B +20 % decode: TPOT p50 {v:?} {:+.2}% [{:+.2}% {:+.2}%]",
        rel * 100.0,
        lo * 100.0,
        hi * 100.0
    );
    assert_eq!(v, Verdict::Regressed);
    // The size, within what a wrong formula (a 2x or a sign error) would
    // miss; whether a 95 % interval covers the truth is a rate, established
    // in `stats::calibration`, not something one live run can show.
    assert!(
        rel > 0.08 && rel < 0.32 && lo > 0.0,
        "+20 % decode read as {rel} [{lo}, {hi}]"
    );
    let (v, rel, lo, hi) = verdict(c, MetricId::OutputThroughput);
    println!(
        "A/B +20 % decode: output throughput {v:?} {:+.2}% [{:+.2}% {:+.2}%]",
        rel * 100.0,
        lo * 100.0,
        hi * 100.0
    );
    assert_eq!(v, Verdict::Regressed);
    assert!(rel < 0.0 && hi < 0.0);
    assert!(slow.gate_fails());
    assert_eq!(slow.exit_code(), 1, "the gate fails on a regression");

    let fast = bench(
        dir.path(),
        &decode_times(0.8),
        5,
        &["--baseline", "base", "--gate"],
    );
    run_of(&fast);
    let c = fast.benches[0].comparison.as_ref().unwrap();
    let (v, rel, lo, hi) = verdict(c, MetricId::TpotP50);
    println!(
        "A/B -20 % decode: TPOT p50 {v:?} {:+.2}% [{:+.2}% {:+.2}%]",
        rel * 100.0,
        lo * 100.0,
        hi * 100.0
    );
    assert_eq!(v, Verdict::Improved);
    assert!(
        rel < -0.08 && rel > -0.32 && hi < 0.0,
        "-20 % decode read as {rel} [{lo}, {hi}]"
    );
    assert_eq!(verdict(c, MetricId::OutputThroughput).0, Verdict::Improved);
    assert!(c.regressions().next().is_none());
    // The gate passes an improvement, unless a gated metric it could not
    // judge (e.g. a noisy TTFT p50 over 6 requests an epoch) makes it
    // inconclusive, which --gate-allow-inconclusive lets pass.
    let want = if c.undecided().is_empty() { 0 } else { 6 };
    assert_eq!(fast.exit_code(), want, "{:?}", c.undecided());
    let lenient = bench(
        dir.path(),
        &decode_times(0.8),
        5,
        &["--baseline", "base", "--gate", "--gate-allow-inconclusive"],
    );
    assert_eq!(lenient.exit_code(), 0);
}

#[test]
fn too_few_epochs_is_inconclusive_not_a_pass() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    run_of(&bench(dir.path(), "", 2, &["--save-baseline", "base"]));
    let o = bench(
        dir.path(),
        &decode_times(1.1),
        2,
        &["--baseline", "base", "--gate"],
    );
    run_of(&o);
    let c = o.benches[0].comparison.as_ref().unwrap();
    for m in &c.metrics {
        assert_eq!(
            m.comparison.verdict,
            Verdict::Inconclusive,
            "{}",
            m.metric.name()
        );
    }
    let summary = std::fs::read_to_string(ReportDir::new(dir.path()).gate_summary()).unwrap();
    assert!(summary.contains("INCONCLUSIVE"), "{summary}");
    assert!(summary.contains("2 vs 2 epochs"), "{summary}");
    // Never a pass: its own exit code.
    assert_eq!(o.exit_code(), 6);
}

#[test]
fn missing_corrupt_and_wrong_version_baselines_are_refused_by_name() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let reports = ReportDir::new(dir.path());
    // Missing: refused before any load is sent.
    let o = bench(dir.path(), "", 3, &["--baseline", "main"]);
    assert_eq!(o.exit_code(), 2);
    let e = o.errors().next().unwrap().1.to_string();
    let want = reports.run_file("stats/decode", "main");
    assert!(
        e.contains(&want.display().to_string()) && e.contains("--save-baseline main"),
        "{e}"
    );
    assert!(
        !reports.bench_dir("stats/decode").exists(),
        "no load was sent"
    );
    // Lenient: runs without a comparison.
    let o = bench(
        dir.path(),
        "",
        3,
        &["--baseline-lenient", "main", "--save-baseline", "main"],
    );
    assert!(run_of(&o).points.len() == 1 && o.benches[0].comparison.is_none());
    let good = load_run(&want).unwrap();

    let cases: [(&str, &str); 4] = [
        ("{not json", "corrupt"),
        (
            r#"{"format":"criterion","version":1,"run":{}}"#,
            "not a servebench run file",
        ),
        (
            r#"{"format":"servebench-run","version":0,"run":{}}"#,
            "unsupported run file version 0",
        ),
        (
            r#"{"format":"servebench-run","version":1,"run":{"meta":1}}"#,
            "corrupt",
        ),
    ];
    for (text, why) in cases {
        std::fs::write(&want, text).unwrap();
        let o = bench(dir.path(), "", 3, &["--baseline", "main"]);
        assert_eq!(o.exit_code(), 2);
        let e = o.errors().next().unwrap().1.to_string();
        assert!(
            e.contains(&want.display().to_string()) && e.contains(why),
            "{why}: {e}"
        );
    }
    // A newer version: a clear reason.
    save_run(&want, &good).unwrap();
    let text =
        std::fs::read_to_string(&want)
            .unwrap()
            .replacen("\"version\":2", "\"version\":3", 1);
    std::fs::write(&want, text).unwrap();
    let e = load_run(&want).unwrap_err().to_string();
    assert!(
        e.contains("version 3 is newer") && e.contains("upgrade servebench"),
        "{e}"
    );
    // And the round trip of a good file is exact.
    save_run(&want, &good).unwrap();
    assert_eq!(load_run(&want).unwrap(), good);
}

#[test]
fn smoke_mode_runs_tiny_and_saves_nothing() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::new(BenchArgs::parse(["--save-baseline", "main", "--gate"]).unwrap());
    h.report_dir(dir.path()).env_lookup(|_| None);
    h.bench(
        StaticSweep::new("big")
            .pairs([(2048, 256), (512, 64)])
            .concurrencies([8, 16])
            .sim(SIM),
    );
    let o = h.run();
    let run = run_of(&o);
    assert_eq!(run.points.len(), 1);
    let p = &run.points[0];
    assert_eq!(p.label.id(), "p32-o4-c1");
    assert_eq!(p.epochs.len(), 1);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "smoke mode saved something"
    );
}
