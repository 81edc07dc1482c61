//! Property tests of `servebench::stats`: percentiles (numpy's default linear
//! interpolation), the descriptive `Summary`, and the bootstrap interval.
//!
//! Every property is checked against an independent reference written here,
//! or is one the arithmetic guarantees; tolerances are stated where floating
//! point makes exact equality impossible. Inputs come from a fixed proptest
//! seed per block (the same cases every run); bootstrap seeds are part of
//! the inputs.

mod common {
    pub mod props;
}

use common::props::config;
use proptest::prelude::*;
use servebench::stats::{
    bootstrap_ci, percentile, BootstrapConfig, EpochStatistic, Epochs, Estimate, Summary,
};

// ---------------------------------------------------------------------------
// References
// ---------------------------------------------------------------------------

/// numpy's `percentile(x, 100 q)` with the default `linear` method, written
/// the textbook way: sort, `h = (n - 1) q`, interpolate between the order
/// statistics around `h`.
fn reference_quantile(data: &[f64], q: f64) -> f64 {
    let mut x = data.to_vec();
    x.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let h = (x.len() - 1) as f64 * q;
    let j = h.floor() as usize;
    if j + 1 >= x.len() {
        return x[x.len() - 1];
    }
    let g = h - j as f64;
    (1.0 - g) * x[j] + g * x[j + 1]
}

fn sorted(v: &[f64]) -> Vec<f64> {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s
}

/// Tolerance for a value computed from `data` in a few operations: a few
/// hundred ulps of the data's magnitude.
fn tol(data: &[f64]) -> f64 {
    let m = data.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    1e-12 * m.max(1.0)
}

fn close(a: f64, b: f64, t: f64) -> bool {
    (a - b).abs() <= t
}

// ---------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------

/// Finite values of mixed magnitudes, including duplicates and zeros.
fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => -1e6f64..1e6,
        2 => 0.0f64..10.0,
        1 => (-5i32..5).prop_map(f64::from),
        1 => -1e12f64..1e12,
        1 => Just(0.0),
    ]
}

fn data(max_len: usize) -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(value(), 1..max_len)
}

/// A percentile in 0..=100, with the ends and the usual points over-weighted.
fn pct() -> impl Strategy<Value = f64> {
    prop_oneof![
        6 => 0.0f64..=100.0,
        1 => prop::sample::select(vec![0.0, 50.0, 90.0, 99.0, 99.9, 100.0]),
    ]
}

// ---------------------------------------------------------------------------
// Percentiles
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(512, 0x5EED_0001))]

    #[test]
    fn percentile_matches_reference(v in data(200), p in pct()) {
        let s = sorted(&v);
        let got = percentile(&s, p).unwrap();
        let want = reference_quantile(&v, p / 100.0);
        prop_assert!(close(got, want, tol(&v)), "p={p}: got {got}, numpy-linear {want}");
    }

    #[test]
    fn percentile_is_within_min_and_max(v in data(200), p in pct()) {
        let s = sorted(&v);
        let got = percentile(&s, p).unwrap();
        prop_assert!(s[0] <= got && got <= s[s.len() - 1], "p={p}: {got} outside [{}, {}]", s[0], s[s.len() - 1]);
    }

    #[test]
    fn percentile_is_monotone_in_p(v in data(100), mut ps in prop::collection::vec(pct(), 2..20)) {
        let s = sorted(&v);
        ps.sort_by(f64::total_cmp);
        let xs: Vec<f64> = ps.iter().map(|&p| percentile(&s, p).unwrap()).collect();
        for w in xs.windows(2).zip(ps.windows(2)) {
            prop_assert!(w.0[0] <= w.0[1], "p {} -> {}, p {} -> {}", w.1[0], w.0[0], w.1[1], w.0[1]);
        }
    }

    #[test]
    fn percentile_ends_are_min_and_max(v in data(200)) {
        let s = sorted(&v);
        prop_assert_eq!(percentile(&s, 0.0), Some(s[0]));
        prop_assert_eq!(percentile(&s, 100.0), Some(s[s.len() - 1]));
        // Out-of-range percentiles are clamped to the ends.
        prop_assert_eq!(percentile(&s, -3.0), Some(s[0]));
        prop_assert_eq!(percentile(&s, 250.0), Some(s[s.len() - 1]));
    }

    #[test]
    fn percentile_of_one_value_is_that_value(x in value(), p in pct()) {
        prop_assert_eq!(percentile(&[x], p), Some(x));
    }

    #[test]
    fn percentile_of_constant_data_is_the_constant(x in value(), n in 1usize..50, p in pct()) {
        prop_assert_eq!(percentile(&vec![x; n], p), Some(x));
    }

    /// `a x + b` has percentile `a P(p) + b` for `a > 0`, and `a P(100 - p) + b`
    /// for `a < 0` (the order reverses).
    #[test]
    fn percentile_shift_scale_equivariance(
        v in data(100),
        p in pct(),
        a in prop_oneof![0.001f64..1000.0, -1000.0f64..-0.001],
        b in -1e6f64..1e6,
    ) {
        let s = sorted(&v);
        let t: Vec<f64> = v.iter().map(|x| a * x + b).collect();
        let got = percentile(&sorted(&t), p).unwrap();
        let base = if a > 0.0 { percentile(&s, p) } else { percentile(&s, 100.0 - p) }.unwrap();
        let want = a * base + b;
        // Rounding of a x + b itself, then of the interpolation.
        let max_abs = v.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        let t_tol = 1e-11 * (a.abs() * max_abs + b.abs()).max(1.0);
        prop_assert!(close(got, want, t_tol), "a={a} b={b} p={p}: {got} vs {want}");
    }
}

