//! The comparison measures its own error, by simulation over independent
//! trials with a known truth: interval coverage, the family-wise false-alarm
//! rate of a gate, and power. The rates are printed with
//! `cargo test --release --lib calibration -- --nocapture` and stated in
//! the README.
//!
//! The model: each epoch has its own multiplicative offset (server state,
//! log-sd `epoch_sd`) and each request its own multiplicative noise (log-sd
//! `request_sd`); 32 requests an epoch; the epoch figure is the median
//! request. Scaling the model's mean by `1 + change` scales every epoch
//! figure's distribution by it, so the true relative change of the means
//! of the epoch figures is exactly `change`.

use rand::rngs::SmallRng;
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};

use super::{apply_holm, compare, CompareConfig, Direction, EpochStatistic, Epochs, Verdict};

/// Requests per epoch.
const REQUESTS: usize = 32;

#[derive(Clone, Copy)]
struct Noise {
    epoch_sd: f64,
    request_sd: f64,
}

const EPOCH_DOMINANT: Noise = Noise {
    epoch_sd: 0.05,
    request_sd: 0.05,
};
const REQUEST_DOMINANT: Noise = Noise {
    epoch_sd: 0.005,
    request_sd: 0.15,
};
/// The reference case: 3 % epoch noise, 12 % request noise.
const TYPICAL: Noise = Noise {
    epoch_sd: 0.03,
    request_sd: 0.12,
};

/// One simulated run's per-request values, epoch by epoch.
fn run(scale: f64, noise: Noise, epochs: usize, rng: &mut SmallRng) -> Vec<Vec<f64>> {
    let offset = Normal::new(0.0, noise.epoch_sd).unwrap();
    let each = Normal::new(0.0, noise.request_sd).unwrap();
    (0..epochs)
        .map(|_| {
            let o = offset.sample(rng);
            (0..REQUESTS)
                .map(|_| 100.0 * scale * (o + each.sample(rng)).exp())
                .collect()
        })
        .collect()
}

/// One metric compared at `epochs` a side, the new side scaled by
/// `1 + change`; `seed` makes the trial independent of every other.
fn trial(change: f64, noise: Noise, epochs: usize, seed: u64) -> super::Comparison {
    let mut rng = SmallRng::seed_from_u64(seed);
    let base = run(1.0, noise, epochs, &mut rng);
    let new = run(1.0 + change, noise, epochs, &mut rng);
    compare(
        &Epochs::Requests(&base, &EpochStatistic::Median),
        &Epochs::Requests(&new, &EpochStatistic::Median),
        Direction::LowerIsBetter,
        &CompareConfig::default(),
    )
}

const TRIALS: u64 = 2_000;

#[test]
fn intervals_cover_the_true_change_as_claimed() {
    let mut worst: (f64, f64) = (1.0, 0.0);
    for (name, noise) in [
        ("epoch-dominant", EPOCH_DOMINANT),
        ("request-dominant", REQUEST_DOMINANT),
        ("typical", TYPICAL),
    ] {
        for epochs in [3, 5, 10] {
            for change in [0.0, 0.10] {
                let covered = (0..TRIALS)
                    .filter(|t| {
                        let seed = 1_000_000 * epochs as u64 + t + (change * 1e4) as u64 * 7919;
                        let c = trial(change, noise, epochs, seed);
                        c.ci_low <= change && change <= c.ci_high
                    })
                    .count() as f64
                    / TRIALS as f64;
                println!(
                    "coverage of nominal 95 %: {name}, {epochs} epochs, change {:+.0} %: {:.1} %",
                    change * 100.0,
                    covered * 100.0
                );
                worst = (worst.0.min(covered), worst.1.max(covered));
            }
        }
    }
    assert!(
        worst.0 >= 0.93 && worst.1 <= 0.97,
        "coverage outside 93-97 %: {worst:?}"
    );
}

/// A gate over `m` gated metrics (independent, the worst case for a
/// family), each with the true `change`; returns whether any metric was
/// judged Regressed or Improved after Holm across the family.
fn gate_trial(m: usize, change: f64, noise: Noise, epochs: usize, seed: u64) -> (bool, bool) {
    let mut family: Vec<super::Comparison> = (0..m)
        .map(|k| trial(change, noise, epochs, seed * 64 + k as u64))
        .collect();
    apply_holm(&mut family, 0.05);
    let regressed = family.iter().any(|c| c.verdict == Verdict::Regressed);
    let improved = family.iter().any(|c| c.verdict == Verdict::Improved);
    (regressed, improved)
}

