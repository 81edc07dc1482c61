//! The seed tools' flags (`benchmark_parallel.py`, `benchmark_serving.py`)
//! mean what they mean there: sampling parameters and the APIG app code
//! reach the server, `--enable-prefix-caching True|False`,
//! `--prefix-caching-num`, `--is-evenly-rate` and `--concurrent-num`.

use std::sync::{Arc, Mutex};

use clap::Parser;
use servebench::cli::{
    run_serving_cmd, run_static_cmd, Cli, Command, CommonArgs, EndpointArgs, ServingArgs,
    ServingSweepArgs, StaticArgs, StaticSweepArgs,
};
use servebench::metrics::Rate;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A one-purpose HTTP server: it keeps every request it gets (head and body)
/// and answers POSTs with a two-token OpenAI completions stream.
async fn capture_server() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let keep = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let keep = keep.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                // Read the head, then the body by Content-Length.
                let (head_end, len) = loop {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..i]).to_lowercase();
                        let len = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        break (i + 4, len);
                    }
                };
                while buf.len() < head_end + len {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let req = String::from_utf8_lossy(&buf).to_string();
                let post = req.starts_with("POST");
                keep.lock().unwrap().push(req);
                let reply = if post {
                    let body = concat!(
                        "data: {\"id\":\"x\",\"choices\":[{\"index\":0,\"text\":\"hi\"}]}\n\n",
                        "data: {\"id\":\"x\",\"choices\":[{\"index\":0,\"text\":\" there\"}]}\n\n",
                        "data: {\"id\":\"x\",\"choices\":[],\"usage\":{\"prompt_tokens\":8,\"completion_tokens\":2,\"total_tokens\":10}}\n\n",
                        "data: [DONE]\n\n"
                    );
                    format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    )
                } else {
                    "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                        .to_string()
                };
                let _ = sock.write_all(reply.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    (url, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sampling_and_the_app_code_reach_the_server() {
    let (url, seen) = capture_server().await;
    let dir = tempfile::tempdir().unwrap();
    let a = StaticArgs {
        dataset: Default::default(),
        endpoint: EndpointArgs {
            url: Some(url),
            served_model_name: Some("m".into()),
            app_code: Some("code-123".into()),
            temperature: 0.7,
            top_k: Some(5),
            top_p: Some(0.9),
            no_preflight: true,
            ..EndpointArgs::default()
        },
        sweep: StaticSweepArgs {
            epochs: 1,
            parallel_num: vec![1],
            prompt_tokens: vec![8],
            output_tokens: vec![2],
            warmup: Some(0),
            ..StaticSweepArgs::default()
        },
        benchmark_csv: None,
        common: CommonArgs::in_dir(dir.path()),
    };
    let out = run_static_cmd(&a).await.unwrap();
    assert_eq!(
        out.run.points[0].summary.completed, 1,
        "{:?}",
        out.run.points[0].summary.failures
    );
    let seen = seen.lock().unwrap().clone();
    let post = seen
        .iter()
        .find(|r| r.starts_with("POST /v1/completions"))
        .expect("the request reached the server");
    let (head, body) = post.split_once("\r\n\r\n").unwrap();
    assert!(
        head.to_lowercase().contains("\r\nx-apig-appcode: code-123"),
        "{head}"
    );
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(v["temperature"], 0.7);
    assert_eq!(v["top_k"], 5);
    assert_eq!(v["top_p"], 0.9);
    // The note says how it sampled; the app code is written nowhere.
    let run_json = std::fs::read_to_string(dir.path().join("static/new/run.json")).unwrap();
    assert!(run_json.contains("sampling: temperature 0.7, top-k 5, top-p 0.9"));
    for entry in walk(dir.path()) {
        let text = std::fs::read(&entry).unwrap();
        assert!(
            !text.windows(8).any(|w| w == b"code-123"),
            "{} holds the app code",
            entry.display()
        );
    }
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn the_seed_prefix_caching_flags_parse_as_the_seed_writes_them() {
    let parse = |extra: &[&str]| {
        let mut args = vec!["servebench", "static"];
        args.extend_from_slice(extra);
        match Cli::try_parse_from(args).unwrap().command {
            Command::Static(a) => a.sweep,
            _ => unreachable!(),
        }
    };
    assert!(!parse(&[]).enable_prefix_caching);
    assert!(parse(&["--enable-prefix-caching"]).enable_prefix_caching);
    assert!(parse(&["--enable-prefix-caching", "True", "--epochs", "2"]).enable_prefix_caching);
    // Unlike the seed's type=bool, False is false.
    assert!(!parse(&["--enable-prefix-caching", "False"]).enable_prefix_caching);
    let s = parse(&["--enable-prefix-caching", "--prefix-caching-num", "16"]);
    assert!(s.enable_prefix_caching);
    assert_eq!(s.shared_prefix_tokens, 16);
    let s = parse(&["--use-spec-decode", "--num-speculative-tokens", "2"]);
    assert!(s.use_spec_decode && s.num_speculative_tokens == 2);
    s.validate().unwrap();
    // `all` takes the static seed tool's --benchmark-csv for its static CSV.
    match Cli::try_parse_from(["servebench", "all", "--benchmark-csv", "p.csv"])
        .unwrap()
        .command
    {
        Command::All(a) => {
            assert_eq!(a.static_csv.as_deref(), Some(std::path::Path::new("p.csv")))
        }
        _ => unreachable!(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evenly_spaced_arrivals_send_concurrent_num_requests_each() {
    let dir = tempfile::tempdir().unwrap();
    let a = ServingArgs {
        endpoint: EndpointArgs {
            sim: Some("time_scale=0.1".into()),
            ..EndpointArgs::default()
        },
        sweep: ServingSweepArgs {
            random_input_len: 16,
            random_output_len: 2,
            request_rate: vec![Rate(20.0)],
            num_prompts: vec![6],
            is_evenly_rate: true,
            concurrent_num: vec![2],
            ..ServingSweepArgs::default()
        },
        epochs: 1,
        warmup: Some(0),
        precision: Default::default(),
        benchmark_csv: None,
        common: CommonArgs::in_dir(dir.path()),
    };
    let run = run_serving_cmd(&a).await.unwrap().run;
    let mut sched: Vec<f64> = run.points[0].epochs[0]
        .iter()
        .map(|r| {
            r.scheduled_s
                .expect("open-loop records carry their schedule")
        })
        .collect();
    sched.sort_by(f64::total_cmp);
    let want = [0.0, 0.0, 0.05, 0.05, 0.1, 0.1];
    assert_eq!(sched.len(), 6);
    for (got, want) in sched.iter().zip(want) {
        assert!((got - want).abs() < 1e-9, "{sched:?}");
    }
    let label = run.points[0].label.describe();
    assert!(label.contains("evenly spaced"), "{label}");
    assert!(run
        .meta
        .notes
        .iter()
        .any(|n| n.contains("--concurrent-num")));
    // The saved run reads back (the infinite burstiness is written "inf").
    let saved = servebench::baseline::load_run(&dir.path().join("serving/new/run.json")).unwrap();
    assert_eq!(saved.points[0].label, run.points[0].label);
}

/// Whether every request of each wave of `wave` (by start time) started
/// after every request of the wave before had ended, in every epoch.
fn waves_hold(run: &servebench::metrics::RunData, wave: usize) -> bool {
    run.points[0].epochs.iter().all(|epoch| {
        let mut reqs: Vec<_> = epoch.iter().collect();
        reqs.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
        let waves: Vec<_> = reqs.chunks(wave).collect();
        waves.windows(2).all(|w| {
            let last_end = w[0]
                .iter()
                .map(|r| r.start_s + r.done_ms / 1000.0)
                .fold(0.0, f64::max);
            w[1].iter().all(|r| r.start_s >= last_end - 1e-6)
        })
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loop_wave_sends_each_wave_after_the_slowest_of_the_last() {
    let dir = tempfile::tempdir().unwrap();
    let run = |loop_shape| {
        let a = StaticArgs {
            dataset: Default::default(),
            endpoint: EndpointArgs {
                // A third of the streams pause 40 ms, so that the requests
                // of a wave end at very different times.
                sim: Some("time_scale=0.1,stall_rate=0.35,stall_ms=40,seed=5".into()),
                ..EndpointArgs::default()
            },
            sweep: StaticSweepArgs {
                epochs: 2,
                parallel_num: vec![3],
                prompt_tokens: vec![16],
                output_tokens: vec![6],
                warmup: Some(0),
                requests_per_worker: 3,
                loop_shape,
                ..StaticSweepArgs::default()
            },
            benchmark_csv: None,
            common: CommonArgs::in_dir(dir.path()),
        };
        async move { run_static_cmd(&a).await.unwrap().run }
    };
    let wave = run(servebench::run::LoopShape::Wave).await;
    assert!(wave.meta.notes.iter().any(|n| n.contains("--loop wave")));
    assert!(wave.points[0].epochs.iter().all(|e| e.len() == 9));
    assert!(
        waves_hold(&wave, 3),
        "a wave started before the last one ended"
    );
    // The closed loop does not wait: a worker whose request ended goes on
    // while a stalled one is still running.
    let closed = run(servebench::run::LoopShape::Closed).await;
    assert!(
        !waves_hold(&closed, 3),
        "the closed loop looked like waves: the control cannot tell them apart"
    );
}

/// The seed's check_multi_step as a warning: `--num-scheduler-steps 8`
/// against a server that streams one token a chunk is said before load, and
/// a flag that matches the server says nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn num_scheduler_steps_is_checked_against_the_server_before_load() {
    let sim = servebench::sim::SimServer::start(
        {
            let mut c = servebench::sim::SimConfig::default();
            c.apply_kv("time_scale=0.05").unwrap();
            c
        },
        servebench::workload::Tokenizer::default_embedded(),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let run = |steps: u32| {
        let a = StaticArgs {
            dataset: Default::default(),
            endpoint: EndpointArgs {
                url: Some(sim.base_url()),
                num_scheduler_steps: Some(steps),
                ..EndpointArgs::default()
            },
            sweep: StaticSweepArgs {
                epochs: 1,
                parallel_num: vec![1],
                prompt_tokens: vec![16],
                output_tokens: vec![33],
                warmup: Some(0),
                ..StaticSweepArgs::default()
            },
            benchmark_csv: None,
            common: CommonArgs::in_dir(dir.path()),
        };
        async move { run_static_cmd(&a).await.unwrap().run }
    };
    let wrong = run(8).await;
    let note = wrong
        .meta
        .notes
        .iter()
        .find(|n| n.starts_with("scheduler steps: before load"))
        .unwrap_or_else(|| panic!("no probe warning in {:?}", wrong.meta.notes));
    assert!(
        note.contains("33-token stream came in 33 chunks, 1.00 tokens a chunk"),
        "{note}"
    );
    assert!(
        note.contains("not the 8 of --num-scheduler-steps"),
        "{note}"
    );
    let right = run(1).await;
    assert!(
        !right
            .meta
            .notes
            .iter()
            .any(|n| n.starts_with("scheduler steps")),
        "{:?}",
        right.meta.notes
    );
    sim.stop().await;
}

/// `static --dataset-type sharegpt|human-eval --dataset-path F`: the prompts
/// are the dataset's, and `--use-real-dataset-output-tokens` asks for each
/// entry's own output length.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_takes_prompts_from_a_sharegpt_or_human_eval_file() {
    let dir = tempfile::tempdir().unwrap();
    let tok = servebench::workload::Tokenizer::default_embedded();
    let pairs = [
        (
            "Write a short poem about the sea and the wind over it.",
            "The sea is wide and grey and the wind runs over it all day long.",
        ),
        (
            "Explain what a hash map is to a new programmer, briefly please.",
            "A hash map stores values under keys and finds them quickly by hashing each key.",
        ),
        (
            "List three prime numbers greater than ten and say why.",
            "Eleven, thirteen and seventeen, because each has no divisor but one and itself.",
        ),
    ];
    let share: Vec<serde_json::Value> = pairs
        .iter()
        .map(|(p, c)| {
            serde_json::json!({"conversations": [
                {"from": "human", "value": p}, {"from": "gpt", "value": c}]})
        })
        .collect();
    let sharegpt = dir.path().join("share.json");
    std::fs::write(&sharegpt, serde_json::to_string(&share).unwrap()).unwrap();
    let human_eval = dir.path().join("he.jsonl");
    let lines: Vec<String> = pairs
        .iter()
        .map(|(p, c)| serde_json::json!({"prompt": p, "canonical_solution": c}).to_string())
        .collect();
    std::fs::write(&human_eval, lines.join("\n") + "\n").unwrap();
    let prompt_lens: Vec<u64> = pairs.iter().map(|p| tok.count(p.0) as u64).collect();
    let output_lens: Vec<u64> = pairs.iter().map(|p| tok.count(p.1) as u64).collect();
    for (kind, path) in [("sharegpt", &sharegpt), ("human-eval", &human_eval)] {
        for real in [false, true] {
            let a = StaticArgs {
                endpoint: EndpointArgs {
                    sim: Some("time_scale=0.05".into()),
                    ..EndpointArgs::default()
                },
                sweep: StaticSweepArgs {
                    epochs: 2,
                    parallel_num: vec![2],
                    prompt_tokens: vec![100],
                    output_tokens: vec![5],
                    warmup: Some(0),
                    ..StaticSweepArgs::default()
                },
                dataset: servebench::cli::StaticDatasetArgs {
                    dataset_type: kind.into(),
                    dataset_path: Some(path.clone()),
                    use_real_dataset_output_tokens: real,
                },
                benchmark_csv: None,
                common: CommonArgs::in_dir(dir.path()),
            };
            let run = run_static_cmd(&a).await.unwrap().run;
            let recs: Vec<_> = run.points[0].epochs.iter().flatten().collect();
            assert_eq!(recs.len(), 4);
            for r in &recs {
                assert!(r.ok(), "{kind}: {:?}", r.failure);
                let i = prompt_lens
                    .iter()
                    .position(|&n| n == r.input_tokens)
                    .unwrap_or_else(|| panic!("{kind}: a prompt of {} tokens", r.input_tokens));
                let want = if real { output_lens[i] } else { 5 };
                assert_eq!(r.requested_output_tokens, want, "{kind} real={real}");
                assert_eq!(r.output_tokens, want);
            }
            assert!(
                run.meta.notes.iter().any(|n| n.contains("prompts from")),
                "{:?}",
                run.meta.notes
            );
        }
    }
}
