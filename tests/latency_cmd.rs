//! The single-request latency test against the embedded simulator.

use servebench::cli::{
    latency_table, run_latency_cmd, CommonArgs, EndpointArgs, LatencyArgs, LatencyRow,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_figures_beside_the_clients() {
    let dir = tempfile::tempdir().unwrap();
    let a = LatencyArgs {
        endpoint: EndpointArgs {
            sim: Some("time_scale=0.2".into()),
            ..EndpointArgs::default()
        },
        num_requests: 6,
        concurrency: 2,
        prompt_tokens: 300,
        output_tokens: 12,
        common: CommonArgs::in_dir(dir.path()),
    };
    let out = run_latency_cmd(&a).await.unwrap();
    assert!(out.server_reported);
    assert_eq!(out.rows.len(), 6);
    for r in &out.rows {
        assert!(r.error.is_none(), "{r:?}");
        assert_eq!(r.output_tokens, Some(12));
        let s = r.server.unwrap();
        let total = s.request_latency.unwrap();
        // The server's time is inside the client's, and the rest is loopback.
        let rest = r.network_and_client_ms.unwrap();
        assert!(rest >= -0.05 && rest < r.client_e2e_ms, "{r:?}");
        assert!(s.prefill_latency.unwrap() < total);
        assert!(s.model_prefill_latency.unwrap() <= s.prefill_latency.unwrap() + 0.01);
    }
    let csv = std::fs::read_to_string(&out.csv).unwrap();
    assert!(csv.starts_with("id,client_e2e_ms,server_request_latency_ms,network_and_client_ms"));
    assert_eq!(csv.lines().count(), 7);
    // The runs index lists the test, linking to its data.
    let index = std::fs::read_to_string(dir.path().join("index.html")).unwrap();
    assert!(
        index.contains("latency.json\">latency.json</a>") && index.contains("<td>latency</td>"),
        "{index}"
    );
    assert!(index.contains("single-request latency test: client end-to-end p50"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_openai_backends() {
    let dir = tempfile::tempdir().unwrap();
    let a = LatencyArgs {
        endpoint: EndpointArgs {
            backend: "tgi".into(),
            ..EndpointArgs::default()
        },
        num_requests: 1,
        concurrency: 1,
        prompt_tokens: 8,
        output_tokens: 2,
        common: CommonArgs::in_dir(dir.path()),
    };
    assert!(run_latency_cmd(&a)
        .await
        .unwrap_err()
        .to_string()
        .contains("--backend tgi"));
}

#[test]
fn a_server_ignoring_return_latency_gets_a_message_not_zeros() {
    let rows = vec![LatencyRow {
        id: 0,
        client_e2e_ms: 12.5,
        server: None,
        network_and_client_ms: None,
        output_tokens: Some(4),
        error: None,
    }];
    let t = latency_table(&rows, false);
    assert!(t.contains("ignores \"return_latency\""), "{t}");
    assert!(!t.contains("time_in_queue"));
    assert!(t.contains("12.50"));
}
