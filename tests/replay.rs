//! Trace replay end to end against the embedded simulator: the shipped
//! Mooncake-format sample and a BurstGPT CSV replayed at their own times
//! (scaled), prompts of the trace's exact lengths, the hash ids' sharing
//! seen by the simulator's prefix cache, and bad traces refused before load.

use std::path::{Path, PathBuf};

use servebench::cli::{
    run_replay_cmd, CliError, CommonArgs, EndpointArgs, PrecisionArgs, ReplayArgs, TraceArgs,
};
use servebench::metrics::{PointLabel, RunData};
use servebench::workload::{expected_prefix_hit_ratio, Trace, TraceFormat, TraceWindow};

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/data/mooncake_sample.jsonl")
}

fn trace_args(path: PathBuf, format: &str) -> TraceArgs {
    TraceArgs {
        trace: path,
        trace_format: format.into(),
        speedup: vec![1.0],
        time_scale: None,
        trace_start: 0.0,
        trace_duration: None,
        max_requests: None,
        block_size: 512,
    }
}

fn args(dir: &Path, sim: &str, trace: TraceArgs, epochs: u32) -> ReplayArgs {
    ReplayArgs {
        endpoint: EndpointArgs {
            sim: Some(sim.into()),
            ..EndpointArgs::default()
        },
        trace,
        max_concurrency: None,
        goodput: Vec::new(),
        epochs,
        warmup: Some(0),
        precision: PrecisionArgs::default(),
        benchmark_csv: None,
        common: CommonArgs::in_dir(dir),
    }
}

