//! The server's own view, end to end: the simulator serves `/metrics` under
//! vLLM's names; a run scrapes it around and during each measured epoch and
//! puts the server's figures beside the client's (notes, CSV, HTML,
//! `run.json` version 2, `records.jsonl`); an endpoint without metrics is one
//! warning; a prefix cache left warm by an earlier run is named; version-1
//! run files are still read.

mod common {
    pub mod sim;
}

use std::path::Path;

use servebench::cli::{
    rebuild_run, run_serving_cmd, CommonArgs, EndpointArgs, PrecisionArgs, ServingArgs,
    ServingSweepArgs,
};
use servebench::metrics::{PointData, Rate};

/// 24 requests at 30 req/s, 2 epochs, 64 prompt and 12 output tokens.
fn args(dir: &Path, endpoint: EndpointArgs) -> ServingArgs {
    ServingArgs {
        endpoint: EndpointArgs {
            metrics_interval: 0.1,
            ..endpoint
        },
        sweep: ServingSweepArgs {
            random_input_len: 64,
            random_output_len: 12,
            request_rate: vec![Rate(30.0)],
            num_prompts: vec![24],
            ..ServingSweepArgs::default()
        },
        epochs: 2,
        warmup: Some(2),
        precision: PrecisionArgs::default(),
        benchmark_csv: None,
        common: CommonArgs::in_dir(dir),
    }
}

fn embedded(sim: &str) -> EndpointArgs {
    EndpointArgs {
        sim: Some(sim.into()),
        ..EndpointArgs::default()
    }
}

fn remote(url: &str) -> EndpointArgs {
    EndpointArgs {
        url: Some(url.into()),
        ..EndpointArgs::default()
    }
}

/// The server's view of `a` is `b`'s, read back from JSON (floats to the
/// last bit or so: serde_json's float parsing is not always exact).
fn same_view(a: &PointData, b: &PointData) {
    let (a, b) = (a.server.as_ref().unwrap(), b.server.as_ref().unwrap());
    assert_eq!(a.epochs.len(), b.epochs.len());
    assert_eq!(a.summary.prompt_tokens, b.summary.prompt_tokens);
    assert_eq!(a.summary.generation_tokens, b.summary.generation_tokens);
    for (k, x) in &b.summary.latency {
        let y = &a.summary.latency[k];
        assert_eq!(x.count, y.count, "{k}");
        let close = |u: Option<f64>, v: Option<f64>| (u.unwrap() - v.unwrap()).abs() < 1e-9;
        assert!(
            close(x.p50_ms, y.p50_ms) && close(x.mean_ms, y.mean_ms),
            "{k}"
        );
    }
}

