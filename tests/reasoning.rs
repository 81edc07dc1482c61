//! A reasoning model's streams: chat deltas carry `reasoning_content` before
//! the answer. The simulator's reasoning mode sends the first N tokens of
//! each answer as reasoning; the run must time them as output (TTFT is the
//! first token of any kind, TPOT over all of them), take the time to the
//! first answer token, and count the reasoning tokens, in the records, the
//! summary, the CSV and the notes.

mod common {
    pub mod sim;
}

use servebench::cli::{run_static_cmd, CommonArgs, EndpointArgs, StaticArgs, StaticSweepArgs};
use servebench::metrics::RunData;
use servebench::sim::SimServer;

async fn sim(kv: &str) -> SimServer {
    common::sim::start(kv).await.0
}

/// A static run of 24-token answers at concurrency 2, 2 epochs; its data
/// and its CSV text.
async fn run(server: &SimServer, backend: &str) -> (RunData, String) {
    let dir = tempfile::tempdir().unwrap();
    let a = StaticArgs {
        dataset: Default::default(),
        endpoint: EndpointArgs {
            backend: backend.into(),
            url: Some(server.base_url()),
            ..EndpointArgs::default()
        },
        sweep: StaticSweepArgs {
            epochs: 2,
            parallel_num: vec![2],
            prompt_tokens: vec![32],
            output_tokens: vec![24],
            warmup: Some(1),
            ..StaticSweepArgs::default()
        },
        benchmark_csv: None,
        common: CommonArgs::in_dir(dir.path()),
    };
    let out = run_static_cmd(&a).await.unwrap();
    let csv = std::fs::read_to_string(&out.paths.csv).unwrap();
    (out.run, csv)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reasoning_is_timed_as_output_and_the_first_answer_token_is_taken() {
    let server = sim("time_scale=0.3,reasoning_tokens=8,seed=7").await;
    let (r, csv) = run(&server, "openai-chat").await;
    let p = &r.points[0];
    assert_eq!(p.summary.failed, 0, "{:?}", p.summary.failures);
    for rec in p.epochs.iter().flatten() {
        let reasoning = rec.reasoning.as_ref().expect("every answer reasoned");
        // The server's own count, from usage.completion_tokens_details.
        assert_eq!(reasoning.tokens, 8);
        // All 24 tokens are output, reasoning included.
        assert_eq!(rec.output_tokens, 24);
        let (ttft, answer) = (rec.ttft_ms.unwrap(), reasoning.answer_ms.unwrap());
        // The first answer token is the 9th token: 8 decode gaps after the
        // first. A wrong split (answer at the first token, or at the last)
        // misses this band.
        let tpot = rec.tpot_ms().unwrap();
        let gap = answer - ttft;
        assert!(
            gap > 6.0 * tpot && gap < 10.0 * tpot,
            "answer {answer} ms, ttft {ttft} ms, tpot {tpot} ms"
        );
        assert_eq!(rec.ttfat_ms(), Some(answer));
    }
    let s = &p.summary;
    assert!(s.ttfat_ms.p(50.0).unwrap() > s.ttft_ms.p(50.0).unwrap());
    assert_eq!(s.reasoning_tokens.mean, Some(8.0));
    let note = p.reasoning_note().expect("a reasoning note");
    assert!(note.contains("answers reasoned first"), "{note}");
    assert!(r.notes().contains(&note));
    let head: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    for col in ["ttfat_p50_ms", "mean_reasoning_tokens"] {
        assert!(head.contains(&col), "{col} not in {head:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_answers_have_no_reasoning_and_ttfat_is_ttft() {
    // The same server's completions API never reasons; nor does chat
    // without the setting.
    let server = sim("time_scale=0.3,seed=8").await;
    let (r, _) = run(&server, "openai-chat").await;
    let p = &r.points[0];
    assert!(p.epochs.iter().flatten().all(|rec| rec.reasoning.is_none()));
    assert_eq!(p.summary.ttfat_ms.p(50.0), p.summary.ttft_ms.p(50.0));
    assert_eq!(p.summary.reasoning_tokens.mean, Some(0.0));
    assert_eq!(p.reasoning_note(), None);
    let server = sim("time_scale=0.3,reasoning_tokens=8,seed=9").await;
    let (r, _) = run(&server, "openai").await;
    assert!(r.points[0]
        .epochs
        .iter()
        .flatten()
        .all(|rec| rec.reasoning.is_none()));
}
