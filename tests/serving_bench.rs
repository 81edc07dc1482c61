//! The dynamic benchmark end to end against the embedded simulator.

use servebench::cli::{
    run_serving_cmd, CommonArgs, EndpointArgs, PrecisionArgs, ServingArgs, ServingSweepArgs,
};
use servebench::metrics::Rate;

fn args(dir: &std::path::Path, sim: &str) -> ServingArgs {
    ServingArgs {
        epochs: 1,
        warmup: None,
        precision: PrecisionArgs::default(),
        endpoint: EndpointArgs {
            sim: Some(sim.to_string()),
            ..EndpointArgs::default()
        },
        sweep: ServingSweepArgs {
            random_input_len: 32,
            random_output_len: 4,
            num_prompts: vec![20],
            ..ServingSweepArgs::default()
        },
        benchmark_csv: None,
        common: CommonArgs {
            seed: 3,
            ..CommonArgs::in_dir(dir)
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_follows_its_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = args(dir.path(), "time_scale=0.02");
    a.sweep.request_rate = vec![Rate(200.0)];
    a.sweep.num_prompts = vec![400];
    let out = run_serving_cmd(&a).await.unwrap();
    let s = &out.run.points[0].summary;
    assert_eq!(s.completed, 400, "{:?}", s.failures);
    // The schedule's own rate (seeded, exponential gaps) and the achieved rate.
    let sched = servebench::load::arrival_offsets(400, 200.0, 1.0, 3).unwrap();
    let planned = 399.0 / sched[399];
    let achieved = s.achieved_send_rate.unwrap();
    assert!(
        (achieved / planned - 1.0).abs() < 0.03,
        "achieved {achieved} planned {planned}"
    );
    assert!((planned / 200.0 - 1.0).abs() < 0.2, "planned {planned}");
    // Sends are never early and rarely late.
    assert!(
        s.send_lateness_ms.min.unwrap() >= -0.01,
        "{:?}",
        s.send_lateness_ms
    );
    assert!(
        s.send_lateness_ms.p(50.0).unwrap() < 2.0,
        "{:?}",
        s.send_lateness_ms
    );
    // Every record carries its scheduled time.
    let recs = std::fs::read_to_string(&out.paths.records).unwrap();
    let records: Vec<&str> = recs
        .lines()
        .filter(|l| l.starts_with("{\"point\""))
        .collect();
    assert_eq!(records.len(), 400);
    assert!(records.iter().all(|l| l.contains("\"scheduled_s\"")));
    // The sim sends usage, so the tokenizer's count was made after the load:
    // absent from the record lines, in one `counted` line, and in run.json.
    assert!(records
        .iter()
        .all(|l| l.contains("\"counted_output_tokens\":null")));
    let counted: Vec<&str> = recs
        .lines()
        .filter(|l| l.starts_with("{\"counted\""))
        .collect();
    assert_eq!(counted.len(), 1);
    let c: serde_json::Value = serde_json::from_str(counted[0]).unwrap();
    assert_eq!(c["counted"]["tokens"].as_array().unwrap().len(), 400);
    let recs_of = |run: &servebench::metrics::RunData| -> Vec<(u64, Option<u64>, Option<u64>)> {
        let mut v: Vec<_> = run.points[0].epochs[0]
            .iter()
            .map(|r| (r.id, r.counted_output_tokens, r.usage_output_tokens))
            .collect();
        v.sort();
        v
    };
    let measured = recs_of(&out.run);
    assert!(
        measured.iter().all(|(_, c, u)| c.is_some() && c == u),
        "{measured:?}"
    );
    assert_eq!(s.output_count_mismatches, 0);
    // `servebench report` puts the counts back from the records file.
    let rebuilt = servebench::cli::rebuild_run(&out.paths.records).unwrap();
    assert_eq!(recs_of(&rebuilt.run), measured);
    // ... and the client's load, which the records file carries per point.
    let (was, now) = (&out.run.points[0].client, &rebuilt.run.points[0].client);
    assert!(now.as_ref().is_some_and(|l| l.chunks > 0), "{now:?}");
    assert_eq!(
        was.as_ref().map(|l| l.chunks),
        now.as_ref().map(|l| l.chunks)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttft_grows_past_capacity_and_goodput_falls_under_tight_slos() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = args(dir.path(), "time_scale=0.1,max_batch=4");
    a.sweep.random_input_len = 256;
    a.sweep.random_output_len = 16;
    a.sweep.request_rate = vec![Rate(2.0), Rate(f64::INFINITY)];
    a.sweep.num_prompts = vec![8, 32];
    a.sweep.goodput = vec!["ttft:40".into()];
    let out = run_serving_cmd(&a).await.unwrap();
    let low = &out.run.points[0].summary;
    let high = &out.run.points[1].summary;
    assert_eq!(low.failed + high.failed, 0);
    let (t_low, t_high) = (low.ttft_ms.p(50.0).unwrap(), high.ttft_ms.p(50.0).unwrap());
    assert!(t_high > 4.0 * t_low, "ttft low {t_low} high {t_high}");
    // At rate 2 nothing queues, so the 40 ms TTFT objective holds for all...
    assert!((low.goodput.unwrap() - low.request_throughput).abs() < 1e-9);
    // ...past capacity most requests wait longer than that.
    assert!(
        high.goodput.unwrap() < 0.5 * high.request_throughput,
        "{:?} vs {}",
        high.goodput,
        high.request_throughput
    );
    let csv = std::fs::read_to_string(&out.paths.csv).unwrap();
    let header = csv.lines().next().unwrap();
    for col in [
        "request_rate_req_per_s",
        "achieved_send_rate_req_per_s",
        "goodput_req_per_s",
        "send_lateness_p99_ms",
        "itl_p90_ms",
    ] {
        assert!(header.contains(col), "{col} missing from {header}");
    }
    assert!(csv.lines().nth(2).unwrap().starts_with("inf,"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replays_a_dataset_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.jsonl");
    let mut lines = String::new();
    for i in 0..10 {
        lines.push_str(&format!(
            "{{\"prompt\": \"question number {i} about the terms of this license and its conditions\", \"output_tokens\": {}}}\n",
            5 + i
        ));
    }
    std::fs::write(&data, lines).unwrap();
    let mut a = args(dir.path(), "time_scale=0.02");
    a.sweep.dataset = Some(data);
    a.sweep.dataset_type = "jsonl".into();
    a.sweep.num_prompts = vec![10];
    let out = run_serving_cmd(&a).await.unwrap();
    let s = &out.run.points[0].summary;
    assert_eq!(s.completed, 10, "{:?}", s.failures);
    // Output lengths come from the dataset: 5..=14, mean 9.5.
    assert!((s.output_tokens.mean.unwrap() - 9.5).abs() < 1e-9);
    // One epoch of 11 from 10 entries: refused before any load, unless
    // repeats are allowed.
    a.sweep.num_prompts = vec![11];
    let e = run_serving_cmd(&a).await.unwrap_err().to_string();
    assert!(
        e.contains("--num-prompts")
            && e.contains("only 10 usable entries")
            && e.contains("--allow-repeat"),
        "{e}"
    );
    a.sweep.allow_repeat = true;
    let out = run_serving_cmd(&a).await.unwrap();
    assert_eq!(out.run.points[0].summary.completed, 11);
    assert!(out
        .run
        .meta
        .notes
        .iter()
        .any(|n| n.contains("distinct prompts")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_flags_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = args(dir.path(), "time_scale=0.02");
    a.sweep.request_rate = vec![Rate(1.0), Rate(2.0), Rate(3.0)];
    a.sweep.num_prompts = vec![1, 2];
    let e = run_serving_cmd(&a).await.unwrap_err();
    assert!(e.to_string().contains("--num-prompts"), "{e}");
    let mut a = args(dir.path(), "time_scale=0.02");
    a.sweep.goodput = vec!["ttft=5".into()];
    assert!(run_serving_cmd(&a)
        .await
        .unwrap_err()
        .to_string()
        .contains("--goodput"));
    let mut a = args(dir.path(), "time_scale=0.02");
    a.sweep.dataset_type = "csv".into();
    assert!(run_serving_cmd(&a)
        .await
        .unwrap_err()
        .to_string()
        .contains("--dataset-type"));
    let mut a = args(dir.path(), "time_scale=0.02");
    a.sweep.dataset = Some(dir.path().join("missing.json"));
    assert!(run_serving_cmd(&a)
        .await
        .unwrap_err()
        .to_string()
        .contains("missing.json"));
    assert!("0".parse::<Rate>().is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_runs_both_sweeps_against_one_endpoint() {
    use servebench::cli::{run_all_cmd, AllArgs, StaticSweepArgs};
    let dir = tempfile::tempdir().unwrap();
    let a = AllArgs {
        endpoint: EndpointArgs {
            sim: Some("time_scale=0.05".into()),
            ..EndpointArgs::default()
        },
        static_sweep: StaticSweepArgs {
            epochs: 1,
            parallel_num: vec![1, 2],
            prompt_tokens: vec![32],
            output_tokens: vec![4],
            ..StaticSweepArgs::default()
        },
        serving_sweep: ServingSweepArgs {
            random_input_len: 32,
            random_output_len: 4,
            request_rate: vec![Rate(20.0)],
            num_prompts: vec![6],
            ..ServingSweepArgs::default()
        },
        static_csv: Some(dir.path().join("static.csv")),
        serving_csv: Some(dir.path().join("serving.csv")),
        common: CommonArgs::in_dir(dir.path()),
    };
    let (s, d) = run_all_cmd(&a).await.unwrap();
    assert_eq!(s.run.points.len(), 2);
    assert_eq!(d.run.points[0].summary.completed, 6);
    // One endpoint for both: the same simulator served both sweeps.
    assert_eq!(s.run.meta.base_url, d.run.meta.base_url);
    assert!(std::fs::read_to_string(dir.path().join("static.csv"))
        .unwrap()
        .starts_with("prompt_tokens,"));
    assert!(std::fs::read_to_string(dir.path().join("serving.csv"))
        .unwrap()
        .starts_with("request_rate_req_per_s,"));
}
