//! The checks behind every fuzz target, shared by the cargo-fuzz targets
//! (`fuzz/fuzz_targets/*.rs`, nightly) and the stable replay test
//! (`tests/fuzz_replay.rs`), which runs the seed corpus and the regression
//! inputs through them. Each `pub fn <target>(data: &[u8])` panics when it
//! finds a bug and returns normally otherwise. Only servebench's public API
//! is used.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use servebench::backend::{self, RequestOptions, SseFramer, StreamEvent, StreamParser};
use servebench::workload::{DatasetFilter, DatasetType, RequestSpec, Tokenizer};

// ---------------------------------------------------------------- helpers

/// The embedded tokenizer, loaded once per process.
fn tokenizer() -> &'static Tokenizer {
    static TOK: OnceLock<Tokenizer> = OnceLock::new();
    TOK.get_or_init(Tokenizer::default_embedded)
}

/// A temporary folder for this process (removed by nobody: it holds one
/// small file per target).
fn scratch_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("servebench-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("create the fuzz scratch folder");
        d
    })
}

/// Write `data` to the scratch file `name` (one path reused per name).
fn scratch_file(name: &str, data: &[u8]) -> PathBuf {
    let p = scratch_dir().join(name);
    std::fs::write(&p, data).expect("write the fuzz scratch file");
    p
}

/// Piece lengths (0 to 16 bytes, empty pieces included) from a seed byte.
fn split_points(seed: u8, len: usize) -> Vec<usize> {
    let mut state = u32::from(seed).wrapping_mul(2_654_435_761).wrapping_add(1);
    let mut cuts = Vec::new();
    let mut at = 0;
    while at < len {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        at = (at + (state >> 16) as usize % 17).min(len);
        cuts.push(at);
    }
    cuts
}

/// `body` cut at `cuts` (end offsets), as slices.
fn pieces<'a>(body: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::with_capacity(cuts.len());
    let mut start = 0;
    for &end in cuts {
        out.push(&body[start..end]);
        start = end;
    }
    if start < body.len() {
        out.push(&body[start..]);
    }
    out
}

// ---------------------------------------------------------------- streams

/// What a parser made of a whole body.
#[derive(Debug, PartialEq)]
struct Parsed {
    /// `Ok`, or the first error's message (feeding stops there).
    result: Result<(), String>,
    text: String,
    events: Vec<StreamEvent>,
}

fn run_parser(mut p: Box<dyn StreamParser>, pieces: &[&[u8]]) -> Parsed {
    let mut text = String::new();
    let mut events = Vec::new();
    let mut result = Ok(());
    for piece in pieces {
        if let Err(e) = p.feed(piece, &mut text, &mut events) {
            result = Err(e.0);
            break;
        }
    }
    if result.is_ok() {
        result = p.finish(&mut text, &mut events).map_err(|e| e.0);
    }
    Parsed {
        result,
        text,
        events,
    }
}

/// Input: `[backend choice, prompt bytes, split seed and tokens per chunk,
/// body...]`. The body is parsed whole, in pseudo-random pieces and byte by
/// byte; all three must agree (events, text and error).
fn stream_check(names: &[&str], data: &[u8]) {
    let [choice, prompt_bytes, seed, ref body @ ..] = *data else {
        return;
    };
    let name = names[usize::from(choice) % names.len()];
    let be = backend::by_name(name).expect("a known backend");
    assert_eq!(be.name(), name);
    let tokens_per_chunk = u32::from(seed >> 6) + 1;
    let opts = RequestOptions {
        model: "m".into(),
        return_latency: choice & 0x80 != 0,
        tokens_per_chunk,
        non_streaming: false,
        sampling: Default::default(),
        spec_decode: None,
    };
    // The request builder: any prompt gives a JSON object holding it.
    let prompt = String::from_utf8_lossy(&body[..body.len().min(usize::from(prompt_bytes))]);
    let spec = RequestSpec {
        id: 7,
        prompt: prompt.into_owned(),
        prompt_tokens: 3,
        max_tokens: 5,
        force_output_len: choice & 0x40 != 0,
    };
    let mut req = be.build(&spec, &opts);
    let json: serde_json::Value = serde_json::from_slice(&req.body).expect("request body is JSON");
    assert!(json.is_object(), "{json}");
    assert!(req.path.starts_with('/'));
    assert_eq!(req.prompt_bytes, spec.prompt.len());
    // The parser, with the echoed prompt length taken from the input.
    req.prompt_bytes = usize::from(prompt_bytes);

    let whole = run_parser(be.parser(&opts, &req), &[body]);
    let split = run_parser(
        be.parser(&opts, &req),
        &pieces(body, &split_points(seed, body.len())),
    );
    assert_eq!(whole, split, "{name}: whole vs split body");
    let bytewise: Vec<&[u8]> = body.chunks(1).collect();
    let by_byte = run_parser(be.parser(&opts, &req), &bytewise);
    assert_eq!(whole, by_byte, "{name}: whole vs byte by byte");

    let mut token_events = 0;
    for e in &whole.events {
        if let StreamEvent::Tokens { tokens } = e {
            token_events += 1;
            assert!(*tokens >= 1, "{name}: {e:?}");
            if name != "tgi" && !name.starts_with("mindspore") {
                assert_eq!(*tokens, tokens_per_chunk, "{name}");
            }
        }
    }
    if name.starts_with("openai") || name == "vllm" {
        // Text only ever grows by the non-empty piece of a token chunk.
        assert_eq!(
            whole.text.is_empty(),
            token_events == 0,
            "{name}: {whole:?}"
        );
    }
    if let Err(msg) = &whole.result {
        assert!(!msg.is_empty(), "{name}: empty error message");
    }
}

