//! Verdicts of `compare` on clear, tiny, absent and unjudgeable changes.

use super::*;
use crate::stats::EpochStatistic;
use rand::rngs::SmallRng;
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};

/// `epochs` epochs of `requests` normal values around `mean` (sd 5 %),
/// each epoch shifted by its own normal offset (sd 1 % of `mean`).
fn run(mean: f64, epochs: usize, requests: usize, seed: u64) -> Vec<Vec<f64>> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let offset = Normal::new(0.0, 0.01 * mean).unwrap();
    let noise = Normal::new(0.0, 0.05 * mean).unwrap();
    (0..epochs)
        .map(|_| {
            let o = offset.sample(&mut rng);
            (0..requests)
                .map(|_| mean + o + noise.sample(&mut rng))
                .collect()
        })
        .collect()
}

fn cfg() -> CompareConfig {
    CompareConfig {
        nresamples: 2_000,
        seed: 9,
        ..Default::default()
    }
}

fn median(values: &[Vec<f64>]) -> Epochs<'_> {
    Epochs::Requests(values, &EpochStatistic::Median)
}

#[test]
fn clear_regression_of_a_latency() {
    let (base, new) = (run(100.0, 5, 200, 1), run(110.0, 5, 200, 2));
    let c = compare(
        &median(&base),
        &median(&new),
        Direction::LowerIsBetter,
        &cfg(),
    );
    assert_eq!(c.verdict, Verdict::Regressed, "{c:?}");
    assert!((c.rel_change - 0.10).abs() < 0.02, "{c:?}");
    assert!(c.ci_low > 0.02 && c.ci_low < c.rel_change && c.rel_change < c.ci_high);
    assert_eq!(c.test, TestMethod::Welch);
    // The same change is an improvement the other way round.
    let back = compare(
        &median(&new),
        &median(&base),
        Direction::LowerIsBetter,
        &cfg(),
    );
    assert_eq!(back.verdict, Verdict::Improved, "{back:?}");
}

#[test]
fn higher_throughput_is_an_improvement() {
    let (base, new) = (
        [50.0, 50.6, 49.5, 50.2, 49.8],
        [55.1, 55.4, 54.6, 55.0, 55.3],
    );
    let higher = Direction::HigherIsBetter;
    let c = compare(
        &Epochs::Figures(&base),
        &Epochs::Figures(&new),
        higher,
        &cfg(),
    );
    assert_eq!(c.verdict, Verdict::Improved, "{c:?}");
    let c = compare(
        &Epochs::Figures(&new),
        &Epochs::Figures(&base),
        higher,
        &cfg(),
    );
    assert_eq!(c.verdict, Verdict::Regressed, "{c:?}");
}

#[test]
fn small_significant_change_is_within_noise() {
    let base = [100.0, 100.1, 99.9, 100.05, 99.95];
    let new = [100.5, 100.6, 100.4, 100.55, 100.45];
    let c = compare(
        &Epochs::Figures(&base),
        &Epochs::Figures(&new),
        Direction::LowerIsBetter,
        &cfg(),
    );
    assert!(
        c.p_value < 0.001 && (c.rel_change - 0.005).abs() < 1e-9,
        "{c:?}"
    );
    assert_eq!(c.verdict, Verdict::WithinNoise);
}

#[test]
fn identical_distributions_show_no_change() {
    let base = run(100.0, 5, 200, 3);
    let c = compare(
        &median(&base),
        &median(&base),
        Direction::LowerIsBetter,
        &cfg(),
    );
    assert_eq!(
        (c.verdict, c.rel_change, c.p_value),
        (Verdict::NoChange, 0.0, 1.0)
    );
    let constant = vec![vec![7.0; 50]; 4];
    let c = compare(
        &median(&constant),
        &median(&constant),
        Direction::LowerIsBetter,
        &cfg(),
    );
    assert_eq!(
        (c.verdict, c.p_value, c.test),
        (Verdict::NoChange, 1.0, TestMethod::Permutation)
    );
    assert_eq!((c.ci_low, c.ci_high), (0.0, 0.0));
}

#[test]
fn too_few_epochs_are_inconclusive() {
    let (base, new) = (run(100.0, 2, 200, 4), run(150.0, 2, 200, 5));
    let c = compare(
        &median(&base),
        &median(&new),
        Direction::LowerIsBetter,
        &cfg(),
    );
    assert_eq!(c.verdict, Verdict::Inconclusive, "{c:?}");
    assert!(c.rel_change > 0.4);
    // Empty epochs do not count and do not panic.
    let hollow = vec![vec![], vec![1.0], vec![]];
    let c = compare(
        &median(&hollow),
        &median(&new),
        Direction::LowerIsBetter,
        &cfg(),
    );
    assert_eq!((c.verdict, c.base_epochs), (Verdict::Inconclusive, 1));
    let none: Vec<Vec<f64>> = vec![vec![]; 3];
    let c = compare(
        &median(&none),
        &median(&new),
        Direction::LowerIsBetter,
        &cfg(),
    );
    assert_eq!(c.verdict, Verdict::Inconclusive);
    assert!(c.base_estimate.is_nan() && c.ci_low.is_nan());
    let c = compare(
        &Epochs::Figures(&[]),
        &Epochs::Figures(&[]),
        Direction::HigherIsBetter,
        &cfg(),
    );
    assert_eq!(c.verdict, Verdict::Inconclusive);
}

#[test]
fn zero_baseline() {
    let (zero, some) = ([0.0; 4], [0.1, 0.2, 0.15, 0.12]);
    let lower = Direction::LowerIsBetter;
    let c = compare(
        &Epochs::Figures(&zero),
        &Epochs::Figures(&some),
        lower,
        &cfg(),
    );
    assert_eq!(
        (c.rel_change, c.ci_low, c.verdict),
        (f64::INFINITY, f64::INFINITY, Verdict::Regressed)
    );
    let c = compare(
        &Epochs::Figures(&zero),
        &Epochs::Figures(&zero),
        lower,
        &cfg(),
    );
    assert_eq!((c.rel_change, c.verdict), (0.0, Verdict::NoChange));
    assert_eq!(relative_change(-2.0, -1.0), 0.5);
}

#[test]
fn serialises_non_finite_numbers() {
    let c = compare(
        &Epochs::Figures(&[0.0; 3]),
        &Epochs::Figures(&[1.0, 1.1, 0.9]),
        Direction::LowerIsBetter,
        &cfg(),
    );
    let json = serde_json::to_string(&c).unwrap();
    assert!(
        json.contains(r#""rel_change":"inf""#) && json.contains(r#""verdict":"regressed""#),
        "{json}"
    );
    let back: Comparison = serde_json::from_str(&json).unwrap();
    assert_eq!(back, c);
}

#[test]
fn deterministic_for_a_seed() {
    let (base, new) = (run(100.0, 4, 100, 6), run(101.0, 4, 100, 7));
    let p99 = Epochs::Requests(&base, &EpochStatistic::Percentile(99.0));
    let p99_new = Epochs::Requests(&new, &EpochStatistic::Percentile(99.0));
    let a = compare(&p99, &p99_new, Direction::LowerIsBetter, &cfg());
    assert_eq!(a, compare(&p99, &p99_new, Direction::LowerIsBetter, &cfg()));
}
