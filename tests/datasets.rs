//! Dataset loading, filtering, sampling and the generator.

use std::path::{Path, PathBuf};
use std::time::Instant;

use servebench::cli::{run_gen_cmd, GenArgs};
use servebench::workload::{
    generate, generate_outputs, load_and_sample, load_dataset, load_dataset_with_stats,
    read_generated, sample_requests, write_dataset, write_seed_dataset, DatasetError,
    DatasetFilter, DatasetType, GenFormat, GenerateSpec, Tokenizer,
};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// A sentence of roughly `n` words (each a few tokens at most).
fn words(n: usize) -> String {
    (0..n)
        .map(|i| format!("word{i}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn sharegpt_entry(id: usize, turns: &[(&str, String)]) -> serde_json::Value {
    let conv: Vec<_> = turns
        .iter()
        .map(|(from, value)| serde_json::json!({"from": from, "value": value}))
        .collect();
    serde_json::json!({"id": format!("e{id}"), "conversations": conv})
}

fn err_text(r: Result<impl std::fmt::Debug, DatasetError>) -> String {
    r.expect_err("expected an error").to_string()
}

#[test]
fn sharegpt_loads_pairs_and_skips_short_conversations() {
    let dir = tempfile::tempdir().unwrap();
    let tok = Tokenizer::default_embedded();
    let data = serde_json::json!([
        sharegpt_entry(
            0,
            &[
                ("human", words(20)),
                ("gpt", words(30)),
                ("human", words(5))
            ]
        ),
        sharegpt_entry(1, &[("human", words(20))]),
        sharegpt_entry(2, &[]),
        // system turn first: the first human turn is still the prompt
        sharegpt_entry(
            3,
            &[
                ("system", words(3)),
                ("human", words(10)),
                ("gpt", words(12))
            ]
        ),
    ]);
    let p = write(dir.path(), "sg.json", &data.to_string());
    let (entries, stats) =
        load_dataset_with_stats(&p, DatasetType::ShareGpt, &tok, &DatasetFilter::default())
            .unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!((stats.read, stats.skipped, stats.kept), (4, 2, 2));
    assert_eq!(entries[0].prompt, words(20));
    assert_eq!(entries[0].prompt_tokens, tok.count(&words(20)));
    assert_eq!(entries[0].output_tokens, tok.count(&words(30)));
    assert_eq!(entries[1].prompt, words(10));
    assert_eq!(entries[1].output_tokens, tok.count(&words(12)));
}

#[test]
fn alpaca_reads_input_and_output_as_the_seed_does() {
    let dir = tempfile::tempdir().unwrap();
    let tok = Tokenizer::default_embedded();
    // The seed's prompt is `input`, never `instruction`; an empty input is a
    // 0-token prompt, dropped by the length filter; a 3-token output too.
    let data = serde_json::json!([
        {"instruction": "Summarise the following text please", "input": words(10), "output": words(15)},
        {"instruction": "Write a poem about the sea and sky", "input": "", "output": words(8)},
        {"input": words(6), "output": words(7), "extra": 1},
        {"instruction": "x", "input": words(6), "output": exact_prompt(&tok, 3)},
    ]);
    let p = write(dir.path(), "alpaca.json", &data.to_string());
    let (e, stats) =
        load_dataset_with_stats(&p, DatasetType::Alpaca, &tok, &DatasetFilter::default()).unwrap();
    assert_eq!((stats.read, stats.too_short, stats.kept), (4, 2, 2));
    assert_eq!(e[0].prompt, words(10));
    assert_eq!(e[0].prompt_tokens, tok.count(&words(10)));
    assert_eq!(e[0].output_tokens, tok.count(&words(15)));
    assert_eq!(e[1].prompt, words(6));
    assert_eq!(e[1].output_tokens, tok.count(&words(7)));
}

#[test]
fn custom_reads_the_seed_generate_dataset_shape() {
    let dir = tempfile::tempdir().unwrap();
    let tok = Tokenizer::default_embedded();
    // As the seed's generate_dataset.py writes it: one line, no indent.
    let entries = [(12, 20), (30, 5), (7, 3), (2, 9)];
    let json: Vec<_> = entries
        .iter()
        .map(|&(i, o)| {
            serde_json::json!({"input": exact_prompt(&tok, i), "output": exact_prompt(&tok, o), "instruction": "NA"})
        })
        .collect();
    let p = write(
        dir.path(),
        "seed.json",
        &serde_json::Value::Array(json).to_string(),
    );
    let (e, stats) =
        load_dataset_with_stats(&p, DatasetType::Custom, &tok, &DatasetFilter::default()).unwrap();
    assert_eq!((stats.read, stats.too_short, stats.kept), (4, 2, 2));
    let got: Vec<_> = e
        .iter()
        .map(|e| (e.prompt_tokens, e.output_tokens))
        .collect();
    assert_eq!(got, vec![(12, 20), (30, 5)]);
    assert_eq!(e[0].prompt, exact_prompt(&tok, 12));
    // servebench's own shape and the seed's may sit in one file.
    let mixed = format!(
        r#"[{{"prompt": "{}", "output_tokens": 9}}, {{"input": "{}", "output": "{}", "instruction": "NA"}}]"#,
        words(5),
        words(6),
        words(7)
    );
    let p = write(dir.path(), "mixed.json", &mixed);
    let e = load_dataset(&p, DatasetType::Custom, &tok, &DatasetFilter::default()).unwrap();
    let got: Vec<_> = e
        .iter()
        .map(|e| (e.prompt_tokens, e.output_tokens))
        .collect();
    assert_eq!(
        got,
        vec![
            (tok.count(&words(5)), 9),
            (tok.count(&words(6)), tok.count(&words(7)))
        ]
    );
}

#[test]
fn human_eval_reads_prompt_and_canonical_solution() {
    let dir = tempfile::tempdir().unwrap();
    let tok = Tokenizer::default_embedded();
    let line = |id: usize, prompt: &str, sol: &str| {
        serde_json::json!({
            "task_id": format!("HumanEval/{id}"),
            "prompt": prompt,
            "canonical_solution": sol,
            "test": "def check(candidate): pass",
            "entry_point": "f",
        })
        .to_string()
    };
    let p2 = exact_prompt(&tok, 2);
    let p1 = exact_prompt(&tok, 1);
    let text = [
        line(0, &words(10), &words(12)),
        String::new(),
        line(1, &p2, &p1),      // short, but the seed keeps anything above 0
        line(2, "", &words(3)), // 0-token prompt: dropped
        line(3, &words(4), ""), // 0-token solution: dropped
    ]
    .join("\n");
    let p = write(dir.path(), "HumanEval.jsonl", &text);
    let filter = DatasetFilter::for_type(DatasetType::HumanEval);
    assert_eq!((filter.min_prompt_tokens, filter.min_output_tokens), (1, 1));
    let (e, stats) = load_dataset_with_stats(&p, DatasetType::HumanEval, &tok, &filter).unwrap();
    assert_eq!((stats.read, stats.too_short, stats.kept), (4, 2, 2));
    let got: Vec<_> = e
        .iter()
        .map(|e| (e.prompt_tokens, e.output_tokens))
        .collect();
    assert_eq!(
        got,
        vec![(tok.count(&words(10)), tok.count(&words(12))), (2, 1)]
    );
    assert_eq!(e[0].prompt, words(10));
    // Under the default filter (4 tokens) the short entry goes too.
    let e = load_dataset(&p, DatasetType::HumanEval, &tok, &DatasetFilter::default()).unwrap();
    assert_eq!(e.len(), 1);
}

#[test]
fn malformed_human_eval_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = serde_json::json!({"prompt": words(6), "canonical_solution": words(6)});
    let text = format!("{good}\n\n{{\"prompt\": \"def f():\"}}\n{good}\n");
    expect_error(
        dir.path(),
        "he.jsonl",
        DatasetType::HumanEval,
        &text,
        &["line 3", "missing field `canonical_solution`"],
    );
    // A JSON array (a mistaken --dataset-type) fails on line 1.
    expect_error(
        dir.path(),
        "he2.jsonl",
        DatasetType::HumanEval,
        &format!("[{good}]\n"),
        &["line 1", "expected a JSON object, found an array"],
    );
}

#[test]
fn jsonl_reads_all_field_variants() {
    let dir = tempfile::tempdir().unwrap();
    let tok = Tokenizer::default_embedded();
    let text = format!(
        "{}\n\n{}\n{}\n   \n{}\n{}\n",
        serde_json::json!({"prompt": words(8), "output_tokens": 100}),
        serde_json::json!({"text": words(9), "max_tokens": 50}),
        serde_json::json!({"prompt": words(10), "output_len": 25}),
        serde_json::json!({"prompt": words(11), "output": words(12)}),
        serde_json::json!({"prompt": words(12), "output_tokens": 64.0, "extra": true}),
    );
    let p = write(dir.path(), "d.jsonl", &text);
    let e = load_dataset(&p, DatasetType::Jsonl, &tok, &DatasetFilter::default()).unwrap();
    let outs: Vec<_> = e.iter().map(|e| e.output_tokens).collect();
    assert_eq!(outs, vec![100, 50, 25, tok.count(&words(12)), 64]);
    assert_eq!(e[1].prompt, words(9));
}

#[test]
fn filters_drop_the_right_entries() {
    let dir = tempfile::tempdir().unwrap();
    let tok = Tokenizer::default_embedded();
    let prompt = |n| exact_prompt(&tok, n);
    let lines = [
        (prompt(2), 100),  // prompt too short
        (prompt(10), 3),   // output too short
        (prompt(300), 10), // prompt over max_prompt_tokens
        (prompt(150), 80), // prompt+output over max_tokens
        (prompt(150), 50), // kept (200 == max_tokens)
        (prompt(4), 4),    // kept (minimums are inclusive)
    ];
    let text: String = lines
        .iter()
        .map(|(p, o)| format!("{}\n", serde_json::json!({"prompt": p, "output_tokens": o})))
        .collect();
    let p = write(dir.path(), "f.jsonl", &text);
    let filter = DatasetFilter {
        max_prompt_tokens: Some(200),
        max_tokens: Some(200),
        ..DatasetFilter::default()
    };
    let (e, s) = load_dataset_with_stats(&p, DatasetType::Jsonl, &tok, &filter).unwrap();
    let kept: Vec<_> = e
        .iter()
        .map(|e| (e.prompt_tokens, e.output_tokens))
        .collect();
    assert_eq!(kept, vec![(150, 50), (4, 4)]);
    assert_eq!(
        (s.too_short, s.prompt_too_long, s.total_too_long),
        (2, 1, 1)
    );

    // Everything filtered out: a clear error.
    let strict = DatasetFilter {
        max_tokens: Some(5),
        ..DatasetFilter::default()
    };
    let msg = err_text(load_dataset(&p, DatasetType::Jsonl, &tok, &strict));
    assert!(
        msg.contains("f.jsonl") && msg.contains("no usable entry"),
        "{msg}"
    );
    assert!(msg.contains("--max-tokens 5"), "{msg}");
}

/// A prompt of exactly `n` tokens.
fn exact_prompt(tok: &Tokenizer, n: usize) -> String {
    use rand::SeedableRng;
    let synth = servebench::workload::PromptSynth::new(tok).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(n as u64);
    synth.prompt(n, None, &mut rng).unwrap()
}

fn jsonl_of(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "{}\n",
                serde_json::json!({"prompt": words(5 + i % 7), "output_tokens": 10 + i})
            )
        })
        .collect()
}

