//! Bootstrap confidence intervals over epochs (and requests within epochs).

use rand::rngs::SmallRng;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use super::epochs::{Epochs, Resampler, Scratch};
use super::summary::percentile;

/// Resamples drawn when a configuration does not say.
///
/// 100,000 two-level resamples of 10 epochs x 1,000 requests take about a
/// second or two per side on two cores; 10,000 keep the interval ends
/// within a few tenths of a percent of that and leave room for many metrics.
pub const DEFAULT_NRESAMPLES: usize = 10_000;

/// How a bootstrap interval is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BootstrapConfig {
    /// Confidence level of the interval, e.g. `0.95`.
    pub confidence: f64,
    /// Number of bootstrap resamples.
    pub nresamples: usize,
    /// Seed of the resampling: the same seed gives the same interval.
    pub seed: u64,
}

impl Default for BootstrapConfig {
    fn default() -> Self {
        BootstrapConfig {
            confidence: 0.95,
            nresamples: DEFAULT_NRESAMPLES,
            seed: 0,
        }
    }
}

/// A point estimate with its bootstrap percentile interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// Mean of the observed epoch figures.
    pub point: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub confidence: f64,
    /// Number of (non-empty) epochs the estimate rests on.
    pub epochs: usize,
}

/// The mean of the epoch figures, with a bootstrap percentile interval.
///
/// Each resample draws epochs with replacement and, for
/// [`Epochs::Requests`], the requests of each drawn epoch with replacement,
/// then takes the mean of the resampled epoch figures. `None` when there is
/// no non-empty epoch. Deterministic for a given `cfg.seed`, whatever the
/// number of threads.
///
/// ```
/// use servebench::stats::{bootstrap_ci, BootstrapConfig, EpochStatistic, Epochs};
/// let ttft = vec![vec![10.0, 11.0, 12.0], vec![11.0, 12.0, 13.0], vec![9.0, 10.0, 14.0]];
/// let cfg = BootstrapConfig { nresamples: 2_000, ..Default::default() };
/// let e = bootstrap_ci(&Epochs::Requests(&ttft, &EpochStatistic::Median), &cfg).unwrap();
/// assert_eq!(e.point, 11.0);
/// assert!(e.ci_low <= 11.0 && 11.0 <= e.ci_high);
/// ```
pub fn bootstrap_ci(epochs: &Epochs<'_>, cfg: &BootstrapConfig) -> Option<Estimate> {
    let resampler = Resampler::new(epochs);
    let figures = resampler.figures();
    if figures.is_empty() {
        return None;
    }
    let point = figures.iter().sum::<f64>() / figures.len() as f64;
    let means = resample(cfg.nresamples, cfg.seed, |rng, scratch| {
        resampler.resample_mean(rng, scratch)
    });
    let (ci_low, ci_high) = percentile_interval(means, cfg.confidence).unwrap_or((point, point));
    Some(Estimate {
        point,
        ci_low,
        ci_high,
        confidence: cfg.confidence,
        epochs: figures.len(),
    })
}

/// The central `confidence` interval of bootstrap replicates (percentile
/// method). `None` for no replicates.
pub(crate) fn percentile_interval(mut reps: Vec<f64>, confidence: f64) -> Option<(f64, f64)> {
    if reps.is_empty() {
        return None;
    }
    reps.sort_unstable_by(f64::total_cmp);
    let tail = (1.0 - confidence.clamp(0.0, 1.0)) / 2.0 * 100.0;
    // Interpolating between two infinite replicates gives NaN: take the
    // nearest replicate instead.
    let at = |p: f64| {
        let nearest = || reps.get((p / 100.0 * (reps.len() - 1) as f64).round() as usize);
        percentile(&reps, p)
            .filter(|x| !x.is_nan())
            .or_else(|| nearest().copied())
    };
    Some((at(tail)?, at(100.0 - tail)?))
}

/// Resamples handed to one RNG stream: the unit of work of the threads.
const CHUNK: usize = 1024;

