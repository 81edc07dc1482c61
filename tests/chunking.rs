//! Per-token ITL comes from what the stream shows, not from
//! `--num-scheduler-steps`: a separately started simulator streams one way,
//! the flag says another, and the figures and the warning follow the stream.

use servebench::cli::{run_static_cmd, CommonArgs, EndpointArgs, StaticArgs, StaticSweepArgs};
use servebench::metrics::RunData;
use servebench::sim::{SimConfig, SimServer};
use servebench::workload::Tokenizer;

/// Start a simulator with its own settings, apart from the run's flags.
async fn sim(kv: &str) -> SimServer {
    let mut cfg = SimConfig::default();
    cfg.apply_kv(kv).unwrap();
    SimServer::start(cfg, Tokenizer::default_embedded())
        .await
        .unwrap()
}

async fn run(server: &SimServer, backend: &str, flag: Option<u32>) -> RunData {
    let dir = tempfile::tempdir().unwrap();
    let a = StaticArgs {
        dataset: Default::default(),
        endpoint: EndpointArgs {
            backend: backend.into(),
            url: Some(server.base_url()),
            num_scheduler_steps: flag,
            ..EndpointArgs::default()
        },
        sweep: StaticSweepArgs {
            epochs: 2,
            parallel_num: vec![1],
            prompt_tokens: vec![64],
            output_tokens: vec![48],
            warmup: Some(1),
            ..StaticSweepArgs::default()
        },
        benchmark_csv: None,
        common: CommonArgs::in_dir(dir.path()),
    };
    let out = run_static_cmd(&a).await.unwrap();
    // run.json keeps the warning too.
    let saved = servebench::baseline::load_run(&out.paths.json).unwrap();
    assert_eq!(saved.meta.notes, out.run.notes());
    out.run
}

fn p50(run: &RunData, f: impl Fn(&servebench::metrics::PointSummary) -> Option<f64>) -> f64 {
    f(&run.points[0].summary).unwrap()
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_token_chunks_with_a_flag_of_eight() {
    // The server streams one token per chunk; the seed's flag says 8.
    let server = sim("time_scale=0.3,num_scheduler_steps=1,seed=3").await;
    let r = run(&server, "openai", Some(8)).await;
    let s = &r.points[0].summary;
    assert_eq!(s.failed, 0, "{:?}", s.failures);
    let (itl, tpot) = (
        p50(&r, |s| s.itl_ms.p(50.0)),
        p50(&r, |s| s.tpot_ms.p(50.0)),
    );
    assert!(close(itl, tpot, 0.25), "ITL p50 {itl} vs TPOT p50 {tpot}");
    let w = r.chunking_warning().expect("a warning");
    assert!(
        w.contains("1.00 tokens per chunk") && w.contains("not the 8"),
        "{w}"
    );
    assert!(r.notes().contains(&w));
    // The terminal table says so too (wrapped to 120 columns).
    let squash = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(squash(&servebench::report::run_table(&r)).contains(&squash(&w)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_events_in_bursts_are_one_chunk() {
    // TGI-style streams: one event per token, the server's steps send 4 at
    // once. ITL is the burst gap over its 4 tokens, never 0.
    let server = sim("time_scale=0.3,num_scheduler_steps=4,seed=4").await;
    for backend in ["tgi", "mindspore-tgi"] {
        let r = run(&server, backend, Some(4)).await;
        let s = &r.points[0].summary;
        assert_eq!(s.failed, 0, "{backend}: {:?}", s.failures);
        let (itl, tpot) = (
            p50(&r, |s| s.itl_ms.p(50.0)),
            p50(&r, |s| s.tpot_ms.p(50.0)),
        );
        assert!(itl > 0.0, "{backend}: ITL p50 is 0");
        assert!(close(itl, tpot, 0.3), "{backend}: ITL {itl} vs TPOT {tpot}");
        // Bursts of 4 tokens: the chunk gap is about 4 per-token gaps.
        let gap = p50(&r, |s| s.chunk_gap_ms.p(50.0));
        assert!(close(gap, 4.0 * itl, 0.3), "{backend}: gap {gap} itl {itl}");
        assert_eq!(r.chunking_warning(), None, "{backend}: the flag agrees");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_token_chunks_without_the_flag() {
    // OpenAI chunks carrying 4 tokens each, no flag: usage tells.
    let server = sim("time_scale=0.3,num_scheduler_steps=4,seed=5").await;
    let r = run(&server, "openai", None).await;
    let (itl, tpot) = (
        p50(&r, |s| s.itl_ms.p(50.0)),
        p50(&r, |s| s.tpot_ms.p(50.0)),
    );
    assert!(close(itl, tpot, 0.3), "ITL {itl} vs TPOT {tpot}");
    let w = r.chunking_warning().expect("a warning");
    // 48 tokens: the first alone, then bursts of 4 (13 chunks, 3.69 each).
    let shown: f64 = w
        .split("showed ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("a figure in the warning");
    assert!((3.5..=4.0).contains(&shown), "{w}");
}
