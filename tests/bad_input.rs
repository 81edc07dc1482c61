//! Every bad input is refused before any load is sent: the real binary is run
//! once per case, and each case checks the exit code (2 bad input, 3
//! endpoint or simulator problem, 4 output not writable), that stderr names
//! the flag, file, line or URL at fault, and that no `records.jsonl` was
//! written (nothing was sent).
//!
//! `cargo test --release --test bad_input -- --nocapture` also prints the
//! Markdown rows of `docs/bad-input.md`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One bad input.
struct Case {
    /// What is wrong, for people.
    input: &'static str,
    /// Arguments after the binary; `{tmp}` is the case's temporary folder.
    args: &'static [&'static str],
    /// Extra environment of the child.
    env: &'static [(&'static str, &'static str)],
    /// Files written under `{tmp}` before the run: (relative path, contents).
    files: &'static [(&'static str, &'static str)],
    /// Expected exit code.
    code: i32,
    /// Substrings stderr must hold (`{tmp}` substituted).
    needles: &'static [&'static str],
}

/// A tiny static sweep, so that a case that is wrongly accepted ends fast.
const SIM: &str = "time_scale=0.05";

const CASES: &[Case] = &[
    Case {
        input: "`--prompt-tokens` and `--output-tokens` counts differ",
        args: &[
            "static", "--prompt-tokens", "8", "16", "--output-tokens", "2", "--sim", SIM,
        ],
        env: &[],
        files: &[],
        code: 2,
        needles: &["--prompt-tokens/--output-tokens", "2 prompt lengths but 1 output"],
    },
    Case {
        input: "`--parallel-num 0`",
        args: &["static", "--parallel-num", "0", "--prompt-tokens", "8", "--output-tokens", "2", "--sim", SIM],
        env: &[],
        files: &[],
        code: 2,
        needles: &["--parallel-num"],
    },
    Case {
        input: "`--epochs 0`",
        args: &["static", "--epochs", "0", "--parallel-num", "1", "--prompt-tokens", "8", "--output-tokens", "2", "--sim", SIM],
        env: &[],
        files: &[],
        code: 2,
        needles: &["--epochs", "at least 1"],
    },
    Case {
        input: "`--max-failure-rate 1.5`",
        args: &["static", "--max-failure-rate", "1.5", "--parallel-num", "1", "--prompt-tokens", "8", "--output-tokens", "2", "--sim", SIM],
        env: &[],
        files: &[],
        code: 2,
        needles: &["--max-failure-rate", "not in (0, 1]"],
    },
    Case {
        input: "`serving --epochs 0`",
        args: &["serving", "--epochs", "0", "--num-prompts", "4", "--sim", SIM],
        env: &[],
        files: &[],
        code: 2,
        needles: &["--epochs", "at least 1"],
    },
    Case {
        input: "`--target-mde` without a unit, 1 or more",
        args: &["static", "--target-mde", "3", "--parallel-num", "1", "--prompt-tokens", "8", "--output-tokens", "2", "--sim", SIM],
        env: &[],
        files: &[],
        code: 2,
        needles: &["--target-mde", "`3` is a share of 100 % or more; for per cent write `3%`"],
    },
    Case {
        input: "`--max-epochs` without `--target-mde`",
        args: &["static", "--max-epochs", "9", "--parallel-num", "1", "--prompt-tokens", "8", "--output-tokens", "2", "--sim", SIM],
        env: &[],
        files: &[],
        code: 2,
        needles: &["--max-epochs", "only applies with --target-mde"],
    },
    Case {
        input: "`--max-epochs` below `--epochs`",
        args: &["static", "--target-mde", "3%", "--max-epochs", "2", "--epochs", "3", "--parallel-num", "1", "--prompt-tokens", "8", "--output-tokens", "2", "--sim", SIM],
        env: &[],
        files: &[],
        code: 2,
        needles: &["--max-epochs", "2 is below the 3 epochs every point runs first"],
    },
    Case {
        input: "`--api-key` on the command line (the seed's flag)",
        args: &["static", "--api-key", "sk-123", "--parallel-num", "1", "--prompt-tokens", "8", "--output-tokens", "2", "--sim", SIM],
        env: &[],
        files: &[],
        code: 2,
        needles: &["--api-key", "export OPENAI_API_KEY=<key>"],
    },
    Case {
        input: "comma-separated `--host` list (the seed's replicas)",
        args: &["static", "--host", "10.0.0.1,10.0.0.2", "--parallel-num", "1", "--prompt-tokens", "8", "--output-tokens", "2"],
        env: &[],
        files: &[],
        code: 2,
        needles: &["--host", "is a list", "one load balancer"],
    },
    Case {
        input: "comma-separated `--port` list (the seed's replicas)",
        args: &["static", "--host", "127.0.0.1", "--port", "8000,8001", "--parallel-num", "1", "--prompt-tokens", "8", "--output-tokens", "2"],
        env: &[],
        files: &[],
        code: 2,
        needles: &["--port", "is a list", "one load balancer"],
    },
    Case {
        input: "static `--dataset-type sharegpt` without `--dataset-path`",
        args: &["static", "--dataset-type", "sharegpt", "--parallel-num", "1", "--prompt-tokens", "8", "--output-tokens", "2", "--sim", SIM],
        env: &[],
        files: &[],
        code: 2,
        needles: &["--dataset-path", "--dataset-type sharegpt needs the dataset file"],
    },
    Case {
        input: "static `--use-real-dataset-output-tokens` with random prompts",
        args: &["static", "--use-real-dataset-output-tokens", "--parallel-num", "1", "--prompt-tokens", "8", "--output-tokens", "2", "--sim", SIM],
        env: &[],
        files: &[],
        code: 2,
        needles: &["--use-real-dataset-output-tokens", "only applies with a dataset"],
    },
    Case {
        input: "`--epochs -2`",
        args: &["static", "--epochs", "-2", "--parallel-num", "1", "--prompt-tokens", "8", "--output-tokens", "2", "--sim", SIM],
        env: &[],
        files: &[],
        code: 2,
        needles: &["--epochs", "`-2` is not a whole number"],
    },
    Case {
        input: "`--parallel-num -4`",
        args: &["static", "--parallel-num", "-4", "--prompt-tokens", "8", "--output-tokens", "2", "--sim", SIM],
        env: &[],
        files: &[],
        code: 2,
        needles: &["--parallel-num", "`-4` is not a whole number"],
    },
    Case {
        input: "`--top-p` outside (0, 1]",
        args: &["static", "--top-p", "1.5", "--parallel-num", "1", "--prompt-tokens", "8", "--output-tokens", "2", "--sim", SIM],
        env: &[],
        files: &[],
        code: 2,
        needles: &["--top-p", "1.5 is not in (0, 1]"],
    },
    Case {
        input: "`--enable-prefix-caching` with a value that is not a boolean",
        args: &["static", "--enable-prefix-caching", "maybe", "--parallel-num", "1", "--prompt-tokens", "8", "--output-tokens", "2", "--sim", SIM],
        env: &[],
        files: &[],
        code: 2,
        needles: &["--enable-prefix-caching", "`maybe` is not true or false"],
    },
    Case {
        input: "`--num-speculative-tokens` without `--use-spec-decode`",
        args: &["static", "--num-speculative-tokens", "2", "--parallel-num", "1", "--prompt-tokens", "8", "--output-tokens", "2", "--sim", SIM],
        env: &[],
        files: &[],
        code: 2,
        needles: &["--num-speculative-tokens", "only applies with --use-spec-decode"],
    },
    Case {
        input: "`--concurrent-num` counts differ from `--request-rate`",
        args: &["serving", "--request-rate", "1", "2", "--concurrent-num", "1", "2", "3", "--num-prompts", "2", "--random-input-len", "8", "--random-output-len", "2", "--sim", SIM],
        env: &[],
        files: &[],
        code: 2,
        needles: &["--concurrent-num/--request-rate", "3 counts for 2 rates"],
    },
    Case {
        input: "`--is-evenly-rate` with a `--burstiness`",
        args: &["serving", "--is-evenly-rate", "--burstiness", "0.5", "--num-prompts", "2", "--random-input-len", "8", "--random-output-len", "2", "--sim", SIM],
        env: &[],
        files: &[],
        code: 2,
        needles: &["--is-evenly-rate/--burstiness", "have no burstiness"],
    },
    Case {
        input: "`--num-prompts` beyond the dataset's usable entries, without `--allow-repeat`",
        args: &["serving", "--dataset", "{tmp}/two.jsonl", "--dataset-type", "jsonl", "--num-prompts", "5", "--sim", SIM],
        env: &[],
        files: &[(
            "two.jsonl",
            "{\"prompt\": \"the quick brown fox jumps over the lazy dog\", \"output_len\": 4}\n{\"prompt\": \"a second prompt that is long enough to keep\", \"output_len\": 4}\n",
        )],
        code: 2,
        needles: &["--num-prompts", "only 2 usable entries", "--allow-repeat"],
    },
    Case {
        input: "`ab` side that is neither a URL nor `sim:`",
        args: &["ab", "--a", "nope", "--b", "sim:time_scale=0.05", "--parallel-num", "1", "--prompt-tokens", "8", "--output-tokens", "2"],
        env: &[],
        files: &[],
        code: 2,
        needles: &["--a", "`nope` is neither a URL"],
    },
    Case {
        input: "`ab` with fewer than 3 pairs",
        args: &["ab", "--a", "sim:time_scale=0.05", "--b", "sim:time_scale=0.05", "--epochs", "2", "--parallel-num", "1", "--prompt-tokens", "8", "--output-tokens", "2"],
        env: &[],
        files: &[],
        code: 2,
        needles: &["--epochs", "an A/B needs at least 3 epochs a side"],
    },
    Case {
        input: "`ab` with `--url`",
        args: &["ab", "--a", "sim:time_scale=0.05", "--b", "sim:time_scale=0.05", "--url", "http://127.0.0.1:1", "--parallel-num", "1", "--prompt-tokens", "8", "--output-tokens", "2"],
        env: &[],
        files: &[],
        code: 2,
        needles: &["--url/--host/--port", "give the two endpoints as --a and --b"],
    },
    Case {
        input: "`calibrate` with fewer than 4 epochs",
        args: &["calibrate", "--epochs", "3", "--parallel-num", "1", "--prompt-tokens", "8", "--output-tokens", "2", "--sim", SIM],
        env: &[],
        files: &[],
        code: 2,
        needles: &["--epochs", "calibrate with at least 4"],
    },
    Case {
        input: "prompt + output beyond the model's context",
        args: &["static", "--sim", "time_scale=0.05,max_model_len=1024", "--parallel-num", "1", "--prompt-tokens", "1000", "--output-tokens", "100"],
        env: &[],
        files: &[],
        code: 2,
        needles: &["--prompt-tokens/--output-tokens", "1100 tokens exceed the context", "max_model_len 1024"],
    },
    Case {
        input: "`--failure-window 0`",
        args: &["serving", "--failure-window", "0", "--num-prompts", "4", "--sim", SIM],
        env: &[],
        files: &[],
        code: 2,
        needles: &["--failure-window", "at least 1"],
    },
    Case {
        input: "`--first-byte-timeout 0`",
        args: &["static", "--first-byte-timeout", "0", "--parallel-num", "1", "--prompt-tokens", "8", "--output-tokens", "2", "--sim", SIM],
        env: &[],
        files: &[],
        code: 2,
        needles: &["--first-byte-timeout", "not a positive number of seconds"],
    },
    Case {
        input: "unknown `--backend`",
        args: &["static", "--backend", "nosuch", "--parallel-num", "1", "--prompt-tokens", "8", "--output-tokens", "2", "--epochs", "1", "--sim", SIM],
        env: &[],
        files: &[],
        code: 2,
        needles: &["--backend nosuch", "unknown backend"],
    },
    Case {
        input: "`--url` that is not a URL",
        args: &["static", "--url", "not a url", "--parallel-num", "1", "--prompt-tokens", "8", "--output-tokens", "2", "--epochs", "1"],
        env: &[],
        files: &[],
        code: 2,
        needles: &["--url", "not a url"],
    },
    Case {
        input: "`--url` with nothing listening",
        args: &["static", "--url", "http://127.0.0.1:1", "--connect-timeout", "5", "--parallel-num", "1", "--prompt-tokens", "8", "--output-tokens", "2", "--epochs", "1"],
        env: &[],
        files: &[],
        code: 3,
        needles: &["preflight", "http://127.0.0.1:1"],
    },
    Case {
        input: "`--tokenizer` file missing",
        args: &["static", "--tokenizer", "/no/such/file", "--parallel-num", "1", "--prompt-tokens", "8", "--output-tokens", "2", "--epochs", "1", "--sim", SIM],
        env: &[],
        files: &[],
        code: 2,
        needles: &["/no/such/file"],
    },
    Case {
        input: "`--tokenizer` file that is not JSON",
        args: &["static", "--tokenizer", "{tmp}/tokenizer.json", "--parallel-num", "1", "--prompt-tokens", "8", "--output-tokens", "2", "--epochs", "1", "--sim", SIM],
        env: &[],
        files: &[("tokenizer.json", "this is not JSON\n")],
        code: 2,
        needles: &["{tmp}/tokenizer.json"],
    },
    Case {
        input: "`--tokenizer` hub id not in the local Hugging Face cache",
        args: &["serving", "--tokenizer", "org/no-such-model", "--num-prompts", "1", "--sim", SIM],
        env: &[("HF_HUB_CACHE", "/nonexistent/hf-hub")],
        files: &[],
        code: 2,
        needles: &["org/no-such-model", "not in the local Hugging Face cache", "/nonexistent/hf-hub/models--org--no-such-model"],
    },
    Case {
        input: "`--sim` with an unknown key",
        args: &["static", "--sim", "no_such_key=1", "--parallel-num", "1", "--prompt-tokens", "8", "--output-tokens", "2", "--epochs", "1"],
        env: &[],
        files: &[],
        code: 2,
        needles: &["no_such_key", "unknown"],
    },
    Case {
        input: "`--sim time_scale=-1`",
        args: &["static", "--sim", "time_scale=-1", "--parallel-num", "1", "--prompt-tokens", "8", "--output-tokens", "2", "--epochs", "1"],
        env: &[],
        files: &[],
        code: 2,
        needles: &["time_scale", "-1"],
    },
    Case {
        input: "`SERVEBENCH_SIM` with a bad value",
        args: &["static", "--parallel-num", "1", "--prompt-tokens", "8", "--output-tokens", "2", "--epochs", "1"],
        env: &[("SERVEBENCH_SIM", "decode_step_ms=abc")],
        files: &[],
        code: 2,
        needles: &["SERVEBENCH_SIM", "decode_step_ms", "abc"],
    },
    Case {
        input: "`SERVEBENCH_TIMESTAMPS` neither `kernel` nor `user`",
        args: &["static", "--parallel-num", "1", "--prompt-tokens", "8", "--output-tokens", "2", "--epochs", "1", "--sim", SIM],
        env: &[("SERVEBENCH_TIMESTAMPS", "usr")],
        files: &[],
        code: 2,
        needles: &["SERVEBENCH_TIMESTAMPS", "`usr`", "kernel", "user"],
    },
    Case {
        input: "`SERVEBENCH_CLIENT_THREADS` not a count",
        args: &["static", "--parallel-num", "1", "--prompt-tokens", "8", "--output-tokens", "2", "--epochs", "1", "--sim", SIM],
        env: &[("SERVEBENCH_CLIENT_THREADS", "0")],
        files: &[],
        code: 2,
        needles: &["SERVEBENCH_CLIENT_THREADS", "`0`", "1 to 256"],
    },
    Case {
        input: "`--num-prompts` count differs from `--request-rate` count",
        args: &["serving", "--num-prompts", "1", "2", "--request-rate", "1", "2", "3", "--sim", SIM],
        env: &[],
        files: &[],
        code: 2,
        needles: &["--num-prompts/--request-rate", "2 counts for 3 rates"],
    },
    Case {
        input: "`--request-rate 0`",
        args: &["serving", "--request-rate", "0", "--num-prompts", "2", "--sim", SIM],
        env: &[],
        files: &[],
        code: 2,
        needles: &["--request-rate", "0"],
    },
    Case {
        input: "`--percentiles` with a value outside (0, 100]",
        args: &["static", "--percentiles", "50,0", "--parallel-num", "1", "--prompt-tokens", "8", "--output-tokens", "2", "--sim", SIM],
        env: &[],
        files: &[],
        code: 2,
        needles: &["--percentiles", "`0`", "above 0 and at most 100"],
    },
    Case {
        input: "`serving --percentiles 101`",
        args: &["serving", "--percentiles", "101", "--num-prompts", "2", "--sim", SIM],
        env: &[],
        files: &[],
        code: 2,
        needles: &["--percentiles", "`101`"],
    },
    Case {
        input: "unknown `--csv-format`",
        args: &["static", "--csv-format", "xlsx", "--parallel-num", "1", "--prompt-tokens", "8", "--output-tokens", "2", "--sim", SIM],
        env: &[],
        files: &[],
        code: 2,
        needles: &["--csv-format", "xlsx"],
    },
    Case {
        input: "`ab --csv-format seed` (ab writes no benchmark CSV)",
        args: &["ab", "--a", "sim:time_scale=0.05", "--b", "sim:time_scale=0.05", "--csv-format", "seed", "--parallel-num", "1", "--prompt-tokens", "8", "--output-tokens", "2"],
        env: &[],
        files: &[],
        code: 2,
        needles: &["--csv-format", "servebench ab"],
    },
    Case {
        input: "`latency --percentiles` (latency reports p50, p90, p99)",
        args: &["latency", "--percentiles", "75", "--num-requests", "1", "--prompt-tokens", "8", "--output-tokens", "2", "--sim", SIM],
        env: &[],
        files: &[],
        code: 2,
        needles: &["--percentiles", "servebench latency"],
    },
    Case {
        input: "`--burstiness 0`",
        args: &["serving", "--burstiness", "0", "--num-prompts", "2", "--sim", SIM],
        env: &[],
        files: &[],
        code: 2,
        needles: &["--burstiness"],
    },
    Case {
        input: "`--goodput` without `METRIC:MS`",
        args: &["serving", "--goodput", "ttft=5", "--num-prompts", "2", "--sim", SIM],
        env: &[],
        files: &[],
        code: 2,
        needles: &["--goodput", "ttft=5"],
    },
    Case {
        input: "`--dataset` file missing",
        args: &["serving", "--dataset", "{tmp}/missing.json", "--num-prompts", "2", "--sim", SIM],
        env: &[],
        files: &[],
        code: 2,
        needles: &["--dataset", "{tmp}/missing.json"],
    },
    Case {
        input: "ShareGPT dataset with malformed JSON",
        args: &["serving", "--dataset", "{tmp}/bad.json", "--dataset-type", "sharegpt", "--num-prompts", "2", "--sim", SIM],
        env: &[],
        files: &[(
            "bad.json",
            "[\n  {\"conversations\": [{\"from\": \"human\", \"value\": \"hi there\"}, {\"from\": \"gpt\", \"value\": \"hello\"}]},\n  {\"conversations\": [{\"from\": \"human\", \"value\": \"oops\"\n]\n",
        )],
        code: 2,
        needles: &["{tmp}/bad.json"],
    },
    Case {
        input: "JSONL dataset with a bad line 3",
        args: &["serving", "--dataset", "{tmp}/bad.jsonl", "--dataset-type", "jsonl", "--num-prompts", "2", "--sim", SIM],
        env: &[],
        files: &[(
            "bad.jsonl",
            "{\"prompt\": \"hello world\", \"output_len\": 4}\n{\"prompt\": \"good day\", \"output_len\": 4}\n{\"prompt\": \"broken\n{\"prompt\": \"fine\", \"output_len\": 4}\n",
        )],
        code: 2,
        needles: &["{tmp}/bad.jsonl", "line 3"],
    },
    Case {
        input: "human-eval dataset with a bad line 2",
        args: &["serving", "--dataset", "{tmp}/he.jsonl", "--dataset-type", "human-eval", "--num-prompts", "1", "--sim", SIM],
        env: &[],
        files: &[(
            "he.jsonl",
            "{\"prompt\": \"def add(a, b):\", \"canonical_solution\": \"    return a + b\"}\n{\"prompt\": \"def sub(a, b):\"}\n",
        )],
        code: 2,
        needles: &["{tmp}/he.jsonl", "line 2", "missing field `canonical_solution`"],
    },
    Case {
        input: "unknown `--dataset-type`",
        args: &["serving", "--dataset-type", "csv", "--num-prompts", "2", "--sim", SIM],
        env: &[],
        files: &[],
        code: 2,
        needles: &["--dataset-type", "csv", "human-eval"],
    },
    Case {
        input: "`gen-dataset` with `--min-input` above `--max-input`",
        args: &["gen-dataset", "--dataset", "{tmp}/gen.json", "--min-input", "200", "--max-input", "100", "--num-requests", "3"],
        env: &[],
        files: &[],
        code: 2,
        needles: &["--min-input 200", "--max-input 100"],
    },
    Case {
        input: "`gen-dataset --std-input=-1`",
        args: &[
            "gen-dataset",
            "--dataset",
            "{tmp}/gen.json",
            "--std-input=-1",
            "--num-requests",
            "3",
        ],
        env: &[],
        files: &[],
        code: 2,
        needles: &["--std-input", "-1"],
    },
    Case {
        input: "`gen-dataset --std-input -1` (value as a separate word)",
        args: &[
            "gen-dataset",
            "--dataset",
            "{tmp}/gen.json",
            "--std-input",
            "-1",
            "--num-requests",
            "3",
        ],
        env: &[],
        files: &[],
        code: 2,
        needles: &["--std-input", "-1"],
    },
    Case {
        input: "`gen-dataset --format` that is not a format",
        args: &["gen-dataset", "--dataset", "{tmp}/gen.json", "--format", "csv", "--num-requests", "3"],
        env: &[],
        files: &[],
        code: 2,
        needles: &["--format", "csv", "servebench", "seed"],
    },
    Case {
        input: "`gen-dataset --num-requests 0`",
        args: &["gen-dataset", "--dataset", "{tmp}/gen.json", "--num-requests", "0"],
        env: &[],
        files: &[],
        code: 2,
        needles: &["num-requests"],
    },
    Case {
        input: "`static-mm --image-width 0`",
        args: &["static-mm", "--image-width", "0", "--parallel-num", "1", "--prompt-tokens", "8", "--output-tokens", "2", "--epochs", "1", "--sim", SIM],
        env: &[],
        files: &[],
        code: 2,
        needles: &["--image-width", "0x512"],
    },
    Case {
        input: "`latency --backend tgi`",
        args: &["latency", "--backend", "tgi", "--num-requests", "1", "--prompt-tokens", "8", "--output-tokens", "2", "--sim", SIM],
        env: &[],
        files: &[],
        code: 2,
        needles: &["--backend tgi", "openai"],
    },
    Case {
        input: "`--url` without a scheme",
        args: &["static", "--url", "127.0.0.1:8000", "--parallel-num", "1", "--prompt-tokens", "8", "--output-tokens", "2", "--epochs", "1"],
        env: &[],
        files: &[],
        code: 2,
        needles: &["--url", "did you mean http://127.0.0.1:8000?"],
    },
    Case {
        input: "`--sim` with a remote `--url`",
        args: &["static", "--url", "http://127.0.0.1:1", "--sim", SIM, "--parallel-num", "1", "--prompt-tokens", "8", "--output-tokens", "2", "--epochs", "1"],
        env: &[],
        files: &[],
        code: 2,
        needles: &["--sim", "remote"],
    },
    Case {
        input: "`report` on a missing folder",
        args: &["report", "{tmp}/no-such-run"],
        env: &[],
        files: &[],
        code: 2,
        needles: &["{tmp}/no-such-run"],
    },
    Case {
        input: "`report` on a file that is not a records file",
        args: &["report", "{tmp}/notes.jsonl"],
        env: &[],
        files: &[("notes.jsonl", "{\"note\": \"keep me\"}\n")],
        code: 2,
        needles: &["{tmp}/notes.jsonl", "not a servebench records file"],
    },
    Case {
        input: "`compare` with a missing baseline file",
        args: &["compare", "{tmp}/missing/run.json", "{tmp}/new/run.json", "--report-dir", "{tmp}"],
        env: &[],
        files: &[("new/run.json", "{\"format\":\"servebench-run\",\"version\":999,\"run\":{}}")],
        code: 2,
        needles: &["{tmp}/missing/run.json"],
    },
    Case {
        input: "`compare` with a run.json of a wrong version",
        args: &["compare", "{tmp}/old/run.json", "{tmp}/old/run.json", "--report-dir", "{tmp}"],
        env: &[],
        files: &[("old/run.json", "{\"format\":\"servebench-run\",\"version\":999,\"run\":{}}")],
        code: 2,
        needles: &["{tmp}/old/run.json", "999"],
    },
    Case {
        input: "`--output-dir` under a regular file",
        args: &["static", "--output-dir", "{tmp}/file/out", "--parallel-num", "1", "--prompt-tokens", "8", "--output-tokens", "2", "--epochs", "1", "--sim", SIM],
        env: &[],
        files: &[("file", "a regular file\n")],
        code: 4,
        needles: &["{tmp}/file/out"],
    },
];

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

