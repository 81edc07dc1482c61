//! The open loop's dispatchers (one per load thread) under a cap on the
//! requests in flight: every request sent once, never more than the cap in
//! flight, the cap reached.

use servebench::cli::{
    run_serving_cmd, CommonArgs, EndpointArgs, PrecisionArgs, ServingArgs, ServingSweepArgs,
};
use servebench::metrics::Rate;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capped_open_loop_over_two_load_threads_sends_each_request_once_within_the_cap() {
    // The only test of this binary: the load threads start once, with 2.
    servebench::load::set_load_threads(2);
    let dir = tempfile::tempdir().unwrap();
    let a = ServingArgs {
        epochs: 1,
        warmup: None,
        precision: PrecisionArgs::default(),
        endpoint: EndpointArgs {
            sim: Some("time_scale=0.02".into()),
            ..EndpointArgs::default()
        },
        sweep: ServingSweepArgs {
            random_input_len: 32,
            random_output_len: 16,
            num_prompts: vec![40],
            request_rate: vec![Rate(f64::INFINITY)],
            max_concurrency: Some(3),
            ..ServingSweepArgs::default()
        },
        benchmark_csv: None,
        common: CommonArgs {
            seed: 5,
            ..CommonArgs::in_dir(dir.path())
        },
    };
    let out = run_serving_cmd(&a).await.unwrap();
    let point = &out.run.points[0];
    assert_eq!(point.summary.completed, 40, "{:?}", point.summary.failures);
    let recs = &point.epochs[0];
    let mut ids: Vec<u64> = recs.iter().map(|r| r.id).collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..40).collect::<Vec<_>>(), "each request once");
    // Requests in flight at each start: those started before it and not
    // yet done (a slot is given back after its request's end is taken).
    let spans: Vec<(f64, f64)> = recs
        .iter()
        .map(|r| (r.start_s, r.start_s + r.done_ms / 1e3))
        .collect();
    let most = spans
        .iter()
        .map(|&(s, _)| {
            spans
                .iter()
                .filter(|&&(s2, e2)| s2 <= s && e2 > s + 1e-6)
                .count()
        })
        .max()
        .unwrap();
    assert!(most <= 3, "{most} in flight under --max-concurrency 3");
    assert_eq!(most, 3, "the cap is reached at rate inf");
}