/// Runs `one` `n` times and returns its results in order. Resample `i`
/// belongs to chunk `i / CHUNK`, whose RNG is seeded from `(seed, chunk)`,
/// so the output does not depend on how many threads ran. Buffers live in
/// one [`Scratch`] per thread; nothing is allocated per resample.
pub(crate) fn resample<F>(n: usize, seed: u64, one: F) -> Vec<f64>
where
    F: Fn(&mut SmallRng, &mut Scratch) -> f64 + Sync,
{
    let mut out = vec![0.0; n];
    let run = |jobs: Vec<(usize, &mut [f64])>| {
        let mut scratch = Scratch::default();
        for (chunk, slots) in jobs {
            let stream = seed ^ (chunk as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let mut rng = SmallRng::seed_from_u64(stream);
            for slot in slots {
                *slot = one(&mut rng, &mut scratch);
            }
        }
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, |t| t.get())
        .min(n.div_ceil(CHUNK))
        .max(1);
    let mut jobs: Vec<Vec<(usize, &mut [f64])>> = (0..threads).map(|_| Vec::new()).collect();
    for (chunk, slots) in out.chunks_mut(CHUNK).enumerate() {
        jobs[chunk % threads].push((chunk, slots));
    }
    if threads == 1 {
        jobs.into_iter().for_each(run);
    } else {
        std::thread::scope(|s| {
            let run = &run;
            for job in jobs {
                s.spawn(move || run(job));
            }
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::EpochStatistic;
    use rand_distr::{Distribution, Normal};
    use std::time::Instant;

    fn synthetic(epochs: usize, requests: usize, seed: u64) -> Vec<Vec<f64>> {
        let mut rng = SmallRng::seed_from_u64(seed);
        let d = Normal::new(100.0, 10.0).unwrap();
        (0..epochs)
            .map(|_| (0..requests).map(|_| d.sample(&mut rng)).collect())
            .collect()
    }

    #[test]
    fn interval_is_deterministic_and_brackets_the_point() {
        let data = synthetic(8, 200, 1);
        let cfg = BootstrapConfig {
            nresamples: 5_000,
            seed: 42,
            ..Default::default()
        };
        let e = Epochs::Requests(&data, &EpochStatistic::Percentile(90.0));
        let a = bootstrap_ci(&e, &cfg).unwrap();
        assert_eq!(a, bootstrap_ci(&e, &cfg).unwrap());
        assert!(a.ci_low < a.point && a.point < a.ci_high, "{a:?}");
        assert_eq!(a.epochs, 8);
        let other = BootstrapConfig { seed: 43, ..cfg };
        assert_ne!(a, bootstrap_ci(&e, &other).unwrap());
    }

    #[test]
    fn two_levels_are_wider_than_epoch_figures_alone() {
        // With 10 requests per epoch, request-level resampling adds the
        // within-epoch uncertainty that resampling fixed figures ignores.
        let data = synthetic(6, 10, 2);
        let cfg = BootstrapConfig {
            nresamples: 5_000,
            seed: 1,
            ..Default::default()
        };
        let two = bootstrap_ci(&Epochs::Requests(&data, &EpochStatistic::Mean), &cfg).unwrap();
        let figs = Epochs::Requests(&data, &EpochStatistic::Mean).figures();
        let one = bootstrap_ci(&Epochs::Figures(&figs), &cfg).unwrap();
        assert!((two.point - one.point).abs() < 1e-9);
        assert!(
            two.ci_high - two.ci_low > 1.2 * (one.ci_high - one.ci_low),
            "{two:?} {one:?}"
        );
    }

    #[test]
    fn empty_and_constant_inputs() {
        let cfg = BootstrapConfig {
            nresamples: 100,
            ..Default::default()
        };
        assert!(bootstrap_ci(&Epochs::Figures(&[]), &cfg).is_none());
        let empty: Vec<Vec<f64>> = vec![vec![], vec![]];
        assert!(bootstrap_ci(&Epochs::Requests(&empty, &EpochStatistic::Mean), &cfg).is_none());
        let c = bootstrap_ci(&Epochs::Figures(&[5.0; 4]), &cfg).unwrap();
        assert_eq!((c.point, c.ci_low, c.ci_high), (5.0, 5.0, 5.0));
        let none = BootstrapConfig {
            nresamples: 0,
            ..cfg
        };
        assert_eq!(
            bootstrap_ci(&Epochs::Figures(&[1.0, 3.0]), &none)
                .unwrap()
                .ci_low,
            2.0
        );
    }

    /// `cargo test --release --lib timing -- --ignored --nocapture`
    #[test]
    #[ignore = "timing report, not a check"]
    fn timing_100k_resamples_10x1000() {
        let data = synthetic(10, 1000, 3);
        for stat in [
            EpochStatistic::Mean,
            EpochStatistic::Median,
            EpochStatistic::Percentile(99.0),
        ] {
            let cfg = BootstrapConfig {
                nresamples: 100_000,
                ..Default::default()
            };
            let t = Instant::now();
            let e = bootstrap_ci(&Epochs::Requests(&data, &stat), &cfg).unwrap();
            println!("{stat:?}: {:?} for 100k resamples: {e:?}", t.elapsed());
        }
        let new = synthetic(10, 1000, 4);
        let cfg = crate::stats::CompareConfig {
            nresamples: 100_000,
            ..Default::default()
        };
        let p99 = EpochStatistic::Percentile(99.0);
        let t = Instant::now();
        let c = crate::stats::compare(
            &Epochs::Requests(&data, &p99),
            &Epochs::Requests(&new, &p99),
            crate::stats::Direction::LowerIsBetter,
            &cfg,
        );
        println!("compare p99, 100k resamples: {:?}: {c:?}", t.elapsed());
    }
}