#[test]
fn sampling_is_reproducible_and_seed_dependent() {
    let dir = tempfile::tempdir().unwrap();
    let tok = Tokenizer::default_embedded();
    let p = write(dir.path(), "s.jsonl", &jsonl_of(50));
    let e = load_dataset(&p, DatasetType::Jsonl, &tok, &DatasetFilter::default()).unwrap();
    assert_eq!(e.len(), 50);
    let a = sample_requests(&e, 20, 7);
    let b = sample_requests(&e, 20, 7);
    let c = sample_requests(&e, 20, 8);
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_eq!(a.len(), 20);
    // Without replacement: 20 distinct entries (output lengths are unique).
    let mut outs: Vec<_> = a.iter().map(|r| r.max_tokens).collect();
    outs.sort();
    outs.dedup();
    assert_eq!(outs.len(), 20);
    for (i, r) in a.iter().enumerate() {
        assert_eq!(r.id, i as u64);
        assert!(r.force_output_len);
        assert_eq!(r.prompt_tokens, tok.count(&r.prompt));
    }
    // More prompts than entries: every entry at least once, then replacement.
    let big = sample_requests(&e, 120, 1);
    assert_eq!(big.len(), 120);
    let mut outs: Vec<_> = big.iter().map(|r| r.max_tokens).collect();
    outs.sort();
    outs.dedup();
    assert_eq!(outs.len(), 50);
    assert_eq!(big, sample_requests(&e, 120, 1));
    assert!(sample_requests(&e, 0, 1).is_empty());
}