/// `openai` and `openai-chat` SSE streams.
pub fn stream_openai(data: &[u8]) {
    stream_check(&["openai", "openai-chat"], data);
}

/// vLLM's legacy `/generate` stream (`\0`- or `\n`-separated objects).
pub fn stream_vllm(data: &[u8]) {
    stream_check(&["vllm"], data);
}

/// TGI's `/generate_stream` and MindIE's `/infer` and TGI-compatible stream
/// (one parser, incremental or cumulative token text).
pub fn stream_tgi(data: &[u8]) {
    stream_check(&["tgi", "mindspore", "mindspore-tgi"], data);
}

fn frame(pieces: &[&[u8]]) -> (Vec<Vec<u8>>, bool) {
    let mut f = SseFramer::default();
    let mut events = Vec::new();
    for p in pieces {
        f.feed::<()>(p, |d| {
            events.push(d.to_vec());
            Ok(())
        })
        .expect("the callback never fails");
    }
    let leftover = f
        .finish::<()>(|d| {
            events.push(d.to_vec());
            Ok(())
        })
        .expect("the callback never fails");
    (events, leftover)
}

/// The SSE framer alone. Input: `[split seed, body...]`.
pub fn sse_framer(data: &[u8]) {
    let [seed, ref body @ ..] = *data else {
        return;
    };
    let whole = frame(&[body]);
    let split = frame(&pieces(body, &split_points(seed, body.len())));
    assert_eq!(whole, split, "whole vs split");
    let bytewise: Vec<&[u8]> = body.chunks(1).collect();
    assert_eq!(whole, frame(&bytewise), "whole vs byte by byte");
    // Every event comes from a `data:` line.
    if !whole.0.is_empty() {
        assert!(body.windows(5).any(|w| w == b"data:"));
    }
    // An unterminated last line is reported exactly when there is one.
    assert_eq!(whole.1, !body.is_empty() && body.last() != Some(&b'\n'));
}

// ---------------------------------------------------------------- datasets

