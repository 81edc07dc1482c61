//! How often the reported interval `[lo, hi]` holds the true capacity,
//! measured over many seeded searches of a synthetic server whose capacity
//! is known. `cargo test --release --lib coverage -- --nocapture` prints the
//! figures the README quotes.
//!
//! The server: each request's TTFT is `mu(load) + offset + noise`, with
//! `mu` growing with the load, `offset` drawn once per epoch (a slow
//! neighbour, a warm cache: epochs differ by more than their requests'
//! binomial noise) and `noise` per request; a request is good when its
//! TTFT is at most the limit. The expected good ratio at a load is then
//! `Φ((limit − mu) / √(σ_req² + σ_epoch²))`, and the true capacity is the
//! load where it equals the required goodput ratio.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};
use statrs::distribution::{ContinuousCDF, Normal as StdNormal};

use super::*;
use crate::metrics::capacity::{ProbeEpoch, Tail};
use crate::metrics::Slo;

/// TTFT limit, ms.
const LIMIT: f64 = 100.0;
/// Required share of good requests.
const RATIO: f64 = 0.9;

/// A server whose mean TTFT is `40 + 60 (load / scale)²` ms.
struct Noisy {
    scale: f64,
    sigma_req: f64,
    sigma_epoch: f64,
    sent: usize,
    rng: StdRng,
}

impl Noisy {
    fn mu(&self, load: f64) -> f64 {
        40.0 + 60.0 * (load / self.scale).powi(2)
    }

    /// The load whose expected good ratio is [`RATIO`].
    fn true_capacity(&self) -> f64 {
        let z = StdNormal::new(0.0, 1.0).unwrap().inverse_cdf(RATIO);
        let sd = (self.sigma_req.powi(2) + self.sigma_epoch.powi(2)).sqrt();
        // mu(x) = LIMIT - z sd
        self.scale * ((LIMIT - z * sd - 40.0) / 60.0).sqrt()
    }
}

impl Prober for Noisy {
    async fn epoch(&mut self, load: f64, _index: u32) -> Result<ProbeEpoch, RunError> {
        let offset = Normal::new(0.0, self.sigma_epoch.max(1e-12))
            .unwrap()
            .sample(&mut self.rng);
        let per = Normal::new(0.0, self.sigma_req).unwrap();
        let mu = self.mu(load) + offset;
        let good = (0..self.sent)
            .filter(|_| mu + per.sample(&mut self.rng) <= LIMIT)
            .count();
        Ok(ProbeEpoch {
            sent: self.sent,
            failed: 0,
            good,
            goodput_ratio: good as f64 / self.sent as f64,
            slo_values: Vec::new(),
            ttft_ms: Tail::default(),
            tpot_ms: Tail::default(),
            e2el_ms: Tail::default(),
            saturated: None,
        })
    }
}

/// What many searches found.
struct Coverage {
    trials: usize,
    covered: usize,
    /// Mean of `(hi - lo) / lo`.
    width: f64,
    /// Mean epochs a search ran.
    epochs: f64,
}

/// `trials` searches with `s`, each of a server with a capacity drawn
/// between 20 and 200 (so that the probes fall anywhere against it).
async fn measure(s: &CapacitySearch, sigma_epoch: f64, sent: usize, trials: usize) -> Coverage {
    let mut seeds = StdRng::seed_from_u64(2026);
    let (mut covered, mut width, mut epochs) = (0, 0.0, 0usize);
    for _ in 0..trials {
        let mut p = Noisy {
            scale: 0.0,
            sigma_req: 10.0,
            sigma_epoch,
            sent,
            rng: StdRng::seed_from_u64(seeds.random()),
        };
        p.scale = 1.0;
        let unit = p.true_capacity();
        p.scale = seeds.random_range(20.0..200.0) / unit;
        let truth = p.true_capacity();
        let out = search(s, &mut p, &mut |_| {}).await.unwrap();
        epochs += out.probes.iter().map(|p| p.epochs.len()).sum::<usize>();
        if let (Some(lo), Some(hi)) = (out.lo, out.hi) {
            covered += usize::from(lo <= truth && truth <= hi);
            width += (hi - lo) / lo;
        }
    }
    Coverage {
        trials,
        covered,
        width: width / trials as f64,
        epochs: epochs as f64 / trials as f64,
    }
}

fn slo() -> CapacitySlo {
    CapacitySlo {
        per_request: Slo {
            ttft_ms: Some(LIMIT),
            ..Slo::default()
        },
        goodput_ratio: RATIO,
        percentiles: Vec::new(),
    }
}

/// Searches of each configuration.
const TRIALS: usize = 2000;

#[tokio::test]
async fn the_interval_holds_the_true_capacity_at_least_as_often_as_claimed() {
    // The search's defaults (3 epochs a probe, up to 6, 5 at the boundary,
    // 10 % precision, 95 % intervals) unless the row says otherwise; the
    // per-request TTFT spread is 10 ms. Each row: what, epoch offset sd
    // (ms), requests an epoch, boundary epochs, and the coverage the
    // README claims for it.
    let rows: [(&str, f64, usize, u32, f64); 5] = [
        ("binomial noise only", 0.0, 100, 5, 0.95),
        ("+ epoch offset sd 5 ms", 5.0, 100, 5, 0.95),
        ("+ epoch offset sd 10 ms", 10.0, 100, 5, 0.88),
        ("+ epoch offset sd 10 ms, 30 requests", 10.0, 30, 5, 0.88),
        (
            "+ epoch offset sd 10 ms, 8 boundary epochs",
            10.0,
            100,
            8,
            0.92,
        ),
    ];
    let mut short = Vec::new();
    for (what, sigma_epoch, sent, boundary, claimed) in rows {
        let s = CapacitySearch {
            boundary_epochs: boundary,
            max_epochs: boundary.max(6),
            ..CapacitySearch::new(CapacityMode::Rate, slo())
        };
        let c = measure(&s, sigma_epoch, sent, TRIALS).await;
        let rate = c.covered as f64 / c.trials as f64;
        // The binomial standard error of the figure itself.
        let se = (rate * (1.0 - rate) / c.trials as f64).sqrt();
        eprintln!(
            "coverage {:.1} % ± {:.1} ({} of {}; claimed >= {:.0} %), mean width {:.1} %, \
             {:.1} epochs a search: {what}",
            100.0 * rate,
            100.0 * se,
            c.covered,
            c.trials,
            100.0 * claimed,
            100.0 * c.width,
            c.epochs
        );
        if rate < claimed {
            short.push(format!(
                "{what}: {:.1} % < {:.0} %",
                100.0 * rate,
                100.0 * claimed
            ));
        }
    }
    assert!(short.is_empty(), "coverage below the claim: {short:?}");
}