#[test]
fn load_and_sample_draws_from_the_filtered_entries() {
    let dir = tempfile::tempdir().unwrap();
    let tok = Tokenizer::default_embedded();
    let p = write(dir.path(), "s.jsonl", &jsonl_of(50));
    let filter = DatasetFilter {
        max_tokens: Some(40),
        ..DatasetFilter::default()
    };
    let all = load_dataset(&p, DatasetType::Jsonl, &tok, &filter).unwrap();
    let a = load_and_sample(&p, DatasetType::Jsonl, &tok, &filter, 10, 3).unwrap();
    assert_eq!(
        a,
        load_and_sample(&p, DatasetType::Jsonl, &tok, &filter, 10, 3).unwrap()
    );
    assert_ne!(
        a,
        load_and_sample(&p, DatasetType::Jsonl, &tok, &filter, 10, 4).unwrap()
    );
    assert_eq!(a.len(), 10);
    for r in &a {
        assert!(all
            .iter()
            .any(|e| e.prompt == r.prompt && e.output_tokens == r.max_tokens));
    }
    let many = load_and_sample(&p, DatasetType::Jsonl, &tok, &filter, 100, 3).unwrap();
    assert_eq!(many.len(), 100);
    let strict = DatasetFilter {
        max_tokens: Some(5),
        ..filter
    };
    let msg = err_text(load_and_sample(
        &p,
        DatasetType::Jsonl,
        &tok,
        &strict,
        10,
        3,
    ));
    assert!(msg.contains("no usable entry"), "{msg}");
}

