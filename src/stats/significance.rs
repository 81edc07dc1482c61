//! Two-sample tests on epoch figures: Welch's t-test, and an exact or
//! Monte Carlo permutation test where Welch's is undefined.

use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};

/// Which test produced a p-value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestMethod {
    /// Welch's unequal-variance t-test, two-sided.
    Welch,
    /// Permutation test of the difference of means, two-sided: exact over
    /// every split when there are at most 20 epochs in all, else
    /// [`PERMUTATIONS`] random splits.
    Permutation,
    /// Welch's t on the log of the ratio of means (delta method): what
    /// [`crate::stats::compare`] uses.
    LogRatioT,
    /// One-sample t on the logs of paired ratios: what
    /// [`crate::stats::compare_paired`] (`servebench ab`) uses.
    PairedLogT,
}

/// Random splits drawn by the Monte Carlo permutation test.
pub const PERMUTATIONS: usize = 20_000;

/// Welch's t-test of `a` against `b` (both with at least 2 values).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WelchTest {
    /// `(mean(a) - mean(b)) / sqrt(var(a)/n_a + var(b)/n_b)`.
    pub t: f64,
    /// Welch-Satterthwaite degrees of freedom.
    pub df: f64,
    /// Two-sided p-value from Student's t distribution with `df`.
    pub p_value: f64,
}

/// Welch's t-test; `None` when a side has fewer than 2 values or both
/// sides have zero variance (the statistic is then undefined).
///
/// ```
/// use servebench::stats::welch_t_test;
/// // Two samples with equal variance and n = 2: df = 2, p = 1 - sqrt(9/13).
/// let w = welch_t_test(&[1.0, 3.0], &[4.0, 6.0]).unwrap();
/// assert!((w.df - 2.0).abs() < 1e-12);
/// assert!((w.p_value - (1.0 - (9.0f64 / 13.0).sqrt())).abs() < 1e-9);
/// ```
pub fn welch_t_test(a: &[f64], b: &[f64]) -> Option<WelchTest> {
    let (na, nb) = (a.len() as f64, b.len() as f64);
    if a.len() < 2 || b.len() < 2 {
        return None;
    }
    let (ma, va) = mean_var(a);
    let (mb, vb) = mean_var(b);
    let (sa, sb) = (va / na, vb / nb);
    let se2 = sa + sb;
    if se2 <= 0.0 || se2.is_nan() {
        return None;
    }
    let t = (ma - mb) / se2.sqrt();
    let df = se2 * se2 / (sa * sa / (na - 1.0) + sb * sb / (nb - 1.0));
    let dist = StudentsT::new(0.0, 1.0, df).ok()?;
    let p_value = (2.0 * dist.sf(t.abs())).min(1.0);
    Some(WelchTest { t, df, p_value })
}

/// Two-sided permutation test of the difference of means. Exact when
/// `a.len() + b.len() <= 20`; otherwise [`PERMUTATIONS`] random splits seeded
/// by `seed`, with p = (hits + 1) / (splits + 1). Returns 1 when a side is
/// empty.
///
/// The smallest exact p-value is `2 / C(n_a + n_b, n_a)`: 0.1 for 3 epochs a
/// side, 0.008 for 5.
///
/// ```
/// use servebench::stats::permutation_test;
/// // Every split of {1,1,1 | 2,2,2} but the observed one and its mirror is less extreme.
/// assert!((permutation_test(&[1.0; 3], &[2.0; 3], 0) - 0.1).abs() < 1e-12);
/// assert_eq!(permutation_test(&[4.0; 3], &[4.0; 3], 0), 1.0);
/// ```
pub fn permutation_test(a: &[f64], b: &[f64], seed: u64) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 1.0;
    }
    let pooled: Vec<f64> = a.iter().chain(b).copied().collect();
    let total: f64 = pooled.iter().sum();
    let (na, nb) = (a.len(), b.len());
    let diff = |sum_a: f64| (sum_a / na as f64 - (total - sum_a) / nb as f64).abs();
    let observed = diff(a.iter().sum());
    // Ties must count as "as extreme": allow for rounding in the sums.
    let cut = observed - 1e-9 * (observed.abs() + total.abs() / pooled.len() as f64);
    let n = pooled.len();
    if n <= 20 {
        let (mut hits, mut splits) = (0u64, 0u64);
        // Gosper's hack: every n-bit mask with exactly `na` bits set.
        let mut mask: u32 = (1 << na) - 1;
        while mask < 1 << n {
            let sum_a: f64 = (0..n)
                .filter(|i| mask >> i & 1 == 1)
                .map(|i| pooled[i])
                .sum();
            hits += u64::from(diff(sum_a) >= cut);
            splits += 1;
            let c = mask & mask.wrapping_neg();
            let r = mask + c;
            mask = (((r ^ mask) >> 2) / c) | r;
        }
        return hits as f64 / splits as f64;
    }
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut shuffled = pooled;
    let mut hits = 0usize;
    for _ in 0..PERMUTATIONS {
        let (head, _) = shuffled.partial_shuffle(&mut rng, na);
        hits += usize::from(diff(head.iter().sum()) >= cut);
    }
    (hits + 1) as f64 / (PERMUTATIONS + 1) as f64
}

