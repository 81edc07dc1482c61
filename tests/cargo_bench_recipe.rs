//! The README's PR-gate recipe, run end to end in a scratch crate set up
//! exactly as the README tells a user to (a library with `bench = false`,
//! servebench as a dev-dependency by path, one `[[bench]]` with
//! `harness = false`): the two `cargo bench` commands of the GitHub Actions
//! example, then the step summary the gate writes.
//!
//! It builds servebench once more for the scratch crate (in
//! `target/scratch-bench`, kept between runs), so it takes minutes when
//! cold and seconds when warm.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const CARGO_TOML: &str = r#"[package]
name = "my-inference-server"
version = "0.1.0"
edition = "2021"

# What the README asks of a user's crate: no libtest harness on targets that
# `cargo bench -- FLAGS` would otherwise run with servebench's flags.
[lib]
bench = false

[dev-dependencies]
servebench = { path = "@SERVEBENCH@" }

[[bench]]
name = "serving"
harness = false

# Only to build faster in this test; no effect on the flags.
[profile.bench]
opt-level = 1
debug = false
incremental = false
"#;

const BENCH: &str = r#"use servebench::bench::{Configure, Harness, Settings, StaticSweep};

fn serving(c: &mut Harness) {
    c.group("llama")
        .settings(
            Settings::new()
                .sim("time_scale=0.2,jitter=0.01,seed=7")
                .epochs(3)
                .warmup(1)
                // This test checks the recipe's mechanics, not the A/A
                // false-alarm rate (one A/A trial may false-alarm at up to the
                // significance level; the rates are established over 2,000
                // trials in stats::calibration). A 10 % threshold keeps a
                // single trial from ever failing the gate.
                .noise_threshold(0.10),
        )
        .bench(
            StaticSweep::new("static")
                .pair(64, 8)
                .concurrencies([2])
                .requests_per_worker(16),
        );
}

servebench::group!(benches, serving);
servebench::main!(benches);
"#;

fn cargo(dir: &Path, args: &[&str], env: &[(&str, &Path)]) -> (i32, String) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let target = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/scratch-bench");
    let mut cmd = Command::new(cargo);
    cmd.args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .env("CARGO_TERM_COLOR", "never")
        .env_remove("SERVEBENCH_URL")
        .env_remove("SERVEBENCH_SIM")
        .env_remove("GITHUB_STEP_SUMMARY");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let t0 = Instant::now();
    let out = cmd.output().expect("run cargo");
    assert!(
        t0.elapsed() < Duration::from_secs(1500),
        "cargo {args:?} took {:?}",
        t0.elapsed()
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn readme_gate_recipe_works_in_a_fresh_crate() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let root = env!("CARGO_MANIFEST_DIR");
    std::fs::write(
        dir.join("Cargo.toml"),
        CARGO_TOML.replace("@SERVEBENCH@", root),
    )
    .unwrap();
    // The same dependency versions as servebench's own lock file.
    std::fs::copy(Path::new(root).join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(dir.join("src/lib.rs"), "//! The server under test.\n").unwrap();
    std::fs::create_dir_all(dir.join("benches")).unwrap();
    std::fs::write(dir.join("benches/serving.rs"), BENCH).unwrap();

    // On a push to main: `cargo bench -- --save-baseline main`.
    let (code, out) = cargo(dir, &["bench", "--", "--save-baseline", "main"], &[]);
    assert_eq!(
        code, 0,
        "cargo bench -- --save-baseline main failed:\n{out}"
    );
    assert!(!out.contains("Unrecognized option"), "{out}");
    let saved = dir.join("target-reports/llama/static/main/run.json");
    assert!(
        saved.is_file(),
        "no baseline at {}:\n{out}",
        saved.display()
    );
    assert!(
        dir.join("target-reports/.gitignore").is_file(),
        "the report folder has no .gitignore"
    );

    // On a pull request: `cargo bench -- --baseline main --gate`, with the
    // job summary file GitHub Actions provides.
    let summary = dir.join("step-summary.md");
    std::fs::write(&summary, "").unwrap();
    let (code, out) = cargo(
        dir,
        &["bench", "--", "--baseline", "main", "--gate"],
        &[("GITHUB_STEP_SUMMARY", &summary)],
    );
    // Same seeded simulator both times: never a regression. Whether the
    // A/A is judged "no change" (exit 0) or, on a machine too noisy for the
    // 2 % threshold at 3 epochs, "inconclusive" (exit 6) depends on the
    // machine; the summary must say which.
    assert!(code == 0 || code == 6, "exit {code}:\n{out}");
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.contains("llama/static"), "{md}");
    if code == 0 {
        assert!(out.contains("gate: passed"), "{out}");
        assert!(md.contains("servebench gate passed"), "{md}");
    } else {
        assert!(out.contains("gate: INCONCLUSIVE"), "{out}");
        assert!(md.contains("servebench gate INCONCLUSIVE"), "{md}");
    }
    assert!(dir.join("target-reports/gate-summary.md").is_file());

    // A baseline that does not exist is refused before any load.
    let (code, out) = cargo(dir, &["bench", "--", "--baseline", "nosuch", "--gate"], &[]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("nosuch"), "{out}");
}