#[test]
fn missing_file_names_the_path() {
    let tok = Tokenizer::default_embedded();
    let msg = err_text(load_dataset(
        "/nonexistent/dir/data.json",
        DatasetType::ShareGpt,
        &tok,
        &DatasetFilter::default(),
    ));
    assert!(msg.contains("/nonexistent/dir/data.json"), "{msg}");
}

/// Load `text` as `kind` from a file named `name`; the error must name the
/// file and contain every needle.
fn expect_error(dir: &Path, name: &str, kind: DatasetType, text: &str, needles: &[&str]) {
    let tok = Tokenizer::default_embedded();
    let p = write(dir, name, text);
    let msg = err_text(load_dataset(&p, kind, &tok, &DatasetFilter::default()));
    assert!(msg.contains(name), "{name}: {msg}");
    for n in needles {
        assert!(msg.contains(n), "{name}: {msg:?} lacks {n:?}");
    }
}

#[test]
fn malformed_json_arrays_name_file_and_entry() {
    use DatasetType::{Alpaca, Custom, ShareGpt};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ok = serde_json::json!({"instruction": words(5), "input": "", "output": words(5)});
    let bad_json = format!("[\n{ok},\n{ok},\n{{\"instruction\": \"x\" \"output\": \"y\"}}\n]");
    expect_error(d, "a.json", Alpaca, &bad_json, &["entry 2", "line 4"]);
    let missing = format!(r#"[{ok}, {{"instruction": "x", "input": "y"}}]"#);
    expect_error(
        d,
        "b.json",
        Alpaca,
        &missing,
        &["entry 1", "missing field `output`"],
    );
    let wrong = r#"[{"prompt": "a b c d e", "output_tokens": "ten"}]"#;
    expect_error(
        d,
        "c.json",
        Custom,
        wrong,
        &["entry 0", "invalid type", "line 1"],
    );
    let conv = r#"[{"id": "a", "conversations": []}, {"id": "b", "conversations": 3}]"#;
    expect_error(d, "d.json", ShareGpt, conv, &["entry 1", "invalid type"]);
    let turn = r#"[{"id": "a", "conversations": [{"from": "human"}]}]"#;
    expect_error(
        d,
        "e.json",
        ShareGpt,
        turn,
        &["entry 0", "missing field `value`"],
    );
    expect_error(d, "f.json", Custom, r#"{"prompt": "x"}"#, &["JSON array"]);
    let neither = r#"[{"prompt": "a b", "output_tokens": 4}, {"text": "a b", "output": "c d"}]"#;
    expect_error(
        d,
        "c2.json",
        Custom,
        neither,
        &[
            "entry 1",
            "missing field `prompt` (servebench's shape) or `input` (the seed's)",
        ],
    );
    let no_len = r#"[{"prompt": "a b", "output": "c d"}]"#;
    expect_error(
        d,
        "c3.json",
        Custom,
        no_len,
        &["entry 0", "missing field `output_tokens`"],
    );
    let no_out = r#"[{"input": "a b", "instruction": "NA"}]"#;
    expect_error(
        d,
        "c4.json",
        Custom,
        no_out,
        &["entry 0", "missing field `output`"],
    );
    expect_error(d, "g.json", Alpaca, &format!("[{ok}, {ok}"), &["EOF"]);
    expect_error(
        d,
        "h.json",
        Alpaca,
        &format!("[{ok}] x"),
        &["trailing characters"],
    );
}

#[test]
fn malformed_jsonl_names_file_and_line() {
    // Every kind of bad line is covered by the unit tests of the JSONL parser.
    let dir = tempfile::tempdir().unwrap();
    let good = serde_json::json!({"prompt": words(6), "output_tokens": 8});
    let bad = r#"{"prompt": "a", "max_tokens": -2}"#;
    let text = format!("{good}\n{good}\n{bad}\n{good}\n");
    let needles = [
        "line 3",
        "`max_tokens` must be a non-negative integer, found -2",
    ];
    expect_error(dir.path(), "bad.jsonl", DatasetType::Jsonl, &text, &needles);
    let text = format!("{good}\n\n{{\"prompt\": \"abc\", \n");
    expect_error(
        dir.path(),
        "bad2.jsonl",
        DatasetType::Jsonl,
        &text,
        &["line 3", "bad JSON", "EOF"],
    );
}

#[test]
fn empty_files_give_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let tok = Tokenizer::default_embedded();
    let p = write(dir.path(), "empty.json", "[]");
    let msg = err_text(load_dataset(
        &p,
        DatasetType::ShareGpt,
        &tok,
        &DatasetFilter::default(),
    ));
    assert!(
        msg.contains("empty.json") && msg.contains("no entry"),
        "{msg}"
    );
    let p = write(dir.path(), "blank.jsonl", "\n\n");
    let msg = err_text(load_dataset(
        &p,
        DatasetType::Jsonl,
        &tok,
        &DatasetFilter::default(),
    ));
    assert!(
        msg.contains("blank.jsonl") && msg.contains("no entry"),
        "{msg}"
    );
}

fn spec(num_requests: usize) -> GenerateSpec {
    GenerateSpec {
        min_input: 100,
        max_input: 2000,
        avg_input: 800.0,
        std_input: 200.0,
        min_output: 10,
        max_output: 500,
        avg_output: 120.0,
        std_output: 60.0,
        num_requests,
        seed: 42,
    }
}

fn mean_std(xs: &[usize]) -> (f64, f64) {
    let n = xs.len() as f64;
    let m = xs.iter().sum::<usize>() as f64 / n;
    let v = xs.iter().map(|&x| (x as f64 - m).powi(2)).sum::<f64>() / (n - 1.0);
    (m, v.sqrt())
}

#[test]
fn generator_follows_the_distribution_with_exact_prompts() {
    let tok = Tokenizer::default_embedded();
    let s = spec(2000);
    let reqs = generate(&s, &tok).unwrap();
    assert_eq!(reqs.len(), 2000);
    let ins: Vec<_> = reqs.iter().map(|r| r.input_tokens).collect();
    let outs: Vec<_> = reqs.iter().map(|r| r.output_tokens).collect();
    assert!(ins.iter().all(|&n| (100..=2000).contains(&n)));
    assert!(outs.iter().all(|&n| (10..=500).contains(&n)));
    let (mi, si) = mean_std(&ins);
    let (mo, so) = mean_std(&outs);
    assert!(
        (mi - 800.0).abs() < 25.0 && (si - 200.0).abs() < 25.0,
        "{mi} {si}"
    );
    // The output normal is truncated at 10 (1.8 std below the mean): the
    // mean moves up a little and the std shrinks a little.
    assert!(
        (mo - 120.0).abs() < 12.0 && (so - 60.0).abs() < 12.0,
        "{mo} {so}"
    );
    let prompts: Vec<&str> = reqs.iter().map(|r| r.prompt.as_str()).collect();
    assert_eq!(tok.count_batch(&prompts), ins);
    // Unique prompts, deterministic output.
    let mut uniq = prompts.clone();
    uniq.sort();
    uniq.dedup();
    assert_eq!(uniq.len(), prompts.len());
    let small = GenerateSpec {
        num_requests: 150,
        ..s.clone()
    };
    assert_eq!(
        generate(&small, &tok).unwrap(),
        generate(&small, &tok).unwrap()
    );
    assert_ne!(
        generate(&small, &tok).unwrap(),
        generate(&GenerateSpec { seed: 43, ..small }, &tok).unwrap()
    );
}

#[test]
fn generated_file_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let tok = Tokenizer::default_embedded();
    let reqs = generate(&spec(100), &tok).unwrap();
    let p = dir.path().join("gen.json");
    write_dataset(&p, &reqs).unwrap();
    assert_eq!(read_generated(&p).unwrap(), reqs);
    let e = load_dataset(&p, DatasetType::Custom, &tok, &DatasetFilter::default()).unwrap();
    assert_eq!(e.len(), reqs.len());
    for (e, r) in e.iter().zip(&reqs) {
        assert_eq!(
            (&e.prompt, e.prompt_tokens, e.output_tokens),
            (&r.prompt, r.input_tokens, r.output_tokens)
        );
    }
    // The aliases of the custom format.
    let p = write(
        dir.path(),
        "alias.json",
        &format!(
            r#"[{{"prompt": "{}", "input_len": 3, "output_len": 17}}]"#,
            words(6)
        ),
    );
    let e = load_dataset(&p, DatasetType::Custom, &tok, &DatasetFilter::default()).unwrap();
    assert_eq!(
        (e[0].prompt_tokens, e[0].output_tokens),
        (tok.count(&words(6)), 17)
    );
}

