//! `--source-addresses`: the run's connections come from each given local
//! address in turn (one address has only its ephemeral ports to a server).

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;

type Seen = Arc<Mutex<BTreeSet<IpAddr>>>;

/// Where each request of the load (a POST; `/v1/models` is read once by a
/// client of its own) came from.
async fn record(
    State(seen): State<Seen>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: axum::http::Method,
) -> StatusCode {
    if method == axum::http::Method::POST {
        seen.lock().unwrap().insert(peer.ip());
    }
    StatusCode::SERVICE_UNAVAILABLE
}

#[tokio::test]
async fn connections_come_from_every_given_source_address() {
    let seen: Seen = Arc::default();
    let app = axum::Router::new()
        .fallback(record)
        .with_state(seen.clone())
        .into_make_service_with_connect_info::<SocketAddr>();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let dir = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_servebench"))
        .args(["static", "--url", &format!("http://127.0.0.1:{port}")])
        .args(["--source-addresses", "127.0.0.2,127.0.0.3,127.0.0.4"])
        .args([
            "--no-preflight",
            "--no-server-metrics",
            "--served-model-name",
            "m",
        ])
        .args([
            "--parallel-num",
            "3",
            "--prompt-tokens",
            "8",
            "--output-tokens",
            "2",
        ])
        .args([
            "--epochs",
            "1",
            "--warmup",
            "0",
            "--requests-per-worker",
            "4",
        ])
        .args(["--max-failure-rate", "1", "-q", "--noplot", "--output-dir"])
        .arg(dir.path())
        .output()
        .await
        .unwrap();
    server.abort();
    // Every request failed (503), so the run exits 1; the point is where
    // its connections came from.
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want: BTreeSet<IpAddr> = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
        .iter()
        .map(|a| a.parse().unwrap())
        .collect();
    assert_eq!(*seen.lock().unwrap(), want);
}

#[test]
fn too_few_source_addresses_are_refused_before_any_load() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_servebench"))
        .args(["static", "--url", "http://127.0.0.1:9", "--no-preflight"])
        .args([
            "--source-addresses",
            "127.0.0.2",
            "--served-model-name",
            "m",
        ])
        .args([
            "--parallel-num",
            "200000",
            "--prompt-tokens",
            "8",
            "--output-tokens",
            "2",
        ])
        .args(["--epochs", "1", "-q", "--output-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--source-addresses") && err.contains("1 given"),
        "{err}"
    );
}
