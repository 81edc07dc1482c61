//! The gate's exit code for every way a comparison can end, through the
//! binary (`servebench compare --gate`) on run files built from known epoch
//! figures: regression 1, improvement 0, no change 0, inconclusive 6,
//! nothing compared 6, points on one side only 6; and
//! `--gate-allow-inconclusive` turning 6 into 0 but never 1 into 0. Every
//! line printed fits 120 columns.

use std::path::{Path, PathBuf};
use std::process::Command;

use servebench::baseline::save_run;
use servebench::metrics::{PointData, PointLabel, RunData, RunKind, RunMeta, Slo};
use servebench::record::{RawRequest, RequestRecord};

/// Epoch noise factors (about 1 % spread), two orders so that base and
/// new are not the same figures.
const NOISE_A: [f64; 5] = [1.0, 1.01, 0.99, 1.005, 0.995];
const NOISE_B: [f64; 5] = [0.995, 1.0, 1.01, 0.99, 1.005];

/// Request `i` of epoch `e`, every time scaled by `f`: sent at 0.1·i·f s,
/// first token at 50·f ms, 16 tokens 10·f ms apart.
fn rec(e: u32, i: u64, f: f64) -> RequestRecord {
    let chunks: Vec<(f64, u32)> = (0..16).map(|k| (f * (50.0 + 10.0 * k as f64), 1)).collect();
    let done_ms = chunks.last().unwrap().0 + f;
    RequestRecord::from_raw(RawRequest {
        id: i,
        epoch: e,
        start_s: 0.1 * i as f64 * f,
        done_ms,
        chunks,
        input_tokens: 64,
        requested_output_tokens: 16,
        usage_output_tokens: Some(16),
        usage_input_tokens: None,
        counted_output_tokens: None,
        server: None,
        failure: None,
        resent: 0,
    })
}

/// A point at `concurrency` with `epochs` epochs, scaled by `change` times
/// each epoch's noise.
fn point(concurrency: usize, epochs: usize, change: f64, noise: &[f64]) -> PointData {
    let label = PointLabel::Static {
        prompt_tokens: 64,
        output_tokens: 16,
        concurrency,
    };
    let recs = (0..epochs)
        .map(|e| {
            (0..8)
                .map(|i| rec(e as u32, i, change * noise[e % noise.len()]))
                .collect()
        })
        .collect();
    PointData::new(label, recs, &[50.0, 90.0, 99.0], &Slo::default())
}

fn run(points: Vec<PointData>) -> RunData {
    RunData {
        meta: RunMeta {
            kind: RunKind::Static,
            name: "gate".into(),
            servebench_version: env!("CARGO_PKG_VERSION").into(),
            started_unix_s: 0.0,
            base_url: "http://127.0.0.1:1".into(),
            embedded_sim: true,
            backend: "openai".into(),
            model: "m".into(),
            tokenizer: "t".into(),
            percentiles: vec![50.0, 90.0, 99.0],
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
        },
        points,
    }
}

fn save(dir: &Path, name: &str, r: &RunData) -> PathBuf {
    let p = dir.join(name).join("run.json");
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    save_run(&p, r).unwrap();
    p
}

/// `servebench compare BASE NEW --gate [extra]`: exit code and stdout.
fn gate(base: &RunData, new: &RunData, extra: &[&str]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let (b, n) = (save(dir.path(), "base", base), save(dir.path(), "new", new));
    let (code, text) = compare_files(&b, &n, extra);
    // Every line of the comparison and the gate fits 120 columns.
    for line in text.lines() {
        assert!(
            line.chars().count() <= 120,
            "{} columns: {line}",
            line.chars().count()
        );
    }
    (code, text)
}

/// `servebench compare BASE NEW --gate [extra]` on two run files.
fn compare_files(b: &Path, n: &Path, extra: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_servebench"))
        .arg("compare")
        .args([b.as_os_str(), n.as_os_str()])
        .args(["--gate", "--color", "never"])
        .args(extra)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.code().unwrap_or(-1), text)
}

fn one(epochs: usize, change: f64, noise: &[f64]) -> RunData {
    run(vec![point(4, epochs, change, noise)])
}

#[test]
fn a_regression_exits_1_even_when_inconclusive_is_allowed() {
    let (base, slow) = (one(5, 1.0, &NOISE_A), one(5, 1.3, &NOISE_B));
    let (code, out) = gate(&base, &slow, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("gate: FAILED"), "{out}");
    let (code, out) = gate(&base, &slow, &["--gate-allow-inconclusive"]);
    assert_eq!(code, 1, "{out}");
}