/// The p-value of "epoch figures `a` and `b` have the same mean": Welch's
/// t-test where it is defined, else the permutation test (a side with one
/// epoch, or zero variance on both sides, e.g. identical constant figures).
pub fn two_sample_p(a: &[f64], b: &[f64], seed: u64) -> (f64, TestMethod) {
    match welch_t_test(a, b) {
        Some(w) => (w.p_value, TestMethod::Welch),
        None => (permutation_test(a, b, seed), TestMethod::Permutation),
    }
}

/// Mean and sample variance (n - 1), for at least 2 values.
fn mean_var(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Wikipedia, "Welch's t-test", examples 1 and 2 (t, df, p rounded there
    // to -2.46, 24.99, 0.021 and -1.57, 9.90, 0.149). The reference digits
    // below were computed independently by Simpson integration of the t
    // density in plain Python.
    const A1: [f64; 15] = [
        27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4,
    ];
    const A2: [f64; 15] = [
        27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4,
    ];
    const B1: [f64; 10] = [17.2, 20.9, 22.6, 18.1, 21.7, 21.4, 23.5, 24.2, 14.7, 21.8];
    const B2: [f64; 20] = [
        21.5, 22.8, 21.0, 23.0, 21.6, 23.6, 22.5, 20.7, 23.4, 21.8, 20.7, 21.7, 21.5, 22.5, 23.6,
        21.5, 22.5, 23.5, 21.5, 21.8,
    ];

    #[test]
    fn welch_matches_reference_values() {
        let w = welch_t_test(&A1, &A2).unwrap();
        assert!((w.t - -2.455_356_398_286_01).abs() < 1e-9, "{w:?}");
        assert!((w.df - 24.988_529_290_231_42).abs() < 1e-9, "{w:?}");
        assert!((w.p_value - 0.021_378_001_462_86).abs() < 1e-7, "{w:?}");
        let w = welch_t_test(&B1, &B2).unwrap();
        assert!((w.t - -1.565_433_523_598_507).abs() < 1e-9, "{w:?}");
        assert!((w.df - 9.904_741_248_650_831).abs() < 1e-9, "{w:?}");
        assert!((w.p_value - 0.148_841_696_605_325).abs() < 1e-7, "{w:?}");
        // Symmetric in its sides, up to the sign of t.
        let r = welch_t_test(&B2, &B1).unwrap();
        assert!((r.p_value - w.p_value).abs() < 1e-12 && (r.t + w.t).abs() < 1e-12);
    }

    #[test]
    fn welch_undefined_cases_fall_back_to_permutation() {
        assert!(welch_t_test(&[1.0], &[1.0, 2.0]).is_none());
        assert!(welch_t_test(&[2.0; 4], &[2.0; 4]).is_none());
        assert_eq!(
            two_sample_p(&[2.0; 4], &[2.0; 4], 0),
            (1.0, TestMethod::Permutation)
        );
        // One side constant: Welch is defined, df = n_other - 1.
        let w = welch_t_test(&[2.0; 4], &[1.0, 2.0, 3.0]).unwrap();
        assert!((w.df - 2.0).abs() < 1e-12 && (w.t - 0.0).abs() < 1e-12);
        assert_eq!(permutation_test(&[], &[1.0], 0), 1.0);
    }

    #[test]
    fn permutation_exact_and_monte_carlo() {
        // 5 vs 5 fully separated: 2 of 252 splits are as extreme.
        let p = permutation_test(&[1.0, 2.0, 3.0, 4.0, 5.0], &[6.0, 7.0, 8.0, 9.0, 10.0], 0);
        assert!((p - 2.0 / 252.0).abs() < 1e-12);
        // Monte Carlo (30 epochs) agrees with Welch on well-behaved data.
        let p_mc = permutation_test(&A1, &A2, 3);
        let p_w = welch_t_test(&A1, &A2).unwrap().p_value;
        assert!((p_mc - p_w).abs() < 0.01, "{p_mc} vs {p_w}");
        assert_eq!(p_mc, permutation_test(&A1, &A2, 3));
    }
}
