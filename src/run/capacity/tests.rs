//! The search against synthetic servers whose capacity is known.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::metrics::capacity::{Probe, ProbeEpoch, Tail};
use crate::metrics::Slo;
use crate::stats::Side;

/// A server whose goodput ratio is 1 up to `cap` and falls by `slope` per
/// unit of relative overload, with seeded binomial noise; over-saturated
/// (when `saturates`) beyond `1.5 × cap`.
struct Synthetic {
    cap: f64,
    slope: f64,
    rng: StdRng,
    saturates: bool,
    calls: Vec<(f64, u32)>,
}

impl Synthetic {
    fn new(cap: f64, seed: u64) -> Self {
        Synthetic {
            cap,
            slope: 2.0,
            rng: StdRng::seed_from_u64(seed),
            saturates: false,
            calls: Vec::new(),
        }
    }
}

fn epoch(sent: usize, good: usize, saturated: Option<String>) -> ProbeEpoch {
    ProbeEpoch {
        sent,
        failed: 0,
        good,
        goodput_ratio: good as f64 / sent as f64,
        slo_values: Vec::new(),
        ttft_ms: Tail::default(),
        tpot_ms: Tail::default(),
        e2el_ms: Tail::default(),
        saturated,
    }
}

impl Prober for Synthetic {
    async fn epoch(&mut self, load: f64, index: u32) -> Result<ProbeEpoch, RunError> {
        self.calls.push((load, index));
        let p = (1.0 - self.slope * ((load - self.cap) / self.cap).max(0.0)).clamp(0.0, 1.0);
        let sent = 200;
        let good = (0..sent).filter(|_| self.rng.random::<f64>() < p).count();
        let sat = (self.saturates && load > 1.5 * self.cap).then(|| "saturated: test".into());
        Ok(epoch(sent, good, sat))
    }
}

fn slo() -> CapacitySlo {
    CapacitySlo {
        per_request: Slo {
            ttft_ms: Some(100.0),
            ..Slo::default()
        },
        goodput_ratio: 0.9,
        percentiles: Vec::new(),
    }
}

fn settings() -> CapacitySearch {
    CapacitySearch {
        min: 1.0,
        max: 1000.0,
        precision: 0.05,
        epochs: 2,
        max_epochs: 5,
        boundary_epochs: 4,
        ..CapacitySearch::new(CapacityMode::Rate, slo())
    }
}

async fn run(s: &CapacitySearch, p: &mut impl Prober) -> SearchOutcome {
    let mut seen: Vec<Probe> = Vec::new();
    let out = search(s, p, &mut |pr| seen.push(pr.clone())).await.unwrap();
    assert!(!seen.is_empty());
    out
}

#[tokio::test]
async fn the_interval_brackets_the_true_capacity_for_many_seeds() {
    let s = settings();
    for seed in 0..20 {
        let cap = 37.0 + seed as f64;
        // The ratio reaches 0.9 at 5 % overload.
        let target_load = cap * (1.0 + (1.0 - 0.9) / 2.0);
        let mut p = Synthetic::new(cap, seed);
        let out = run(&s, &mut p).await;
        let (lo, hi) = (out.lo.unwrap(), out.hi.unwrap());
        assert!(lo < hi, "{seed}: {lo} {hi}");
        // The binomial noise may move a judgement by a few percent of load.
        assert!(
            lo <= target_load * 1.02 && hi >= target_load * 0.98,
            "seed {seed}: [{lo}, {hi}] misses {target_load}"
        );
        // Each gap beside the probes left uncertain is bisected to the
        // precision; those probes lie inside, where the ratio is near 0.9.
        assert!(hi - lo <= 3.0 * s.precision * lo + 1e-9, "{lo} {hi}");
        let at = |x: f64| out.probes.iter().find(|p| p.load == x).unwrap();
        assert_eq!(at(hi).side, Side::Fail, "the upper end failed");
        for p in out.probes.iter().filter(|p| p.load > lo && p.load < hi) {
            assert_eq!(p.side, Side::Uncertain, "{}", p.load);
            assert!(p.load > cap, "{} is not above the capacity {cap}", p.load);
        }
        let est = out.estimate.unwrap();
        assert!((lo..=hi).contains(&est));
        assert!(
            (est / target_load - 1.0).abs() < 0.05,
            "{est} vs {target_load}"
        );
        // The boundary was replicated.
        assert!(at(lo).epochs.len() >= s.boundary_epochs as usize);
        assert_eq!(at(lo).side, Side::Pass);
        // Probes are in load order.
        assert!(out.probes.windows(2).all(|w| w[0].load < w[1].load));
    }
}

