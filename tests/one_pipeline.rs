//! One run pipeline: the same static sweep started through the command
//! line and through the bench harness gives the same files in the same
//! layout, and in each run the terminal text, the CSV and `run.json` agree
//! on every figure they show; both carry the client's load. Two `serving
//! --epochs 3` runs compare with verdicts.

use std::collections::HashMap;
use std::path::Path;

use servebench::baseline::load_run;
use servebench::bench::{BenchArgs, Configure, Harness, Settings, StaticSweep};
use servebench::cli::{
    compare_cmd, run_serving_cmd, run_static_cmd, CommonArgs, CompareArgs, EndpointArgs, JudgeArgs,
    PrecisionArgs, ServingArgs, ServingSweepArgs, StaticArgs, StaticSweepArgs,
};
use servebench::metrics::{Rate, RunData};
use servebench::report::render_run;
use servebench::stats::{Undecided, Verdict};

const SIM: &str = "time_scale=0.1";

/// The two tests time a simulator: one at a time, so that neither adds
/// noise to the other's figures.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Terminal table header → CSV column.
const COLUMNS: [(&str, &str); 14] = [
    ("prompt", "prompt_tokens"),
    ("output", "output_tokens"),
    ("conc", "concurrency"),
    ("ok", "successful_requests"),
    ("fail", "failed_requests"),
    ("req/s", "request_throughput_req_per_s"),
    ("out tok/s", "output_token_throughput_tok_per_s"),
    ("TTFT p50", "ttft_p50_ms"),
    ("TTFT p99", "ttft_p99_ms"),
    ("TPOT p50", "tpot_p50_ms"),
    ("TPOT p99", "tpot_p99_ms"),
    ("ITL p99", "itl_p99_ms"),
    ("E2EL p50", "e2el_p50_ms"),
    ("tok/s/req", "decode_speed_mean_tok_per_s"),
];

/// The CSV as rows of column → value.
fn csv_rows(path: &Path) -> Vec<HashMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let head: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            head.iter()
                .cloned()
                .zip(rec.iter().map(str::to_string))
                .collect()
        })
        .collect()
}

