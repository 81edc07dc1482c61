//! Every backend end to end against the simulator on the same workload, and
//! the server options that change what is measured: scheduler steps, prefix
//! caching, images.

use servebench::cli::{
    run_serving_cmd, run_static_cmd, run_static_mm_cmd, CommonArgs, EndpointArgs, ImageArgs,
    PrecisionArgs, ServingArgs, ServingSweepArgs, StaticArgs, StaticMmArgs, StaticSweepArgs,
};
use servebench::metrics::{PointSummary, Rate};
use servebench::sim::SimConfig;
use servebench::workload::ImageFormat;

fn endpoint(backend: &str, sim: &str) -> EndpointArgs {
    EndpointArgs {
        backend: backend.into(),
        sim: Some(sim.into()),
        ..EndpointArgs::default()
    }
}

/// The tests time the simulator's bursts: one at a time, so that another
/// test's load does not split a burst over two reads.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn sweep(prompt: usize, output: usize, conc: usize, epochs: u32) -> StaticSweepArgs {
    StaticSweepArgs {
        epochs,
        parallel_num: vec![conc],
        prompt_tokens: vec![prompt],
        output_tokens: vec![output],
        warmup: Some(1),
        ..StaticSweepArgs::default()
    }
}

async fn static_run(ep: EndpointArgs, sw: StaticSweepArgs) -> PointSummary {
    let dir = tempfile::tempdir().unwrap();
    let a = StaticArgs {
        dataset: Default::default(),
        endpoint: ep,
        sweep: sw,
        benchmark_csv: None,
        common: CommonArgs::in_dir(dir.path()),
    };
    let out = run_static_cmd(&a).await.unwrap();
    out.run.points[0].summary.clone()
}

fn close(a: f64, b: f64, rel: f64, abs: f64) -> bool {
    (a - b).abs() <= rel * b.abs() + abs
}

