//! Seed CSV columns computed by hand from small hand-made records.

use super::*;
use crate::metrics::{Failure, FailureKind, PointData, Rate, RequestRecord, RunMeta, Slo};

/// A successful request sent at `start_s` (its epoch's clock) asking
/// for `out` tokens of a `input`-token prompt, its chunks at ms offsets.
fn rec(start_s: f64, input: u64, out: u64, chunks: &[(f64, u32)]) -> RequestRecord {
    RequestRecord {
        id: 0,
        epoch: 0,
        start_s,
        scheduled_s: None,
        ttft_ms: chunks.first().map(|c| c.0),
        e2el_ms: chunks.last().map(|c| c.0),
        done_ms: chunks.last().map_or(0.0, |c| c.0 + 1.0),
        output_tokens: out,
        input_tokens: input,
        requested_output_tokens: out,
        usage_output_tokens: Some(out),
        usage_input_tokens: None,
        counted_output_tokens: None,
        chunks: chunks.to_vec(),
        server: None,
        failure: None,
        resent: 0,
        reasoning: None,
        session: None,
    }
}

/// Epoch 0: B (sent at 0.16 s: tokens at 0.19, then two at 0.25) then
/// A (sent at 0: tokens at 0.10, 0.15, 0.20, 0.26), and a failed
/// request; epoch 1 (its own clock): C (sent at 0: 0.04, 0.07, 0.12).
///
/// O's decode gaps, by hand: B's 0.19→0.25 touches its own window
/// (dropped), its 0.25→0.25 is 0 (kept); A's 0.10→0.15 touches its own
/// window, 0.15→0.20 overlaps B's prefill window [0.16, 0.19] (dropped:
/// the cross-request rule), 0.20→0.26 = 0.06 (kept); C's 0.04→0.07
/// touches its own window, 0.07→0.12 = 0.05 is kept (A's window [0, 0.10]
/// is on epoch 0's clock and must not reach it). Pooled [0, 0.06, 0.05],
/// the leading 0 trimmed: [60, 50] ms.
fn epochs() -> Vec<Vec<RequestRecord>> {
    let b = rec(0.16, 20, 3, &[(30.0, 1), (90.0, 2)]);
    let a = rec(
        0.0,
        10,
        4,
        &[(100.0, 1), (150.0, 1), (200.0, 1), (260.0, 1)],
    );
    let mut bad = rec(0.0, 999, 9, &[(1.0, 1), (5000.0, 8)]);
    bad.failure = Some(Failure {
        kind: FailureKind::HttpStatus,
        message: "HTTP 500".into(),
    });
    let c = rec(0.0, 10, 3, &[(40.0, 1), (70.0, 1), (120.0, 1)]);
    vec![vec![b, a, bad], vec![c]]
}

fn static_point() -> PointData {
    let label = PointLabel::Static {
        prompt_tokens: 10,
        output_tokens: 3,
        concurrency: 2,
    };
    PointData::new(label, epochs(), &[50.0], &Slo::default())
}

fn texts(row: &[Cell]) -> Vec<String> {
    row.iter().map(Cell::text).collect()
}

fn meta(kind: RunKind) -> RunMeta {
    RunMeta {
        kind,
        name: "t".into(),
        servebench_version: "0".into(),
        started_unix_s: 0.0,
        base_url: "x".into(),
        embedded_sim: true,
        backend: "openai".into(),
        model: "m".into(),
        tokenizer: "t".into(),
        percentiles: vec![50.0],
        slo: Slo::default(),
        interrupted: false,
        stopped_early: None,
        notes: Vec::new(),
        images: None,
        assumed_tokens_per_chunk: 1,
        spec_decode: None,
        sampling: Default::default(),
        imported: None,
        shard: None,
        merged: None,
    }
}

#[test]
fn python_float_text() {
    assert_eq!(py_round_str(256.0, 4), "256.0");
    assert_eq!(py_round_str(3_633.003_94, 4), "3633.0039");
    assert_eq!(py_round_str(0.1, 4), "0.1");
    assert_eq!(py_round_str(56.666_666, 4), "56.6667");
    assert_eq!(py_round_str(0.056_66, 3), "0.057");
    assert_eq!(py_round_str(f64::INFINITY, 4), "inf");
    assert_eq!(py_round_str(0.000_01, 4), "0.0");
}

#[test]
fn time_record_expands_bursts_and_caps_at_the_asked_length() {
    // One token at 250 ms, two at 500 ms, three at 750 ms: 4 asked.
    let r = rec(1.5, 8, 4, &[(250.0, 1), (500.0, 2), (750.0, 3)]);
    assert_eq!(time_record(&r), vec![1.5, 1.75, 2.0, 2.0, 2.25]);
}

#[test]
fn o_static_row_by_hand() {
    let p = static_point();
    // TTFT ms [30, 40, 100]: P90 = 40 + 0.8 * 60 = 88, P99 = 98.8,
    // mean 56.6667. Gaps [50, 60]: P90 59, P99 59.9, max 60, mean 55.
    // T = 0.26 (epoch 0) + 0.12 (epoch 1) = 0.38 s; Σo = 10 → 26.3158.
    assert_eq!(
        texts(&static_row(&p, 2)),
        [
            "13.3333", "3.3333", "2", "26.3158", "88.0", "98.8", "100.0", "56.6667", "59.0",
            "59.9", "60.0", "55.0"
        ]
    );
}

