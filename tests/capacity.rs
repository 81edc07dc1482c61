//! `servebench capacity` end to end against the embedded simulator (a
//! fast model: 4 ms decode steps, batches of 4, short requests) and
//! against a separately started `servebench sim`, its flag checks, and
//! `compare --gate` of capacities.

mod common {
    pub mod sim;
}

use std::process::Command;

use clap::Parser;
use servebench::baseline::save_capacity;
use servebench::cli::{run_capacity_cmd, Cli, Command as Sub};
use servebench::metrics::capacity::{CapacityMode, CapacityResult, CapacitySlo};
use servebench::metrics::Slo;

const SIM: &str = "decode_step_ms=4,prefill_base_ms=4,max_batch=4";
/// The halving test's server: 8 ms steps, so that the client's and the
/// machine's fixed costs (which do not scale with `time_scale`) stay small
/// beside every step of either server.
const SIM8: &str = "decode_step_ms=8,prefill_base_ms=8,max_batch=4";

/// Run `servebench capacity` in-process with the test's workload and
/// search settings plus `extra`, writing under `dir`.
async fn capacity(dir: &std::path::Path, sim: &str, extra: &[&str]) -> CapacityResult {
    let mut argv = vec![
        "servebench",
        "capacity",
        "--sim",
        sim,
        "--random-input-len",
        "32",
        "--random-output-len",
        "8",
        "--probe-requests",
        "24",
        "--epochs",
        "2",
        "--max-epochs",
        "4",
        "--boundary-epochs",
        "3",
        "--precision",
        "0.1",
        "--quiet",
        "--noplot",
        "--output-dir",
        dir.to_str().unwrap(),
    ];
    argv.extend_from_slice(extra);
    let cli = Cli::try_parse_from(argv).unwrap();
    let Sub::Capacity(a) = cli.command else {
        unreachable!()
    };
    let out = run_capacity_cmd(&a).await.unwrap();
    assert!(out.json.is_file() && out.csv.is_file());
    out.result
}

