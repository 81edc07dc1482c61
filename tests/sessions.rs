//! Multi-turn sessions end to end against the embedded simulator: every
//! turn carries the conversation so far (the simulator counts the whole
//! history in its usage), turns follow each other after the think time,
//! sessions start at their scheduled times, the prefix cache serves the
//! history, and the per-turn and per-session figures come out.

use std::path::Path;

use servebench::cli::{run_sessions_cmd, CommonArgs, EndpointArgs, PrecisionArgs, SessionsArgs};
use servebench::metrics::{PointLabel, Rate, RequestRecord, RunData};

fn args(dir: &Path, sim: &str) -> SessionsArgs {
    SessionsArgs {
        endpoint: EndpointArgs {
            sim: Some(sim.into()),
            // `openai` (the default) is taken as `openai-chat`.
            ..EndpointArgs::default()
        },
        dataset: None,
        min_turns: 2,
        max_turns: 8,
        turns: 4,
        turn_input_len: 300,
        turn_output_len: 12,
        session_rate: vec![Rate(20.0)],
        num_sessions: 6,
        burstiness: 1.0,
        max_active_sessions: None,
        think_time_ms: 15.0,
        dataset_replies: false,
        goodput: Vec::new(),
        epochs: 2,
        warmup: Some(0),
        precision: PrecisionArgs::default(),
        benchmark_csv: None,
        common: CommonArgs::in_dir(dir),
    }
}

