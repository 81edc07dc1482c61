//! The search: bracketing, bisection and confirmation over probes, each
//! judged statistically over its epochs.

use std::future::Future;

use super::CapacitySearch;
use crate::metrics::capacity::{num, CapacitySlo, Objective, Probe, ProbeEpoch};
use crate::run::RunError;
use crate::stats::{combine, mean_interval, proportion_se, side_at_least, side_at_most, Side};

/// Measures one epoch of a probe: what the search asks of the engine (or
/// of a synthetic server in tests).
pub trait Prober {
    /// Run epoch `index` (0 for a probe's first) at `load` and return its
    /// figures.
    fn epoch(
        &mut self,
        load: f64,
        index: u32,
    ) -> impl Future<Output = Result<ProbeEpoch, RunError>>;

    /// Why the search must stop now (an interrupt, the failure-rate stop),
    /// if it must.
    fn stop_reason(&self) -> Option<String> {
        None
    }
}

/// What the search found, before the target's details are added.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchOutcome {
    pub lo: Option<f64>,
    pub hi: Option<f64>,
    pub estimate: Option<f64>,
    /// Every probe, in load order.
    pub probes: Vec<Probe>,
    pub notes: Vec<String>,
}

/// Judge a probe's epochs against `slo` at `confidence`: its objectives,
/// the verdict and the reason in words.
pub fn judge(
    epochs: &[ProbeEpoch],
    slo: &CapacitySlo,
    confidence: f64,
) -> (Vec<Objective>, Side, String) {
    let mut objectives = Vec::new();
    if !slo.per_request.is_empty() {
        let ratios: Vec<f64> = epochs.iter().map(|e| e.goodput_ratio).collect();
        let good = epochs.iter().map(|e| e.good).sum();
        let sent = epochs.iter().map(|e| e.sent).sum();
        if let Some(iv) = mean_interval(&ratios, confidence, proportion_se(good, sent)) {
            objectives.push(Objective {
                name: "goodput_ratio".into(),
                target: slo.goodput_ratio,
                at_least: true,
                side: side_at_least(&iv, slo.goodput_ratio),
                interval: iv,
            });
        }
    }
    for (k, p) in slo.percentiles.iter().enumerate() {
        // An epoch with no successful request has no percentile: it fails.
        let vals: Vec<f64> = epochs
            .iter()
            .map(|e| {
                e.slo_values
                    .get(k)
                    .copied()
                    .flatten()
                    .unwrap_or(f64::INFINITY)
            })
            .collect();
        let iv = mean_interval(&vals, confidence, 0.0).unwrap_or(crate::stats::MeanInterval {
            mean: f64::INFINITY,
            lo: f64::INFINITY,
            hi: f64::INFINITY,
            n: vals.len(),
        });
        objectives.push(Objective {
            name: p.name(),
            target: p.limit_ms,
            at_least: false,
            side: side_at_most(&iv, p.limit_ms),
            interval: iv,
        });
    }
    let side = combine(objectives.iter().map(|o| o.side));
    let words = |o: &Objective| {
        let rel = match o.side {
            Side::Pass if o.at_least => ">=",
            Side::Pass => "<=",
            Side::Fail if o.at_least => "<",
            Side::Fail => ">",
            Side::Uncertain => "straddles",
        };
        format!(
            "{} {} [{}, {}] {rel} {}",
            o.name,
            num(o.interval.mean),
            num(o.interval.lo),
            num(o.interval.hi),
            num(o.target)
        )
    };
    let pick = |s: Side| objectives.iter().filter(move |o| o.side == s).map(words);
    let reason = match side {
        Side::Fail => pick(Side::Fail).collect::<Vec<_>>().join("; "),
        Side::Uncertain => pick(Side::Uncertain).collect::<Vec<_>>().join("; "),
        Side::Pass => objectives.iter().map(words).collect::<Vec<_>>().join("; "),
    };
    (objectives, side, reason)
}

/// The search's state over its probes.
struct Searcher<'a, P: Prober> {
    s: &'a CapacitySearch,
    prober: &'a mut P,
    probes: Vec<Probe>,
    notes: Vec<String>,
    stopped: bool,
    on_probe: &'a mut (dyn FnMut(&Probe) + Send),
}