/// Input: `[format and filter choice, file contents...]`. Loading gives
/// entries that pass the filter with exact token counts, or an error naming
/// the file; `load_and_sample` agrees with `load_dataset_with_stats`.
pub fn datasets(data: &[u8]) {
    let [choice, ref file @ ..] = *data else {
        return;
    };
    let kinds = [
        DatasetType::ShareGpt,
        DatasetType::Alpaca,
        DatasetType::Custom,
        DatasetType::Jsonl,
    ];
    let tok = tokenizer();
    let which = usize::from(choice & 7) % (kinds.len() + 1);
    if which == kinds.len() {
        // The generator's own reader (`read_generated`).
        let path = scratch_file("generated.json", file);
        if let Err(e) = servebench::workload::read_generated(&path) {
            assert!(e.to_string().contains(&path.display().to_string()), "{e}");
        }
        return;
    }
    let kind = kinds[which];
    let path = scratch_file(&format!("dataset.{}", kind.name()), file);
    let mut filter = DatasetFilter::default();
    if choice & 0x08 != 0 {
        filter.max_tokens = Some(40);
    }
    if choice & 0x10 != 0 {
        filter.max_prompt_tokens = Some(12);
    }
    if choice & 0x20 != 0 {
        filter.min_prompt_tokens = 0;
        filter.min_output_tokens = 0;
    }
    let loaded = servebench::workload::load_dataset_with_stats(&path, kind, tok, &filter);
    let sampled = servebench::workload::load_and_sample(&path, kind, tok, &filter, 3, 1);
    match &loaded {
        Ok((entries, st)) => {
            assert!(!entries.is_empty());
            assert_eq!(st.kept, entries.len(), "{st:?}");
            let dropped = st.skipped + st.too_short + st.prompt_too_long + st.total_too_long;
            assert_eq!(st.read, dropped + st.kept, "{st:?}");
            for e in entries {
                assert_eq!(e.prompt_tokens, tok.count(&e.prompt), "{e:?}");
                assert!(e.prompt_tokens >= filter.min_prompt_tokens, "{e:?}");
                assert!(e.output_tokens >= filter.min_output_tokens, "{e:?}");
                if let Some(m) = filter.max_prompt_tokens {
                    assert!(e.prompt_tokens <= m, "{e:?}");
                }
                if let Some(m) = filter.max_tokens {
                    assert!(e.prompt_tokens + e.output_tokens <= m, "{e:?}");
                }
            }
            let reqs = sampled.expect("load_and_sample fails where load_dataset does not");
            assert_eq!(reqs.len(), 3);
            for r in &reqs {
                assert!(
                    entries.iter().any(|e| e.prompt == r.prompt
                        && e.prompt_tokens == r.prompt_tokens
                        && e.output_tokens == r.max_tokens),
                    "sampled request not among the loaded entries: {r:?}"
                );
            }
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.contains(&path.display().to_string()), "{msg}");
            let s = sampled.expect_err("load_and_sample loads what load_dataset refuses");
            // Both fail the same way, apart from the statistics they quote.
            assert_eq!(
                std::mem::discriminant(e),
                std::mem::discriminant(&s),
                "{e} vs {s}"
            );
        }
    }
}

// ---------------------------------------------------------------- baselines

/// `a` and `b` equal as JSON, numbers within a relative 1e-12.
fn json_close(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x == y || (x - y).abs() <= 1e-12 * x.abs().max(y.abs()),
            _ => x == y,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_close(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_close(v, w)))
        }
        _ => a == b,
    }
}

/// Tokens claimed by all the chunks of all the records of a run (as JSON).
/// The most tokens any chunk of the run claims.
fn claimed_chunk_tokens(run: &serde_json::Value) -> u64 {
    let mut total = 0u64;
    for point in run["points"].as_array().into_iter().flatten() {
        for epoch in point["epochs"].as_array().into_iter().flatten() {
            for rec in epoch.as_array().into_iter().flatten() {
                for chunk in rec["chunks"].as_array().into_iter().flatten() {
                    total = total.max(chunk[1].as_u64().unwrap_or(0));
                }
            }
        }
    }
    total
}

/// A `run.json`: loads to a run that saves and loads back the same, and
/// that the comparison and the terminal table take without panicking; or
/// fails with an error naming the file.
pub fn baseline(data: &[u8]) {
    use servebench::baseline::{load_run, save_run};
    let path = scratch_file("run.json", data);
    let run = match load_run(&path) {
        Ok(run) => run,
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.contains(&path.display().to_string()), "{msg}");
            return;
        }
    };
    let again = scratch_dir().join("run-again.json");
    save_run(&again, &run).expect("a loaded run saves");
    let back = load_run(&again).expect("a saved run loads");
    let (a, b) = (
        serde_json::to_value(&run).expect("serialises"),
        serde_json::to_value(&back).expect("serialises"),
    );
    assert!(json_close(&a, &b), "round trip changed the run:\n{a}\n{b}");
    // What `servebench compare` and a bench's baseline comparison do with it.
    // A loaded run's chunks claim at most MAX_CHUNK_TOKENS tokens each, so
    // its per-token figures are bounded (fuzz/regressions/baseline/itl-oom.json
    // was a 4 KB file that made the comparison allocate gigabytes).
    assert!(claimed_chunk_tokens(&a) <= u64::from(servebench::metrics::MAX_CHUNK_TOKENS));
    let cfg = servebench::stats::CompareConfig {
        nresamples: 20,
        ..Default::default()
    };
    let gated = servebench::analysis::MetricId::ALL;
    let cmp = servebench::analysis::compare_runs(&run, &back, "base", &gated, &cfg);
    let _ = servebench::report::render_run(&run.meta.name, &back, Some(&cmp), false);
}

