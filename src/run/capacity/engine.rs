//! The engine's side of the search: each probe epoch is one run of the
//! one engine ([`crate::run::execute`]).

use super::search::{search, Prober};
use super::CapacitySearch;
use crate::metrics::capacity::{num, CapacityMode, CapacityResult, CapacitySlo, Probe, ProbeEpoch};
use crate::metrics::{unix_now_s, Rate};
use crate::run::plan::{DynamicWorkload, Plan, Sweep};
use crate::run::{execute, Output, RunError, Target};
use crate::stats::Side;

/// The engine's prober: each epoch is `base` (a one-rate dynamic plan)
/// run by [`execute`] at the probe's load, with a seed of its own.
pub struct EngineProber<'a> {
    target: &'a Target,
    base: &'a Plan,
    mode: CapacityMode,
    slo: &'a CapacitySlo,
    runs: u64,
    /// The engine's notes (client-limited points...), each once.
    pub notes: Vec<String>,
}

impl<'a> EngineProber<'a> {
    /// A prober running `base` against `target`. `base` must be a dynamic
    /// plan of one rate whose count is the requests of one epoch.
    pub fn new(
        target: &'a Target,
        base: &'a Plan,
        mode: CapacityMode,
        slo: &'a CapacitySlo,
    ) -> Result<Self, RunError> {
        let ok = match &base.sweep {
            Sweep::Dynamic(d) => {
                d.rates.len() == 1
                    && !matches!(
                        d.workload,
                        DynamicWorkload::Trace(_) | DynamicWorkload::Sessions(_)
                    )
            }
            Sweep::Static(_) => false,
        };
        if !ok {
            return Err(RunError::BadSetting {
                flag: "capacity".into(),
                reason: "a capacity search probes a dynamic workload of one rate (generated, \
                         dataset or shared-prefix prompts)"
                    .into(),
            });
        }
        if mode == CapacityMode::Concurrency && base_max_concurrency(base).is_some() {
            return Err(RunError::BadSetting {
                flag: "--max-concurrency".into(),
                reason: "--mode concurrency sets the requests in flight itself".into(),
            });
        }
        Ok(EngineProber {
            target,
            base,
            mode,
            slo,
            runs: 0,
            notes: Vec::new(),
        })
    }

    /// The plan of one epoch at `load`.
    fn plan(&self, load: f64, index: u32) -> Plan {
        let mut plan = self.base.clone();
        if let Sweep::Dynamic(d) = &mut plan.sweep {
            let n = d.rates[0].1;
            match self.mode {
                CapacityMode::Rate => d.rates = vec![(Rate(load), n)],
                CapacityMode::Concurrency => {
                    // Closed loop: all requests due at once, `load` in flight.
                    d.rates = vec![(Rate(f64::INFINITY), n)];
                    d.max_concurrency = Some(load as usize);
                }
            }
        }
        plan.epochs = 1;
        plan.precision = None;
        if index > 0 {
            plan.warmup = Some(0);
        }
        plan.seed = crate::workload::mix(self.base.seed, self.runs);
        plan
    }
}

fn base_max_concurrency(plan: &Plan) -> Option<usize> {
    match &plan.sweep {
        Sweep::Dynamic(d) => d.max_concurrency,
        Sweep::Static(_) => None,
    }
}

impl Prober for EngineProber<'_> {
    async fn epoch(&mut self, load: f64, index: u32) -> Result<ProbeEpoch, RunError> {
        let plan = self.plan(load, index);
        self.runs += 1;
        let run = execute(self.target, &plan, &Output::quiet()).await?;
        for n in &run.meta.notes {
            if !self.notes.contains(n) && !self.target.notes_contain(n) {
                self.notes.push(n.clone());
            }
        }
        let records: Vec<_> = run
            .points
            .into_iter()
            .flat_map(|p| p.epochs.into_iter().flatten())
            .collect();
        let mut e = ProbeEpoch::of(&records, self.slo);
        if self.mode == CapacityMode::Concurrency {
            // A closed loop's queue is bounded by its concurrency.
            e.saturated = None;
        }
        Ok(e)
    }

    fn stop_reason(&self) -> Option<String> {
        if crate::load::interrupt::stopping() {
            return Some("interrupted".into());
        }
        self.target
            .client
            .guard()
            .tripped()
            .map(|s| format!("{s}; raise --max-failure-rate to let probes fail"))
    }
}

/// Search the capacity of `target` for `base`'s workload (a one-rate
/// dynamic plan; its count is the requests of each epoch). Progress goes
/// to stderr unless `quiet`.
pub async fn find_capacity(
    target: &Target,
    base: &Plan,
    s: &CapacitySearch,
    quiet: bool,
) -> Result<CapacityResult, RunError> {
    s.validate()?;
    let started = unix_now_s();
    let mut prober = EngineProber::new(target, base, s.mode, &s.slo)?;
    let unit = s.mode.unit();
    let mut show = |p: &Probe| {
        if !quiet {
            eprintln!(
                "capacity: {} {unit}: {} after {} epoch(s): {}",
                num(p.load),
                match p.side {
                    Side::Pass => "pass",
                    Side::Fail => "FAIL",
                    Side::Uncertain => "uncertain",
                },
                p.epochs.len(),
                p.reason
            );
        }
    };
    let out = search(s, &mut prober, &mut show).await?;
    let mut notes = target.notes();
    notes.extend(base.notes.iter().cloned());
    notes.extend(prober.notes);
    notes.extend(out.notes);
    Ok(CapacityResult {
        name: base.name.clone(),
        mode: s.mode,
        slo: s.slo.clone(),
        confidence: s.confidence,
        precision: s.precision,
        lo: out.lo,
        hi: out.hi,
        estimate: out.estimate,
        interval_confidence: s.confidence,
        probes: out.probes,
        notes,
        base_url: target.base_url.clone(),
        model: target.model.clone(),
        backend: target.client.backend().name().to_string(),
        servebench_version: env!("CARGO_PKG_VERSION").to_string(),
        started_unix_s: started,
    })
}
