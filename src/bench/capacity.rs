//! A capacity benchmark declared in code: the search of `servebench
//! capacity` (the highest load at which the SLOs hold, as an interval) over
//! a dynamic workload, run by the one engine. Registered on a group
//! (`c.group("capacity").bench(Capacity::new(...))`), `cargo bench` runs,
//! saves and compares it like any benchmark (see `capacity_flow`);
//! [`Capacity::measure`] runs it alone.
//!
//! ```no_run
//! use servebench::bench::{Capacity, Configure, DynamicSweep};
//! use servebench::metrics::capacity::{CapacityMode, CapacitySlo};
//! use servebench::metrics::Slo;
//! # async fn demo() -> Result<(), servebench::bench::BenchError> {
//! let slo = CapacitySlo {
//!     per_request: Slo { ttft_ms: Some(500.0), tpot_ms: Some(50.0), ..Slo::default() },
//!     goodput_ratio: 0.95,
//!     percentiles: Vec::new(),
//! };
//! let c = Capacity::new("capacity", slo)
//!     .workload(DynamicSweep::new("w").lengths(256, 64).num_prompts(60))
//!     .mode(CapacityMode::Rate)
//!     .bounds(2.0, 256.0)
//!     .precision(0.1)
//!     .sim("time_scale=0.2");
//! let found = c.measure(true).await?;
//! println!("{}", found.headline());
//! # Ok(()) }
//! ```

use super::settings::{Configure, Settings};
use super::sweep::DynamicSweep;
use super::{BenchError, EndpointFlags};
use crate::metrics::capacity::{CapacityMode, CapacityResult, CapacitySlo};
use crate::metrics::Rate;
use crate::run::{find_capacity, resolve_target, CapacitySearch, DynamicWorkload, Plan, Sweep};

/// A capacity benchmark: a workload and the search's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Capacity {
    pub name: String,
    /// The workload each probe sends: its lengths (or shared-prefix
    /// groups), burstiness, `max_concurrency` and `num_prompts` (the
    /// requests of each probe epoch); its `rates` are not used. Its
    /// settings are the benchmark's (endpoint, simulator, seed, warm-up;
    /// `epochs`, when set, are each probe's).
    pub workload: DynamicSweep,
    pub search: CapacitySearch,
}

impl Capacity {
    /// A rate search for `slo` over [`DynamicSweep::new`]'s workload, with
    /// [`CapacitySearch::new`]'s settings.
    pub fn new(name: impl Into<String>, slo: CapacitySlo) -> Self {
        let name = name.into();
        Capacity {
            workload: DynamicSweep::new(name.clone()),
            name,
            search: CapacitySearch::new(CapacityMode::Rate, slo),
        }
    }

    /// The workload each probe sends (its settings are kept as they are).
    pub fn workload(mut self, w: DynamicSweep) -> Self {
        let settings = std::mem::take(&mut self.workload.settings);
        self.workload = DynamicSweep { settings, ..w };
        self
    }

    /// Search the request rate or the concurrency.
    pub fn mode(mut self, m: CapacityMode) -> Self {
        self.search.mode = m;
        self
    }

    /// The lowest and highest loads probed.
    pub fn bounds(mut self, min: f64, max: f64) -> Self {
        (self.search.min, self.search.max) = (min, max);
        self
    }

    /// Relative width at which bisection stops.
    pub fn precision(mut self, p: f64) -> Self {
        self.search.precision = p;
        self
    }

    /// Epochs of each probe, the cap of an uncertain one, and those of the
    /// boundary probes.
    pub fn probe_epochs(mut self, epochs: u32, max: u32, boundary: u32) -> Self {
        (
            self.search.epochs,
            self.search.max_epochs,
            self.search.boundary_epochs,
        ) = (epochs, max, boundary);
        self
    }

    /// The search's settings with `epochs` (when given) for each probe's,
    /// the cap and the boundary's raised to them if lower; unchecked.
    pub(crate) fn search_with_epochs(&self, epochs: Option<u32>) -> CapacitySearch {
        let mut s = self.search.clone();
        if let Some(e) = epochs {
            s.epochs = e;
            s.max_epochs = s.max_epochs.max(e);
            s.boundary_epochs = s.boundary_epochs.max(e);
        }
        s
    }

    /// The search's settings, the code's `epochs` applied; checked.
    pub fn resolved_search(&self) -> Result<CapacitySearch, BenchError> {
        let s = self.search_with_epochs(self.workload.settings.epochs);
        s.validate().map_err(|e| BenchError::Invalid {
            id: self.name.clone(),
            reason: e.to_string(),
        })?;
        Ok(s)
    }

    /// The engine's plan of one probe (the search sets its load).
    pub fn run_plan(&self) -> Plan {
        let d = &self.workload;
        let (n, workload) = match d.shared_prefix {
            Some(sp) => (sp.requests_per_round(), DynamicWorkload::SharedPrefix(sp)),
            None => (
                d.num_prompts,
                DynamicWorkload::Generated(d.workload.clone()),
            ),
        };
        let sweep = crate::run::DynamicSweep {
            rates: vec![(Rate(self.search.min), n)],
            burstiness: d.burstiness,
            per_arrival: Vec::new(),
            max_concurrency: d.max_concurrency,
            workload,
        };
        Plan {
            epochs: 1,
            warmup: d.settings.warmup,
            slo: self.search.slo.per_request,
            seed: d.settings.seed.unwrap_or(0),
            ..Plan::new(self.name.clone(), Sweep::Dynamic(sweep))
        }
    }

    /// Run the search against the benchmark's endpoint (the embedded
    /// simulator unless the code or `SERVEBENCH_URL` names a server);
    /// progress on stderr unless `quiet`.
    pub async fn measure(&self, quiet: bool) -> Result<CapacityResult, BenchError> {
        let search = self.resolved_search()?;
        let plan = self.run_plan();
        let endpoint = self
            .workload
            .settings
            .endpoint_args(&EndpointFlags::default(), &|k| std::env::var(k).ok());
        search_at(&endpoint, &plan, &search, quiet).await
    }
}

/// Resolve `endpoint`, run the search there, stop the target.
pub(crate) async fn search_at(
    endpoint: &crate::run::TargetSpec,
    plan: &Plan,
    search: &CapacitySearch,
    quiet: bool,
) -> Result<CapacityResult, BenchError> {
    let target = resolve_target(endpoint).await?;
    let res = find_capacity(&target, plan, search, quiet).await;
    target.stop().await;
    Ok(res?)
}

impl Configure for Capacity {
    fn settings_mut(&mut self) -> &mut Settings {
        &mut self.workload.settings
    }
}
