//! A real inference engine in the loop: llama.cpp's `llama-server`, built
//! from the PyPI source package `llama-cpp-python` 0.3.36 by
//! `scripts/llama/build.sh` (cached in `$SERVEBENCH_LLAMA_CACHE`, default
//! `~/.cache/servebench/llama`), serving a tiny random-weight model with
//! GPT-2's vocabulary and a matching `tokenizer.json`.
//!
//! `.ci/run` builds it and sets `SERVEBENCH_REQUIRE_LLAMA=1`, so that a
//! missing engine fails the run there; elsewhere the test says loudly that
//! it did not run (build it with `scripts/llama/build.sh`).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use servebench::cli::{run_static_cmd, CommonArgs, EndpointArgs, StaticArgs, StaticSweepArgs};
use servebench::metrics::RunData;

fn cache() -> PathBuf {
    match std::env::var_os("SERVEBENCH_LLAMA_CACHE") {
        Some(d) => PathBuf::from(d),
        None => {
            PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/servebench/llama")
        }
    }
}

/// The running server, killed when dropped.
struct Server {
    pid: u32,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.pid.to_string()).status();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start() -> Option<Server> {
    let c = cache();
    let ready = ["bin/llama-server", "tiny.gguf", "tokenizer.json"]
        .iter()
        .all(|f| c.join(f).is_file());
    if !ready {
        let required = std::env::var_os("SERVEBENCH_REQUIRE_LLAMA").is_some();
        let msg = format!(
            "llama-server is not built in {} (run scripts/llama/build.sh)",
            c.display()
        );
        assert!(!required, "{msg}; SERVEBENCH_REQUIRE_LLAMA is set");
        eprintln!("\n!!! NOT RUN: {msg} !!!\n");
        return None;
    }
    let port = free_port();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/llama/serve.sh");
    let out = Command::new("bash")
        .arg(script)
        .arg(port.to_string())
        .env("SERVE_NO_BUILD", "1")
        .stderr(Stdio::inherit())
        .output()
        .expect("run serve.sh");
    assert!(out.status.success(), "serve.sh failed");
    let pid: u32 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .expect("serve.sh prints the pid");
    Some(Server {
        pid,
        url: format!("http://127.0.0.1:{port}"),
    })
}

fn args(s: &Server, dir: &std::path::Path, backend: &str) -> StaticArgs {
    StaticArgs {
        dataset: Default::default(),
        endpoint: EndpointArgs {
            backend: backend.into(),
            url: Some(s.url.clone()),
            served_model_name: Some("tiny".into()),
            tokenizer: Some(cache().join("tokenizer.json")),
            ..EndpointArgs::default()
        },
        sweep: StaticSweepArgs {
            epochs: 3,
            parallel_num: vec![1, 4, 8],
            prompt_tokens: vec![512],
            output_tokens: vec![64],
            requests_per_worker: 2,
            warmup: Some(1),
            ..StaticSweepArgs::default()
        },
        benchmark_csv: None,
        common: CommonArgs::in_dir(dir),
    }
}

/// Every request succeeded with the asked lengths. `template`: the prompt
/// tokens the server adds around a chat message (its chat template), the
/// same for every request; 0 for completions.
fn check_exact(r: &RunData, expect: usize, what: &str, template: Option<u64>) {
    let recs: Vec<_> = r
        .points
        .iter()
        .flat_map(|p| p.epochs.iter().flatten())
        .collect();
    assert_eq!(recs.len(), expect, "{what}");
    let overhead = template.unwrap_or_else(|| {
        recs[0]
            .usage_input_tokens
            .unwrap_or(0)
            .saturating_sub(recs[0].input_tokens)
    });
    for rec in &recs {
        assert!(rec.failure.is_none(), "{what}: {:?}", rec.failure);
        assert_eq!(
            rec.usage_input_tokens,
            Some(rec.input_tokens + overhead),
            "{what}: prompt length"
        );
        assert_eq!(rec.output_tokens, 64, "{what}: output length");
        // llama.cpp's own timings are recorded beside the client's.
        let server = rec.server.as_ref().expect("llama.cpp timings");
        assert!(server.prefill_latency.is_some_and(|p| p > 0.0));
        assert!(server.avg_decode_latency.is_some_and(|d| d > 0.0));
    }
    // The server's decode time per token and the client's TPOT agree (the
    // medians over requests; one request read late in one burst has a
    // client TPOT near 0, which is the client's view and stays recorded).
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let dec = median(
        recs.iter()
            .filter_map(|r| r.server.as_ref()?.avg_decode_latency)
            .collect(),
    );
    let tpot = median(recs.iter().filter_map(|r| r.tpot_ms()).collect());
    assert!(
        (dec - tpot).abs() <= 0.25 * dec,
        "{what}: server decode {dec} ms/token vs client TPOT {tpot}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn llama_server_end_to_end() {
    let Some(server) = start() else { return };
    let dir = tempfile::tempdir().unwrap();

    // Completions at concurrency 1, 4, 8, three epochs each, the server's
    // own keep-alive policy (it closes every connection after a stream).
    let a = args(&server, dir.path(), "openai");
    let r = run_static_cmd(&a).await.unwrap().run;
    assert_eq!(r.meta.model, "tiny");
    check_exact(&r, 3 * (2 + 8 + 16), "completions", Some(0));

    // Chat completions.
    let mut a = args(&server, &dir.path().join("chat"), "openai-chat");
    a.sweep.parallel_num = vec![2];
    let r = run_static_cmd(&a).await.unwrap().run;
    // The message content is exact; the chat template adds a fixed number.
    check_exact(&r, 3 * 4, "chat", None);

    // The preflight reads /v1/models: a model the server does not serve is
    // refused before any load, naming what it serves.
    let mut a = args(&server, &dir.path().join("bad"), "openai");
    a.endpoint.served_model_name = Some("no-such-model".into());
    let e = run_static_cmd(&a).await.unwrap_err().to_string();
    assert!(e.contains("/v1/models") && e.contains("tiny"), "{e}");

    // Ctrl-C mid-stream: the binary stops, writes what it measured, exits 130.
    let out = dir.path().join("ctrlc");
    let mut child = Command::new(env!("CARGO_BIN_EXE_servebench"))
        .args([
            "static",
            "--url",
            &server.url,
            "--served-model-name",
            "tiny",
        ])
        .arg("--tokenizer")
        .arg(cache().join("tokenizer.json"))
        .args([
            "--parallel-num",
            "2",
            "--prompt-tokens",
            "64",
            "--output-tokens",
            "3000",
        ])
        .args(["--epochs", "2", "--quiet", "--output-dir"])
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let t0 = Instant::now();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert!(t0.elapsed() < Duration::from_secs(15));
    let run = servebench::baseline::load_run(&out.join("static/new/run.json")).unwrap();
    assert!(run.meta.interrupted);
}