fn only_point(run: &servebench::metrics::RunData) -> &PointData {
    assert_eq!(run.points.len(), 1);
    &run.points[0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_figures_sit_beside_the_clients() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_serving_cmd(&args(dir.path(), embedded("time_scale=0.3")))
        .await
        .unwrap();
    let p = only_point(&out.run);
    assert_eq!(p.summary.failed, 0);
    let server = p
        .server
        .as_ref()
        .expect("the simulator's metrics were read");
    assert_eq!(server.engine, "vllm");
    assert!(server.url.ends_with("/metrics"), "{}", server.url);
    assert_eq!(server.epochs.len(), 2);
    for e in &server.epochs {
        // Scraped every 0.1 s over an epoch of most of a second, plus the
        // scrapes just before and just after.
        assert!(e.series.len() >= 4, "{} scrapes", e.series.len());
        assert!(e.end_unix_s > e.start_unix_s);
        // The epoch's counters cover exactly its 24 requests (warm-up out).
        assert_eq!(e.latency["ttft"].1.count, 24.0);
        assert_eq!(e.latency["e2el"].1.count, 24.0);
    }
    // What the server counted is what the requests' usage says.
    let (prompt, output) = p.client_tokens();
    assert_eq!(prompt, 48.0 * 64.0);
    assert_eq!(server.summary.prompt_tokens, Some(prompt));
    assert_eq!(server.summary.generation_tokens, Some(output));
    assert_eq!(output, 48.0 * 12.0);
    // The server's clock starts when the request arrives, the client's
    // just before it writes it: the client's mean is later by the
    // network and HTTP stack, well under the latencies themselves.
    let by = p.server_side_by_side();
    for key in ["TTFT", "E2EL"] {
        let x = by
            .iter()
            .find(|x| x.latency.key().to_uppercase() == key)
            .unwrap_or_else(|| panic!("no {key}"));
        let (s, c) = (x.server_mean_ms.unwrap(), x.client_mean_ms.unwrap());
        let d = c - s;
        assert!(s > 1.0, "{key}: server mean {s} ms");
        assert!(
            (-0.05..5.0).contains(&d),
            "{key}: client {c} ms, server {s} ms"
        );
    }
    let notes = out.run.notes().join("\n");
    assert!(
        notes.contains("server metrics (vllm, http://127.0.0.1:"),
        "{notes}"
    );
    assert!(!notes.contains("the server counted"), "{notes}");
    let csv = std::fs::read_to_string(&out.paths.csv).unwrap();
    let head: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let row: Vec<&str> = csv.lines().nth(1).unwrap().split(',').collect();
    let at = |name: &str| head.iter().position(|h| *h == name).unwrap();
    assert_eq!(
        row[at("metrics_prompt_tokens")].parse::<f64>().unwrap(),
        prompt
    );
    assert!(row[at("metrics_ttft_mean_ms")].parse::<f64>().unwrap() > 1.0);
    let html = std::fs::read_to_string(out.paths.html.as_ref().unwrap()).unwrap();
    assert!(html.contains("<h2 id=\"server\">Server metrics</h2>"));
    assert!(html.contains("vllm:time_to_first_token_seconds"));
    // The records file keeps the server's view: a rebuilt run has it too.
    let rebuilt = rebuild_run(&out.paths.records).unwrap();
    same_view(&rebuilt.run.points[0], p);
    // run.json is version 2 and holds the view; a version-1 file (written
    // before server metrics) still loads.
    let text = std::fs::read_to_string(&out.paths.json).unwrap();
    assert!(text.starts_with("{\"format\":\"servebench-run\",\"version\":2,"));
    let loaded = servebench::baseline::load_run(&out.paths.json).unwrap();
    same_view(&loaded.points[0], p);
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["version"] = 1.into();
    for p in v["run"]["points"].as_array_mut().unwrap() {
        p.as_object_mut().unwrap().remove("server");
    }
    let old = dir.path().join("v1.json");
    std::fs::write(&old, v.to_string()).unwrap();
    let loaded = servebench::baseline::load_run(&old).unwrap();
    assert!(loaded.points[0].server.is_none());
    assert_eq!(loaded.points[0].summary.completed, p.summary.completed);
    assert_eq!(
        loaded.points[0].summary.ttft_ms.count,
        p.summary.ttft_ms.count
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_separate_simulator_with_and_without_metrics() {
    let sim = common::sim::SimProcess::start("time_scale=0.3");
    let dir = tempfile::tempdir().unwrap();
    let out = run_serving_cmd(&args(dir.path(), remote(&sim.url)))
        .await
        .unwrap();
    let server = only_point(&out.run).server.as_ref().expect("scraped");
    assert_eq!(server.url, format!("{}/metrics", sim.url));
    assert_eq!(server.summary.generation_tokens, Some(48.0 * 12.0));
    // Turned off: no view, no warning.
    let off = EndpointArgs {
        no_server_metrics: true,
        ..remote(&sim.url)
    };
    let out = run_serving_cmd(&args(dir.path(), off)).await.unwrap();
    assert!(only_point(&out.run).server.is_none());
    assert!(!out.run.notes().join("\n").contains("server metrics"));
    // A place without metrics: one warning, and the run goes on.
    let nowhere = EndpointArgs {
        metrics_url: Some(format!("{}/no-metrics-here", sim.url)),
        ..remote(&sim.url)
    };
    let out = run_serving_cmd(&args(dir.path(), nowhere)).await.unwrap();
    let p = only_point(&out.run);
    assert_eq!(p.summary.completed, 48);
    assert!(p.server.is_none());
    let notes = out.run.notes().join("\n");
    assert!(
        notes.contains("server metrics: not read") && notes.contains("HTTP 404"),
        "{notes}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefix_cache_left_warm_by_an_earlier_run_is_named() {
    let sim = common::sim::SimProcess::start("time_scale=0.3,prefix_cache=true");
    let dir = tempfile::tempdir().unwrap();
    let first = run_serving_cmd(&args(dir.path(), remote(&sim.url)))
        .await
        .unwrap();
    let p = only_point(&first.run);
    let cold = p.server.as_ref().unwrap().summary.prefix_hit_ratio.unwrap();
    assert!(cold < 0.2, "first run's hit ratio {cold}");
    assert!(!first.run.notes().join("\n").contains("warm prefix cache"));
    // The same seed again: the same prompts, already in the cache.
    let again = run_serving_cmd(&args(dir.path(), remote(&sim.url)))
        .await
        .unwrap();
    let p = only_point(&again.run);
    let warm = p.server.as_ref().unwrap().summary.prefix_hit_ratio.unwrap();
    assert!(warm > 0.7, "second run's hit ratio {warm}");
    let notes = again.run.notes().join("\n");
    assert!(notes.contains("warm prefix cache"), "{notes}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_metrics_flags_are_refused_before_any_load() {
    let dir = tempfile::tempdir().unwrap();
    for (endpoint, flag) in [
        (
            EndpointArgs {
                metrics_interval: 0.0,
                ..EndpointArgs::default()
            },
            "--metrics-interval",
        ),
        (
            EndpointArgs {
                metrics_url: Some("localhost:9/metrics".into()),
                ..EndpointArgs::default()
            },
            "--metrics-url",
        ),
    ] {
        let mut a = args(dir.path(), endpoint.clone());
        a.endpoint = endpoint;
        let e = run_serving_cmd(&a).await.unwrap_err().to_string();
        assert!(e.contains(flag), "{e}");
    }
    // Nothing was measured: no records anywhere under the folder.
    let mut stack = vec![dir.path().to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let path = e.path();
            assert_ne!(e.file_name(), "records.jsonl", "{}", path.display());
            if path.is_dir() {
                stack.push(path);
            }
        }
    }
}