/// Turns of every session of `run`'s only point: (epoch, session) -> turns by index.
fn sessions(run: &RunData) -> Vec<Vec<RequestRecord>> {
    let mut by: std::collections::BTreeMap<(u32, u64), Vec<RequestRecord>> = Default::default();
    for r in run.points[0].epochs.iter().flatten() {
        let s = r.session.expect("every request belongs to a session");
        by.entry((r.epoch, s.session)).or_default().push(r.clone());
    }
    by.into_values()
        .map(|mut v| {
            v.sort_by_key(|r| r.session.unwrap().turn);
            v
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turns_carry_the_conversation_and_follow_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let a = args(dir.path(), "time_scale=0.05,prefix_cache=true,seed=2");
    let out = run_sessions_cmd(&a).await.unwrap();
    let p = &out.run.points[0];
    assert_eq!(p.summary.failed, 0, "{:?}", p.summary.failures);
    assert!(matches!(
        p.label,
        PointLabel::Sessions {
            num_sessions: 6,
            ..
        }
    ));
    let all = sessions(&out.run);
    assert_eq!(all.len(), 12, "6 sessions x 2 epochs");
    let (u, o) = (300u64, 12u64);
    for s in &all {
        assert_eq!(s.len(), 4);
        for (t, r) in s.iter().enumerate() {
            let t = t as u64;
            assert_eq!(r.session.unwrap().turn as u64, t);
            // The conversation so far: t earlier (user, answer) pairs, then
            // the user's message; the simulator counts every message.
            assert_eq!(r.input_tokens, t * (u + o) + u);
            assert_eq!(r.usage_input_tokens, Some(r.input_tokens), "turn {t}");
            assert_eq!(r.output_tokens, o);
            // Only a session's start is scheduled.
            assert_eq!(r.scheduled_s.is_some(), t == 0);
            if t > 0 {
                // After the previous answer and the think time.
                let prev = &s[t as usize - 1];
                let free = prev.start_s + prev.done_ms / 1e3 + 0.015;
                assert!(
                    r.start_s >= free - 1e-3,
                    "turn {t} at {} < {free}",
                    r.start_s
                );
                // The prefix cache holds the previous turn's prompt (its full
                // 16-token blocks); the answer after it is new.
                let cached = r
                    .server
                    .as_ref()
                    .and_then(|s| s.cached_prompt_tokens)
                    .unwrap();
                let prev_prompt = prev.input_tokens;
                assert_eq!(cached, prev_prompt / 16 * 16, "turn {t}");
            }
        }
    }
    let f = p.summary.sessions.as_ref().expect("session figures");
    assert_eq!((f.sessions, f.completed), (12, 12));
    assert_eq!(f.turns.len(), 4);
    assert!(f.turns.iter().all(|t| t.completed == 12));
    assert_eq!(f.turns[3].mean_input_tokens, Some((3 * (u + o) + u) as f64));
    // Three think times at least, and not much more than the turns take.
    let d = f.duration_s.p(50.0).unwrap();
    assert!(d >= 0.045, "{d}");
    let notes = out.run.notes().join("\n");
    assert!(notes.contains("12 of 12 sessions completed"), "{notes}");
    let csv = std::fs::read_to_string(&out.paths.csv).unwrap();
    let header = csv.lines().next().unwrap();
    assert!(header.contains("ttft_p50_later_turns_ms"), "{header}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_prefix_cache_shows_in_the_later_turns_ttft() {
    // Long user turns make the prefill dominate the TTFT: with the cache,
    // the fourth turn prefills ~312 new tokens; without it, ~1,236.
    let mut ttft4 = Vec::new();
    for cache in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let mut a = args(
            dir.path(),
            // At time_scale 0.5 the prefill (~13 vs ~41 ms) stands well
            // above the few fixed milliseconds a loaded 2-core CI adds.
            &format!("time_scale=0.5,prefix_cache={cache},seed=2,jitter=0"),
        );
        a.session_rate = vec![Rate(5.0)];
        a.num_sessions = 4;
        a.epochs = 1;
        a.think_time_ms = 0.0;
        let out = run_sessions_cmd(&a).await.unwrap();
        let f = out.run.points[0].summary.sessions.clone().unwrap();
        ttft4.push(f.turns[3].ttft_ms.p(50.0).unwrap());
    }
    assert!(
        ttft4[0] < 0.7 * ttft4[1],
        "turn 4 TTFT with the cache {:.2} ms, without {:.2} ms",
        ttft4[0],
        ttft4[1]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sharegpt_conversations_with_dataset_replies() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("conv.json");
    std::fs::write(
        &path,
        r#"[
 {"id": "a", "conversations": [
   {"from": "human", "value": "hello there friend"}, {"from": "gpt", "value": "hi how can I help you today"},
   {"from": "human", "value": "tell me a story please"}, {"from": "gpt", "value": "once upon a time there was a model"}]},
 {"id": "b", "conversations": [
   {"from": "human", "value": "what is the weather"}, {"from": "gpt", "value": "it is sunny"},
   {"from": "human", "value": "and tomorrow"}, {"from": "gpt", "value": "rain is likely"},
   {"from": "human", "value": "thanks"}, {"from": "gpt", "value": "you are welcome"}]}
]"#,
    )
    .unwrap();
    let mut a = args(dir.path(), "time_scale=0.05,seed=1");
    a.dataset = Some(path);
    a.dataset_replies = true;
    a.num_sessions = 2;
    a.epochs = 1;
    let out = run_sessions_cmd(&a).await.unwrap();
    assert_eq!(out.run.points[0].summary.failed, 0);
    let tok = servebench::workload::Tokenizer::default_embedded();
    let all = sessions(&out.run);
    let turns: Vec<usize> = all.iter().map(|s| s.len()).collect();
    let mut sorted = turns.clone();
    sorted.sort();
    assert_eq!(sorted, vec![2, 3]);
    for s in &all {
        // With the dataset's replies, turn t's prompt is the dataset's
        // conversation up to it, counted by the simulator.
        for r in s {
            assert_eq!(r.usage_input_tokens, Some(r.input_tokens));
        }
        let second = &s[1];
        let first = &s[0];
        assert!(second.input_tokens > first.input_tokens + first.output_tokens);
    }
    let b = all.iter().find(|s| s.len() == 3).unwrap();
    let expect =
        tok.count("what is the weather") + tok.count("it is sunny") + tok.count("and tomorrow");
    assert_eq!(b[1].input_tokens, expect as u64);
    assert_eq!(b[1].output_tokens, tok.count("rain is likely") as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_need_a_chat_backend_and_sane_flags() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = args(dir.path(), "time_scale=0.05");
    a.endpoint.backend = "tgi".into();
    let e = run_sessions_cmd(&a).await.unwrap_err();
    assert_eq!(e.exit_code(), 2);
    assert!(e.to_string().starts_with("--backend"), "{e}");
    let mut a = args(dir.path(), "time_scale=0.05");
    a.turns = 0;
    let e = run_sessions_cmd(&a).await.unwrap_err();
    assert!(e.to_string().contains("--turns"), "{e}");
}