/// A prober whose epochs at `load` alternate between good and bad
/// ratios, so that its interval straddles the target.
struct Straddle {
    noisy: f64,
    calls: usize,
}

impl Prober for Straddle {
    async fn epoch(&mut self, load: f64, index: u32) -> Result<ProbeEpoch, RunError> {
        self.calls += 1;
        let good = if load < self.noisy {
            200
        } else if load > self.noisy {
            0
        } else if index % 2 == 0 {
            200
        } else {
            160
        };
        Ok(epoch(200, good, None))
    }
}

#[tokio::test]
async fn an_uncertain_probe_is_replicated_up_to_the_cap_and_lies_inside_the_interval() {
    let s = CapacitySearch {
        min: 8.0,
        max: 64.0,
        growth: 2.0,
        ..settings()
    };
    let mut p = Straddle {
        noisy: 16.0,
        calls: 0,
    };
    let out = run(&s, &mut p).await;
    let noisy = out.probes.iter().find(|p| p.load == 16.0).unwrap();
    // Judged after 2 epochs (uncertain), replicated one at a time to the cap.
    assert_eq!(noisy.side, Side::Uncertain, "{}", noisy.reason);
    assert_eq!(noisy.epochs.len(), s.max_epochs as usize);
    assert!(noisy.reason.contains("straddles"), "{}", noisy.reason);
    // Not shown to fail, 16 is no end: the bracket grew to 32 (which
    // fails), and both gaps beside 16 were bisected to the precision.
    let (lo, hi) = (out.lo.unwrap(), out.hi.unwrap());
    assert!(lo < 16.0 && 16.0 < hi, "[{lo}, {hi}]");
    assert!(16.0 - lo <= s.precision * lo, "{lo}");
    assert!(hi - 16.0 <= s.precision * lo, "{hi}");
    assert!(out.probes.iter().any(|p| p.load == 32.0));
    let at = |x: f64| out.probes.iter().find(|p| p.load == x).unwrap();
    assert_eq!(at(hi).side, Side::Fail);
    assert!(!out.notes.iter().any(|n| n.contains("not shown to fail")));
}

#[tokio::test]
async fn an_upper_end_never_shown_to_fail_is_said_so() {
    // Up to --max nothing fails; the top is uncertain: it is the upper
    // end, and the result says it was not shown to fail.
    let s = CapacitySearch {
        min: 8.0,
        max: 16.0,
        ..settings()
    };
    let mut p = Straddle {
        noisy: 16.0,
        calls: 0,
    };
    let out = run(&s, &mut p).await;
    let lo = out.lo.unwrap();
    assert_eq!(out.hi, Some(16.0));
    assert!(lo < 16.0 && 16.0 - lo <= s.precision * lo, "{lo}");
    assert!(out.notes.iter().any(|n| n.contains("not shown to fail")));
}

#[tokio::test]
async fn a_saturated_probe_fails_after_two_saturated_epochs() {
    let mut p = Synthetic::new(20.0, 7);
    p.saturates = true;
    let out = run(&settings(), &mut p).await;
    let sat: Vec<&Probe> = out.probes.iter().filter(|p| p.saturated()).collect();
    assert!(!sat.is_empty());
    for p in sat {
        assert_eq!(p.side, Side::Fail);
        assert_eq!(
            p.epochs.len(),
            crate::metrics::capacity::SATURATED_EPOCHS,
            "stopped as soon as two epochs were saturated"
        );
        assert!(p.reason.starts_with("saturated"), "{}", p.reason);
    }
}