/// The terminal table's data rows (after the id line, the header and the
/// units line), each cell under its CSV column name.
fn table_rows(text: &str) -> Vec<HashMap<String, String>> {
    let lines: Vec<&str> = text.lines().collect();
    let header = lines
        .iter()
        .position(|l| l.trim_start().starts_with("prompt"))
        .unwrap_or_else(|| panic!("no table header in:\n{text}"));
    for (name, _) in COLUMNS {
        assert!(lines[header].contains(name), "{name} missing: {text}");
    }
    lines[header + 2..]
        .iter()
        .take_while(|l| !l.starts_with("note:"))
        .map(|l| {
            let cells: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(cells.len(), COLUMNS.len(), "{l}");
            COLUMNS
                .iter()
                .zip(cells)
                .map(|((_, c), v)| (c.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// `shown` (rounded to its own decimals) stands for `exact`.
fn agrees(shown: &str, exact: f64) -> bool {
    let decimals = shown.split_once('.').map_or(0, |(_, d)| d.len());
    let v: f64 = shown.parse().unwrap();
    (v - exact).abs() <= 0.51 * 10f64.powi(-(decimals as i32)) + 1e-9 * exact.abs()
}

/// The JSON's figure behind a CSV column.
fn json_figure(run: &RunData, point: usize, column: &str) -> f64 {
    let p = &run.points[point];
    let s = &p.summary;
    let pct = |sum: &servebench::stats::Summary, q: f64| sum.p(q).unwrap();
    match column {
        "prompt_tokens" | "output_tokens" | "concurrency" => match &p.label {
            servebench::metrics::PointLabel::Static {
                prompt_tokens,
                output_tokens,
                concurrency,
            } => match column {
                "prompt_tokens" => *prompt_tokens as f64,
                "output_tokens" => *output_tokens as f64,
                _ => *concurrency as f64,
            },
            _ => panic!("static run"),
        },
        "successful_requests" => s.completed as f64,
        "failed_requests" => s.failed as f64,
        "request_throughput_req_per_s" => s.request_throughput,
        "output_token_throughput_tok_per_s" => s.output_throughput,
        "ttft_p50_ms" => pct(&s.ttft_ms, 50.0),
        "ttft_p99_ms" => pct(&s.ttft_ms, 99.0),
        "tpot_p50_ms" => pct(&s.tpot_ms, 50.0),
        "tpot_p99_ms" => pct(&s.tpot_ms, 99.0),
        "itl_p99_ms" => pct(&s.itl_ms, 99.0),
        "e2el_p50_ms" => pct(&s.e2el_ms, 50.0),
        "decode_speed_mean_tok_per_s" => s.decode_tokens_per_s.mean.unwrap(),
        c => panic!("{c}"),
    }
}

/// In the run folder `dir`: the terminal text, the CSV and `run.json`
/// agree on every figure the terminal shows, and the client was measured.
fn check_run_folder(dir: &Path, id: &str) -> RunData {
    for f in [
        "run.json",
        "benchmark.csv",
        "summary.md",
        "records.jsonl",
        "meta.json",
        "report/index.html",
    ] {
        assert!(dir.join(f).is_file(), "{}: no {f}", dir.display());
    }
    let run = load_run(&dir.join("run.json")).unwrap();
    let text = render_run(id, &run, None, false);
    let table = table_rows(&text);
    let csv = csv_rows(&dir.join("benchmark.csv"));
    assert_eq!(table.len(), run.points.len());
    assert_eq!(csv.len(), run.points.len());
    for (i, (t, c)) in table.iter().zip(&csv).enumerate() {
        for (_, col) in COLUMNS {
            let exact = json_figure(&run, i, col);
            assert!(
                agrees(&c[col], exact),
                "{id} point {i} {col}: CSV {} JSON {exact}",
                c[col]
            );
            assert!(
                agrees(&t[col], exact),
                "{id} point {i} {col}: terminal {} JSON {exact}\n{text}",
                t[col]
            );
        }
        let load = run.points[i].client.as_ref();
        assert!(
            load.is_some_and(|l| l.chunks > 0 && l.wall_s > 0.0),
            "{id}: no client load"
        );
        assert!(
            !c["client_cpu_util_pct"].is_empty(),
            "{id}: CSV lacks client load"
        );
    }
    run
}

#[test]
fn cli_and_bench_harness_run_the_same_sweep_the_same_way() {
    let _one = SERIAL.blocking_lock();
    let dir = tempfile::tempdir().unwrap();
    let cli_root = dir.path().join("cli");
    let bench_root = dir.path().join("bench");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let a = StaticArgs {
        dataset: Default::default(),
        endpoint: EndpointArgs {
            sim: Some(SIM.into()),
            ..EndpointArgs::default()
        },
        sweep: StaticSweepArgs {
            epochs: 2,
            warmup: Some(1),
            parallel_num: vec![1, 3],
            prompt_tokens: vec![48],
            output_tokens: vec![6],
            ..StaticSweepArgs::default()
        },
        benchmark_csv: None,
        common: CommonArgs {
            seed: 5,
            name: Some("agree".into()),
            ..CommonArgs::in_dir(&cli_root)
        },
    };
    rt.block_on(run_static_cmd(&a)).unwrap();
    drop(rt);

    let mut h = Harness::new(BenchArgs::parse(["--bench", "--noplot", "--quiet"]).unwrap());
    h.env_lookup(|_| None).report_dir(&bench_root);
    h.group("static")
        .settings(Settings::new().sim(SIM).seed(5))
        .bench(
            StaticSweep::new("agree")
                .pair(48, 6)
                .concurrencies([1, 3])
                .epochs(2)
                .warmup(1),
        );
    let out = h.run();
    assert_eq!(out.exit_code(), 0, "{:?}", out.errors().collect::<Vec<_>>());

    let cli = check_run_folder(&cli_root.join("agree/new"), "agree");
    let bench = check_run_folder(&bench_root.join("static/agree/new"), "static/agree");
    // The same plan: the same points, epochs, requests and exact prompts.
    let ids = |r: &RunData| r.points.iter().map(|p| p.label.id()).collect::<Vec<_>>();
    assert_eq!(ids(&cli), ids(&bench));
    for (c, b) in cli.points.iter().zip(&bench.points) {
        assert_eq!(c.summary.epochs, b.summary.epochs);
        assert_eq!(c.summary.sent, b.summary.sent);
        assert_eq!(c.summary.input_tokens.mean, Some(48.0));
        assert_eq!(b.summary.input_tokens.mean, Some(48.0));
    }
    // Both pipelines add the run to its benchmark's history, from which
    // later comparisons estimate the run-to-run noise.
    for (folder, run) in [
        (cli_root.join("agree"), &cli),
        (bench_root.join("static/agree"), &bench),
    ] {
        let h = servebench::baseline::History::load(&folder);
        assert_eq!(h.entries.len(), 1, "{}", folder.display());
        let e = &h.entries[0];
        assert_eq!(e.started_unix_s, run.meta.started_unix_s);
        assert_eq!(
            e.points.keys().cloned().collect::<Vec<_>>().len(),
            run.points.len()
        );
        for p in &run.points {
            let figs = &e.points[&p.label.id()][&servebench::metrics::MetricId::TtftP50];
            assert_eq!(figs.len(), 2, "one figure an epoch");
        }
    }
    // The index of each report root links the run's page.
    for (root, href) in [
        (&cli_root, "agree/new/report/index.html"),
        (&bench_root, "static/agree/new/report/index.html"),
    ] {
        let index = std::fs::read_to_string(root.join("index.html"))
            .unwrap()
            .replace("&#x2F;", "/");
        assert!(
            index.contains(href),
            "{}: no link to {href}",
            root.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_serving_runs_with_epochs_compare_with_verdicts() {
    let _one = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str| ServingArgs {
        endpoint: EndpointArgs {
            sim: Some("time_scale=0.5".into()),
            ..EndpointArgs::default()
        },
        sweep: ServingSweepArgs {
            random_input_len: 64,
            random_output_len: 16,
            request_rate: vec![Rate(40.0)],
            num_prompts: vec![24],
            ..ServingSweepArgs::default()
        },
        epochs: 3,
        warmup: None,
        precision: PrecisionArgs::default(),
        benchmark_csv: None,
        common: CommonArgs {
            name: Some(name.into()),
            ..CommonArgs::in_dir(dir.path())
        },
    };
    for name in ["serving-a", "serving-b"] {
        let out = run_serving_cmd(&run(name)).await.unwrap();
        let p = &out.run.points[0];
        assert_eq!(p.summary.epochs, 3);
        assert_eq!(p.summary.completed, 72, "{:?}", p.summary.failures);
        assert!(p.client.is_some(), "the dynamic sweep measures the client");
    }
    let folder = |n: &str| dir.path().join(n).join("new").display().to_string();
    let cmp = compare_cmd(&CompareArgs {
        baseline: folder("serving-a"),
        new: folder("serving-b"),
        report_dir: None,
        judge: JudgeArgs {
            gate: true,
            // Changes within 10 % are noise: the TTFT of 24 requests an
            // epoch varies by some per cent with where each arrival falls in
            // the simulator's batch steps.
            noise_threshold: Some(0.1),
            color: "never".into(),
            ..JudgeArgs::default()
        },
        save_comparison: None,
        markdown: None,
    })
    .unwrap();
    assert!(cmp.gated_count() > 0);
    // Every gated metric was judged from 3 epochs a side: an interval and a
    // p-value, never "too few epochs" (what one epoch per rate gave). Whether
    // a latency's interval fits inside the threshold depends on the noise of
    // the machine, so only the reason is asserted for those.
    for m in cmp.metrics.iter().filter(|m| m.gated) {
        let c = &m.comparison;
        let name = m.metric.name();
        assert_eq!((c.base_epochs, c.new_epochs), (3, 3), "{name}");
        assert!(
            matches!(c.undecided, None | Some(Undecided::WideInterval)),
            "{name}: {}",
            c.explain()
        );
        assert!(c.ci_low.is_finite() && c.ci_high.is_finite(), "{name}");
        assert!((0.0..=1.0).contains(&c.p_value), "{name}");
    }
    // The throughputs of one seeded arrival schedule hardly move between the
    // two runs: judged, not inconclusive.
    for m in cmp
        .metrics
        .iter()
        .filter(|m| m.gated && m.metric.name().ends_with("_throughput"))
    {
        assert_ne!(
            m.comparison.verdict,
            Verdict::Inconclusive,
            "{}: {}",
            m.metric.name(),
            m.comparison.explain()
        );
    }
}
