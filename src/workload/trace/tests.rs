use std::io::Write;

use super::*;
use crate::workload::{PromptSynth, Tokenizer};

fn file(text: &str, ext: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(ext).tempfile().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

const MOONCAKE: &str = r#"{"timestamp": 0, "input_length": 20, "output_length": 5, "hash_ids": [0, 1, 2]}
{"timestamp": 500, "input_length": 24, "output_length": 7, "hash_ids": [0, 1, 3]}

{"timestamp": 1500, "input_length": 9, "output_length": 0, "hash_ids": [4]}
{"timestamp": 3000, "input_length": 16, "output_length": 3, "hash_ids": [5, 6]}
"#;

#[test]
fn mooncake_reads_times_lengths_and_hash_ids() {
    let f = file(MOONCAKE, ".jsonl");
    let t = Trace::read(f.path(), TraceFormat::Mooncake, TraceWindow::default()).unwrap();
    assert_eq!(t.len(), 3);
    assert_eq!(t.skipped, 1, "the 0-output row");
    let at: Vec<f64> = t.requests.iter().map(|r| r.at_s).collect();
    assert_eq!(at, vec![0.0, 0.5, 3.0]);
    assert_eq!(t.requests[1].hash_ids, vec![0, 1, 3]);
    assert_eq!(t.requests[1].input_tokens, 24);
    assert_eq!(t.offsets(2.0), vec![0.0, 0.25, 1.5]);
    assert!((t.mean_rate(1.0) - 2.0 / 3.0).abs() < 1e-12);
    assert_eq!(t.longest(), (24, 7));
}

#[test]
fn window_and_cap() {
    let f = file(MOONCAKE, ".jsonl");
    let w = TraceWindow {
        start_s: 0.4,
        duration_s: Some(2.0),
        max_requests: None,
    };
    let t = Trace::read(f.path(), TraceFormat::Mooncake, w).unwrap();
    // 0.5 s is kept (as 0.1 s from the window's start), 3.0 s is past it.
    assert_eq!(t.len(), 1);
    assert!((t.requests[0].at_s - 0.1).abs() < 1e-12);
    let capped = TraceWindow {
        max_requests: Some(2),
        ..TraceWindow::default()
    };
    assert_eq!(
        Trace::read(f.path(), TraceFormat::Mooncake, capped)
            .unwrap()
            .len(),
        2
    );
    let late = TraceWindow {
        start_s: 100.0,
        ..TraceWindow::default()
    };
    let e = Trace::read(f.path(), TraceFormat::Mooncake, late).unwrap_err();
    assert!(e.to_string().contains("no request to replay"), "{e}");
    let bad = TraceWindow {
        duration_s: Some(0.0),
        ..TraceWindow::default()
    };
    let e = Trace::read(f.path(), TraceFormat::Mooncake, bad).unwrap_err();
    assert!(e.to_string().starts_with("--trace-duration"), "{e}");
}

#[test]
fn malformed_lines_name_file_and_line() {
    let f = file(
        "{\"timestamp\": 0, \"input_length\": 3, \"output_length\": 2}\n{\"timestamp\": 1, \"input_length\": \"x\"}\n",
        ".jsonl",
    );
    let e = Trace::read(f.path(), TraceFormat::Mooncake, TraceWindow::default()).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains(&f.path().display().to_string()), "{msg}");
    assert!(msg.contains("line 2"), "{msg}");
    let back = file(
        "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n5,ChatGPT,10,4,14,Conversation log\n4,ChatGPT,10,4,14,Conversation log\n",
        ".csv",
    );
    let e = Trace::read(back.path(), TraceFormat::BurstGpt, TraceWindow::default()).unwrap_err();
    assert!(e.to_string().contains("line 3"), "{e}");
    assert!(e.to_string().contains("backwards"), "{e}");
}

#[test]
fn burstgpt_skips_failures_with_a_count() {
    let f = file(
        "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n\
         5,ChatGPT,472,18,490,Conversation log\n\
         45,ChatGPT,1087,0,1087,Conversation log\n\
         118,GPT-4,417,217,634,API log\n",
        ".csv",
    );
    let t = Trace::read(f.path(), TraceFormat::BurstGpt, TraceWindow::default()).unwrap();
    assert_eq!(t.len(), 2);
    assert_eq!(t.skipped, 1);
    assert_eq!(t.requests[1].at_s, 113.0);
    assert_eq!(
        (t.requests[1].input_tokens, t.requests[1].output_tokens),
        (417, 217)
    );
    let bad = file(
        "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n5,ChatGPT,many,18,490,x\n",
        ".csv",
    );
    let e = Trace::read(bad.path(), TraceFormat::BurstGpt, TraceWindow::default()).unwrap_err();
    assert!(e.to_string().contains("line 2"), "{e}");
}

#[test]
fn azure_reads_datetimes() {
    let f = file(
        "TIMESTAMP,ContextTokens,GeneratedTokens\n\
         2023-11-16 18:15:46.6805900,374,44\n\
         2023-11-16 18:15:50.9951690,396,109\n\
         2023-11-16 18:16:00.6805900,879,0\n",
        ".csv",
    );
    let t = Trace::read(f.path(), TraceFormat::Azure, TraceWindow::default()).unwrap();
    assert_eq!(t.len(), 2);
    assert_eq!(t.skipped, 1);
    assert!(
        (t.requests[1].at_s - 4.314579).abs() < 1e-6,
        "{}",
        t.requests[1].at_s
    );
    let bad = file(
        "TIMESTAMP,ContextTokens,GeneratedTokens\nyesterday,3,4\n",
        ".csv",
    );
    let e = Trace::read(bad.path(), TraceFormat::Azure, TraceWindow::default()).unwrap_err();
    assert!(
        e.to_string().contains("line 2") && e.to_string().contains("TIMESTAMP"),
        "{e}"
    );
}

