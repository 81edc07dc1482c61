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
    on_probe: &'a mut dyn FnMut(&Probe),
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

    /// Grow from `x` until a probe does not pass; returns `(lo, hi)`.
    async fn bracket(
        &mut self,
        mut x: f64,
        mut lo: Option<f64>,
    ) -> Result<(Option<f64>, Option<f64>), RunError> {
        loop {
            let side = self.measure(x, self.s.epochs, "bracket").await?;
            if self.stopped {
                return Ok((lo, (side != Side::Pass).then_some(x)));
            }
            if side != Side::Pass {
                return Ok((lo, Some(x)));
            }
            lo = Some(x);
            if x >= self.s.max {
                return Ok((lo, None));
            }
            x = self.s.grow(x);
        }
    }

    /// The highest load below `x` judged passing.
    fn pass_below(&self, x: f64) -> Option<f64> {
        self.probes
            .iter()
            .filter(|p| p.load < x && p.side == Side::Pass)
            .map(|p| p.load)
            .fold(None, |a: Option<f64>, l| Some(a.map_or(l, |a| a.max(l))))
    }

    /// The lowest load above `x` judged not passing.
    fn fail_above(&self, x: f64) -> Option<f64> {
        self.probes
            .iter()
            .filter(|p| p.load > x && p.side != Side::Pass && !p.epochs.is_empty())
            .map(|p| p.load)
            .fold(None, |a: Option<f64>, l| Some(a.map_or(l, |a| a.min(l))))
    }

    async fn run(&mut self) -> Result<(Option<f64>, Option<f64>), RunError> {
        let (mut lo, mut hi) = self.bracket(self.s.min, None).await?;
        while !self.stopped {
            // Bisect.
            while let (Some(l), Some(h)) = (lo, hi) {
                if self.stopped || self.s.converged(l, h) {
                    break;
                }
                let m = self.s.mid(l, h);
                if m <= l || m >= h {
                    break;
                }
                if self.measure(m, self.s.epochs, "bisect").await? == Side::Pass {
                    lo = Some(m);
                } else {
                    hi = Some(m);
                }
            }
            if self.stopped {
                break;
            }
            // Confirm both ends with the boundary's epochs.
            let b = self.s.boundary_epochs;
            if let Some(l) = lo {
                if self.measure(l, b, "confirm").await? != Side::Pass {
                    hi = Some(l);
                    lo = self.pass_below(l);
                    continue;
                }
            }
            if let Some(h) = hi {
                if self.measure(h, b, "confirm").await? == Side::Pass {
                    lo = Some(h);
                    hi = self.fail_above(h);
                    if hi.is_none() && h < self.s.max {
                        (lo, hi) = self.bracket(self.s.grow(h), lo).await?;
                    }
                    continue;
                }
            }
            break;
        }
        Ok((lo, hi))
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
    on_probe: &mut dyn FnMut(&Probe),
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
    let (lo, hi) = st.run().await?;
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
