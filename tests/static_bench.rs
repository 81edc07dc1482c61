//! The static benchmark end to end against the embedded simulator.

use servebench::cli::{run_static_cmd, CommonArgs, EndpointArgs, StaticArgs, StaticSweepArgs};
use servebench::sim::SimConfig;

/// The tests time the simulator: one at a time, so that another test's
/// load does not shift this one's figures.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn args(dir: &std::path::Path, sim: &str) -> StaticArgs {
    StaticArgs {
        dataset: Default::default(),
        endpoint: EndpointArgs {
            sim: Some(sim.to_string()),
            ..EndpointArgs::default()
        },
        sweep: StaticSweepArgs {
            epochs: 2,
            parallel_num: vec![1],
            prompt_tokens: vec![64],
            output_tokens: vec![8],
            warmup: Some(1),
            ..StaticSweepArgs::default()
        },
        benchmark_csv: None,
        common: CommonArgs {
            seed: 1,
            ..CommonArgs::in_dir(dir)
        },
    }
}

fn read_records(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v.get("point").is_some())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompt_lengths_are_exact_for_both_flavours() {
    let _one = SERIAL.lock().await;
    for backend in ["openai", "openai-chat"] {
        let dir = tempfile::tempdir().unwrap();
        let mut a = args(dir.path(), "time_scale=0.05");
        a.endpoint.backend = backend.to_string();
        a.sweep.prompt_tokens = vec![1, 37, 512, 2000];
        a.sweep.output_tokens = vec![4, 4, 4, 4];
        a.sweep.epochs = 1;
        let out = run_static_cmd(&a).await.unwrap();
        let recs = read_records(&out.paths.records);
        assert_eq!(recs.len(), 4);
        let mut lens: Vec<u64> = recs
            .iter()
            .map(|r| r["input_tokens"].as_u64().unwrap())
            .collect();
        lens.sort();
        assert_eq!(lens, vec![1, 37, 512, 2000]);
        for r in recs {
            assert!(r["failure"].is_null(), "{backend}: {r}");
            // The server counts the prompt (or message content) with the same tokenizer.
            assert_eq!(r["usage_input_tokens"], r["input_tokens"], "{backend}");
            assert_eq!(r["output_tokens"], 4);
        }
        // The tokenizer's count of the text, made after the epoch.
        for p in &out.run.points {
            for r in &p.epochs[0] {
                assert_eq!(r.counted_output_tokens, Some(4), "{backend}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttft_and_tpot_match_the_model_and_server_figures() {
    let _one = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let sim = "time_scale=0.25,seed=3";
    let mut a = args(dir.path(), sim);
    a.sweep.prompt_tokens = vec![512];
    a.sweep.output_tokens = vec![40];
    a.sweep.epochs = 3;
    a.endpoint.return_latency = true;
    let out = run_static_cmd(&a).await.unwrap();
    let mut cfg = SimConfig::default();
    cfg.apply_kv(sim).unwrap();
    let want_ttft = cfg.prefill_ms(512);
    let want_step = cfg.decode_step_ms(1);
    let s = &out.run.points[0].summary;
    assert_eq!(s.completed, 3);
    let ttft = s.ttft_ms.p(50.0).unwrap();
    let tpot = s.tpot_ms.p(50.0).unwrap();
    // The client is never early, and late by loopback + scheduling only.
    assert!(
        ttft >= want_ttft * 0.97 && ttft <= want_ttft * 1.3 + 3.0,
        "ttft {ttft} vs model {want_ttft}"
    );
    assert!(
        tpot >= want_step * 0.97 && tpot <= want_step * 1.3 + 0.5,
        "tpot {tpot} vs model {want_step}"
    );
    let server = s.server.as_ref().expect("server latency figures recorded");
    let srv_prefill = server.prefill_latency_ms.unwrap();
    assert!(
        (srv_prefill - ttft).abs() <= 0.2 * ttft + 3.0,
        "server prefill {srv_prefill} vs client ttft {ttft}"
    );
    let srv_decode = server.avg_decode_latency_ms.unwrap();
    assert!(
        (srv_decode - tpot).abs() <= 0.2 * tpot + 0.5,
        "server decode {srv_decode} vs client tpot {tpot}"
    );
    let srv_total = server.request_latency_ms.unwrap();
    let e2el = s.e2el_ms.mean.unwrap();
    assert!(
        srv_total <= e2el + 1.0 && srv_total >= e2el * 0.8 - 3.0,
        "server {srv_total} vs e2el {e2el}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throughput_flattens_at_the_batch_limit_and_ttft_rises_with_queueing() {
    let _one = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let mut a = args(
        dir.path(),
        "time_scale=0.1,max_batch=4,decode_per_seq_ms=0.5",
    );
    a.sweep.parallel_num = vec![1, 2, 4, 8, 16];
    a.sweep.prompt_tokens = vec![128];
    a.sweep.output_tokens = vec![32];
    a.sweep.requests_per_worker = 3;
    a.sweep.epochs = 1;
    let out = run_static_cmd(&a).await.unwrap();
    let tput: Vec<f64> = out
        .run
        .points
        .iter()
        .map(|p| p.summary.output_throughput)
        .collect();
    let ttft: Vec<f64> = out
        .run
        .points
        .iter()
        .map(|p| p.summary.ttft_ms.p(50.0).unwrap())
        .collect();
    assert!(out.run.points.iter().all(|p| p.summary.failed == 0));
    // Rising up to the batch limit...
    assert!(tput[1] > tput[0] * 1.5, "{tput:?}");
    assert!(tput[2] > tput[1] * 1.4, "{tput:?}");
    // ...then flat: more workers only queue.
    assert!(
        tput[3] < tput[2] * 1.25 && tput[4] < tput[2] * 1.25,
        "{tput:?}"
    );
    // Queued requests wait: median TTFT at 16 workers is far above that at 4.
    assert!(ttft[4] > ttft[2] * 3.0, "{ttft:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_has_the_documented_columns() {
    let _one = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let mut a = args(dir.path(), "time_scale=0.05");
    a.sweep.parallel_num = vec![1, 2];
    let csv_path = dir.path().join("out/bench.csv");
    a.benchmark_csv = Some(csv_path.clone());
    let out = run_static_cmd(&a).await.unwrap();
    assert_eq!(out.paths.csv, csv_path);
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out.paths.json).unwrap()).unwrap();
    assert_eq!(
        json["run"]["points"][1]["epochs"][0]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let mut rdr = csv::Reader::from_path(&csv_path).unwrap();
    let headers = rdr.headers().unwrap().clone();
    for col in [
        "prompt_tokens",
        "output_tokens",
        "concurrency",
        "epochs",
        "successful_requests",
        "failed_requests",
        "request_throughput_req_per_s",
        "output_token_throughput_tok_per_s",
        "total_token_throughput_tok_per_s",
        "ttft_mean_ms",
        "ttft_p50_ms",
        "ttft_p90_ms",
        "ttft_p99_ms",
        "tpot_mean_ms",
        "tpot_p99_ms",
        "itl_p50_ms",
        "itl_p99_ms",
        "e2el_mean_ms",
        "e2el_p99_ms",
        "decode_speed_mean_tok_per_s",
        "server_time_in_queue_mean_ms",
    ] {
        assert!(headers.iter().any(|h| h == col), "missing column {col}");
    }
    let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 2);
    let idx = |name: &str| headers.iter().position(|h| h == name).unwrap();
    assert_eq!(&rows[1][idx("concurrency")], "2");
    assert_eq!(&rows[1][idx("successful_requests")], "4");
    let tput: f64 = rows[1][idx("output_token_throughput_tok_per_s")]
        .parse()
        .unwrap();
    assert!(tput > 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_flags_are_rejected_before_any_load() {
    let _one = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let mut a = args(dir.path(), "time_scale=0.05");
    a.sweep.prompt_tokens = vec![10, 20];
    let e = run_static_cmd(&a).await.unwrap_err();
    assert!(e.to_string().contains("--prompt-tokens"), "{e}");
    assert_eq!(e.exit_code(), 2);
    let mut a = args(dir.path(), "time_scale=0.05");
    a.endpoint.backend = "nope".into();
    assert!(run_static_cmd(&a)
        .await
        .unwrap_err()
        .to_string()
        .contains("--backend nope"));
    let mut a = args(dir.path(), "time_scale=0.05");
    a.endpoint.tokenizer = Some("/no/such/tokenizer.json".into());
    assert!(run_static_cmd(&a)
        .await
        .unwrap_err()
        .to_string()
        .contains("/no/such/tokenizer.json"));
    let mut a = args(dir.path(), "no_such_key=1");
    assert!(run_static_cmd(&a)
        .await
        .unwrap_err()
        .to_string()
        .contains("no_such_key"));
    a = args(dir.path(), "time_scale=0.05");
    a.endpoint.url = Some("not a url".into());
    assert!(run_static_cmd(&a)
        .await
        .unwrap_err()
        .to_string()
        .contains("--url"));
    // Nothing was measured, so no records file was created.
    assert!(!dir.path().join("static/new/records.jsonl").exists());
}