/// Run the binary with `args`; the child is killed past `limit`.
fn run_bin(
    args: &[String],
    env: &[(&str, &str)],
    limit: Duration,
) -> (Option<i32>, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_servebench"));
    cmd.args(args)
        .env_remove("SERVEBENCH_SIM")
        .env_remove("SERVEBENCH_TIMESTAMPS")
        .env_remove("SERVEBENCH_CLIENT_THREADS")
        .env_remove("OPENAI_API_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn servebench");
    let t0 = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if t0.elapsed() > limit {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().expect("output");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn shell_quote(a: &str) -> String {
    if !a.is_empty()
        && a.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_=./:,$".contains(c))
    {
        a.to_string()
    } else {
        format!("\"{a}\"")
    }
}

/// Run one case; returns its Markdown row, or what went wrong.
fn check(case: &Case) -> Result<String, String> {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_str().unwrap().to_string();
    for (rel, text) in case.files {
        let p = tmp.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
    }
    let sub = |s: &str| s.replace("{tmp}", &root);
    let mut args: Vec<String> = case.args.iter().map(|a| sub(a)).collect();
    if !args.iter().any(|a| a == "--output-dir")
        && matches!(
            args[0].as_str(),
            "static" | "static-mm" | "serving" | "all" | "latency"
        )
    {
        args.push("--output-dir".into());
        args.push(format!("{root}/out"));
    }
    args.push("--quiet".into());
    if args[0] == "gen-dataset" || args[0] == "compare" {
        args.pop(); // these take no --quiet
    }
    let t0 = Instant::now();
    let (code, stdout, stderr) = run_bin(&args, case.env, Duration::from_secs(30));
    let took = t0.elapsed();
    let mut problems = Vec::new();
    if code != Some(case.code) {
        problems.push(format!("exit code {code:?}, expected {}", case.code));
    }
    for n in case.needles {
        let n = sub(n);
        if !stderr.contains(&n) {
            problems.push(format!("stderr lacks `{n}`"));
        }
    }
    let sent: Vec<_> = files_under(tmp.path())
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n == "records.jsonl"))
        .collect();
    if !sent.is_empty() {
        problems.push(format!("records written: {sent:?}"));
    }
    if args[0] == "report" {
        let written: Vec<_> = files_under(tmp.path())
            .into_iter()
            .filter(|p| {
                p.extension()
                    .is_some_and(|e| e == "csv" || e == "md" || e == "json")
            })
            .collect();
        if !written.is_empty() {
            problems.push(format!("report wrote files anyway: {written:?}"));
        }
    }
    if args[0] == "gen-dataset" && tmp.path().join("gen.json").exists() {
        problems.push("gen-dataset wrote its file anyway".into());
    }
    let first = stderr
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .replace(&root, "$TMP");
    let env: String = case.env.iter().map(|(k, v)| format!("{k}={v} ")).collect();
    let line = format!(
        "{env}servebench {}",
        args.iter()
            .map(|a| shell_quote(&a.replace(&root, "$TMP")))
            .collect::<Vec<_>>()
            .join(" ")
    );
    // A code span that may hold backticks: delimited by two of them.
    let cell = |s: &str| format!("`` {} ``", s.replace('|', "\\|"));
    let row = format!(
        "| {} | {} | {} | {} |",
        case.input,
        cell(&line),
        code.map_or("killed".to_string(), |c| c.to_string()),
        cell(&first)
    );
    if problems.is_empty() {
        Ok(row)
    } else {
        Err(format!(
            "{} ({:.1} s): {}\n  args: {args:?}\n  stdout: {stdout}\n  stderr: {stderr}",
            case.input,
            took.as_secs_f64(),
            problems.join("; ")
        ))
    }
}