impl<P: Prober> Searcher<'_, P> {
    fn find(&self, load: f64) -> Option<usize> {
        self.probes
            .iter()
            .position(|p| (p.load - load).abs() <= 1e-9 * load.abs().max(1.0))
    }

    /// Measure `load` until it has `want` epochs and is judged (uncertain:
    /// more epochs, up to the cap). Returns its verdict.
    async fn measure(&mut self, load: f64, want: u32, stage: &str) -> Result<Side, RunError> {
        let i = match self.find(load) {
            Some(i) => i,
            None => {
                if self.probes.len() >= self.s.max_probes {
                    self.notes.push(format!(
                        "the search stopped after {} probes (--max-probes)",
                        self.s.max_probes
                    ));
                    self.stopped = true;
                    return Ok(Side::Uncertain);
                }
                self.probes.push(Probe {
                    load,
                    stage: stage.into(),
                    order: self.probes.len(),
                    epochs: Vec::new(),
                    objectives: Vec::new(),
                    side: Side::Uncertain,
                    reason: String::new(),
                });
                self.probes.len() - 1
            }
        };
        let cap = self.s.max_epochs.max(want) as usize;
        let before = self.probes[i].epochs.len();
        loop {
            let p = &self.probes[i];
            if p.saturated() {
                let why = p
                    .epochs
                    .iter()
                    .find_map(|e| e.saturated.clone())
                    .unwrap_or_default();
                let (objectives, _, _) = judge(&p.epochs, &self.s.slo, self.s.confidence);
                let p = &mut self.probes[i];
                p.objectives = objectives;
                p.side = Side::Fail;
                p.reason = why;
                break;
            }
            let n = p.epochs.len();
            let judged =
                (n >= want as usize).then(|| judge(&p.epochs, &self.s.slo, self.s.confidence));
            let more = match &judged {
                None => true,
                Some((_, Side::Uncertain, _)) => n < cap,
                Some(_) => false,
            };
            if more {
                if let Some(why) = self.prober.stop_reason() {
                    self.notes.push(format!("the search stopped early: {why}"));
                    self.stopped = true;
                }
            }
            if !more || self.stopped {
                let (objectives, side, reason) =
                    judged.unwrap_or_else(|| judge(&p.epochs, &self.s.slo, self.s.confidence));
                let p = &mut self.probes[i];
                p.objectives = objectives;
                p.side = if n >= want as usize || side == Side::Fail {
                    side
                } else {
                    Side::Uncertain
                };
                p.reason = reason;
                break;
            }
            let e = self.prober.epoch(load, n as u32).await?;
            self.probes[i].epochs.push(e);
        }
        if self.probes[i].epochs.len() > before {
            (self.on_probe)(&self.probes[i]);
        }
        Ok(self.probes[i].side)
    }

    /// Grow from `x` until a probe fails (an uncertain one does not stop
    /// it: it lies inside the interval), or `max` has been probed.
    async fn bracket(&mut self, mut x: f64) -> Result<(), RunError> {
        loop {
            let side = self.measure(x, self.s.epochs, "bracket").await?;
            if self.stopped || side == Side::Fail || x >= self.s.max {
                return Ok(());
            }
            x = self.s.grow(x);
        }
    }

    /// `(lo, hi)`: the highest load judged passing, and the lowest load
    /// above it judged failing (uncertain probes between them lie inside
    /// the interval).
    fn ends(&self) -> (Option<f64>, Option<f64>) {
        let lo = self
            .probes
            .iter()
            .filter(|p| p.side == Side::Pass)
            .map(|p| p.load)
            .reduce(f64::max);
        let hi = self
            .probes
            .iter()
            .filter(|p| p.side == Side::Fail && lo.is_none_or(|l| p.load > l))
            .map(|p| p.load)
            .reduce(f64::min);
        (lo, hi)
    }

    /// The next load to bisect at: the middle of the first gap of `[lo,
    /// hi]` wider than the precision, the gaps being from `lo` to the
    /// lowest uncertain probe inside and from the highest to `hi` (or the
    /// whole of it, with none inside; with no `hi`, the gap below the
    /// lowest uncertain probe).
    fn next_load(&self) -> Option<f64> {
        let (Some(lo), hi) = self.ends() else {
            return None;
        };
        let top = hi.unwrap_or(f64::INFINITY);
        let inside = self
            .probes
            .iter()
            .filter(|p| p.load > lo && p.load < top && !p.epochs.is_empty())
            .map(|p| p.load);
        let (first, last) = inside.fold((top, lo), |(f, l), x| (f.min(x), l.max(x)));
        let gaps = match hi {
            Some(hi) if first >= hi => vec![(lo, hi)],
            Some(hi) => vec![(lo, first), (last, hi)],
            // Nothing failed up to `max`: narrow the gap below the lowest
            // uncertain probe, if there is one.
            None if first.is_finite() => vec![(lo, first)],
            None => Vec::new(),
        };
        gaps.into_iter()
            .filter(|&(a, b)| !self.s.converged_at(lo, a, b))
            .map(|(a, b)| (a, b, self.s.mid(a, b)))
            .find(|&(a, b, m)| m > a && m < b)
            .map(|(_, _, m)| m)
    }

    async fn run(&mut self) -> Result<(), RunError> {
        self.bracket(self.s.min).await?;
        while !self.stopped {
            if let Some(m) = self.next_load() {
                self.measure(m, self.s.epochs, "bisect").await?;
                continue;
            }
            // Confirm both ends with the boundary's epochs; an end whose
            // verdict flips moves the interval, and the search goes on.
            let before = self.ends();
            let b = self.s.boundary_epochs;
            if let Some(l) = before.0 {
                self.measure(l, b, "confirm").await?;
            }
            if let (Some(h), false) = (before.1, self.stopped) {
                self.measure(h, b, "confirm").await?;
            }
            let after = self.ends();
            if self.stopped || after == before {
                break;
            }
            // Nothing fails above the passing end any more: grow on.
            let top = self.probes.iter().map(|p| p.load).fold(0.0, f64::max);
            if after.1.is_none() && top < self.s.max {
                self.bracket(self.s.grow(top)).await?;
            }
        }
        Ok(())
    }
}