#[test]
fn a_a_family_wise_false_alarms_stay_at_the_significance_level() {
    let mut worst = 0.0f64;
    for (m, epochs, noise) in [
        (10, 5, TYPICAL),
        (10, 3, EPOCH_DOMINANT),
        (5, 10, REQUEST_DOMINANT),
    ] {
        let alarms = (0..TRIALS)
            .filter(|&t| {
                let (r, i) = gate_trial(m, 0.0, noise, epochs, 7_000_000 + t);
                r || i
            })
            .count() as f64
            / TRIALS as f64;
        println!(
            "A/A, {m} gated metrics, {epochs} epochs: a false verdict in {:.2} % of {TRIALS} gates",
            alarms * 100.0
        );
        worst = worst.max(alarms);
    }
    assert!(worst <= 0.06, "family-wise false alarms {worst}");
}

#[test]
fn power_to_find_a_slowdown() {
    // Power curve of one metric at 5 epochs under the typical noise.
    let mut curve = Vec::new();
    for change in [0.02, 0.05, 0.10] {
        let found = (0..TRIALS)
            .filter(|&t| trial(change, TYPICAL, 5, 9_000_000 + t).verdict == Verdict::Regressed)
            .count() as f64
            / TRIALS as f64;
        println!(
            "power, one metric, 5 epochs, +{:.0} %: Regressed in {:.1} %",
            change * 100.0,
            found * 100.0
        );
        curve.push(found);
    }
    assert!(curve[0] < curve[1] && curve[1] < curve[2], "{curve:?}");
    assert!(
        curve[0] < 0.2,
        "a 2 % change is below the 2 % noise threshold: {curve:?}"
    );
    // The gate (5 gated metrics, all slowed by 10 %) fails in at least 90 %.
    let fails = (0..TRIALS)
        .filter(|&t| gate_trial(5, 0.10, TYPICAL, 5, 11_000_000 + t).0)
        .count() as f64
        / TRIALS as f64;
    println!(
        "gate, 5 gated metrics, 5 epochs, +10 %: fails in {:.1} %",
        fails * 100.0
    );
    assert!(fails >= 0.90, "{fails}");
    // A slowdown is never called an improvement.
    assert!((0..200).all(|t| !gate_trial(5, 0.10, TYPICAL, 5, 13_000_000 + t).1));
}

/// Epoch figures with relative (log) noise `sd` around `100 * scale`.
fn figures(scale: f64, sd: f64, n: u32, rng: &mut SmallRng) -> Vec<f64> {
    let z = Normal::new(0.0, sd).unwrap();
    (0..n)
        .map(|_| 100.0 * scale * z.sample(rng).exp())
        .collect()
}

/// How often a comparison at `n` epochs a side finds a change of `change`
/// (p below 0.05) with epoch noise `sd`.
fn detection(change: f64, sd: f64, n: u32, seed: u64) -> f64 {
    (0..TRIALS)
        .filter(|t| {
            let mut rng = SmallRng::seed_from_u64(seed + t);
            let b = figures(1.0, sd, n, &mut rng);
            let x = figures(1.0 + change, sd, n, &mut rng);
            let c = compare(
                &Epochs::Figures(&b),
                &Epochs::Figures(&x),
                Direction::LowerIsBetter,
                &CompareConfig::default(),
            );
            c.p_value < 0.05
        })
        .count() as f64
        / TRIALS as f64
}

