//! Other tools' results beside servebench's (`servebench import` /
//! `servebench export`), through the real binary: each sample file of
//! `tests/data/interop/` imports with the figures the file states, the
//! per-request files rebuild their records, summary-only imports are marked
//! and refused by `compare`, bad files exit 2 naming the file before
//! anything is written, and export then import gives the same figures.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use servebench::baseline::load_run;
use servebench::metrics::RunData;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/interop")
        .join(name)
}

fn servebench(args: &[&str], reports: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_servebench"))
        .args(args)
        .env("SERVEBENCH_REPORT_DIR", reports)
        .env("NO_COLOR", "1")
        .output()
        .expect("run servebench")
}

fn ok(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{text}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// Import `file` into `<tmp>/run` and load the run written.
fn import(tmp: &Path, file: &Path, extra: &[&str]) -> (RunData, String) {
    let dir = tmp.join("run");
    let mut args = vec![
        "import",
        file.to_str().unwrap(),
        "-o",
        dir.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    args.push("--noplot");
    let out = ok(&servebench(&args, &tmp.join("reports")));
    (load_run(&dir.join("run.json")).expect("run.json"), out)
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn close(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() <= 1e-6 * b.abs().max(1.0),
        "{what}: {a} vs {b}"
    );
}

#[test]
fn vllm_detailed_rebuilds_each_request_and_its_chunks() {
    let tmp = tempfile::tempdir().unwrap();
    let file = data("vllm_detailed.json");
    let v = json(&file);
    let (run, stdout) = import(tmp.path(), &file, &[]);
    assert!(stdout.contains("per-request records"), "{stdout}");
    let info = run.meta.imported.as_ref().expect("imported");
    assert_eq!(info.tool, "vllm");
    assert!(info.summary_only_points.is_empty());
    assert_eq!(run.meta.model, "facebook/opt-125m");
    let p = &run.points[0];
    assert_eq!(p.label.id(), "rate-4");
    let s = &p.summary;
    assert_eq!((s.sent, s.completed, s.failed), (5, 4, 1));
    close(
        s.ttft_ms.p(50.0).unwrap(),
        v["median_ttft_ms"].as_f64().unwrap(),
        "TTFT p50",
    );
    close(
        s.ttft_ms.p(99.0).unwrap(),
        v["p99_ttft_ms"].as_f64().unwrap(),
        "TTFT p99",
    );
    close(
        s.ttft_ms.mean.unwrap(),
        v["mean_ttft_ms"].as_f64().unwrap(),
        "TTFT mean",
    );
    // vLLM's ITL is the gap between chunks: servebench's chunk gap.
    close(
        s.chunk_gap_ms.mean.unwrap(),
        v["mean_itl_ms"].as_f64().unwrap(),
        "ITL mean",
    );
    close(
        s.chunk_gap_ms.p(50.0).unwrap(),
        v["median_itl_ms"].as_f64().unwrap(),
        "ITL p50",
    );
    close(
        s.request_throughput,
        v["request_throughput"].as_f64().unwrap(),
        "req/s",
    );
    close(
        s.output_throughput,
        v["output_throughput"].as_f64().unwrap(),
        "tok/s",
    );
    // Each request's chunks are its TTFT and then its ITLs, one token each.
    let recs = &p.epochs[0];
    for (i, r) in recs.iter().enumerate().take(4) {
        let itls: Vec<f64> = v["itls"][i]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g.as_f64().unwrap() * 1e3)
            .collect();
        let gaps: Vec<f64> = r.chunk_gaps_ms().collect();
        assert_eq!(gaps.len(), itls.len());
        for (g, want) in gaps.iter().zip(&itls) {
            close(*g, *want, "chunk gap");
        }
        assert_eq!(r.output_tokens, v["output_lens"][i].as_u64().unwrap());
        assert_eq!(
            r.chunks.iter().map(|c| c.1 as u64).sum::<u64>(),
            r.output_tokens
        );
        close(
            r.ttft_ms.unwrap(),
            v["ttfts"][i].as_f64().unwrap() * 1e3,
            "ttft",
        );
        close(r.done_ms, v["latencies"][i].as_f64().unwrap() * 1e3, "done");
        assert_eq!(r.input_tokens, v["input_lens"][i].as_u64().unwrap());
    }
    let failed = &recs[4];
    assert!(failed
        .failure
        .as_ref()
        .unwrap()
        .message
        .contains("HTTP 500"));
    // vLLM's TPOT runs to the end of the body: the difference is a note.
    let notes = run.notes();
    assert!(notes.iter().any(|n| n.contains("ITL is per chunk")));
    assert!(notes
        .iter()
        .any(|n| n.contains("mean TPOT (ms): vllm reported")));
}

#[test]
fn vllm_summary_only_is_marked_in_every_output_and_compare_refuses_it() {
    let tmp = tempfile::tempdir().unwrap();
    let file = data("vllm_summary.json");
    let v = json(&file);
    let (run, stdout) = import(tmp.path(), &file, &[]);
    assert!(stdout.contains("summary only"), "{stdout}");
    let info = run.meta.imported.as_ref().unwrap();
    assert_eq!(info.summary_only_points, vec!["rate-4".to_string()]);
    let s = &run.points[0].summary;
    assert!(run.points[0].epochs.is_empty());
    assert_eq!((s.completed, s.failed), (4, 1));
    close(
        s.ttft_ms.p(50.0).unwrap(),
        v["median_ttft_ms"].as_f64().unwrap(),
        "TTFT p50",
    );
    close(
        s.tpot_ms.p(99.0).unwrap(),
        v["p99_tpot_ms"].as_f64().unwrap(),
        "TPOT p99",
    );
    close(
        s.chunk_gap_ms.mean.unwrap(),
        v["mean_itl_ms"].as_f64().unwrap(),
        "ITL mean",
    );
    close(
        s.e2el_ms.p(50.0).unwrap(),
        v["median_e2el_ms"].as_f64().unwrap(),
        "E2EL p50",
    );
    close(s.wall_s, v["duration"].as_f64().unwrap(), "duration");
    let dir = tmp.path().join("run");
    for f in [
        "summary.md",
        "benchmark.csv",
        "report/index.html",
        "meta.json",
    ] {
        let text = std::fs::read_to_string(dir.join(f)).unwrap();
        assert!(
            text.contains("summary only"),
            "{f} does not say summary only"
        );
    }
    // `report` rebuilds from records.jsonl but keeps the tool's figures.
    ok(&servebench(
        &["report", dir.to_str().unwrap(), "-q", "--noplot"],
        &tmp.path().join("reports"),
    ));
    let again = load_run(&dir.join("run.json")).unwrap();
    close(
        again.points[0].summary.ttft_ms.p(50.0).unwrap(),
        v["median_ttft_ms"].as_f64().unwrap(),
        "TTFT p50 after report",
    );
    // compare refuses it by name, exit 2.
    let detailed = tmp.path().join("detailed");
    ok(&servebench(
        &[
            "import",
            data("vllm_detailed.json").to_str().unwrap(),
            "-o",
            detailed.to_str().unwrap(),
            "-q",
            "--noplot",
        ],
        &tmp.path().join("reports"),
    ));
    let out = servebench(
        &["compare", detailed.to_str().unwrap(), dir.to_str().unwrap()],
        &tmp.path().join("reports"),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("summary only") && err.contains("rate-4"),
        "{err}"
    );
}

#[test]
fn aiperf_records_and_summary_import_with_the_files_figures() {
    let tmp = tempfile::tempdir().unwrap();
    let summary = json(&data("aiperf/profile_export_aiperf.json"));
    let (run, _) = import(tmp.path(), &data("aiperf/profile_export.jsonl"), &[]);
    assert!(run
        .meta
        .imported
        .as_ref()
        .unwrap()
        .summary_only_points
        .is_empty());
    let p = &run.points[0];
    // The sibling summary gives the load: concurrency 2.
    assert_eq!(p.label.id(), "rate-inf");
    assert!(
        p.label.describe().contains("max concurrency 2"),
        "{}",
        p.label.describe()
    );
    let s = &p.summary;
    assert_eq!((s.sent, s.completed, s.failed), (5, 4, 1));
    let f = |tag: &str, stat: &str| summary[tag][stat].as_f64().unwrap();
    close(
        s.ttft_ms.p(50.0).unwrap(),
        f("time_to_first_token", "p50"),
        "TTFT p50",
    );
    close(
        s.ttft_ms.p(90.0).unwrap(),
        f("time_to_first_token", "p90"),
        "TTFT p90",
    );
    // aiperf's inter_token_latency is servebench's TPOT.
    close(
        s.tpot_ms.mean.unwrap(),
        f("inter_token_latency", "avg"),
        "TPOT mean",
    );
    close(
        s.chunk_gap_ms.p(50.0).unwrap(),
        f("inter_chunk_latency", "p50"),
        "ICL p50",
    );
    close(
        s.e2el_ms.p(99.0).unwrap(),
        f("request_latency", "p99"),
        "E2EL p99",
    );
    assert_eq!(run.meta.model, "facebook/opt-125m");

    let tmp2 = tempfile::tempdir().unwrap();
    let (run, _) = import(
        tmp2.path(),
        &data("aiperf/profile_export_aiperf.json"),
        &["--format", "aiperf"],
    );
    assert_eq!(
        run.meta.imported.as_ref().unwrap().summary_only_points,
        vec!["rate-inf".to_string()]
    );
    let s = &run.points[0].summary;
    assert_eq!((s.completed, s.failed), (4, 1));
    close(
        s.ttft_ms.p(50.0).unwrap(),
        f("time_to_first_token", "p50"),
        "TTFT p50",
    );
    close(
        s.tpot_ms.p(99.0).unwrap(),
        f("inter_token_latency", "p99"),
        "TPOT p99",
    );
    close(
        s.request_throughput,
        f("request_throughput", "avg"),
        "req/s",
    );
    close(s.wall_s, f("benchmark_duration", "avg"), "duration");
    assert!(run
        .notes()
        .iter()
        .any(|n| n.contains("which is servebench's TPOT")));
}

#[test]
fn guidellm_benchmarks_import_per_request_and_summary_points() {
    let tmp = tempfile::tempdir().unwrap();
    let file = data("guidellm_benchmarks.json");
    let g = json(&file);
    let (run, _) = import(tmp.path(), &file, &[]);
    let ids: Vec<String> = run.points.iter().map(|p| p.label.id()).collect();
    assert_eq!(ids, vec!["p128-o6-c1", "rate-4"]);
    assert_eq!(
        run.meta.imported.as_ref().unwrap().summary_only_points,
        vec!["rate-4".to_string()]
    );
    for (i, p) in run.points.iter().enumerate() {
        let m = &g["benchmarks"][i]["metrics"];
        let d = |name: &str, stat: &str| m[name]["successful"][stat].as_f64().unwrap();
        let s = &p.summary;
        assert_eq!(s.completed, 4);
        close(
            s.ttft_ms.p(50.0).unwrap(),
            d("time_to_first_token_ms", "median"),
            "TTFT p50",
        );
        // guidellm's ITL is servebench's TPOT.
        close(
            s.tpot_ms.mean.unwrap(),
            d("inter_token_latency_ms", "mean"),
            "TPOT mean",
        );
    }
    let notes = run.notes();
    assert!(notes.iter().any(|n| n.contains("includes the first token")));
    assert!(notes
        .iter()
        .any(|n| n.contains("inferred: guidellm chunk times")));
}

#[test]
fn unknown_or_broken_files_exit_2_naming_them_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let reports = tmp.path().join("reports");
    let cases: [(&str, &[&str], &str); 3] = [
        (
            "not_a_result.json",
            &[],
            "not a vLLM, aiperf or guidellm result file",
        ),
        ("bad_aiperf.jsonl", &[], "line 3"),
        (
            "guidellm_benchmarks.json",
            &["--format", "vllm"],
            "not a valid vllm result",
        ),
    ];
    for (name, extra, needle) in cases {
        let file = data(name);
        let mut args = vec!["import", file.to_str().unwrap()];
        args.extend_from_slice(extra);
        let out = servebench(&args, &reports);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(err.contains(name) && err.contains(needle), "{name}: {err}");
        assert!(!reports.exists(), "{name}: something was written");
    }
    // A good file after a bad one: still nothing written.
    let out = servebench(
        &[
            "import",
            data("vllm_summary.json").to_str().unwrap(),
            data("not_a_result.json").to_str().unwrap(),
        ],
        &reports,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(!reports.exists());
}

/// A servebench run of the simulator, exported as vLLM's and aiperf's
/// files and imported again, gives the same figures; `compare` of the
/// simulator run and the imports runs.
#[test]
fn export_then_import_gives_the_same_figures() {
    let tmp = tempfile::tempdir().unwrap();
    let reports = tmp.path().join("reports");
    let r = reports.to_str().unwrap();
    ok(&servebench(
        &[
            "serving",
            "--request-rate",
            "4",
            "--num-prompts",
            "5",
            "--random-input-len",
            "32",
            "--random-output-len",
            "6",
            "--epochs",
            "3",
            "--sim",
            "time_scale=0.05",
            "--name",
            "sim",
            "--output-dir",
            r,
            "-q",
            "--noplot",
        ],
        &reports,
    ));
    let original = load_run(&reports.join("sim/new/run.json")).unwrap();
    let v = tmp.path().join("vllm.json");
    let a = tmp.path().join("aiperf");
    ok(&servebench(
        &[
            "export",
            "sim/new",
            "--format",
            "vllm",
            "-o",
            v.to_str().unwrap(),
        ],
        &reports,
    ));
    ok(&servebench(
        &[
            "export",
            "sim/new",
            "--format",
            "aiperf",
            "-o",
            a.to_str().unwrap(),
        ],
        &reports,
    ));
    let files = [
        v.clone(),
        a.join("profile_export.jsonl"),
        a.join("profile_export_aiperf.json"),
    ];
    for (i, f) in files.iter().enumerate() {
        let name = format!("back{i}");
        ok(&servebench(
            &[
                "import",
                f.to_str().unwrap(),
                "--name",
                &name,
                "-q",
                "--noplot",
            ],
            &reports,
        ));
        let back = load_run(&reports.join(&name).join("new/run.json")).unwrap();
        assert!(
            back.meta.notes[0].contains("written by `servebench export`"),
            "{}",
            back.meta.notes[0]
        );
        let (o, b) = (&original.points[0], &back.points[0]);
        assert_eq!(o.label.id(), b.label.id(), "{}", f.display());
        let (os, bs) = (&o.summary, &b.summary);
        assert_eq!((os.completed, os.failed), (bs.completed, bs.failed));
        close(bs.wall_s, os.wall_s, "wall");
        close(bs.request_throughput, os.request_throughput, "req/s");
        close(bs.output_throughput, os.output_throughput, "out tok/s");
        close(bs.total_throughput, os.total_throughput, "tok/s");
        for (what, x, y) in [
            ("ttft", &os.ttft_ms, &bs.ttft_ms),
            ("tpot", &os.tpot_ms, &bs.tpot_ms),
            ("e2el", &os.e2el_ms, &bs.e2el_ms),
            ("chunk gap", &os.chunk_gap_ms, &bs.chunk_gap_ms),
        ] {
            close(y.mean.unwrap(), x.mean.unwrap(), what);
            for p in [50.0, 90.0, 99.0] {
                close(y.p(p).unwrap(), x.p(p).unwrap(), what);
            }
        }
        let out = servebench(&["compare", "sim/new", &format!("{name}/new")], &reports);
        if i < 2 {
            // Per-request imports keep the epochs servebench exported:
            // compared point by point, epoch by epoch, and unchanged.
            let text = ok(&out);
            assert!(text.contains("ttft_p50"), "{text}");
            assert_eq!(b.epochs.len(), o.epochs.len());
            assert!(!text.contains("vs 1 epochs"), "{text}");
            assert!(
                !text.contains("has regressed") && !text.contains("has improved"),
                "{text}"
            );
        } else {
            assert_eq!(out.status.code(), Some(2));
            assert!(String::from_utf8_lossy(&out.stderr).contains("summary only"));
        }
    }
}
