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
    assert_eq!(c.test, TestMethod::LogRatioT);
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
    // The interval (±2.7 % here) must lie inside the threshold on one side
    // for "no change"; at ±2 % this would be inconclusive.
    let wide = CompareConfig {
        noise_threshold: 0.03,
        ..cfg()
    };
    let c = compare(
        &median(&base),
        &median(&base),
        Direction::LowerIsBetter,
        &wide,
    );
    assert_eq!(
        (c.verdict, c.rel_change, c.p_value),
        (Verdict::NoChange, 0.0, 1.0),
        "{c:?}"
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
        (Verdict::NoChange, 1.0, TestMethod::LogRatioT)
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
    // No ratio to a zero mean: undecided, never a pass.
    assert_eq!(
        (c.rel_change, c.verdict, c.undecided),
        (
            f64::INFINITY,
            Verdict::Inconclusive,
            Some(Undecided::NotPositive)
        )
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
fn constant_change_without_spread_is_never_no_change() {
    // A 20 % change with zero-variance epochs at 3 vs 3.
    let c = compare(
        &Epochs::Figures(&[10.0; 3]),
        &Epochs::Figures(&[12.0; 3]),
        Direction::LowerIsBetter,
        &cfg(),
    );
    assert_eq!(c.verdict, Verdict::Inconclusive, "{c:?}");
    assert_eq!(c.undecided, Some(Undecided::NoSpread));
    assert!(c.explain().contains("no spread"), "{}", c.explain());
    // One side with spread: Welch is defined and the change is found.
    let c = compare(
        &Epochs::Figures(&[10.0; 3]),
        &Epochs::Figures(&[12.0, 12.1, 11.9]),
        Direction::LowerIsBetter,
        &cfg(),
    );
    assert_eq!(c.verdict, Verdict::Regressed, "{c:?}");
}

#[test]
fn interval_and_p_value_agree() {
    // Over many random pairs of epoch figures, the 95 % interval excludes
    // no change exactly when p < 0.05.
    let mut rng = SmallRng::seed_from_u64(42);
    let noise = Normal::new(0.0, 0.04).unwrap();
    let mut checked = 0;
    for trial in 0..3_000 {
        let n = 2 + trial % 9;
        let shift = 1.0 + 0.01 * (trial % 7) as f64;
        let b: Vec<f64> = (0..n)
            .map(|_| 100.0 * (1.0 + noise.sample(&mut rng)))
            .collect();
        let m: Vec<f64> = (0..n + trial % 3)
            .map(|_| 100.0 * shift * (1.0 + noise.sample(&mut rng)))
            .collect();
        let c = compare(
            &Epochs::Figures(&b),
            &Epochs::Figures(&m),
            Direction::LowerIsBetter,
            &cfg(),
        );
        if c.undecided == Some(Undecided::TooFewEpochs) {
            continue;
        }
        let excludes = c.ci_low > 0.0 || c.ci_high < 0.0;
        // Exactly at the boundary both may round either way.
        if (c.p_value - 0.05).abs() > 1e-9 {
            assert_eq!(excludes, c.p_value < 0.05, "{c:?}");
        }
        assert!(
            c.ci_low <= c.rel_change && c.rel_change <= c.ci_high,
            "{c:?}"
        );
        checked += 1;
    }
    assert!(checked > 2_000);
}

#[test]
fn wide_interval_is_inconclusive_with_its_width_and_mde() {
    let base = [100.0, 120.0, 85.0];
    let new = [105.0, 90.0, 125.0];
    let c = compare(
        &Epochs::Figures(&base),
        &Epochs::Figures(&new),
        Direction::LowerIsBetter,
        &cfg(),
    );
    assert_eq!(c.verdict, Verdict::Inconclusive, "{c:?}");
    assert_eq!(c.undecided, Some(Undecided::WideInterval));
    let words = c.explain();
    assert!(
        words.starts_with("Inconclusive: interval ±") && words.contains("MDE"),
        "{words}"
    );
    assert!(c.mde > 0.2, "{c:?}");
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
        json.contains(r#""rel_change":"inf""#) && json.contains(r#""ci_low":"NaN""#),
        "{json}"
    );
    let back: Comparison = serde_json::from_str(&json).unwrap();
    assert_eq!(serde_json::to_string(&back).unwrap(), json);
    assert!(back.rel_change.is_infinite() && back.mde.is_nan());
}

#[test]
fn deterministic_for_a_seed() {
    let (base, new) = (run(100.0, 4, 100, 6), run(101.0, 4, 100, 7));
    let p99 = Epochs::Requests(&base, &EpochStatistic::Percentile(99.0));
    let p99_new = Epochs::Requests(&new, &EpochStatistic::Percentile(99.0));
    let a = compare(&p99, &p99_new, Direction::LowerIsBetter, &cfg());
    assert_eq!(a, compare(&p99, &p99_new, Direction::LowerIsBetter, &cfg()));
}