#[test]
fn seed_format_reads_back_with_the_custom_parser_at_the_generated_lengths() {
    let dir = tempfile::tempdir().unwrap();
    let tok = Tokenizer::default_embedded();
    let s = spec(150);
    let reqs = generate(&s, &tok).unwrap();
    let outputs = generate_outputs(&s, &reqs, &tok).unwrap();
    let p = dir.path().join("seed.json");
    write_seed_dataset(&p, &reqs, &outputs).unwrap();
    let text = std::fs::read_to_string(&p).unwrap();
    assert!(text.starts_with(r#"[{"input": ""#) && !text.contains('\n'));
    let e = load_dataset(&p, DatasetType::Custom, &tok, &DatasetFilter::default()).unwrap();
    assert_eq!(e.len(), 150);
    for (e, r) in e.iter().zip(&reqs) {
        assert_eq!(
            (&e.prompt, e.prompt_tokens, e.output_tokens),
            (&r.prompt, r.input_tokens, r.output_tokens)
        );
    }
    // The prompts are those of the servebench format, and outputs are seeded.
    assert_eq!(generate_outputs(&s, &reqs, &tok).unwrap(), outputs);
    // The command writes the same file.
    let args = GenArgs {
        dataset: dir.path().join("cmd.json"),
        format: GenFormat::Seed,
        tokenizer: None,
        min_input: s.min_input,
        max_input: s.max_input,
        avg_input: s.avg_input,
        std_input: s.std_input,
        min_output: s.min_output,
        max_output: s.max_output,
        avg_output: s.avg_output,
        std_output: s.std_output,
        num_requests: s.num_requests,
        seed: s.seed,
    };
    assert_eq!(run_gen_cmd(&args).unwrap(), 150);
    assert_eq!(std::fs::read_to_string(&args.dataset).unwrap(), text);
}

/// `cargo test --release --test datasets -- --ignored --nocapture`
#[test]
#[ignore]
fn speed_generator_10k_x_1800() {
    let tok = Tokenizer::default_embedded();
    let s = GenerateSpec {
        min_input: 1500,
        max_input: 2100,
        avg_input: 1800.0,
        std_input: 100.0,
        num_requests: 10_000,
        ..spec(0)
    };
    let t = Instant::now();
    let reqs = generate(&s, &tok).unwrap();
    let gen = t.elapsed();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("gen.json");
    let t = Instant::now();
    write_dataset(&p, &reqs).unwrap();
    let wr = t.elapsed();
    let t = Instant::now();
    let e = load_dataset(&p, DatasetType::Custom, &tok, &DatasetFilter::default()).unwrap();
    let rd = t.elapsed();
    let mb = std::fs::metadata(&p).unwrap().len() as f64 / 1e6;
    println!("generate 10,000 x ~1,800 tokens: {gen:.2?}; write {mb:.0} MB: {wr:.2?}; load (re-count): {rd:.2?}");
    assert_eq!(e.len(), 10_000);
}

/// `cargo test --release --test datasets -- --ignored --nocapture`
#[test]
#[ignore]
fn speed_sharegpt_parse() {
    use std::io::Write;
    let tok = Tokenizer::default_embedded();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("sg.json");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&p).unwrap());
    let n = 20_000;
    write!(w, "[").unwrap();
    for i in 0..n {
        let turns: Vec<(&str, String)> = (0..6)
            .map(|t| {
                (
                    if t % 2 == 0 { "human" } else { "gpt" },
                    words(100 + (i * 7 + t * 13) % 400),
                )
            })
            .collect();
        if i > 0 {
            write!(w, ",").unwrap();
        }
        serde_json::to_writer(&mut w, &sharegpt_entry(i, &turns)).unwrap();
    }
    write!(w, "]").unwrap();
    drop(w);
    let mb = std::fs::metadata(&p).unwrap().len() as f64 / 1e6;
    let t = Instant::now();
    let f = DatasetFilter::default();
    let r = load_and_sample(&p, DatasetType::ShareGpt, &tok, &f, 1000, 0).unwrap();
    println!(
        "sharegpt {mb:.0} MB, {n} entries: load_and_sample(1000) {:.2?}",
        t.elapsed()
    );
    assert_eq!(r.len(), 1000);
    let t = Instant::now();
    let e = load_dataset(&p, DatasetType::ShareGpt, &tok, &f).unwrap();
    println!(
        "sharegpt {mb:.0} MB, {n} entries: load_dataset (all) {:.2?}",
        t.elapsed()
    );
    assert_eq!(e.len(), n);
}
