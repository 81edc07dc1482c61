//! Run-to-run noise measured as statistics: seeded simulations of
//! comparisons between whole runs when each run carries its own offset (a
//! busier host, a warmer server), with and without the noise estimated
//! from earlier runs ([`super::run_noise`]). The rates are printed with
//! `cargo test --release --lib calibration_runs -- --nocapture` and stated
//! in the README.
//!
//! The model: `ln(request value) = ln(100) + run offset (sd run_sd) + epoch
//! offset (sd epoch_sd) + request noise (sd request_sd)`, 32 requests an
//! epoch, the epoch figure being the median request. Scaling the new run by
//! `1 + change` makes the true change of the means exactly `change`.

use rand::rngs::SmallRng;
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};

use super::{
    apply_holm, compare, run_noise, CompareConfig, Comparison, Direction, EpochStatistic, Epochs,
    Verdict,
};

const REQUESTS: usize = 32;
const TRIALS: u64 = 2_000;

#[derive(Clone, Copy)]
struct Model {
    run_sd: f64,
    epoch_sd: f64,
    request_sd: f64,
}

/// The machine this was seen on: the shipped benchmarks at a tenth of the
/// simulator's speed moved 3 to 4 % from run to run, as much as an epoch.
const SHARED_HOST: Model = Model {
    run_sd: 0.035,
    epoch_sd: 0.03,
    request_sd: 0.10,
};

/// One run's epoch figures (the median request of each epoch).
fn run(scale: f64, m: Model, epochs: usize, rng: &mut SmallRng) -> Vec<f64> {
    let r = Normal::new(0.0, m.run_sd).unwrap().sample(rng);
    let e = Normal::new(0.0, m.epoch_sd).unwrap();
    let q = Normal::new(0.0, m.request_sd).unwrap();
    let per_epoch: Vec<Vec<f64>> = (0..epochs)
        .map(|_| {
            let o = e.sample(rng);
            (0..REQUESTS)
                .map(|_| 100.0 * scale * (r + o + q.sample(rng)).exp())
                .collect()
        })
        .collect();
    Epochs::Requests(&per_epoch, &EpochStatistic::Median).figures()
}

/// One metric of two runs compared, `history` earlier runs (0: none)
/// giving the run-to-run noise.
fn trial(change: f64, m: Model, epochs: usize, history: usize, seed: u64) -> Comparison {
    let mut rng = SmallRng::seed_from_u64(seed);
    let base = run(1.0, m, epochs, &mut rng);
    let new = run(1.0 + change, m, epochs, &mut rng);
    // The baseline is one of the runs on record, as it is on disk.
    let mut earlier: Vec<Vec<f64>> = (1..history)
        .map(|_| run(1.0, m, epochs, &mut rng))
        .collect();
    if history > 0 {
        earlier.push(base.clone());
    }
    let views: Vec<&[f64]> = earlier.iter().map(Vec::as_slice).collect();
    let cfg = CompareConfig {
        run_noise: run_noise(&views),
        ..CompareConfig::default()
    };
    compare(
        &Epochs::Figures(&base),
        &Epochs::Figures(&new),
        Direction::LowerIsBetter,
        &cfg,
    )
}

fn coverage(change: f64, m: Model, epochs: usize, history: usize, salt: u64) -> f64 {
    (0..TRIALS)
        .filter(|t| {
            let c = trial(change, m, epochs, history, salt * 1_000_003 + t);
            c.ci_low <= change && change <= c.ci_high
        })
        .count() as f64
        / TRIALS as f64
}

#[test]
fn without_the_run_noise_intervals_undercover_and_with_it_they_cover() {
    let m = SHARED_HOST;
    let alone = coverage(0.0, m, 5, 0, 1);
    println!(
        "run-to-run noise 3.5 %, 5 epochs: the epochs alone cover the true change in {:.1} % of {TRIALS}",
        alone * 100.0
    );
    assert!(alone < 0.85, "the model should show the problem: {alone}");
    let mut worst = (1.0f64, 0.0f64);
    for history in [5, 10, 20] {
        for change in [0.0, 0.10] {
            let c = coverage(
                change,
                m,
                5,
                history,
                10 + history as u64 + (change * 100.0) as u64,
            );
            println!(
                "run-to-run noise 3.5 %, 5 epochs, noise from {history} earlier runs, change {:+.0} %: covered in {:.1} %",
                change * 100.0,
                c * 100.0
            );
            worst = (worst.0.min(c), worst.1.max(c));
        }
    }
    assert!(
        worst.0 >= 0.93 && worst.1 <= 0.97,
        "coverage with the run noise outside 93-97 %: {worst:?}"
    );
}

#[test]
fn with_no_run_noise_the_history_costs_little_power() {
    // A machine whose runs move only as their epochs explain: the estimate
    // is mostly 0, and a 10 % slowdown is found about as often as without.
    let quiet = Model {
        run_sd: 0.0,
        ..SHARED_HOST
    };
    let found = |history: usize| {
        (0..TRIALS)
            .filter(|t| {
                trial(0.10, quiet, 5, history, 90_000_000 + t).verdict == Verdict::Regressed
            })
            .count() as f64
            / TRIALS as f64
    };
    let (alone, with) = (found(0), found(10));
    println!(
        "no run-to-run noise, +10 %, 5 epochs: found in {:.1} % without history, {:.1} % with 10 earlier runs",
        alone * 100.0,
        with * 100.0
    );
    assert!(with > alone - 0.08, "{alone} vs {with}");
}

#[test]
fn a_a_gates_with_the_run_noise_keep_their_false_alarm_rate() {
    let m = SHARED_HOST;
    let gates = |history: usize| {
        (0..TRIALS / 2)
            .filter(|t| {
                // 5 gated metrics, each its own pair of runs (the worst case for a family).
                let mut rng = SmallRng::seed_from_u64(50_000_000 + t);
                let seeds: Vec<u64> = (0..5).map(|_| rand::Rng::random(&mut rng)).collect();
                let mut family: Vec<Comparison> = seeds
                    .iter()
                    .map(|s| trial(0.0, m, 5, history, *s))
                    .collect();
                apply_holm(&mut family, 0.05);
                family
                    .iter()
                    .any(|c| matches!(c.verdict, Verdict::Regressed | Verdict::Improved))
            })
            .count() as f64
            / (TRIALS / 2) as f64
    };
    let (alone, with) = (gates(0), gates(10));
    println!(
        "A/A gates of 5 metrics, run-to-run noise 3.5 %: a false verdict in {:.1} % without history, {:.1} % with 10 earlier runs",
        alone * 100.0,
        with * 100.0
    );
    assert!(with <= 0.06, "{with}");
}