#[test]
fn every_bad_input_is_refused_by_name_before_any_load() {
    let t0 = Instant::now();
    let mut failures = Vec::new();
    println!("| input | command line | exit code | message (first line of stderr) |");
    println!("|---|---|---|---|");
    for case in CASES {
        match check(case) {
            Ok(row) => println!("{row}"),
            Err(e) => {
                println!("FAILED: {e}");
                failures.push(e);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
    assert!(
        t0.elapsed() < Duration::from_secs(120),
        "too slow: {:?}",
        t0.elapsed()
    );
}

#[test]
fn clap_parse_errors_exit_2_and_name_the_flag() {
    let (code, _, stderr) = run_bin(
        &["static".into(), "--parallel-num".into(), "x".into()],
        &[],
        Duration::from_secs(10),
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--parallel-num"), "{stderr}");
    let (code, _, stderr) = run_bin(
        &["static".into(), "--no-such-flag".into()],
        &[],
        Duration::from_secs(10),
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--no-such-flag"), "{stderr}");
}

/// Known bug: `--benchmark-csv` is only checked when the CSV is written,
/// after the whole sweep ran (records.jsonl is written, exit 4, "File
/// exists"). Run with `--ignored` once it is checked before the load.
#[test]
fn benchmark_csv_under_a_file_is_refused_before_any_load() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("file"), "x").unwrap();
    let root = tmp.path().to_str().unwrap();
    let args: Vec<String> = [
        "static",
        "--benchmark-csv",
        &format!("{root}/file/x.csv"),
        "--output-dir",
        &format!("{root}/out"),
        "--parallel-num",
        "1",
        "--prompt-tokens",
        "8",
        "--output-tokens",
        "2",
        "--epochs",
        "1",
        "--sim",
        SIM,
        "--quiet",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let (code, _, stderr) = run_bin(&args, &[], Duration::from_secs(30));
    assert!(matches!(code, Some(2) | Some(4)), "{code:?} {stderr}");
    assert!(stderr.contains(&format!("{root}/file/x.csv")), "{stderr}");
    let sent: Vec<_> = files_under(tmp.path())
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n == "records.jsonl"))
        .collect();
    assert!(sent.is_empty(), "load was sent first: {sent:?}");
}