#[test]
fn formats_parse_by_name() {
    assert_eq!(
        "Mooncake".parse::<TraceFormat>().unwrap(),
        TraceFormat::Mooncake
    );
    assert_eq!(
        "burstgpt".parse::<TraceFormat>().unwrap(),
        TraceFormat::BurstGpt
    );
    assert_eq!("azure".parse::<TraceFormat>().unwrap(), TraceFormat::Azure);
    assert!("sharegpt".parse::<TraceFormat>().is_err());
}

/// Words of `prompt` (each one token under the embedded tokenizer).
fn words(prompt: &str) -> Vec<&str> {
    prompt.split_inclusive(' ').collect()
}

#[test]
fn mooncake_prompts_share_exactly_their_blocks() {
    let f = file(MOONCAKE, ".jsonl");
    let t = Trace::read(f.path(), TraceFormat::Mooncake, TraceWindow::default()).unwrap();
    let tok = Tokenizer::default_embedded();
    let synth = PromptSynth::new(&tok).unwrap();
    let block = 8;
    let reqs = t.requests(&synth, block, 1, 100).unwrap();
    for (r, tr) in reqs.iter().zip(&t.requests) {
        assert_eq!(tok.count(&r.prompt), tr.input_tokens, "exact length");
        assert_eq!(r.prompt_tokens, tr.input_tokens);
        assert_eq!(r.max_tokens, tr.output_tokens);
        assert!(r.force_output_len);
    }
    assert_eq!(reqs[0].id, 100);
    let (a, b, c) = (
        tok.encode(&reqs[0].prompt),
        tok.encode(&reqs[1].prompt),
        tok.encode(&reqs[2].prompt),
    );
    // [0, 1, 2] vs [0, 1, 3]: exactly two blocks (16 tokens) in common.
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    assert_eq!(common, 16);
    // [5, 6] shares nothing with them.
    assert_ne!(a[0], c[0]);
    // The third block of request 0 is cut to 20 - 16 = 4 tokens.
    assert_eq!(a.len(), 20);
    // Another salt: the same structure, other text.
    let other = t.requests(&synth, block, 2, 100).unwrap();
    assert_ne!(words(&other[0].prompt)[..8], words(&reqs[0].prompt)[..8]);
    let o = (tok.encode(&other[0].prompt), tok.encode(&other[1].prompt));
    assert_eq!(o.0.iter().zip(&o.1).take_while(|(x, y)| x == y).count(), 16);
    // The same salt: the same text (replays are reproducible).
    assert_eq!(t.requests(&synth, block, 1, 100).unwrap(), reqs);
}

#[test]
fn prompts_past_the_listed_blocks_are_the_requests_own() {
    let f = file(
        "{\"timestamp\": 0, \"input_length\": 30, \"output_length\": 2, \"hash_ids\": [7]}\n\
         {\"timestamp\": 1, \"input_length\": 30, \"output_length\": 2, \"hash_ids\": [7]}\n",
        ".jsonl",
    );
    let t = Trace::read(f.path(), TraceFormat::Mooncake, TraceWindow::default()).unwrap();
    let tok = Tokenizer::default_embedded();
    let synth = PromptSynth::new(&tok).unwrap();
    let reqs = t.requests(&synth, 10, 0, 0).unwrap();
    let (a, b) = (tok.encode(&reqs[0].prompt), tok.encode(&reqs[1].prompt));
    assert_eq!((a.len(), b.len()), (30, 30));
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    assert_eq!(common, 10, "only block 7 is shared");
}

#[test]
fn csv_trace_prompts_are_unique() {
    let f = file(
        "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.0,40,4\n2023-11-16 18:15:47.0,40,4\n",
        ".csv",
    );
    let t = Trace::read(f.path(), TraceFormat::Azure, TraceWindow::default()).unwrap();
    let tok = Tokenizer::default_embedded();
    let synth = PromptSynth::new(&tok).unwrap();
    let reqs = t.requests(&synth, 512, 0, 0).unwrap();
    assert_eq!(tok.count(&reqs[0].prompt), 40);
    assert_ne!(
        tok.encode(&reqs[0].prompt)[0],
        tok.encode(&reqs[1].prompt)[0]
    );
    assert_eq!(expected_prefix_hit_ratio(&t, 512), None);
}

#[test]
fn expected_hit_ratio_counts_leading_cached_full_blocks() {
    let f = file(MOONCAKE, ".jsonl");
    let t = Trace::read(f.path(), TraceFormat::Mooncake, TraceWindow::default()).unwrap();
    // Block 8: request 0 (20 tokens) has 2 full blocks, none cached;
    // request 1 (24 tokens) has 3, of which [0, 1] are cached: 16 tokens;
    // request 2 (16) has 2, none cached. 16 / (20 + 24 + 16).
    let r = expected_prefix_hit_ratio(&t, 8).unwrap();
    assert!((r - 16.0 / 60.0).abs() < 1e-12, "{r}");
    // A block seen before, but after a miss, is not a hit (chained hashes).
    let g = file(
        "{\"timestamp\": 0, \"input_length\": 8, \"output_length\": 1, \"hash_ids\": [1, 2]}\n\
         {\"timestamp\": 1, \"input_length\": 8, \"output_length\": 1, \"hash_ids\": [3, 2]}\n",
        ".jsonl",
    );
    let t = Trace::read(g.path(), TraceFormat::Mooncake, TraceWindow::default()).unwrap();
    assert_eq!(expected_prefix_hit_ratio(&t, 4), Some(0.0));
}
