//! The fuzz smoke test (stable toolchain): every seed input under
//! `fuzz/seeds/<target>/` and every fixed crash under
//! `fuzz/regressions/<target>/` through the same checks the cargo-fuzz
//! targets run (`fuzz/checks.rs`). See `fuzz/README.md`.

#[path = "../fuzz/checks.rs"]
mod checks;

use std::path::Path;

/// Run `check` on every file of `fuzz/{seeds,regressions}/<target>/`;
/// returns how many seed files there were.
fn replay(target: &str, check: fn(&[u8])) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut seeds = 0;
    for kind in ["seeds", "regressions"] {
        let dir = root.join(kind).join(target);
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<_> = rd.map(|e| e.unwrap().path()).collect();
        files.sort();
        for f in files {
            let data = std::fs::read(&f).unwrap();
            let r = std::panic::catch_unwind(|| check(&data));
            assert!(r.is_ok(), "{target}: {} fails its check", f.display());
            if kind == "seeds" {
                seeds += 1;
            }
        }
    }
    seeds
}

macro_rules! targets {
    ($($t:ident),* $(,)?) => {$(
        #[test]
        fn $t() {
            let n = replay(stringify!($t), checks::$t);
            assert!(n > 0, "no seed inputs for {}", stringify!($t));
        }
    )*};
}

targets!(
    sse_framer,
    stream_openai,
    stream_vllm,
    stream_tgi,
    datasets,
    baseline,
    sim_config,
    bench_args,
);