#[test]
fn percentile_of_nothing_is_none() {
    assert_eq!(percentile(&[], 50.0), None);
    assert_eq!(Summary::of([], &[50.0]), Summary::default());
    assert_eq!(Summary::of([f64::NAN, f64::NAN], &[50.0]).count, 0);
}

/// Known numpy answers, so that the reference above is itself checked.
#[test]
fn reference_agrees_with_numpy_figures() {
    // numpy.percentile([15, 20, 35, 40, 50], [0, 30, 40, 50, 100])
    let v = [20.0, 50.0, 15.0, 40.0, 35.0];
    for (p, want) in [
        (0.0, 15.0),
        (30.0, 23.0),
        (40.0, 29.0),
        (50.0, 35.0),
        (100.0, 50.0),
    ] {
        assert!(close(reference_quantile(&v, p / 100.0), want, 1e-12));
        assert!(close(percentile(&sorted(&v), p).unwrap(), want, 1e-12));
    }
}

// ---------------------------------------------------------------------------
// Summary
// ---------------------------------------------------------------------------

fn nan_sprinkled() -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(prop_oneof![9 => value(), 1 => Just(f64::NAN)], 0..150)
}

proptest! {
    #![proptest_config(config(384, 0x5EED_0002))]

    #[test]
    fn summary_matches_reference_formulas(v in nan_sprinkled(), ps in prop::collection::vec(pct(), 0..6)) {
        let s = Summary::of(v.iter().copied(), &ps);
        let clean: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
        prop_assert_eq!(s.count, clean.len());
        if clean.is_empty() {
            prop_assert_eq!(s, Summary::default());
            return Ok(());
        }
        let n = clean.len() as f64;
        // Two-pass reference mean and sample (n - 1) standard deviation.
        let mean = clean.iter().sum::<f64>() / n;
        let var = if clean.len() > 1 {
            clean.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0)
        } else {
            0.0
        };
        let t = tol(&clean) * n.max(1.0);
        prop_assert!(close(s.mean.unwrap(), mean, t), "{:?} vs {mean}", s.mean);
        prop_assert!(close(s.std.unwrap(), var.sqrt(), t * 10.0 + 1e-9 * var.sqrt()), "{:?} vs {}", s.std, var.sqrt());
        prop_assert!(s.std.unwrap() >= 0.0);
        let (lo, hi) = clean.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
        prop_assert_eq!(s.min, Some(lo));
        prop_assert_eq!(s.max, Some(hi));
        prop_assert!(lo <= s.mean.unwrap() + t && s.mean.unwrap() - t <= hi);
        // Percentiles: in the order asked, each the reference's value.
        prop_assert_eq!(s.percentiles.len(), ps.len());
        for (&(p, x), &asked) in s.percentiles.iter().zip(&ps) {
            prop_assert_eq!(p, asked);
            let want = reference_quantile(&clean, p / 100.0);
            prop_assert!(close(x, want, tol(&clean)), "p{p}: {x} vs {want}");
            prop_assert!(close(s.p(p).unwrap(), want, tol(&clean)));
        }
    }

    #[test]
    fn summary_ignores_order_and_nans(v in data(150), nans in 0usize..5, seed in any::<u64>()) {
        let ps = [0.0, 25.0, 50.0, 90.0, 99.0, 100.0];
        let base = Summary::of(v.iter().copied(), &ps);
        let mut shuffled = v.clone();
        shuffled.extend(std::iter::repeat_n(f64::NAN, nans));
        // A seeded Fisher-Yates shuffle (SplitMix64 steps).
        let mut z = seed;
        for i in (1..shuffled.len()).rev() {
            z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut r = z;
            r = (r ^ (r >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            r = (r ^ (r >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            r ^= r >> 31;
            shuffled.swap(i, (r % (i as u64 + 1)) as usize);
        }
        // The summary sorts first, so even the mean is bit-for-bit equal.
        prop_assert_eq!(Summary::of(shuffled, &ps), base);
    }
}

// ---------------------------------------------------------------------------
// Bootstrap
// ---------------------------------------------------------------------------

fn cfg(nresamples: usize, seed: u64, confidence: f64) -> BootstrapConfig {
    BootstrapConfig {
        confidence,
        nresamples,
        seed,
    }
}

fn statistic() -> impl Strategy<Value = EpochStatistic> {
    prop_oneof![
        Just(EpochStatistic::Mean),
        Just(EpochStatistic::Median),
        (0.0f64..=100.0).prop_map(EpochStatistic::Percentile),
        Just(EpochStatistic::Min),
        Just(EpochStatistic::Max),
    ]
}

/// Epoch figures: 1 to 12 epochs.
fn figures() -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(-1e4f64..1e4, 1..12)
}

/// Per-request values of 1 to 8 epochs, each with 0 to 40 requests (empty
/// epochs are allowed and ignored), at least one value overall.
fn requests() -> impl Strategy<Value = Vec<Vec<f64>>> {
    prop::collection::vec(prop::collection::vec(0.0f64..1e4, 0..40), 1..8)
        .prop_filter("at least one request", |e| e.iter().any(|v| !v.is_empty()))
}

fn range(v: impl IntoIterator<Item = f64>) -> (f64, f64) {
    v.into_iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(x), b.max(x))
        })
}