#[test]
fn the_mde_and_the_recommended_epochs_keep_their_power() {
    use crate::analysis::{epochs_for, mde_for};
    // With the noise known: the recommended epochs find a change of the
    // target size with about the 80 % the MDE promises; one epoch fewer
    // would not.
    let (sd, target) = (0.03, 0.05);
    let n = epochs_for(sd, target, 0.05, 50).unwrap();
    assert!(mde_for(sd, n, 0.05) <= target);
    let at_n = detection(target, sd, n, 20_000_000);
    let below = detection(target, sd, n - 1, 21_000_000);
    println!(
        "recommended {n} epochs for a {:.0} % MDE at {:.0} % noise: found in {:.1} % \
         ({} epochs: {:.1} %)",
        target * 100.0,
        sd * 100.0,
        at_n * 100.0,
        n - 1,
        below * 100.0
    );
    assert!((0.76..=0.92).contains(&at_n), "{at_n}");
    assert!(below < at_n);
    // The whole loop: the noise estimated from 10 A/A epochs, epochs
    // recommended from it, then the change sought at those epochs.
    let mut found = 0usize;
    let trials = 1_000u64;
    for t in 0..trials {
        let mut rng = SmallRng::seed_from_u64(22_000_000 + t);
        let aa = figures(1.0, sd, 10, &mut rng);
        let m = aa.iter().sum::<f64>() / 10.0;
        let est = (aa.iter().map(|v| (v - m).powi(2)).sum::<f64>() / 9.0).sqrt() / m;
        let k = epochs_for(est, target, 0.05, 50).unwrap_or(50);
        let b = figures(1.0, sd, k, &mut rng);
        let x = figures(1.0 + target, sd, k, &mut rng);
        let c = compare(
            &Epochs::Figures(&b),
            &Epochs::Figures(&x),
            Direction::LowerIsBetter,
            &CompareConfig::default(),
        );
        found += usize::from(c.p_value < 0.05);
    }
    let rate = found as f64 / trials as f64;
    println!(
        "calibrated from 10 A/A epochs, then compared at the recommended epochs: a {:.0} % \
         change found in {:.1} % of {trials}",
        target * 100.0,
        rate * 100.0
    );
    assert!(rate >= 0.65, "{rate}");
}

#[test]
fn paired_ab_intervals_cover_under_shared_drift() {
    use super::compare_paired;
    // Each pair of epochs (A then B, or B then A) shares the machine's state
    // at that time (log-sd 5 %, the drift) and each epoch has its own noise
    // (log-sd 1 %). The paired interval must keep its coverage; the
    // unpaired one, blind to the pairing, is far too wide to find a 3 %
    // change that the pairs see.
    let (shared, own): (f64, f64) = (0.05, 0.01);
    let mut worst: (f64, f64) = (1.0, 0.0);
    for pairs in [4usize, 6, 10] {
        for change in [0.0, 0.03] {
            let mut covered = 0;
            let (mut paired_found, mut unpaired_found) = (0, 0);
            for t in 0..TRIALS {
                let mut rng = SmallRng::seed_from_u64(30_000_000 + 1000 * pairs as u64 + t);
                let s = Normal::new(0.0, shared).unwrap();
                let e = Normal::new(0.0, own).unwrap();
                let (mut a, mut b) = (Vec::new(), Vec::new());
                for _ in 0..pairs {
                    let o: f64 = s.sample(&mut rng);
                    a.push(100.0 * (o + e.sample(&mut rng)).exp());
                    b.push(100.0 * (1.0 + change) * (o + e.sample(&mut rng)).exp());
                }
                let cfg = CompareConfig::default();
                let c = compare_paired(&a, &b, Direction::LowerIsBetter, &cfg);
                // The paired estimand: the geometric mean ratio, exactly 1 + change.
                covered += usize::from(c.ci_low <= change && change <= c.ci_high);
                paired_found += usize::from(c.verdict == Verdict::Regressed);
                let u = super::compare_figures(&a, &b, Direction::LowerIsBetter, &cfg);
                unpaired_found += usize::from(u.verdict == Verdict::Regressed);
            }
            let cov = covered as f64 / TRIALS as f64;
            println!(
                "paired A/B, {pairs} pairs, change {:+.0} %: coverage {:.1} %, found \
                 paired {:.1} %, unpaired {:.1} %",
                change * 100.0,
                cov * 100.0,
                100.0 * paired_found as f64 / TRIALS as f64,
                100.0 * unpaired_found as f64 / TRIALS as f64
            );
            worst = (worst.0.min(cov), worst.1.max(cov));
            if change == 0.0 {
                assert!(
                    (paired_found as f64) / (TRIALS as f64) < 0.03,
                    "A/A false regressions"
                );
            } else if pairs == 10 {
                assert!(paired_found > 2 * unpaired_found + TRIALS as usize / 4);
            }
        }
    }
    assert!(
        worst.0 >= 0.93 && worst.1 <= 0.97,
        "paired coverage outside 93-97 %: {worst:?}"
    );
}
