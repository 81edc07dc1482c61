//! Shared-prefix workloads end to end against the embedded simulator:
//! `servebench serving --dataset-type generated-shared-prefix`, prompts of
//! the exact length, the simulator's prefix cache serving what the groups'
//! sharing implies (in every epoch and at every rate, each with system
//! prompts of its own), the expected and observed ratios in the notes, and
//! bad flags refused before any load.

use std::path::Path;

use servebench::cli::{
    run_serving_cmd, CliError, CommonArgs, EndpointArgs, PrecisionArgs, ServingArgs,
    ServingSweepArgs, SHARED_PREFIX_DATASET_TYPE,
};
use servebench::metrics::{PointLabel, Rate};
use servebench::workload::{expected_shared_prefix_hit_ratio, SharedPrefixSpec};

const SPEC: SharedPrefixSpec = SharedPrefixSpec {
    groups: 6,
    prompts_per_group: 4,
    prefix_tokens: 256,
    question_tokens: 32,
    output_tokens: 8,
};

fn args(dir: &Path, rates: Vec<f64>, epochs: u32) -> ServingArgs {
    ServingArgs {
        endpoint: EndpointArgs {
            sim: Some("time_scale=0.02,prefix_cache=true,seed=3".into()),
            ..EndpointArgs::default()
        },
        sweep: ServingSweepArgs {
            dataset_type: SHARED_PREFIX_DATASET_TYPE.into(),
            gsp_num_groups: Some(SPEC.groups),
            gsp_prompts_per_group: Some(SPEC.prompts_per_group),
            gsp_system_prompt_len: Some(SPEC.prefix_tokens),
            gsp_question_len: Some(SPEC.question_tokens),
            gsp_output_len: Some(SPEC.output_tokens),
            request_rate: rates.into_iter().map(Rate).collect(),
            ..ServingSweepArgs::default()
        },
        epochs,
        warmup: Some(1),
        precision: PrecisionArgs::default(),
        benchmark_csv: None,
        common: CommonArgs::in_dir(dir),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_share_their_system_prompt_in_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    // A finite rate: each group's first request is prefilled before its
    // others arrive (requests arriving together are prefilled in one step
    // and miss each other's blocks).
    let out = run_serving_cmd(&args(dir.path(), vec![40.0, 60.0], 2))
        .await
        .unwrap();
    let expected = expected_shared_prefix_hit_ratio(&SPEC, 16);
    // 3/4 of the requests find 256 of 288 tokens: 2/3.
    assert!((expected - 2.0 / 3.0).abs() < 1e-12);
    // No sharing would give 0; one prefix for all 24 requests 23/24 x 8/9
    // = 0.85; the tolerance below tells them apart.
    assert_eq!(out.run.points.len(), 2);
    for p in &out.run.points {
        assert_eq!(p.summary.failed, 0, "{:?}", p.summary.failures);
        match &p.label {
            PointLabel::Dynamic { num_prompts, .. } => assert_eq!(*num_prompts, 24),
            other => panic!("not a dynamic point: {other:?}"),
        }
        assert_eq!(p.epochs.len(), 2);
        for (i, e) in p.epochs.iter().enumerate() {
            assert_eq!(e.len(), 24);
            let (mut cached, mut prompt) = (0u64, 0u64);
            for r in e {
                assert_eq!(r.input_tokens, 288);
                assert_eq!(r.output_tokens, 8);
                let s = r.server.as_ref().and_then(|s| s.cached_prompt_tokens);
                let c = s.expect("the simulator reports cached tokens");
                // A hit is the whole system prompt (16 blocks), or nothing.
                assert!(c == 0 || c == 256, "cached {c}");
                cached += c;
                prompt += r.input_tokens;
            }
            let seen = cached as f64 / prompt as f64;
            // Each epoch cold: a reused prefix would push it to 8/9.
            assert!(
                seen > expected - 0.05 && seen < expected + 0.01,
                "{}: epoch {i}: hit ratio {seen:.3}, expected {expected:.3}",
                p.label.describe()
            );
        }
        let ratio = p.summary.prefix_cache_hit_ratio.unwrap();
        assert!(
            ratio > expected - 0.05 && ratio < expected + 0.01,
            "{ratio} vs {expected}"
        );
    }
    let notes = out.run.notes().join("\n");
    assert!(
        notes.contains("shared-prefix workload: 6 groups x 4 prompts"),
        "{notes}"
    );
    assert!(
        notes.contains("expected prefix-cache hit ratio 66.7 % of prompt tokens"),
        "{notes}"
    );
    assert!(notes.contains("served from its prefix cache"), "{notes}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_flags_are_refused_before_load() {
    let dir = tempfile::tempdir().unwrap();
    let flag_of = |e: CliError| match e {
        CliError::BadFlag { flag, .. } => flag,
        other => panic!("not a flag error: {other:?}"),
    };
    // A --gsp-* flag without the dataset type.
    let mut a = args(dir.path(), vec![10.0], 1);
    a.sweep.dataset_type = "sharegpt".into();
    a.endpoint.sim = Some("no_such_key=1".into());
    assert_eq!(
        flag_of(run_serving_cmd(&a).await.unwrap_err()),
        "--gsp-num-groups"
    );
    // A zero count.
    let mut a = args(dir.path(), vec![10.0], 1);
    a.sweep.gsp_question_len = Some(0);
    assert_eq!(
        flag_of(run_serving_cmd(&a).await.unwrap_err()),
        "--gsp-question-len"
    );
    // --num-prompts other than G x P.
    let mut a = args(dir.path(), vec![10.0], 1);
    a.sweep.num_prompts = vec![10];
    assert_eq!(
        flag_of(run_serving_cmd(&a).await.unwrap_err()),
        "--num-prompts"
    );
    // A dataset file as well.
    let mut a = args(dir.path(), vec![10.0], 1);
    a.sweep.dataset = Some(dir.path().join("x.json"));
    assert_eq!(flag_of(run_serving_cmd(&a).await.unwrap_err()), "--dataset");
    // Nothing was run.
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
}
