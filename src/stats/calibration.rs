//! The comparison measures its own error: A/A runs must rarely give a
//! verdict, and a known slowdown must be found. Rates are printed with
//! `cargo test --release --lib calibration -- --nocapture`.

use rand::rngs::SmallRng;
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};

use super::{compare, CompareConfig, Direction, EpochStatistic, Epochs, Verdict};

/// A simulated run: each epoch has its own offset (server state, sd
/// `epoch_sd`) and each request its own noise (sd `request_sd`).
fn run(
    mean: f64,
    epoch_sd: f64,
    request_sd: f64,
    epochs: usize,
    rng: &mut SmallRng,
) -> Vec<Vec<f64>> {
    let offset = Normal::new(0.0, epoch_sd).unwrap();
    let noise = Normal::new(0.0, request_sd).unwrap();
    (0..epochs)
        .map(|_| {
            let o = offset.sample(rng);
            (0..50).map(|_| mean + o + noise.sample(rng)).collect()
        })
        .collect()
}

/// Verdicts of `trials` comparisons of base mean 100 against `new_mean`,
/// 5 epochs a side, the epoch figure being the median request.
fn verdicts(new_mean: f64, epoch_sd: f64, request_sd: f64, trials: u64) -> (Vec<Verdict>, usize) {
    let mut significant = 0;
    let verdicts = (0..trials)
        .map(|trial| {
            let mut rng = SmallRng::seed_from_u64(1000 + trial);
            let base = run(100.0, epoch_sd, request_sd, 5, &mut rng);
            let new = run(new_mean, epoch_sd, request_sd, 5, &mut rng);
            let cfg = CompareConfig {
                nresamples: 400,
                seed: trial,
                ..Default::default()
            };
            let c = compare(
                &Epochs::Requests(&base, &EpochStatistic::Median),
                &Epochs::Requests(&new, &EpochStatistic::Median),
                Direction::LowerIsBetter,
                &cfg,
            );
            significant += usize::from(c.p_value < cfg.significance);
            c.verdict
        })
        .collect();
    (verdicts, significant)
}

fn rate(v: &[Verdict], pick: impl Fn(Verdict) -> bool) -> f64 {
    v.iter().filter(|&&x| pick(x)).count() as f64 / v.len() as f64
}

#[test]
fn a_a_false_alarms_stay_near_the_significance_level() {
    // Epoch-to-epoch noise (5 %) dominates, so the 2 % noise threshold
    // filters little and the rate tracks the p-value's own calibration.
    let (v, significant) = verdicts(100.0, 5.0, 5.0, 500);
    let false_alarm = rate(&v, |x| matches!(x, Verdict::Regressed | Verdict::Improved));
    let p_rate = significant as f64 / v.len() as f64;
    println!("A/A: p < 0.05 in {p_rate:.3}, Regressed/Improved in {false_alarm:.3} of 500");
    assert!(false_alarm <= 0.10, "{false_alarm}");
    assert!(p_rate <= 0.10, "{p_rate}");
}

#[test]
fn a_b_ten_percent_slowdown_is_found() {
    let (v, _) = verdicts(110.0, 1.0, 5.0, 200);
    let power = rate(&v, |x| x == Verdict::Regressed);
    println!("A/B +10 %: Regressed in {power:.3} of 200");
    assert!(power >= 0.95, "{power}");
    assert_eq!(rate(&v, |x| x == Verdict::Improved), 0.0);
}
