//! Many metrics at once: Holm-Bonferroni control of the family-wise
//! false-alarm rate, so that gating ten metrics at 5 % does not raise a
//! false alarm on 40 % of pull requests.

#[cfg(test)]
use super::compare::Verdict;
use super::compare::{Comparison, Undecided};

/// Holm-adjusted p-values, in the order given: sorted ascending,
/// `p_adj(k) = max over j <= k of min(1, (m - j + 1) * p(j))`.
/// Hypothesis `i` is rejected at family-wise level `alpha` iff
/// `adjusted[i] < alpha`.
///
/// ```
/// use servebench::stats::holm_adjusted;
/// let adj = holm_adjusted(&[0.01, 0.04, 0.03, 0.005]);
/// assert_eq!(adj, vec![0.03, 0.06, 0.06, 0.02]);
/// ```
pub fn holm_adjusted(p_values: &[f64]) -> Vec<f64> {
    let m = p_values.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p_values[a].total_cmp(&p_values[b]));
    let mut adjusted = vec![0.0; m];
    let mut running = 0.0f64;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * p_values[i]).min(1.0));
        adjusted[i] = running;
    }
    adjusted
}

/// Holm's step-down procedure: which hypotheses are rejected at
/// family-wise error rate `alpha`. Sorted ascending, `p(k)` is rejected while
/// every `p(j) < alpha / (m - j + 1)` for `j <= k`; the first failure stops it.
///
/// ```
/// use servebench::stats::holm;
/// // Sorted: 0.005 < 0.05/4, 0.01 < 0.05/3, but 0.03 >= 0.05/2: stop.
/// assert_eq!(holm(&[0.01, 0.04, 0.03, 0.005], 0.05), vec![true, false, false, true]);
/// ```
pub fn holm(p_values: &[f64], alpha: f64) -> Vec<bool> {
    holm_adjusted(p_values)
        .into_iter()
        .map(|p| p < alpha)
        .collect()
}

/// Judges gated metrics as one family: sets each comparison's `p_adjusted`
/// to its Holm-adjusted p-value and re-derives its verdict at family-wise
/// level `alpha` (usually the comparisons' own `significance`).
/// Inconclusive comparisons stay inconclusive and are left out of the
/// family. Report-only metrics (advisory p99s) should not be passed in.
///
/// ```no_run
/// # use servebench::stats::{apply_holm, Comparison};
/// # fn gated() -> Vec<Comparison> { unimplemented!() }
/// let mut comparisons = gated();
/// apply_holm(&mut comparisons, 0.05);
/// ```
pub fn apply_holm<'a>(comparisons: impl IntoIterator<Item = &'a mut Comparison>, alpha: f64) {
    apply_holm_scaled(comparisons, alpha, 1.0)
}

/// [`apply_holm`] for one part of a larger family: each Holm-adjusted
/// p-value is multiplied by `scale` (the family's size over this part's,
/// at least 1) and capped at 1. Holm within the part and Bonferroni across
/// parts keep the whole family's false-alarm rate at most `alpha`.
pub fn apply_holm_scaled<'a>(
    comparisons: impl IntoIterator<Item = &'a mut Comparison>,
    alpha: f64,
    scale: f64,
) {
    let mut family: Vec<&mut Comparison> = comparisons
        .into_iter()
        .filter(|c| {
            !matches!(
                c.undecided,
                Some(Undecided::TooFewEpochs | Undecided::NoSpread | Undecided::NotPositive)
            )
        })
        .collect();
    let p: Vec<f64> = family.iter().map(|c| c.p_value).collect();
    for (c, adj) in family.iter_mut().zip(holm_adjusted(&p)) {
        let adj = (adj * scale.max(1.0)).min(1.0);
        c.p_adjusted = Some(adj);
        c.judge(adj < alpha);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{compare, CompareConfig, Direction, Epochs};

    #[test]
    fn worked_example() {
        // Holm (1979)-style example, m = 5, alpha = 0.05:
        // sorted 0.001 < 0.01, 0.008 < 0.0125, 0.012 < 0.0167, 0.04 >= 0.025 stop.
        let p = [0.04, 0.001, 0.2, 0.012, 0.008];
        assert_eq!(holm(&p, 0.05), vec![false, true, false, true, true]);
        let adj = holm_adjusted(&p);
        let want = [0.08, 0.005, 0.2, 0.036, 0.032];
        for (a, w) in adj.iter().zip(want) {
            assert!((a - w).abs() < 1e-12, "{adj:?}");
        }
        // Plain Bonferroni would have kept only 0.001 and 0.008.
        assert!(holm(&[], 0.05).is_empty());
        assert_eq!(holm_adjusted(&[0.9, 0.8]), vec![1.0, 1.0]);
    }

    #[test]
    fn adjusted_and_rejected_agree() {
        let p = [0.03, 0.012, 0.0125, 0.5, 0.0001, 0.025, 0.049];
        for alpha in [0.01, 0.05, 0.1] {
            let adj = holm_adjusted(&p);
            let rej = holm(&p, alpha);
            // Step-down: rejection is monotone in p.
            for i in 0..p.len() {
                assert_eq!(rej[i], adj[i] < alpha);
                for j in 0..p.len() {
                    if p[j] <= p[i] && rej[i] {
                        assert!(rej[j]);
                    }
                }
            }
        }
    }

    #[test]
    fn apply_holm_demotes_marginal_results() {
        let cfg = CompareConfig {
            nresamples: 500,
            ..Default::default()
        };
        let base = [100.0, 101.0, 99.0, 100.5, 99.5];
        let clear = [120.0, 121.0, 119.0, 120.5, 119.5];
        // A noisy 6 % shift: p = 0.043 alone, not significant among three.
        let marginal = [103.0, 111.0, 100.0, 110.0, 106.0];
        let same = [100.2, 100.9, 99.1, 100.4, 99.4];
        let lower = Direction::LowerIsBetter;
        let mut cs = vec![
            compare(
                &Epochs::Figures(&base),
                &Epochs::Figures(&clear),
                lower,
                &cfg,
            ),
            compare(
                &Epochs::Figures(&base),
                &Epochs::Figures(&marginal),
                lower,
                &cfg,
            ),
            compare(
                &Epochs::Figures(&base),
                &Epochs::Figures(&same),
                lower,
                &cfg,
            ),
            compare(
                &Epochs::Figures(&base[..2]),
                &Epochs::Figures(&clear),
                lower,
                &cfg,
            ),
        ];
        assert!(
            cs[1].p_value < 0.05 && cs[1].p_value * 2.0 >= 0.05,
            "{:?}",
            cs[1]
        );
        assert_ne!(cs[1].verdict, Verdict::NoChange);
        apply_holm(&mut cs, 0.05);
        let verdicts: Vec<Verdict> = cs.iter().map(|c| c.verdict).collect();
        use Verdict::*;
        assert_eq!(verdicts, vec![Regressed, NoChange, NoChange, Inconclusive]);
        assert_eq!(cs[3].p_adjusted, None);
        assert!((cs[1].p_used() - (cs[1].p_value * 2.0).min(1.0)).abs() < 1e-12);
    }
}
