//! A capacity search under the bench harness, in-process against the
//! embedded simulator in a temporary report folder: listed and filtered,
//! run tiny in smoke mode, saved as a baseline, compared with one and
//! gated (1 when the capacity regressed, 6 when it cannot be judged).

use servebench::baseline::{load_capacity, ReportDir};
use servebench::bench::{BenchArgs, Capacity, Configure, DynamicSweep, Harness, Outcome};
use servebench::metrics::capacity::{CapacityResult, CapacitySlo};
use servebench::metrics::Slo;
use servebench::stats::CapacityChange;

const ID: &str = "capacity/ttft";

/// The timed tests one at a time: two searches side by side on 2 cores
/// would measure each other.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A harness writing under `dir`, blind to `SERVEBENCH_*`, with one
/// capacity benchmark: the request rate at which 90 % of requests get
/// their first token within 100 ms, on a simulator with 8 ms steps and
/// batches of 4 (about 55 req/s).
fn harness(args: &[&str], dir: &std::path::Path) -> Harness {
    let mut h = Harness::new(BenchArgs::parse(args.iter().copied()).unwrap());
    h.report_dir(dir).env_lookup(|_| None);
    let slo = CapacitySlo {
        per_request: Slo {
            ttft_ms: Some(100.0),
            ..Slo::default()
        },
        goodput_ratio: 0.9,
        percentiles: Vec::new(),
    };
    h.group("capacity").bench(
        Capacity::new("ttft", slo)
            .workload(DynamicSweep::new("w").lengths(32, 8).num_prompts(16))
            .bounds(30.0, 640.0)
            .precision(0.2)
            .probe_epochs(2, 3, 2)
            .sim("decode_step_ms=8,prefill_base_ms=8,max_batch=4,time_scale=1")
            .warmup(1),
    );
    h
}

fn run(args: &[&str], dir: &std::path::Path) -> Outcome {
    harness(args, dir).run()
}

fn found(o: &Outcome) -> &CapacityResult {
    assert!(
        o.errors().next().is_none(),
        "{:?}",
        o.errors().collect::<Vec<_>>()
    );
    o.benches[0].capacity.as_ref().expect("a capacity")
}

#[test]
fn listed_filtered_smoke_run_and_a_missing_baseline_refused() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let h = harness(&["--list", "--bench"], dir.path());
    assert_eq!(
        h.list(),
        [
            format!("{ID}: benchmark"),
            "    points: a capacity search of the request rate from 30 to 640 req/s".into()
        ]
    );
    assert!(harness(&["--exact", "capacity/ttf"], dir.path())
        .selected()
        .is_empty());
    assert_eq!(harness(&["capacity"], dir.path()).selected(), [ID]);

    // Smoke mode (`cargo test --benches`): one probe at the lowest load,
    // two epochs of at most two requests, nothing saved.
    let t = std::time::Instant::now();
    let o = run(&[], dir.path());
    assert_eq!(o.exit_code(), 0);
    let c = found(&o);
    assert_eq!(c.probes.len(), 1, "{}", c.headline());
    assert_eq!(c.probes[0].load, 30.0);
    assert!(c.probes[0].epochs.iter().all(|e| e.sent <= 2));
    assert!(t.elapsed().as_secs_f64() < 5.0, "{:?}", t.elapsed());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

    // A strict --baseline that was never saved: refused before any load,
    // naming the file and the fix.
    let o = run(&["--bench", "--quiet", "--baseline", "nope"], dir.path());
    assert_eq!(o.exit_code(), 2);
    let e = o.errors().next().unwrap().1.to_string();
    assert!(
        e.contains("nope/capacity.json") && e.contains("--save-baseline nope"),
        "{e}"
    );
    assert!(o.benches[0].capacity.is_none());
}

#[test]
fn saved_then_compared_and_gated_by_the_intervals() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let reports = ReportDir::new(dir.path());

    // Saved as `main`: the run folder and the baseline.
    let o = run(
        &["--bench", "--quiet", "--save-baseline", "main"],
        dir.path(),
    );
    assert_eq!(o.exit_code(), 0);
    let main = found(&o).clone();
    let (lo, hi) = (main.lo.unwrap(), main.hi.unwrap());
    assert!(lo < hi && hi - lo <= 0.2 * lo + 1e-9, "{}", main.headline());
    let saved = load_capacity(&reports.capacity_file(ID, "main")).unwrap();
    assert_eq!(saved.interval(), main.interval());
    assert_eq!(saved.probes.len(), main.probes.len());
    let new = reports.new_dir(ID);
    for f in ["capacity.json", "capacity.csv", "report/index.html"] {
        assert!(new.join(f).is_file(), "{f}");
    }
    // The report root's index lists the search with its answer.
    let index = std::fs::read_to_string(reports.root().join("index.html")).unwrap();
    assert!(
        index.contains("<td>capacity</td>") && index.contains(&tera::escape_html(&main.headline())),
        "{index}"
    );
    assert!(o.benches[0]
        .saved
        .contains(&reports.capacity_file(ID, "main")));

    // The saved capacity against itself: the intervals overlap, which the
    // gate cannot judge (6, never a pass) unless told to let it pass.
    let same = [
        "--bench",
        "--quiet",
        "--load-baseline",
        "main",
        "--baseline",
        "main",
    ];
    let o = run(&[&same[..], &["--gate"]].concat(), dir.path());
    assert_eq!(o.exit_code(), 6);
    let cmp = o.benches[0].capacity_comparison.as_ref().unwrap();
    assert_eq!(cmp.change, CapacityChange::Inconclusive);
    let summary = std::fs::read_to_string(reports.gate_summary()).unwrap();
    assert!(summary.contains("intervals overlap"), "{summary}");
    let allow = [&same[..], &["--gate", "--gate-allow-inconclusive"]].concat();
    assert_eq!(run(&allow, dir.path()).exit_code(), 0);

    // A baseline made on a server four times as fast: its capacity lies
    // wholly above, and the code's server, measured again, has regressed.
    let fast = [
        "--bench",
        "--quiet",
        "--save-baseline",
        "fast",
        "--sim",
        "time_scale=0.25",
    ];
    let o = run(&fast, dir.path());
    assert_eq!(o.exit_code(), 0);
    let f = found(&o).clone();
    assert!(
        f.lo.unwrap() >= hi,
        "fast {} vs {}",
        f.headline(),
        main.headline()
    );
    let o = run(
        &["--bench", "--quiet", "--baseline", "fast", "--gate"],
        dir.path(),
    );
    let again = found(&o);
    let cmp = o.benches[0].capacity_comparison.as_ref().unwrap();
    assert_eq!(cmp.change, CapacityChange::Regressed, "{}", cmp.line());
    assert_eq!(cmp.baseline, "fast");
    assert_eq!(cmp.new, again.interval());
    assert_eq!(o.exit_code(), 1);
    assert!(o.gate_fails());
    let summary = std::fs::read_to_string(reports.gate_summary()).unwrap();
    assert!(summary.contains("capacity regressed"), "{summary}");
}
