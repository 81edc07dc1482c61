//! Unit tests of the scheduler thread.

use super::*;

fn arrival(prompt: usize, max: usize) -> (Arrival, tokio::sync::mpsc::UnboundedReceiver<Event>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let a = Arrival {
        arrived: Instant::now(),
        prompt_tokens: prompt,
        block_hashes: Vec::new(),
        max_tokens: max,
        min_tokens: 0,
        ignore_eos: true,
        tx,
        inflight: Default::default(),
    };
    (a, rx)
}

fn drain(mut rx: tokio::sync::mpsc::UnboundedReceiver<Event>) -> (Vec<usize>, Timing) {
    let mut sizes = Vec::new();
    loop {
        match rx.blocking_recv().expect("stream ends with timing") {
            Event::Tokens {
                tokens,
                timing: Some(t),
                ..
            } => {
                sizes.push(tokens);
                return (sizes, t);
            }
            Event::Tokens { tokens, .. } => sizes.push(tokens),
            Event::Error(e) => panic!("{e}"),
        }
    }
}

#[test]
fn jitter_is_seeded() {
    let draw = |seed| {
        let mut r = StdRng::seed_from_u64(seed);
        (0..2000)
            .map(|_| jitter_factor(&mut r, 0.1))
            .collect::<Vec<_>>()
    };
    let (a, b, c) = (draw(1), draw(1), draw(2));
    assert_eq!(a, b);
    assert_ne!(a, c);
    let mean = a.iter().sum::<f64>() / a.len() as f64;
    assert!((mean - 1.0).abs() < 0.02, "{mean}");
    assert!(a.iter().all(|&x| x >= 0.05));
    assert_eq!(jitter_factor(&mut StdRng::seed_from_u64(0), 0.0), 1.0);
}

#[test]
fn bursts_and_timing() {
    let mut cfg = SimConfig::default();
    cfg.apply_kv("time_scale=0.05,num_scheduler_steps=3")
        .unwrap();
    let (tx, h) = spawn(cfg.clone(), Default::default()).unwrap();
    let (a, rx) = arrival(100, 10);
    tx.send(SchedMsg::Arrival(a)).unwrap();
    let (sizes, t) = drain(rx);
    assert_eq!(sizes, vec![1, 3, 3, 3]);
    assert_eq!(t.tokens, 10);
    let prefill = (t.first_token - t.arrived).as_secs_f64() * 1e3;
    assert!(prefill >= cfg.prefill_ms(100) * 0.99, "{prefill}");
    // Steps are chained on absolute deadlines from the arrival: a late
    // wake-up after the prefill shortens the next step (the schedule
    // catches up), so the bound holds from the arrival, not between tokens.
    let total = (t.last_token - t.arrived).as_secs_f64() * 1e3;
    let model = cfg.prefill_ms(100) + 9.0 * cfg.decode_step_ms(1);
    assert!(total >= model * 0.99, "{total} vs {model}");
    tx.send(SchedMsg::Shutdown).unwrap();
    h.join().unwrap();
}

#[test]
fn kv_too_small_is_error_and_eos_is_seeded() {
    let mut cfg = SimConfig::default();
    cfg.apply_kv("time_scale=0.01,kv_cache_tokens=50,eos_mean_tokens=3,seed=7")
        .unwrap();
    let (tx, h) = spawn(cfg, Default::default()).unwrap();
    let (a, mut rx) = arrival(100, 10);
    tx.send(SchedMsg::Arrival(a)).unwrap();
    assert!(matches!(rx.blocking_recv(), Some(Event::Error(_))));
    let (mut a, rx) = arrival(10, 30);
    a.ignore_eos = false;
    tx.send(SchedMsg::Arrival(a)).unwrap();
    let (sizes, t) = drain(rx);
    assert_eq!(sizes.iter().sum::<usize>(), t.tokens);
    assert!(t.tokens >= 1 && t.tokens <= 30);
    drop(tx);
    h.join().unwrap();
}