// ---------------------------------------------------------------- configs

/// Largest duration the simulator may have to sleep or add to `Instant`s:
/// a std `Duration` holds it, and `Instant::now() + d` does not overflow.
fn representable_ms(what: &str, ms: f64) {
    let d = Duration::try_from_secs_f64(ms / 1e3)
        .unwrap_or_else(|e| panic!("{what}: {ms} ms is not a Duration: {e}"));
    assert!(
        std::time::Instant::now().checked_add(d).is_some(),
        "{what}: {ms} ms overflows an Instant"
    );
}

/// A `SERVEBENCH_SIM` value: `apply_kv` then `validate`. A config that
/// validates must give step and fault times the simulator can sleep for,
/// and survive a JSON round trip.
pub fn sim_config(data: &[u8]) {
    use servebench::sim::SimConfig;
    let spec = String::from_utf8_lossy(data);
    let mut c = SimConfig::default();
    match c.apply_kv(&spec) {
        Ok(()) => {}
        Err(e) => {
            assert!(!e.to_string().is_empty());
            // The pairs before the bad one are applied; still no panic.
            let _ = c.validate();
            return;
        }
    }
    if c.validate().is_err() {
        return;
    }
    let f = &c.faults;
    representable_ms("stall_ms", f.stall_ms);
    representable_ms("slow_first_byte_ms", f.slow_first_byte_ms);
    representable_ms("refuse_for_ms", f.refuse_for_ms);
    // The longest prefill step: every token the KV cache can hold; the
    // longest decode step: a full batch. A jitter factor of up to
    // 1 + 8 * jitter (8 standard deviations) must fit too.
    let jitter = 1.0 + 8.0 * c.jitter;
    representable_ms("prefill step", c.prefill_ms(c.kv_cache_tokens) * jitter);
    representable_ms(
        "decode step",
        c.decode_step_ms(c.max_batch) * c.num_scheduler_steps as f64 * jitter,
    );
    // serde_json parses floats to within an ulp, not exactly (no
    // `float_roundtrip` feature): `stall_ms=9.999999999999999e-116` came back
    // one ulp off. Equal up to that.
    let json = serde_json::to_string(&c).expect("serialises");
    let back: SimConfig = serde_json::from_str(&json).expect("deserialises");
    let (a, b) = (
        serde_json::to_value(&c).expect("serialises"),
        serde_json::to_value(&back).expect("serialises"),
    );
    assert!(
        json_close(&a, &b),
        "JSON round trip changed the config:\n{a}\n{b}"
    );
}

/// The flags of a bench binary (`cargo bench -- ...`), one per NUL-separated
/// part of the input, plus report-folder ids and baseline names made from
/// the same text.
pub fn bench_args(data: &[u8]) {
    use servebench::baseline::{check_baseline_name, sanitize_id};
    use servebench::bench::BenchArgs;
    let text = String::from_utf8_lossy(data);
    let args: Vec<&str> = text.split('\0').collect();
    if let Ok(a) = BenchArgs::parse(args.iter().copied()) {
        for name in [&a.save_baseline, &a.baseline, &a.load_baseline]
            .into_iter()
            .flatten()
        {
            check_baseline_name("--baseline", name).expect("accepted names are valid");
        }
        let _ = a.selects(&text);
    }
    for s in args {
        let id = sanitize_id(s);
        assert!(!id.is_empty() && !id.starts_with('/'), "{s:?} -> {id:?}");
        assert!(
            id.split('/')
                .all(|seg| !seg.is_empty() && seg != "." && seg != ".."),
            "{s:?} -> {id:?}"
        );
        assert_eq!(sanitize_id(&id), id, "sanitize_id is not idempotent");
        if check_baseline_name("-s", s).is_ok() {
            assert_eq!(sanitize_id(s), s, "a valid baseline name is a clean id");
        }
    }
}