const SIM: &str = "time_scale=0.2,seed=5";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_backend_static_agrees_with_openai() {
    let _one = SERIAL.lock().await;
    let base = static_run(endpoint("openai", SIM), sweep(128, 16, 2, 2)).await;
    for backend in ["openai-chat", "vllm", "tgi", "mindspore", "mindspore-tgi"] {
        let s = static_run(endpoint(backend, SIM), sweep(128, 16, 2, 2)).await;
        assert_eq!(s.failed, 0, "{backend}: {:?}", s.failures);
        assert_eq!(s.completed, 4, "{backend}");
        assert_eq!(s.output_tokens.mean, Some(16.0), "{backend}: output tokens");
        let (t, t0) = (s.ttft_ms.p(50.0).unwrap(), base.ttft_ms.p(50.0).unwrap());
        let (p, p0) = (s.tpot_ms.p(50.0).unwrap(), base.tpot_ms.p(50.0).unwrap());
        // The two workers' prefills share a step or not, so a TTFT median
        // of 4 requests is bimodal (up to 2x); a parser that took the wrong
        // event for the first token would be off by the whole decode (16
        // steps) or read about 0.
        assert!(
            t > 0.4 * t0 - 1.0 && t < 2.2 * t0 + 2.0,
            "{backend}: TTFT {t} vs openai {t0}"
        );
        assert!(
            close(p, p0, 0.35, 0.5),
            "{backend}: TPOT {p} vs openai {p0}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_backend_dynamic_runs() {
    let _one = SERIAL.lock().await;
    for backend in [
        "openai",
        "openai-chat",
        "vllm",
        "tgi",
        "mindspore",
        "mindspore-tgi",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let a = ServingArgs {
            epochs: 1,
            warmup: None,
            precision: PrecisionArgs::default(),
            endpoint: endpoint(backend, "time_scale=0.05"),
            sweep: ServingSweepArgs {
                random_input_len: 64,
                random_output_len: 8,
                request_rate: vec![Rate(50.0)],
                num_prompts: vec![12],
                ..ServingSweepArgs::default()
            },
            benchmark_csv: None,
            common: CommonArgs::in_dir(dir.path()),
        };
        let out = run_serving_cmd(&a).await.unwrap();
        let s = &out.run.points[0].summary;
        assert_eq!(
            (s.completed, s.failed),
            (12, 0),
            "{backend}: {:?}",
            s.failures
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cumulative_mindie_text_and_nul_or_newline_vllm() {
    let _one = SERIAL.lock().await;
    let s = static_run(
        endpoint("mindspore-tgi", "time_scale=0.05,tgi_cumulative_text=true"),
        sweep(64, 12, 1, 1),
    )
    .await;
    assert_eq!((s.completed, s.failed), (1, 0), "{:?}", s.failures);
    assert_eq!(s.output_tokens.mean, Some(12.0));
    for sep in ["nul", "newline"] {
        let sim = format!("time_scale=0.05,vllm_separator={sep}");
        let s = static_run(endpoint("vllm", &sim), sweep(64, 12, 1, 1)).await;
        assert_eq!((s.completed, s.failed), (1, 0), "{sep}: {:?}", s.failures);
        assert_eq!(s.output_tokens.mean, Some(12.0), "{sep}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduler_steps_keep_tpot_and_show_bursts_in_itl() {
    let _one = SERIAL.lock().await;
    let mut cfg = SimConfig::default();
    cfg.apply_kv("time_scale=0.2").unwrap();
    let step = cfg.decode_step_ms(1);
    let mut tpot = Vec::new();
    for n in [1u32, 4, 8] {
        let mut ep = endpoint("openai", "time_scale=0.2");
        ep.num_scheduler_steps = Some(n);
        let s = static_run(ep, sweep(64, 33, 1, 2)).await;
        assert_eq!(s.failed, 0);
        let t = s.tpot_ms.p(50.0).unwrap();
        // TPOT over 2 requests: never below the model's step (sleeps do
        // not end early); a late wake-up of a busy machine can only add.
        assert!(
            t > 0.97 * step && t < 1.5 * step + 0.5,
            "n={n}: tpot {t} vs step {step}"
        );
        // Chunks carry n tokens: the raw chunk gap is about n model steps.
        // (Its median over every gap, robust to the odd late burst.)
        let gap = s.chunk_gap_ms.p(50.0).unwrap();
        assert!(
            close(gap, step * n as f64, 0.15, 0.3),
            "n={n}: chunk gap {gap} vs {n} x step {step}"
        );
        tpot.push(gap / n as f64);
        // Per-token ITL spreads each chunk's gap over its tokens, so over
        // requests of one length its mean is exactly the mean TPOT
        // (n x larger if the gap were not divided, whatever the timing).
        let (itl, tp) = (s.itl_ms.mean.unwrap(), s.tpot_ms.mean.unwrap());
        assert!(
            close(itl, tp, 0.01, 0.0),
            "n={n}: ITL mean {itl} vs TPOT mean {tp}"
        );
    }
    // The per-token pace the chunks show is the same at every n.
    assert!(close(tpot[1], tpot[0], 0.15, 0.2), "{tpot:?}");
    assert!(close(tpot[2], tpot[0], 0.15, 0.2), "{tpot:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_prefix_is_served_by_the_prefix_cache() {
    let _one = SERIAL.lock().await;
    let sim = "time_scale=0.5,prefix_cache=true";
    let plain = static_run(endpoint("openai", sim), sweep(1024, 4, 1, 3)).await;
    let mut sw = sweep(1024, 4, 1, 3);
    sw.shared_prefix_tokens = 896;
    let shared = static_run(endpoint("openai", sim), sw).await;
    let mut cfg = SimConfig::default();
    cfg.apply_kv(sim).unwrap();
    let (t_plain, t_shared) = (
        plain.ttft_ms.p(50.0).unwrap(),
        shared.ttft_ms.p(50.0).unwrap(),
    );
    let (full, rest) = (cfg.prefill_ms(1024), cfg.prefill_ms(128));
    // Unique prompts pay the whole prefill; the shared 896 tokens (56
    // blocks) are cached and only 128 are computed. A TTFT is never below
    // its prefill (the engine sleeps it out); a busy machine only adds to
    // it, so the upper bounds are loose and the cache's saving is judged
    // as a difference, which delays on both sides leave in place.
    assert!(
        t_plain >= 0.97 * full && t_plain <= 1.5 * full + 3.0,
        "{t_plain} vs {full}"
    );
    assert!(
        t_shared >= 0.97 * rest && t_shared <= 1.5 * rest + 3.0,
        "{t_shared} vs {rest}"
    );
    let saved = t_plain - t_shared;
    assert!(
        close(saved, full - rest, 0.25, 1.0),
        "cache saved {saved} ms of TTFT, the model {} ms",
        full - rest
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_add_prefill_tokens_and_ttft() {
    let _one = SERIAL.lock().await;
    let mut ttft = Vec::new();
    for (n, side) in [(1usize, 112u32), (4, 224), (4, 448)] {
        let dir = tempfile::tempdir().unwrap();
        let a = StaticMmArgs {
            endpoint: endpoint("openai", "time_scale=0.5"),
            sweep: sweep(64, 4, 1, 2),
            images: ImageArgs {
                num_images: n,
                width: side,
                height: side,
                format: ImageFormat::Png,
            },
            benchmark_csv: None,
            common: CommonArgs::in_dir(dir.path()),
        };
        let out = run_static_mm_cmd(&a).await.unwrap();
        let p = &out.run.points[0];
        assert_eq!(p.summary.failed, 0, "{:?}", p.summary.failures);
        // The server counts image tokens in the prompt: (side / 28)^2 each.
        let patches = (side as u64 / 28).pow(2) * n as u64;
        let usage = p.epochs[0][0].usage_input_tokens.unwrap();
        assert_eq!(usage, 64 + patches, "{n} images of {side}px");
        ttft.push(p.summary.ttft_ms.p(50.0).unwrap());
        let csv = std::fs::read_to_string(&out.paths.csv).unwrap();
        assert!(csv.lines().next().unwrap().contains("images_per_request"));
    }
    assert!(ttft[0] < ttft[1] && ttft[1] < ttft[2], "{ttft:?}");
}