#[tokio::test]
async fn open_ends_when_the_lowest_fails_or_the_highest_passes() {
    let s = CapacitySearch {
        min: 50.0,
        max: 400.0,
        ..settings()
    };
    let out = run(&s, &mut Synthetic::new(10.0, 1)).await;
    assert_eq!((out.lo, out.hi), (None, Some(50.0)));
    assert_eq!(out.estimate, None);
    let out = run(&s, &mut Synthetic::new(10_000.0, 1)).await;
    assert_eq!((out.lo, out.hi), (Some(400.0), None));
    // 50, 100, 200, 400: doubling, capped at --max.
    let loads: Vec<f64> = out.probes.iter().map(|p| p.load).collect();
    assert_eq!(loads, vec![50.0, 100.0, 200.0, 400.0]);
}

#[tokio::test]
async fn concurrency_steps_are_whole_and_stop_at_one_apart() {
    let s = CapacitySearch {
        mode: CapacityMode::Concurrency,
        min: 1.0,
        max: 256.0,
        precision: 0.01,
        ..settings()
    };
    let out = run(&s, &mut Synthetic::new(13.0, 3)).await;
    assert!(out.probes.iter().all(|p| p.load.fract() == 0.0));
    let (lo, hi) = (out.lo.unwrap(), out.hi.unwrap());
    assert_eq!(hi - lo, 1.0, "{lo} {hi}");
    assert!((13.0..=15.0).contains(&lo), "{lo}");
}

#[test]
fn bad_settings_name_their_flag() {
    let flag = |s: CapacitySearch| match s.validate() {
        Err(RunError::BadSetting { flag, .. }) => flag,
        other => panic!("{other:?}"),
    };
    let ok = settings();
    assert!(ok.validate().is_ok());
    assert_eq!(
        flag(CapacitySearch {
            epochs: 1,
            ..ok.clone()
        }),
        "--epochs"
    );
    assert_eq!(
        flag(CapacitySearch {
            max: 0.5,
            ..ok.clone()
        }),
        "--max"
    );
    assert_eq!(
        flag(CapacitySearch {
            precision: 0.0,
            ..ok.clone()
        }),
        "--precision"
    );
    assert_eq!(
        flag(CapacitySearch {
            growth: 1.0,
            ..ok.clone()
        }),
        "--growth"
    );
    assert_eq!(
        flag(CapacitySearch {
            max_epochs: 1,
            ..ok.clone()
        }),
        "--max-epochs"
    );
    let mut s = ok.clone();
    s.slo.goodput_ratio = 1.5;
    assert_eq!(flag(s), "--goodput-ratio");
    let mut s = ok.clone();
    s.slo.per_request = Slo::default();
    assert_eq!(flag(s), "--slo");
    let s = CapacitySearch {
        mode: CapacityMode::Concurrency,
        min: 1.5,
        ..ok
    };
    assert_eq!(flag(s), "--min");
}

#[test]
fn judging_reads_every_objective() {
    let mut slo = slo();
    slo.percentiles = vec![crate::metrics::capacity::PercentileSlo {
        metric: crate::metrics::capacity::LatencyMetric::Ttft,
        percentile: 99.0,
        limit_ms: 100.0,
    }];
    let e = |ratio_good: usize, p99: f64| {
        let mut x = epoch(100, ratio_good, None);
        x.slo_values = vec![Some(p99)];
        x
    };
    let (objs, side, _) = judge(&[e(100, 50.0), e(100, 55.0)], &slo, 0.95);
    assert_eq!(objs.len(), 2);
    assert_eq!(side, Side::Pass);
    // Two epochs: t(1) is wide; three decide.
    let (_, side, _) = judge(&[e(100, 150.0), e(100, 160.0)], &slo, 0.95);
    assert_eq!(side, Side::Uncertain);
    let (_, side, why) = judge(&[e(100, 150.0), e(100, 160.0), e(100, 155.0)], &slo, 0.95);
    assert_eq!(side, Side::Fail);
    assert!(why.starts_with("ttft_p99"), "{why}");
    let (_, side, why) = judge(&[e(100, 50.0), e(100, 140.0)], &slo, 0.95);
    assert_eq!(side, Side::Uncertain, "{why}");
}