fn within(e: &Estimate, lo: f64, hi: f64, t: f64) -> bool {
    lo - t <= e.ci_low && e.ci_high <= hi + t
}

proptest! {
    // Resample counts stay in the hundreds: each case takes well under a
    // millisecond, the whole block a fraction of a second.
    #![proptest_config(config(128, 0x5EED_0003))]

    #[test]
    fn bootstrap_same_seed_same_interval(
        f in figures(),
        r in requests(),
        stat in statistic(),
        n in 1usize..600,
        seed in any::<u64>(),
    ) {
        let c = cfg(n, seed, 0.95);
        let a = bootstrap_ci(&Epochs::Figures(&f), &c).unwrap();
        prop_assert_eq!(a, bootstrap_ci(&Epochs::Figures(&f), &c).unwrap());
        let e = Epochs::Requests(&r, &stat);
        let b = bootstrap_ci(&e, &c).unwrap();
        prop_assert_eq!(b, bootstrap_ci(&e, &c).unwrap());
    }

    /// What the percentile bootstrap of a mean guarantees: `lo <= hi`, the
    /// point is the mean of the epoch figures, and the interval lies within
    /// the range of what was resampled (epoch figures for `Figures`; the
    /// request values for `Requests`, since a resampled epoch's figure is a
    /// mean/percentile/min/max of its own values). It does **not** guarantee
    /// `lo <= point <= hi`, so that is not asserted.
    #[test]
    fn bootstrap_interval_is_ordered_and_in_range(
        f in figures(),
        r in requests(),
        stat in statistic(),
        n in 1usize..400,
        seed in any::<u64>(),
        conf in 0.5f64..0.999,
    ) {
        let c = cfg(n, seed, conf);
        let e = bootstrap_ci(&Epochs::Figures(&f), &c).unwrap();
        prop_assert!(e.ci_low <= e.ci_high, "{e:?}");
        prop_assert_eq!(e.epochs, f.len());
        prop_assert_eq!(e.confidence, conf);
        prop_assert!(close(e.point, f.iter().sum::<f64>() / f.len() as f64, tol(&f)));
        let (lo, hi) = range(f.iter().copied());
        prop_assert!(within(&e, lo, hi, tol(&f)), "{e:?} outside [{lo}, {hi}]");

        let est = bootstrap_ci(&Epochs::Requests(&r, &stat), &c).unwrap();
        prop_assert!(est.ci_low <= est.ci_high, "{est:?}");
        let nonempty: Vec<&Vec<f64>> = r.iter().filter(|v| !v.is_empty()).collect();
        prop_assert_eq!(est.epochs, nonempty.len());
        let (lo, hi) = range(r.iter().flatten().copied());
        let t = tol(&[lo, hi]);
        prop_assert!(within(&est, lo, hi, t), "{stat:?} {est:?} outside [{lo}, {hi}]");
        // The point is the mean of the observed epoch figures.
        let figs: Vec<f64> = nonempty.iter().map(|v| {
            let s = sorted(v);
            match stat {
                EpochStatistic::Mean => s.iter().sum::<f64>() / s.len() as f64,
                EpochStatistic::Median => reference_quantile(&s, 0.5),
                EpochStatistic::Percentile(p) => reference_quantile(&s, p / 100.0),
                EpochStatistic::Min => s[0],
                EpochStatistic::Max => s[s.len() - 1],
            }
        }).collect();
        let point = figs.iter().sum::<f64>() / figs.len() as f64;
        prop_assert!(close(est.point, point, t * 10.0), "{} vs {point}", est.point);
        // Figures-only intervals are also within the epoch figures' range.
        let (flo, fhi) = range(figs.iter().copied());
        let fe = bootstrap_ci(&Epochs::Figures(&figs), &c).unwrap();
        prop_assert!(within(&fe, flo, fhi, t * 10.0), "{fe:?} outside [{flo}, {fhi}]");
    }

    /// With the same seed, the same resamples are drawn, so a wider
    /// confidence level gives an interval that contains the narrower one.
    #[test]
    fn bootstrap_intervals_nest_by_confidence(
        f in figures(),
        n in 2usize..400,
        seed in any::<u64>(),
        c1 in 0.5f64..0.99,
        dc in 0.0f64..0.0099,
    ) {
        let narrow = bootstrap_ci(&Epochs::Figures(&f), &cfg(n, seed, c1)).unwrap();
        let wide = bootstrap_ci(&Epochs::Figures(&f), &cfg(n, seed, c1 + dc)).unwrap();
        prop_assert!(wide.ci_low <= narrow.ci_low && narrow.ci_high <= wide.ci_high,
            "{wide:?} does not contain {narrow:?}");
    }

    #[test]
    fn bootstrap_of_constant_data_is_a_point(
        x in -1e4f64..1e4,
        k in 1usize..10,
        m in 1usize..30,
        stat in statistic(),
        n in 1usize..300,
        seed in any::<u64>(),
    ) {
        let c = cfg(n, seed, 0.95);
        // Every resample adds the same values in the same order as the point.
        let e = bootstrap_ci(&Epochs::Figures(&vec![x; k]), &c).unwrap();
        prop_assert_eq!((e.ci_low, e.ci_high), (e.point, e.point));
        prop_assert!(close(e.point, x, tol(&[x])));
        let r = vec![vec![x; m]; k];
        let e = bootstrap_ci(&Epochs::Requests(&r, &stat), &c).unwrap();
        let t = tol(&[x]) * m as f64;
        for v in [e.point, e.ci_low, e.ci_high] {
            prop_assert!(close(v, x, t), "{stat:?}: {e:?} vs {x}");
        }
    }

    /// Shifting every value by `b` (same seed: same resample indices) shifts
    /// the point and both ends by `b`; scaling by `a < 0` also swaps the ends.
    #[test]
    fn bootstrap_shift_and_scale_equivariance(
        f in figures(),
        r in requests(),
        stat in statistic(),
        a in prop_oneof![0.01f64..100.0, -100.0f64..-0.01],
        b in -1e5f64..1e5,
        n in 1usize..300,
        seed in any::<u64>(),
    ) {
        let c = cfg(n, seed, 0.9);
        let base = bootstrap_ci(&Epochs::Figures(&f), &c).unwrap();
        let shifted: Vec<f64> = f.iter().map(|x| x + b).collect();
        let s = bootstrap_ci(&Epochs::Figures(&shifted), &c).unwrap();
        let t = 1e-9 * (1e4 + b.abs());
        prop_assert!(close(s.point, base.point + b, t));
        prop_assert!(close(s.ci_low, base.ci_low + b, t), "{s:?} vs {base:?} + {b}");
        prop_assert!(close(s.ci_high, base.ci_high + b, t), "{s:?} vs {base:?} + {b}");

        let scaled: Vec<f64> = f.iter().map(|x| a * x).collect();
        let s = bootstrap_ci(&Epochs::Figures(&scaled), &c).unwrap();
        let t = 1e-9 * 1e4 * a.abs();
        let (lo, hi) = if a > 0.0 { (base.ci_low, base.ci_high) } else { (base.ci_high, base.ci_low) };
        prop_assert!(close(s.ci_low, a * lo, t) && close(s.ci_high, a * hi, t), "{s:?} vs {a} x {base:?}");

        // Two levels: shift equivariance holds for every statistic; a
        // negative scale maps percentile p to 100 - p, so only a > 0 here.
        let base = bootstrap_ci(&Epochs::Requests(&r, &stat), &c).unwrap();
        let shifted: Vec<Vec<f64>> = r.iter().map(|e| e.iter().map(|x| x + b).collect()).collect();
        let s = bootstrap_ci(&Epochs::Requests(&shifted, &stat), &c).unwrap();
        prop_assert!(close(s.point, base.point + b, t.max(1e-9 * (1e4 + b.abs()))));
        let t = 1e-9 * (1e4 + b.abs());
        prop_assert!(close(s.ci_low, base.ci_low + b, t), "{stat:?} {s:?} vs {base:?} + {b}");
        prop_assert!(close(s.ci_high, base.ci_high + b, t), "{stat:?} {s:?} vs {base:?} + {b}");
        let a = a.abs();
        let scaled: Vec<Vec<f64>> = r.iter().map(|e| e.iter().map(|x| a * x).collect()).collect();
        let s = bootstrap_ci(&Epochs::Requests(&scaled, &stat), &c).unwrap();
        let t = 1e-9 * 1e4 * a;
        prop_assert!(close(s.ci_low, a * base.ci_low, t) && close(s.ci_high, a * base.ci_high, t),
            "{stat:?} {s:?} vs {a} x {base:?}");
    }
}

#[test]
fn bootstrap_of_nothing_is_none() {
    let c = cfg(100, 1, 0.95);
    assert!(bootstrap_ci(&Epochs::Figures(&[]), &c).is_none());
    let empty: Vec<Vec<f64>> = vec![vec![]; 3];
    assert!(bootstrap_ci(&Epochs::Requests(&empty, &EpochStatistic::Mean), &c).is_none());
}

/// The determinism property must be able to fail: another seed moves the
/// interval of non-constant data.
#[test]
fn bootstrap_seed_matters() {
    let f: Vec<f64> = (0..10).map(|i| (i * i) as f64).collect();
    let a = bootstrap_ci(&Epochs::Figures(&f), &cfg(500, 1, 0.95)).unwrap();
    let b = bootstrap_ci(&Epochs::Figures(&f), &cfg(500, 2, 0.95)).unwrap();
    assert_ne!((a.ci_low, a.ci_high), (b.ci_low, b.ci_high));
}
