//! Before any load, a prompt + output longer than the model's context (the
//! `max_model_len` that `/v1/models` reports, or the simulator's setting)
//! is an error naming the flags; nothing is sent.

mod common {
    pub mod sim;
}
use common::sim::SimProcess;
use std::process::Command;

fn servebench(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_servebench"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn too_long_for_a_remote_model_is_refused_before_any_load() {
    let sim = SimProcess::start("time_scale=0.05,max_model_len=1024");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let (code, err) = servebench(&[
        "static",
        "--url",
        &sim.url,
        "--parallel-num",
        "1",
        "--prompt-tokens",
        "1000",
        "--output-tokens",
        "100",
        "--epochs",
        "1",
        "--quiet",
        "--output-dir",
        out,
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--prompt-tokens/--output-tokens"), "{err}");
    assert!(
        err.contains("prompt 1000 + output 100 = 1100 tokens"),
        "{err}"
    );
    assert!(err.contains("max_model_len 1024"), "{err}");
    assert!(err.contains("/v1/models"), "{err}");
    assert!(!dir.path().join("static/new/records.jsonl").exists());
    // Within the context: it runs.
    let (code, err) = servebench(&[
        "static",
        "--url",
        &sim.url,
        "--parallel-num",
        "1",
        "--prompt-tokens",
        "900",
        "--output-tokens",
        "100",
        "--epochs",
        "1",
        "--quiet",
        "--output-dir",
        out,
    ]);
    assert_eq!(code, 0, "{err}");
    // The dynamic sweep's generated lengths are checked too.
    let (code, err) = servebench(&[
        "serving",
        "--url",
        &sim.url,
        "--random-input-len",
        "1000",
        "--random-output-len",
        "100",
        "--num-prompts",
        "2",
        "--epochs",
        "1",
        "--quiet",
        "--output-dir",
        out,
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("max_model_len 1024"), "{err}");
}