#[test]
fn no_delay_keeps_up() {
    // 1,000 streams of 100 tokens, each consumed as soon as it comes: the
    // scheduler must sustain well over 100k tokens/s.
    let mut cfg = SimConfig::default();
    cfg.apply_kv("no_delay=true,max_batch=1000").unwrap();
    let (tx, h) = spawn(cfg, Default::default()).unwrap();
    let sched = h.thread().clone();
    let mut rxs = Vec::new();
    for _ in 0..1000 {
        let (a, rx) = arrival(10, 100);
        rxs.push((rx, a.inflight.clone(), false));
        tx.send(SchedMsg::Arrival(a)).unwrap();
    }
    sched.unpark();
    let t0 = Instant::now();
    let mut total = 0;
    let mut open = rxs.len();
    while open > 0 {
        open = 0;
        for (rx, inflight, finished) in rxs.iter_mut() {
            while let Ok(ev) = rx.try_recv() {
                if inflight.fetch_sub(1, Ordering::AcqRel) == 1 {
                    sched.unpark();
                }
                match ev {
                    Event::Tokens { tokens, finish, .. } => {
                        total += tokens;
                        *finished |= finish.is_some();
                    }
                    Event::Error(e) => panic!("{e}"),
                }
            }
            if !*finished {
                open += 1;
            }
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    assert_eq!(total, 100_000);
    let rate = total as f64 / secs;
    eprintln!("no_delay scheduler: {rate:.0} tokens/s");
    assert!(rate > 100_000.0, "{rate:.0} tokens/s");
    tx.send(SchedMsg::Shutdown).unwrap();
    h.join().unwrap();
}

#[test]
fn speculative_drafts_are_seeded_and_accepted_as_set() {
    // Acceptance rate of K drafts each accepted with probability P until
    // the first rejection: (P + P^2 + ... + P^K) / K.
    let (k, p) = (3usize, 0.6f64);
    let draw = |seed| {
        let mut r = StdRng::seed_from_u64(seed);
        (0..40_000)
            .map(|_| accepted_drafts(&mut r, k, p))
            .collect::<Vec<_>>()
    };
    let (a, b) = (draw(3), draw(3));
    assert_eq!(a, b);
    assert!(a.iter().all(|&x| x <= k));
    let rate = a.iter().sum::<usize>() as f64 / (a.len() * k) as f64;
    let expected = (1..=k as i32).map(|i| p.powi(i)).sum::<f64>() / k as f64;
    assert!((rate - expected).abs() < 0.01, "{rate} vs {expected}");
    // Each count's share is P^a (1 - P), P^K for all accepted.
    let share = |n: usize| a.iter().filter(|&&x| x == n).count() as f64 / a.len() as f64;
    assert!((share(0) - 0.4).abs() < 0.01, "{}", share(0));
    assert!((share(3) - 0.216).abs() < 0.01, "{}", share(3));
    let mut r = StdRng::seed_from_u64(0);
    assert_eq!(accepted_drafts(&mut r, 4, 1.0), 4);
    assert_eq!(accepted_drafts(&mut r, 4, 0.0), 0);
}

#[test]
fn speculative_steps_emit_one_to_k_plus_one_in_one_step_time() {
    let mut cfg = SimConfig::default();
    cfg.apply_kv("time_scale=0.05,spec_tokens=3,spec_accept=0.6,seed=5")
        .unwrap();
    let (tx, h) = spawn(cfg.clone(), Default::default()).unwrap();
    let (a, rx) = arrival(100, 200);
    tx.send(SchedMsg::Arrival(a)).unwrap();
    let (sizes, t) = drain(rx);
    assert_eq!(t.tokens, 200);
    assert_eq!(sizes[0], 1);
    assert!(
        sizes[1..].iter().all(|&s| (1..=4).contains(&s)),
        "{sizes:?}"
    );
    // Fewer steps than tokens: the last may be capped by the output left.
    let steps = sizes.len() - 1;
    let per_step = 199.0 / steps as f64;
    assert!(per_step > 1.9 && per_step < 2.5, "{per_step} tokens a step");
    // Every step took one decode step's time.
    let decode = (t.last_token - t.first_token).as_secs_f64() * 1e3;
    let model = steps as f64 * cfg.decode_step_ms(1);
    assert!(decode >= model * 0.99, "{decode} vs {model}");
    tx.send(SchedMsg::Shutdown).unwrap();
    h.join().unwrap();
}
