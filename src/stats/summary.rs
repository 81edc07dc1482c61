//! Percentiles and descriptive summaries.

use serde::{Deserialize, Serialize};

/// The `p`-th percentile (0..=100) of **sorted** data, by linear
/// interpolation between order statistics (numpy's default method).
/// `None` for empty data.
///
/// ```
/// use servebench::stats::percentile;
/// assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 50.0), Some(2.5));
/// assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 100.0), Some(4.0));
/// ```
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let p = p.clamp(0.0, 100.0);
    let rank = p / 100.0 * (sorted.len() - 1) as f64;
    let lo = rank.floor() as usize;
    let hi = rank.ceil() as usize;
    let frac = rank - lo as f64;
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * frac)
}

/// Count, mean, sample standard deviation, min, max and percentiles of a
/// sample. Empty samples give `count == 0` and every figure `None`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Summary {
    pub count: usize,
    pub mean: Option<f64>,
    pub std: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// `(p, value)` pairs, in the order asked.
    pub percentiles: Vec<(f64, f64)>,
}

impl Summary {
    /// The figures another tool reported for a distribution (imported
    /// results): percentiles in any order are sorted, repeats dropped; one
    /// with neither a mean nor a percentile is empty (count 0).
    pub fn reported(mut self) -> Summary {
        if self.mean.is_none() && self.percentiles.is_empty() {
            return Summary::default();
        }
        self.percentiles.sort_by(|a, b| a.0.total_cmp(&b.0));
        self.percentiles.dedup_by(|a, b| (a.0 - b.0).abs() < 1e-9);
        self
    }

    /// Summarise `values` (any order; NaNs are dropped) at percentiles `ps`.
    pub fn of(values: impl IntoIterator<Item = f64>, ps: &[f64]) -> Summary {
        let mut v: Vec<f64> = values.into_iter().filter(|x| !x.is_nan()).collect();
        if v.is_empty() {
            return Summary::default();
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let mean = v.iter().sum::<f64>() / n as f64;
        let std = if n > 1 {
            (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        } else {
            0.0
        };
        Summary {
            count: n,
            mean: Some(mean),
            std: Some(std),
            min: Some(v[0]),
            max: Some(v[n - 1]),
            percentiles: ps
                .iter()
                .filter_map(|&p| percentile(&v, p).map(|x| (p, x)))
                .collect(),
        }
    }

    /// The value at percentile `p`, if it was computed.
    pub fn p(&self, p: f64) -> Option<f64> {
        self.percentiles
            .iter()
            .find(|(q, _)| (*q - p).abs() < 1e-9)
            .map(|(_, v)| *v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numpy_linear() {
        let v: Vec<f64> = (1..=10).map(|x| x as f64).collect();
        // numpy.percentile(range(1, 11), [50, 90, 99]) = [5.5, 9.1, 9.91]
        assert!((percentile(&v, 50.0).unwrap() - 5.5).abs() < 1e-12);
        assert!((percentile(&v, 90.0).unwrap() - 9.1).abs() < 1e-12);
        assert!((percentile(&v, 99.0).unwrap() - 9.91).abs() < 1e-12);
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&[3.0], 99.0), Some(3.0));
    }

    #[test]
    fn summary_figures() {
        let s = Summary::of([4.0, 1.0, 3.0, 2.0, f64::NAN], &[50.0, 99.0]);
        assert_eq!(s.count, 4);
        assert_eq!(s.mean, Some(2.5));
        assert!((s.std.unwrap() - 1.2909944487358056).abs() < 1e-12);
        assert_eq!(s.min, Some(1.0));
        assert_eq!(s.max, Some(4.0));
        assert_eq!(s.p(50.0), Some(2.5));
        assert_eq!(Summary::of([], &[50.0]).mean, None);
    }
}