#[test]
fn n_static_row_by_hand() {
    let row = texts(&static_row_n(
        &static_point(),
        2,
        "openai",
        crate::backend::Sampling {
            temperature: 0.7,
            top_k: Some(5),
            top_p: None,
        },
    ));
    assert_eq!(row.len(), STATIC_HEADER_N.len());
    let at = |name: &str| row[STATIC_HEADER_N.iter().position(|h| *h == name).unwrap()].clone();
    assert_eq!(at("Input_Length"), "13.3333");
    // (40 + 10) / 0.38 and 10 / 0.38, 2 dp.
    assert_eq!(at("Total_Token_Throughput(tokens/s)"), "131.58");
    assert_eq!(at("Output_Token_Throughput(tokens/s)"), "26.32");
    assert_eq!(at("AVG_TTFT(s)"), "0.057");
    assert_eq!(at("MAX_TTFT(s)"), "0.1");
    // TPOT: A 0.16/3, B 0.06/2, C 0.08/2: max 0.053, mean 0.041.
    assert_eq!(at("MAX_TPOT(s)"), "0.053");
    assert_eq!(at("AVG_TPOT(s)"), "0.041");
    // First to second token: A 0.05, B 0.06, C 0.03.
    assert_eq!(at("MIN_TIME_BETWEEN_FIRST_AND_SECOND_TOKEN(s)"), "0.03");
    assert_eq!(at("MAX_TIME_BETWEEN_FIRST_AND_SECOND_TOKEN(s)"), "0.06");
    // E2E: A 0.26, B 0.09, C 0.12.
    assert_eq!(at("MAX_E2E(s)"), "0.26");
    assert_eq!(at("Total_Time(s)"), "0.38");
    assert_eq!(at("QPS"), "7.89");
    assert_eq!(at("Fail_Rate"), "0");
    assert_eq!(at("Backend"), "openai");
    // The sampling that was sent; a top-p left to the server is empty.
    assert_eq!(at("Temperature"), "0.7");
    assert_eq!(at("Top_k"), "5");
    assert_eq!(at("Top_p"), "");
}

#[test]
fn n_multimodal_row_by_hand() {
    let row = texts(&static_mm_row_n(&static_point(), 2, (256, 512)));
    assert_eq!(row.len(), STATIC_MM_HEADER_N.len());
    // TTFT s [0.03, 0.04, 0.1]: P90 0.088, max 0.1; TPOT max 0.053;
    // E2E [0.09, 0.12, 0.26]: P95 0.246 → 0.246, mean 0.1567 → 0.157.
    assert_eq!(
        row[..6],
        ["13.3333", "3.3333", "2", "256,512", "26.32", "0.088"]
    );
    assert_eq!(row[7], "0.1");
    assert_eq!(row[11], "0.053");
    assert_eq!(row[14], "0.246");
    assert_eq!(row[17], "0.157");
}

#[test]
fn serving_row_by_hand() {
    let label = PointLabel::Dynamic {
        request_rate: Rate(2.0),
        burstiness: 1.0,
        max_concurrency: None,
        num_prompts: 3,
    };
    let p = PointData::new(label, epochs(), &[50.0], &Slo::default());
    // Latency s: 0.09, 0.26, 0.12; o / decode time: 50, 25, 37.5;
    // decode ms per token: 20, 40, 26.6667; TTFT ms 30, 100, 40.
    assert_eq!(
        texts(&serving_row(&p, "sharegpt", 2.0)),
        [
            "sharegpt", "13.3333", "3.3333", "2.0", "7.8947", "0.1567", "37.5", "28.8889",
            "56.6667", "26.3158"
        ]
    );
}

#[test]
fn file_has_bom_exact_header_and_sorted_rows() {
    let mut small = static_point();
    small.label = PointLabel::Static {
        prompt_tokens: 10,
        output_tokens: 3,
        concurrency: 1,
    };
    let run = RunData {
        meta: meta(RunKind::Static),
        points: vec![static_point(), small],
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/benchmark_parallel.csv");
    let opts = SeedCsvOptions {
        format: SeedCsvFormat::Seed,
        dataset: "random".into(),
    };
    write_seed_csv(&path, &run, &opts).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let head = "输入长度,输出长度,并发数,输出tokens总吞吐,首tokens时延TP90\u{FF08}ms\u{FF09},\
                首tokens时延TP99\u{FF08}ms\u{FF09},最大首tokens时延\u{FF08}ms\u{FF09},\
                平均首tokens时延\u{FF08}ms\u{FF09},增量时延TP90\u{FF08}ms\u{FF09},\
                增量时延TP99\u{FF08}ms\u{FF09},最大增量时延\u{FF08}ms\u{FF09},\
                平均增量时延\u{FF08}ms\u{FF09}\r\n";
    let mut want = b"\xEF\xBB\xBF".to_vec();
    want.extend_from_slice(head.as_bytes());
    assert_eq!(&bytes[..want.len()], &want[..]);
    let text = String::from_utf8(bytes[want.len()..].to_vec()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // Same lengths: sorted by concurrency.
    assert_eq!(lines.len(), 2);
    assert!(lines[0].starts_with("13.3333,3.3333,1,"), "{}", lines[0]);
    assert!(lines[1].starts_with("13.3333,3.3333,2,"), "{}", lines[1]);
}