/// The timed tests one at a time: two searches side by side on 2 cores
/// would measure each other.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn overlap(a: (f64, f64), b: (f64, f64)) -> bool {
    a.0 <= b.1 && b.0 <= a.1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twice_as_slow_a_server_has_half_the_capacity() {
    let _serial = SERIAL.lock().await;
    // Every time of the model doubles at time_scale=2: with every SLO
    // doubled too, the slow server at rate r is the fast one at 2r, seen
    // through a clock twice as slow. The searches start at loads in the
    // same ratio, so a right search halves every probe. (They run one
    // after the other: side by side, they would compete for the CPU.)
    let dir = tempfile::tempdir().unwrap();
    let fast = capacity(
        dir.path(),
        &format!("{SIM8},time_scale=1"),
        &[
            "--slo",
            "ttft:200",
            "--goodput-ratio",
            "0.9",
            "--min",
            "16",
            "--name",
            "fast",
        ],
    )
    .await;
    let slow = capacity(
        dir.path(),
        &format!("{SIM8},time_scale=2"),
        &[
            "--slo",
            "ttft:400",
            "--goodput-ratio",
            "0.9",
            "--min",
            "8",
            "--name",
            "slow",
        ],
    )
    .await;
    let (f, s) = (fast.interval(), slow.interval());
    eprintln!("time_scale=1: {}", fast.headline());
    eprintln!("time_scale=2: {}", slow.headline());
    assert!(f.1.is_finite() && s.1.is_finite(), "{f:?} {s:?}");
    let doubled = (2.0 * s.0, 2.0 * s.1);
    assert!(
        overlap(f, doubled),
        "cap(ts=1) {f:?} and 2 x cap(ts=2) {doubled:?} do not overlap"
    );
    let (ef, es) = (fast.estimate.unwrap(), slow.estimate.unwrap());
    // A formula off by sqrt(2) (or ignoring the scale) is far outside.
    assert!(
        (2.0 * es / ef - 1.0).abs() < 0.2,
        "estimates {ef} (ts=1) and {es} (ts=2)"
    );
    // Each answer carries its interval and the curve.
    assert!(fast.lo.unwrap() <= ef && ef <= fast.hi.unwrap());
    assert!(fast.probes.len() >= 4);
    assert!(fast.probes.iter().all(|p| !p.epochs.is_empty()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tighter_slo_gives_a_lower_capacity() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let sim = format!("{SIM},time_scale=1");
    // A per-percentile objective for the tight one: the epoch's p90 TTFT
    // at most 15 ms.
    let (loose, tight) = tokio::join!(
        capacity(
            dir.path(),
            &sim,
            &[
                "--slo",
                "ttft:100",
                "--goodput-ratio",
                "0.9",
                "--min",
                "32",
                "--name",
                "loose"
            ],
        ),
        capacity(
            dir.path(),
            &sim,
            &[
                "--slo",
                "ttft_p90:15",
                "--min",
                "16",
                "--max",
                "64",
                "--name",
                "tight"
            ],
        )
    );
    let (l, t) = (loose.interval(), tight.interval());
    eprintln!("loose: {}\ntight: {}", loose.headline(), tight.headline());
    assert!(t.1 <= l.0, "tight {t:?} not below loose {l:?}");
    assert_eq!(tight.slo.percentiles.len(), 1);
    let json = std::fs::read_to_string(dir.path().join("tight/new/capacity.json")).unwrap();
    assert!(json.contains("\"servebench-capacity\"") && json.contains("ttft"));
    let csv = std::fs::read_to_string(dir.path().join("loose/new/capacity.csv")).unwrap();
    assert!(csv.starts_with("load,unit,order,stage,verdict,epochs,goodput_ratio"));
    assert_eq!(csv.lines().count(), loose.probes.len() + 1);
}

/// `servebench capacity ARGS` as a process: exit code and stderr.
fn bin(args: &[&str], dir: &std::path::Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_servebench"))
        .arg("capacity")
        .args(args)
        .args(["--output-dir", dir.to_str().unwrap()])
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_flags_exit_2_before_any_load() {
    let dir = tempfile::tempdir().unwrap();
    // A simulator that would take minutes per probe: a bad flag must be
    // refused before it starts.
    let slow = ["--sim", "time_scale=1000"];
    let cases: &[(&[&str], &str)] = &[
        (&["--slo", "foo:10"], "--slo"),
        (&["--slo", "ttft:-3"], "--slo"),
        (&["--slo", "ttft_p101:10"], "--slo"),
        (&["--slo", "ttft:10,ttft:20"], "--slo"),
        (
            &["--slo", "ttft:10", "--goodput-ratio", "1.5"],
            "--goodput-ratio",
        ),
        (&["--slo", "ttft:10", "--precision", "0"], "--precision"),
        (&["--slo", "ttft:10", "--min", "10", "--max", "5"], "--max"),
        (&["--slo", "ttft:10", "--min", "-1"], "--min"),
        (
            &["--slo", "ttft:10", "--mode", "concurrency", "--min", "1.5"],
            "--min",
        ),
        (&["--slo", "ttft:10", "--epochs", "1"], "--epochs"),
        (&["--slo", "ttft:10", "--max-epochs", "2"], "--max-epochs"),
        (&["--slo", "ttft:10", "--growth", "1"], "--growth"),
        (
            &["--slo", "ttft:10", "--request-rate", "5"],
            "--request-rate",
        ),
        (&["--slo", "ttft:10", "--goodput", "ttft:5"], "--goodput"),
        (&["--slo", "ttft:10", "--mode", "sideways"], "--mode"),
        (&["--goodput-ratio", "0.9"], "--slo"),
    ];
    for (args, flag) in cases {
        let mut all = slow.to_vec();
        all.extend_from_slice(args);
        let t = std::time::Instant::now();
        let (code, err) = bin(&all, dir.path());
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(flag), "{args:?}: {err}");
        assert!(
            t.elapsed().as_secs_f64() < 5.0,
            "{args:?} took {:?}",
            t.elapsed()
        );
    }
    // Nothing was written: no run folder.
    assert!(!dir.path().join("capacity").exists());
}

/// A capacity result with interval `[lo, hi]` and nothing else measured.
fn result(lo: f64, hi: f64, ttft: f64) -> CapacityResult {
    CapacityResult {
        name: "capacity".into(),
        mode: CapacityMode::Rate,
        slo: CapacitySlo {
            per_request: Slo {
                ttft_ms: Some(ttft),
                ..Slo::default()
            },
            goodput_ratio: 0.95,
            percentiles: Vec::new(),
        },
        confidence: 0.95,
        precision: 0.1,
        lo: Some(lo),
        hi: Some(hi),
        estimate: Some((lo + hi) / 2.0),
        interval_confidence: 0.95,
        probes: Vec::new(),
        notes: vec!["<b>escaped</b>".into()],
        base_url: "http://127.0.0.1:1".into(),
        model: "m".into(),
        backend: "openai".into(),
        servebench_version: env!("CARGO_PKG_VERSION").into(),
        started_unix_s: 0.0,
    }
}

/// `servebench compare BASE NEW --gate [extra]` on two saved capacities.
fn gate(base: &CapacityResult, new: &CapacityResult, extra: &[&str]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let b = save_capacity(&dir.path().join("capacity/main"), base).unwrap();
    save_capacity(&dir.path().join("capacity/new"), new).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_servebench"))
        .args(["compare", b.to_str().unwrap(), "capacity/new", "--gate"])
        .args(["--report-dir", dir.path().to_str().unwrap()])
        .args(extra)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn compare_and_gate_judge_a_capacity_against_its_baseline() {
    let base = result(40.0, 44.0, 100.0);
    // Wholly below: a regression, whatever --gate-allow-inconclusive says.
    let (code, out) = gate(&base, &result(30.0, 33.0, 100.0), &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("capacity regressed") && out.contains("gate: FAILED"),
        "{out}"
    );
    let (code, _) = gate(
        &base,
        &result(30.0, 33.0, 100.0),
        &["--gate-allow-inconclusive"],
    );
    assert_eq!(code, 1);
    // Failing where the baseline passed (intervals touching): a regression
    // with no noise threshold; with the default 2 %, the drop may be nil,
    // which is not beyond the threshold: inconclusive.
    let touching = result(36.0, 40.0, 100.0);
    assert_eq!(gate(&base, &touching, &["--noise-threshold", "0"]).0, 1);
    assert_eq!(gate(&base, &touching, &[]).0, 6);
    // Overlapping, the largest drop allowed (42 against 44: 4.5 %) within a
    // 10 % threshold: no change, a pass.
    let (code, out) = gate(
        &base,
        &result(42.0, 46.0, 100.0),
        &["--noise-threshold", "0.1"],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("capacity unchanged"), "{out}");
    // Wholly above: an improvement passes.
    let (code, out) = gate(&base, &result(48.0, 52.0, 100.0), &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("capacity improved"), "{out}");
    // Overlapping: inconclusive, never a pass (6), unless allowed.
    let (code, out) = gate(&base, &result(42.0, 46.0, 100.0), &[]);
    assert_eq!(code, 6, "{out}");
    assert!(out.contains("INCONCLUSIVE"), "{out}");
    assert_eq!(
        gate(
            &base,
            &result(42.0, 46.0, 100.0),
            &["--gate-allow-inconclusive"]
        )
        .0,
        0
    );
    // Other objectives: not comparable, inconclusive.
    let (code, out) = gate(&base, &result(20.0, 22.0, 50.0), &[]);
    assert_eq!(code, 6, "{out}");
    assert!(out.contains("not comparable"), "{out}");
}

#[test]
fn the_html_report_escapes_text_and_draws_the_slo_lines() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = result(40.0, 44.0, 100.0);
    c.name = "<script>x</script>".into();
    let p = servebench::report::write_capacity_html(dir.path(), &c, None, false).unwrap();
    let html = std::fs::read_to_string(p).unwrap();
    assert!(!html.contains("<script>") && !html.contains("<b>escaped"));
    assert!(html.contains("&lt;script&gt;") && html.contains("&lt;b&gt;escaped"));
    let svg = std::fs::read_to_string(dir.path().join("capacity_ttft.svg")).unwrap();
    assert!(
        svg.contains("SLO ttft 100 ms"),
        "the SLO line is in the legend"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capacity_benchmark_declared_in_code_runs_the_same_search() {
    let _serial = SERIAL.lock().await;
    use servebench::bench::{Capacity, Configure, DynamicSweep};
    let slo = CapacitySlo {
        per_request: Slo {
            ttft_ms: Some(100.0),
            ..Slo::default()
        },
        goodput_ratio: 0.9,
        percentiles: Vec::new(),
    };
    let c = Capacity::new("bench-capacity", slo)
        .workload(DynamicSweep::new("w").lengths(32, 8).num_prompts(24))
        .bounds(16.0, 32.0)
        .probe_epochs(2, 3, 2)
        .sim(SIM)
        .seed(5);
    // A bad setting is refused before any load.
    let bad = c.clone().precision(2.0).measure(true).await.unwrap_err();
    assert!(bad.to_string().contains("--precision"), "{bad}");
    assert_eq!(c.run_plan().seed, 5);
    // Both loads lie well under this server's capacity (about 70 req/s):
    // the answer is "at least 32", an interval open above.
    let found = c.measure(true).await.unwrap();
    assert_eq!(
        (found.lo, found.hi),
        (Some(32.0), None),
        "{}",
        found.headline()
    );
    assert_eq!(found.probes.len(), 2);
    assert!(found.headline().starts_with("capacity at least 32"));
}

#[test]
fn the_binary_finds_the_batch_limit_of_a_separate_simulator_process() {
    // A closed-loop search against `servebench sim` in its own process.
    // The model's settings imply the answer: with at most `max_batch` = 4
    // requests in flight none ever queues, so every TTFT is at most a step
    // and a prefill or two (about 12 ms at these settings); with 5, a
    // request sent when 4 are running waits for one of them to end, up to
    // a whole request's life (16 tokens of 4.2 ms steps: ~75 ms), and in
    // each epoch about one in five does. A TTFT objective of 20 ms for 95 %
    // of requests thus holds at 4 and fails at 5: the capacity is [4, 5].
    // (A search that mistook the batch limit, or stopped a step early or
    // late, gives another interval.)
    let _serial = SERIAL.blocking_lock();
    let sim = common::sim::SimProcess::start(
        "decode_step_ms=8,prefill_base_ms=8,max_batch=4,time_scale=0.5",
    );
    let dir = tempfile::tempdir().unwrap();
    let t = std::time::Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_servebench"))
        .args(["capacity", "--url", &sim.url, "--mode", "concurrency"])
        .args(["--random-input-len", "32", "--random-output-len", "16"])
        .args(["--slo", "ttft:20", "--goodput-ratio", "0.95"])
        .args(["--min", "3", "--max", "8", "--probe-requests", "16"])
        .args([
            "--epochs",
            "2",
            "--max-epochs",
            "4",
            "--boundary-epochs",
            "3",
        ])
        .args(["--output-dir", dir.path().to_str().unwrap(), "--noplot"])
        .output()
        .unwrap();
    let secs = t.elapsed().as_secs_f64();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(secs < 20.0, "the search took {secs:.1} s");
    let text = std::fs::read_to_string(dir.path().join("capacity/new/capacity.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["format"], "servebench-capacity");
    let c = &json["capacity"];
    let (lo, hi) = (c["lo"].as_f64().unwrap(), c["hi"].as_f64().unwrap());
    eprintln!("separate simulator: [{lo}, {hi}] in {secs:.1} s\n{err}");
    assert!(lo < hi, "{text}");
    assert_eq!((lo, hi), (4.0, 5.0), "max_batch is 4:\n{err}");
    let port = sim.url.rsplit(':').next().unwrap().trim_end_matches('/');
    assert!(c["base_url"].as_str().unwrap().contains(port), "{text}");
    // The runs index lists the search, its answer and its page (paths as
    // the template escapes them).
    let index = std::fs::read_to_string(dir.path().join("index.html")).unwrap();
    assert!(
        index.contains("<td>capacity</td>")
            && index.contains("capacity&#x2F;new&#x2F;capacity.json")
            && index.contains("capacity&#x2F;new&#x2F;report&#x2F;index.html"),
        "{index}"
    );
}
