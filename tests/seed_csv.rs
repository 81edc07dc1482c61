//! `--csv-format seed` end to end: the real binary runs a small static sweep
//! against the embedded simulator and writes the seed tool's CSV at
//! `--benchmark-csv`, servebench's own `benchmark.csv` staying in the run
//! folder; the seed file's bytes, rows and mean TTFT are checked against
//! the run's own figures (`run.json`).

use std::process::Command;

fn ttft_mean_ms(point: &serde_json::Value) -> f64 {
    point["summary"]["ttft_ms"]["mean"].as_f64().unwrap()
}

#[test]
fn static_seed_csv_agrees_with_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("out/benchmark_parallel.csv");
    let out = Command::new(env!("CARGO_BIN_EXE_servebench"))
        .args([
            "static",
            "--sim",
            "time_scale=0.05",
            "--parallel-num",
            "2",
            "1",
            "--prompt-tokens",
            "64",
            "--output-tokens",
            "8",
            "--epochs",
            "2",
            "--csv-format",
            "seed",
            "--percentiles",
            "50,75,99",
            "--quiet",
            "--noplot",
            "--output-dir",
        ])
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
    let run_dir = dir.path().join("static/new");

    let bytes = std::fs::read(&seed).unwrap();
    let head = "\u{FEFF}输入长度,输出长度,并发数,输出tokens总吞吐,首tokens时延TP90（ms）,首tokens时延TP99（ms）,\
                最大首tokens时延（ms）,平均首tokens时延（ms）,增量时延TP90（ms）,增量时延TP99（ms）,\
                最大增量时延（ms）,平均增量时延（ms）\r\n";
    assert!(bytes.starts_with(head.as_bytes()));
    // Read past the BOM: the csv crate keeps it in the first header.
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    // The seed sorts by input, output, concurrency: 1 before 2.
    assert_eq!(&rows[0][2], "1");
    assert_eq!(&rows[1][2], "2");

    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("run.json")).unwrap()).unwrap();
    let run = &json["run"];
    assert_eq!(
        run["meta"]["percentiles"],
        serde_json::json!([50.0, 75.0, 99.0])
    );
    let points = run["points"].as_array().unwrap();
    assert_eq!(points.len(), 2);
    for row in &rows {
        let c: u64 = row[2].parse().unwrap();
        let point = points
            .iter()
            .find(|p| p["label"]["concurrency"].as_u64() == Some(c))
            .unwrap();
        let want = ttft_mean_ms(point);
        let got: f64 = row[7].parse().unwrap();
        // Rounded to 4 dp; a unit slip (s for ms) is off by 1000x.
        assert!(
            (got - want).abs() <= 1e-4 + 1e-6 * want && want > 0.0,
            "TTFT mean {got} ms in the seed CSV, {want} ms in the run"
        );
        assert_eq!(&row[0], "64.0");
        assert_eq!(&row[1], "8.0");
    }

    // servebench's own CSV stays in the run folder, with the asked percentiles.
    let mut own = csv::Reader::from_path(run_dir.join("benchmark.csv")).unwrap();
    let headers = own.headers().unwrap().clone();
    for col in [
        "ttft_p50_ms",
        "ttft_p75_ms",
        "ttft_p99_ms",
        "ttft_max_ms",
        "e2el_max_ms",
    ] {
        assert!(
            headers.iter().any(|h| h == col),
            "{col} missing: {headers:?}"
        );
    }
    assert!(!headers.iter().any(|h| h == "ttft_p90_ms"));

    // `servebench report` rebuilds the same seed file from the records, and
    // servebench's CSV with the run's saved percentiles.
    let rebuilt = dir.path().join("rebuilt.csv");
    std::fs::remove_file(run_dir.join("benchmark.csv")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_servebench"))
        .arg("report")
        .arg(&run_dir)
        .args([
            "--csv-format",
            "seed",
            "--quiet",
            "--noplot",
            "--benchmark-csv",
        ])
        .arg(&rebuilt)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(&rebuilt).unwrap(), bytes);
    let mut own = csv::Reader::from_path(run_dir.join("benchmark.csv")).unwrap();
    assert!(own.headers().unwrap().iter().any(|h| h == "ttft_p75_ms"));
}