#[test]
fn an_improvement_and_no_change_pass() {
    let base = one(5, 1.0, &NOISE_A);
    let (code, out) = gate(&base, &one(5, 0.7, &NOISE_B), &[]);
    assert_eq!(code, 0, "improvement: {out}");
    assert!(out.contains("gate: passed"), "{out}");
    let (code, out) = gate(&base, &one(5, 1.0, &NOISE_B), &[]);
    assert_eq!(code, 0, "no change: {out}");
    assert!(out.contains("gate: passed"), "{out}");
}

#[test]
fn too_few_epochs_is_inconclusive_never_a_pass() {
    // 2 epochs a side and a 30 % slower model: no verdict can be reached.
    let (base, slow) = (one(2, 1.0, &NOISE_A), one(2, 1.3, &NOISE_B));
    let (code, out) = gate(&base, &slow, &[]);
    assert_eq!(code, 6, "{out}");
    assert!(out.contains("gate: INCONCLUSIVE"), "{out}");
    let (code, _) = gate(&base, &slow, &["--gate-allow-inconclusive"]);
    assert_eq!(code, 0);
}

#[test]
fn a_constant_change_with_no_spread_is_never_no_change() {
    // Zero-variance epochs at 3 vs 3, 20 % slower: a verdict or
    // inconclusive, never a pass.
    let (base, slow) = (one(3, 1.0, &[1.0]), one(3, 1.2, &[1.0]));
    let (code, out) = gate(&base, &slow, &[]);
    assert!(code == 1 || code == 6, "exit {code}: {out}");
}

#[test]
fn nothing_in_common_is_inconclusive() {
    let base = run(vec![point(4, 5, 1.0, &NOISE_A)]);
    let new = run(vec![point(8, 5, 1.0, &NOISE_B)]);
    let (code, out) = gate(&base, &new, &[]);
    assert_eq!(code, 6, "{out}");
    assert!(out.contains("nothing compared"), "{out}");
}

#[test]
fn points_on_one_side_only_are_inconclusive() {
    let both = run(vec![point(4, 5, 1.0, &NOISE_A), point(8, 5, 1.0, &NOISE_A)]);
    let first = run(vec![point(4, 5, 1.0, &NOISE_B)]);
    // The baseline has a point the run lacks.
    let (code, out) = gate(&both, &first, &[]);
    assert_eq!(code, 6, "{out}");
    assert!(out.contains("which this run lacks"), "{out}");
    // The run has a point the baseline lacks.
    let (code, out) = gate(&first, &both, &[]);
    assert_eq!(code, 6, "{out}");
    assert!(out.contains("has no counterpart"), "{out}");
    let (code, _) = gate(&first, &both, &["--gate-allow-inconclusive"]);
    assert_eq!(code, 0);
}

#[test]
fn earlier_runs_that_moved_widen_the_interval_and_hold_back_a_false_regression() {
    // A run 8 % slower than its baseline, with tight epochs: on its own, a
    // regression.
    let at = |started: f64, mut r: RunData| {
        r.meta.started_unix_s = started;
        r
    };
    let base = at(10.0, one(5, 1.0, &NOISE_A));
    let slow = at(20.0, one(5, 1.08, &NOISE_B));
    let (code, out) = gate(&base, &slow, &[]);
    assert_eq!(code, 1, "{out}");
    // The same two runs in a benchmark folder whose earlier runs of the same
    // code moved by ±10 % from run to run: the 8 % is within what whole runs
    // do, and the gate does not call it a regression.
    let dir = tempfile::tempdir().unwrap();
    let bench = dir.path().join("static/x");
    for (k, scale) in [0.9, 1.1, 0.95, 1.05].into_iter().enumerate() {
        servebench::baseline::append_history(&bench, &at(k as f64, one(5, scale, &NOISE_A)))
            .unwrap();
    }
    servebench::baseline::append_history(&bench, &base).unwrap();
    servebench::baseline::append_history(&bench, &slow).unwrap();
    let (b, n) = (save(&bench, "main", &base), save(&bench, "new", &slow));
    let (code, text) = compare_files(&b, &n, &[]);
    assert_ne!(code, 1, "{text}");
    // The judged run itself is not one of the earlier runs.
    assert!(
        text.contains("run-to-run noise from 5 earlier run(s) counted"),
        "{text}"
    );
    // With fewer than 3 earlier runs, the note says it is not counted.
    let few = dir.path().join("static/y");
    servebench::baseline::append_history(&few, &base).unwrap();
    let (b, n) = (save(&few, "main", &base), save(&few, "new", &slow));
    let (code, text) = compare_files(&b, &n, &[]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("run-to-run noise not counted yet"), "{text}");
}