/// Records of `run`'s only point, by epoch, each sorted by id.
fn epochs(run: &RunData) -> Vec<Vec<servebench::metrics::RequestRecord>> {
    run.points[0]
        .epochs
        .iter()
        .map(|e| {
            let mut e = e.clone();
            e.sort_by_key(|r| r.id);
            e
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mooncake_sample_replays_at_its_times_with_its_sharing() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = trace_args(sample(), "mooncake");
    t.speedup = vec![4.0];
    t.max_requests = Some(24);
    let a = args(dir.path(), "time_scale=0.02,prefix_cache=true,seed=3", t, 2);
    let out = run_replay_cmd(&a).await.unwrap();
    let trace = Trace::read(
        &sample(),
        TraceFormat::Mooncake,
        TraceWindow {
            max_requests: Some(24),
            ..TraceWindow::default()
        },
    )
    .unwrap();
    let p = &out.run.points[0];
    assert_eq!(p.summary.failed, 0, "{:?}", p.summary.failures);
    match &p.label {
        PointLabel::Replay {
            speedup,
            num_prompts,
            request_rate,
            ..
        } => {
            assert_eq!(*speedup, 4.0);
            assert_eq!(*num_prompts, 24);
            assert!((request_rate.0 - trace.mean_rate(4.0)).abs() < 1e-9);
        }
        other => panic!("not a replay point: {other:?}"),
    }
    let eps = epochs(&out.run);
    assert_eq!(eps.len(), 2);
    for e in &eps {
        assert_eq!(e.len(), 24);
        for (r, tr) in e.iter().zip(&trace.requests) {
            // Sent at the trace's time, four times as fast.
            let due = r.scheduled_s.expect("open loop");
            assert!((due - tr.at_s / 4.0).abs() < 1e-9, "{due} vs {}", tr.at_s);
            // The prompt of the trace's exact length, its output forced.
            assert_eq!(r.input_tokens, tr.input_tokens as u64);
            assert_eq!(r.output_tokens, tr.output_tokens as u64);
        }
    }
    // Sends kept to the schedule (the simulator is in this process).
    assert!(p.summary.send_lateness_ms.p(99.0).unwrap() < 50.0);
    // The simulator's prefix cache saw the hash ids' sharing: about the
    // share the trace implies (its 16-token blocks also catch the partial
    // 512-token blocks that later requests extend), in every epoch, since
    // each epoch has text of its own.
    let expected = expected_prefix_hit_ratio(&trace, 512).unwrap();
    assert!(expected > 0.3, "the sample shares prefixes: {expected}");
    for (i, e) in eps.iter().enumerate() {
        let (cached, prompt) = e.iter().fold((0u64, 0u64), |(c, p), r| {
            let s = r.server.as_ref().and_then(|s| s.cached_prompt_tokens);
            (
                c + s.expect("the simulator reports cached tokens"),
                p + r.input_tokens,
            )
        });
        let seen = cached as f64 / prompt as f64;
        assert!(
            seen > expected - 0.05 && seen < expected + 0.15,
            "epoch {i}: cache hit ratio {seen:.3}, the trace implies {expected:.3}"
        );
    }
    let ratio = p.summary.prefix_cache_hit_ratio.unwrap();
    assert!((ratio - expected).abs() < 0.15, "{ratio} vs {expected}");
    let notes = out.run.notes().join("\n");
    assert!(notes.contains("prefix-cache hit ratio of"), "{notes}");
    assert!(notes.contains("served from its prefix cache"), "{notes}");
    let csv = std::fs::read_to_string(&out.paths.csv).unwrap();
    assert!(csv
        .lines()
        .next()
        .unwrap()
        .contains("prefix_cache_hit_ratio"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_sharing_the_cache_stays_cold() {
    // The same trace with every hash id made unique: no prompt shares a
    // block, and the simulator's cache serves (almost) nothing. A replay
    // that built prompts without the hash ids, or shared too much, fails
    // one of the two tests.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(sample()).unwrap();
    let mut next = 10_000u64;
    let unique: String = text
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            let n = v["hash_ids"].as_array().unwrap().len();
            v["hash_ids"] = (0..n)
                .map(|_| {
                    next += 1;
                    serde_json::json!(next)
                })
                .collect();
            format!("{v}\n")
        })
        .collect();
    let path = dir.path().join("unique.jsonl");
    std::fs::write(&path, unique).unwrap();
    let mut t = trace_args(path, "mooncake");
    t.speedup = vec![4.0];
    t.max_requests = Some(16);
    let out = run_replay_cmd(&args(
        dir.path(),
        "time_scale=0.02,prefix_cache=true,seed=3",
        t,
        1,
    ))
    .await
    .unwrap();
    let ratio = out.run.points[0].summary.prefix_cache_hit_ratio.unwrap();
    assert!(ratio < 0.02, "{ratio}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burstgpt_rows_replay_with_failures_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("burst.csv");
    std::fs::write(
        &path,
        "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n\
         100,ChatGPT,40,6,46,Conversation log\n\
         100.5,ChatGPT,25,0,25,Conversation log\n\
         101,GPT-4,60,4,64,API log\n\
         102.5,ChatGPT,30,5,35,Conversation log\n",
    )
    .unwrap();
    let mut t = trace_args(path, "burstgpt");
    t.time_scale = Some(0.5);
    let out = run_replay_cmd(&args(dir.path(), "time_scale=0.02", t, 1))
        .await
        .unwrap();
    let e = &epochs(&out.run)[0];
    let got: Vec<(f64, u64, u64)> = e
        .iter()
        .map(|r| (r.scheduled_s.unwrap(), r.input_tokens, r.output_tokens))
        .collect();
    assert_eq!(
        got,
        vec![(0.0, 40, 6), (0.5, 60, 4), (1.25, 30, 5)],
        "times halved (--time-scale 0.5), the failed row skipped"
    );
    let notes = out.run.notes().join("\n");
    assert!(notes.contains("1 row(s) skipped"), "{notes}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_traces_are_refused_before_any_load() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.jsonl");
    std::fs::write(
        &path,
        "{\"timestamp\": 0, \"input_length\": 8, \"output_length\": 2, \"hash_ids\": [1]}\n\
         {\"timestamp\": 5, \"input_length\": 8}\n",
    )
    .unwrap();
    let out_dir = dir.path().join("out");
    let e = run_replay_cmd(&args(
        &out_dir,
        "time_scale=0.02",
        trace_args(path.clone(), "mooncake"),
        1,
    ))
    .await
    .unwrap_err();
    assert!(matches!(e, CliError::Trace(_)), "{e:?}");
    assert_eq!(e.exit_code(), 2);
    let msg = e.to_string();
    assert!(msg.contains("bad.jsonl") && msg.contains("line 2"), "{msg}");
    assert!(
        !out_dir.exists(),
        "nothing written before the trace is read"
    );
    let mut t = trace_args(path, "sharegpt");
    t.speedup = vec![1.0];
    let e = run_replay_cmd(&args(&out_dir, "time_scale=0.02", t, 1))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("unknown trace format"), "{e}");
    let mut t = trace_args(sample(), "mooncake");
    t.speedup = vec![0.0];
    let e = run_replay_cmd(&args(&out_dir, "time_scale=0.02", t, 1))
        .await
        .unwrap_err();
    assert!(e.to_string().starts_with("--speedup"), "{e}");
}