/// The objectives' smallest relative margin at a probe (positive: passing).
fn margin(p: &Probe) -> Option<f64> {
    p.objectives
        .iter()
        .map(|o| {
            let m = o.interval.mean;
            if o.at_least {
                (m - o.target) / o.target
            } else {
                (o.target - m) / o.target
            }
        })
        .filter(|m| !m.is_nan())
        .reduce(f64::min)
}

/// Run the search with `prober`; `on_probe` sees each probe as it is
/// judged (for progress).
pub async fn search<P: Prober>(
    s: &CapacitySearch,
    prober: &mut P,
    on_probe: &mut (dyn FnMut(&Probe) + Send),
) -> Result<SearchOutcome, RunError> {
    s.validate()?;
    let mut st = Searcher {
        s,
        prober,
        probes: Vec::new(),
        notes: Vec::new(),
        stopped: false,
        on_probe,
    };
    st.run().await?;
    let (lo, mut hi) = st.ends();
    if hi.is_none() {
        // Stopped early, or `max` reached with no failing probe: the
        // lowest load above `lo` not shown to pass is the upper end (the
        // note below says it was not shown to fail).
        hi = st
            .probes
            .iter()
            .filter(|p| p.side != Side::Pass && !p.epochs.is_empty())
            .filter(|p| lo.is_none_or(|l| p.load > l))
            .map(|p| p.load)
            .reduce(f64::min);
    }
    let mut probes = st.probes;
    let mut notes = st.notes;
    probes.sort_by(|a, b| a.load.total_cmp(&b.load));
    let at = |x: f64| probes.iter().find(|p| p.load == x);
    let estimate = match (lo, hi) {
        (Some(l), Some(h)) => {
            let (ml, mh) = (at(l).and_then(margin), at(h).and_then(margin));
            let x = match (ml, mh) {
                (Some(a), Some(b)) if a >= 0.0 && b < 0.0 && b.is_finite() => {
                    l + (h - l) * a / (a - b)
                }
                _ => (l + h) / 2.0,
            };
            Some(x.clamp(l, h))
        }
        (Some(l), None) => Some(l),
        _ => None,
    };
    if let Some(p) = hi.and_then(at) {
        if p.side == Side::Uncertain {
            notes.push(format!(
                "the upper end {} was not shown to fail: the SLOs could not be shown to hold \
                 there within {} epochs (more epochs, or a lower --confidence-level, would \
                 decide it)",
                num(p.load),
                p.epochs.len()
            ));
        }
    }
    Ok(SearchOutcome {
        lo,
        hi,
        estimate,
        probes,
        notes,
    })
}
