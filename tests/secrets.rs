//! The API key never leaks into any output, and names taken from the
//! command line or the server are escaped in the HTML reports.
//!
//! Each test runs the real binary against the embedded simulator
//! (`--sim time_scale=0.05`), with a tiny sweep.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// What one run of the binary left behind.
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Run the binary; the child is killed past `limit`.
fn run_bin(args: &[&str], env: &[(&str, &str)], limit: Duration) -> Ran {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_servebench"));
    cmd.args(args)
        .env_remove("SERVEBENCH_SIM")
        .env_remove("OPENAI_API_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn servebench");
    let t0 = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if t0.elapsed() > limit {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().expect("output");
    Ran {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A key no run could produce by chance.
fn canary(tag: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "sk-canary-{tag}-{:x}{:x}",
        nanos,
        std::process::id() as u128 * 0x9e37_79b9
    )
}

const STATIC: &[&str] = &[
    "static",
    "--sim",
    "time_scale=0.05",
    "--parallel-num",
    "1",
    "2",
    "--prompt-tokens",
    "16",
    "--output-tokens",
    "4",
    "--epochs",
    "2",
    "--warmup",
    "1",
];

const SERVING: &[&str] = &[
    "serving",
    "--sim",
    "time_scale=0.05",
    "--request-rate",
    "50",
    "inf",
    "--num-prompts",
    "4",
    "--random-input-len",
    "16",
    "--random-output-len",
    "4",
    "--goodput",
    "ttft:500",
];

/// Assert no canary is in `text`, saying where it was found.
fn assert_clean(what: &str, text: &str, canaries: &[&str]) {
    for c in canaries {
        assert!(!text.contains(c), "the API key leaked into {what}");
        // Also a base64- or URL-style spelling would be a leak; the canary's
        // distinctive tail is enough to catch a partial copy.
        let tail = &c[c.len() - 12..];
        assert!(
            !text.contains(tail),
            "part of the API key leaked into {what}"
        );
    }
}

/// Run `args` (plus `--output-dir`), check it succeeded and that no canary
/// is in stdout, stderr or any file written; returns the files written.
fn run_clean(
    args: &[&str],
    out: &Path,
    env: &[(&str, &str)],
    canaries: &[&str],
    want_code: i32,
) -> Vec<PathBuf> {
    let out_s = out.to_str().unwrap();
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--output-dir", out_s]);
    let ran = run_bin(&all, env, Duration::from_secs(90));
    assert_eq!(
        ran.code,
        Some(want_code),
        "{args:?}\nstdout: {}\nstderr: {}",
        ran.stdout,
        ran.stderr
    );
    assert_clean(&format!("stdout of {args:?}"), &ran.stdout, canaries);
    assert_clean(&format!("stderr of {args:?}"), &ran.stderr, canaries);
    let files = files_under(out);
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert_clean(&f.display().to_string(), &text, canaries);
    }
    files
}

#[test]
fn api_keys_never_appear_in_any_output() {
    let key1 = canary("default");
    let key2 = canary("custom");
    let canaries = [key1.as_str(), key2.as_str()];
    let dir = tempfile::tempdir().unwrap();

    // The default variable, OPENAI_API_KEY.
    let out = dir.path().join("default-env");
    let env1 = [("OPENAI_API_KEY", key1.as_str())];
    run_clean(STATIC, &out, &env1, &canaries, 0);
    let files = run_clean(SERVING, &out, &env1, &canaries, 0);

    // Every kind of output was written and read.
    let exts: std::collections::BTreeSet<String> = files
        .iter()
        .filter_map(|f| f.extension().map(|e| e.to_string_lossy().into_owned()))
        .collect();
    for ext in ["json", "jsonl", "csv", "md", "html"] {
        assert!(exts.contains(ext), "no .{ext} file written: {exts:?}");
    }
    for run in ["static", "serving"] {
        let records = out.join(run).join("new").join("records.jsonl");
        let text = std::fs::read_to_string(&records).unwrap();
        assert!(
            text.lines().count() > 2,
            "{}: no requests recorded",
            records.display()
        );
    }

    // A variable named with --api-key-env; OPENAI_API_KEY set too.
    let out = dir.path().join("custom-env");
    let env2 = [("MY_KEY", key2.as_str()), ("OPENAI_API_KEY", key1.as_str())];
    let mut args: Vec<&str> = STATIC.to_vec();
    args.extend(["--api-key-env", "MY_KEY"]);
    run_clean(&args, &out, &env2, &canaries, 0);
    let mut args: Vec<&str> = SERVING.to_vec();
    args.extend(["--api-key-env", "MY_KEY"]);
    run_clean(&args, &out, &env2, &canaries, 0);

    // Rebuilding the reports from the records leaks nothing either.
    let run_dir = out.join("static").join("new");
    let ran = run_bin(
        &["report", run_dir.to_str().unwrap()],
        &env2,
        Duration::from_secs(60),
    );
    assert_eq!(ran.code, Some(0), "report: {}", ran.stderr);
    assert_clean("stdout of report", &ran.stdout, &canaries);
    assert_clean("stderr of report", &ran.stderr, &canaries);
    for f in files_under(&out) {
        let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned();
        assert_clean(&f.display().to_string(), &text, &canaries);
    }
}

#[test]
fn api_key_is_not_in_the_error_of_a_failed_preflight() {
    let key = canary("preflight");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let args = [
        "static",
        "--url",
        "http://127.0.0.1:1",
        "--parallel-num",
        "1",
        "--prompt-tokens",
        "8",
        "--output-tokens",
        "2",
        "--epochs",
        "1",
    ];
    let files = run_clean(&args, &out, &[("OPENAI_API_KEY", &key)], &[&key], 3);
    assert!(files.is_empty(), "files written: {files:?}");
}

#[test]
fn a_script_as_model_name_is_escaped_in_every_html_page() {
    let evil = "<script>alert(1)</script>";
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let mut args: Vec<&str> = STATIC.to_vec();
    args.extend(["--served-model-name", evil, "--output-dir"]);
    args.push(out.to_str().unwrap());
    let ran = run_bin(&args, &[], Duration::from_secs(90));
    assert_eq!(ran.code, Some(0), "stderr: {}", ran.stderr);

    // The run really used that model name.
    let run_json = std::fs::read_to_string(out.join("static/new/run.json")).unwrap();
    assert!(
        run_json.contains(r"<script>alert(1)<\/script>") || run_json.contains(evil),
        "the model name is not in run.json"
    );

    let pages = [
        out.join("static/new/report/index.html"),
        out.join("index.html"),
    ];
    for page in &pages {
        let html =
            std::fs::read_to_string(page).unwrap_or_else(|e| panic!("{}: {e}", page.display()));
        assert!(
            html.contains("&lt;script&gt;"),
            "{}: the model name is not shown escaped",
            page.display()
        );
    }
    let mut seen = 0;
    for f in files_under(out) {
        let ext = f.extension().and_then(|e| e.to_str()).unwrap_or("");
        if !matches!(ext, "html" | "htm" | "svg") {
            continue;
        }
        seen += 1;
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(
            !text.contains(evil) && !text.contains("<script>alert"),
            "{}: the model name appears unescaped",
            f.display()
        );
    }
    assert!(seen >= pages.len());
}
