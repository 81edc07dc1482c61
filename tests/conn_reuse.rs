//! No request lost to connection reuse: a server that closes every
//! connection after a stream although it offered keep-alive (llama.cpp's
//! server does) must not turn the next request on that connection into a
//! failure; a server that resets a request it received still fails it.

use servebench::cli::{run_static_cmd, CommonArgs, EndpointArgs, StaticArgs, StaticSweepArgs};
use servebench::metrics::RunData;

async fn run(sim: &str) -> RunData {
    let dir = tempfile::tempdir().unwrap();
    let a = StaticArgs {
        dataset: Default::default(),
        endpoint: EndpointArgs {
            sim: Some(sim.into()),
            ..EndpointArgs::default()
        },
        sweep: StaticSweepArgs {
            epochs: 3,
            parallel_num: vec![1, 4],
            prompt_tokens: vec![64],
            output_tokens: vec![8],
            requests_per_worker: 4,
            warmup: Some(1),
            ..StaticSweepArgs::default()
        },
        benchmark_csv: None,
        common: CommonArgs::in_dir(dir.path()),
    };
    run_static_cmd(&a).await.unwrap().run
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_after_each_stream_loses_nothing() {
    let r = run("time_scale=0.05,close_after_stream=true").await;
    let recs: Vec<_> = r
        .points
        .iter()
        .flat_map(|p| p.epochs.iter().flatten())
        .collect();
    assert_eq!(recs.len(), 3 * (4 + 16));
    let failed: Vec<_> = recs.iter().filter_map(|r| r.failure.as_ref()).collect();
    assert!(failed.is_empty(), "{failed:?}");
    // Every reuse of a spent connection was sent again, once.
    let resent = recs.iter().filter(|r| r.resent == 1).count();
    assert!(resent >= 10, "only {resent} resent");
    assert!(recs.iter().all(|r| r.resent <= 1));
    let note = r.resend_note().expect("a note");
    assert!(note.contains(&format!("{resent} of 60")), "{note}");
    // The figures are those of the answered send.
    assert!(recs.iter().all(|r| r.ttft_ms.is_some_and(|t| t < 1_000.0)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_of_a_received_request_is_still_a_failure() {
    let r = run("time_scale=0.05,reset_rate=0.3,seed=1").await;
    let recs: Vec<_> = r
        .points
        .iter()
        .flat_map(|p| p.epochs.iter().flatten())
        .collect();
    let connect = recs
        .iter()
        .filter(|r| {
            r.failure
                .as_ref()
                .is_some_and(|f| f.kind.as_str() == "connect")
        })
        .count();
    assert!(connect > 0, "the injected resets were hidden");
    assert!(recs.iter().all(|r| r.resent == 0));
    // The terminal (and every output) explains the failures by category,
    // with the first message of each.
    let table = servebench::report::run_table(&r);
    let per_point: usize = r
        .points
        .iter()
        .map(|p| {
            p.epochs
                .iter()
                .flatten()
                .filter(|r| r.failure.is_some())
                .count()
        })
        .filter(|&n| n > 0)
        .inspect(|n| assert!(table.contains(&format!("failed: connect {n} (first: "))))
        .sum();
    assert_eq!(per_point, connect, "{table}");
    assert!(table.contains("Connection reset by peer"), "{table}");
}
