//! Interleaved A/B: every point of a plan measured against two targets in
//! pairs of epochs, in ABBA order (A B, B A, A B, ...), both members of a
//! pair with the same requests (same seed), so that drift of the machine
//! hits both sides alike. `servebench ab` and a benchmark with an A/B
//! setting (`Settings::ab`) both run through here; the pairs are judged
//! with [`crate::analysis::compare_runs_paired`].

use super::engine::{execute, Output};
use super::plan::{DynamicSweep, DynamicWorkload, Plan, StaticSweep, Sweep, TraceReplay};
use super::{RunError, Target, TargetSpec};
use crate::metrics::{PointData, PointLabel, RequestRecord, RunData};

/// The target of one side of an A/B: the `shared` settings with `side`'s
/// endpoint, a URL (`http://HOST:PORT`) or `sim:KEY=VALUE,...` (an embedded
/// simulator with those settings; `sim` alone: the defaults). `flag` names
/// the side in errors.
pub fn side_spec(shared: &TargetSpec, side: &str, flag: &str) -> Result<TargetSpec, RunError> {
    let mut spec = shared.clone();
    spec.url = None;
    spec.host = None;
    spec.port = None;
    spec.sim = None;
    match side.strip_prefix("sim:") {
        Some(settings) => spec.sim = Some(settings.to_string()),
        None if side == "sim" => spec.sim = Some(String::new()),
        None if side.starts_with("http://") || side.starts_with("https://") => {
            spec.url = Some(side.to_string())
        }
        None => {
            return Err(RunError::BadSetting {
                flag: flag.into(),
                reason: format!(
                    "`{side}` is neither a URL (http://HOST:PORT) nor sim:KEY=VALUE,..."
                ),
            })
        }
    }
    Ok(spec)
}

/// Which side runs first in pair `k`: A B, B A, A B, ... (ABBA).
///
/// ```
/// use servebench::run::a_first;
/// let order: String = (0..4).map(|k| if a_first(k) { "AB" } else { "BA" }).collect();
/// assert_eq!(order, "ABBAABBA");
/// ```
pub fn a_first(k: usize) -> bool {
    k % 2 == 0
}

/// The plan of one point of `plan`, one epoch (pair `k`): its warm-up
/// before the first pair only, a seed shared by both members of the pair.
fn one_epoch_plan(plan: &Plan, label: &PointLabel, k: usize) -> Plan {
    let sweep = match (&plan.sweep, label) {
        (
            Sweep::Static(s),
            PointLabel::Static {
                prompt_tokens,
                output_tokens,
                concurrency,
            },
        ) => Sweep::Static(StaticSweep {
            pairs: vec![(*prompt_tokens, *output_tokens)],
            concurrencies: vec![*concurrency],
            ..s.clone()
        }),
        (Sweep::Dynamic(d), _) => Sweep::Dynamic(DynamicSweep {
            rates: (0..d.rates.len())
                .filter(|&i| d.label(i) == *label)
                .map(|i| d.rates[i])
                .collect(),
            per_arrival: (0..d.rates.len())
                .filter(|&i| d.label(i) == *label)
                .map(|i| d.per_arrival(i))
                .collect(),
            workload: match &d.workload {
                DynamicWorkload::Trace(t) => DynamicWorkload::Trace(TraceReplay {
                    speedups: (0..d.rates.len())
                        .filter(|&i| d.label(i) == *label)
                        .map(|i| t.speedups[i])
                        .collect(),
                    ..t.clone()
                }),
                w => w.clone(),
            },
            ..d.clone()
        }),
        (s, _) => s.clone(),
    };
    Plan {
        sweep,
        epochs: 1,
        warmup: if k == 0 { plan.warmup } else { Some(0) },
        seed: plan.seed ^ (k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        precision: None,
        ..plan.clone()
    }
}

/// Run `plan` against `a` and `b` in pairs of epochs (`plan.epochs`
/// pairs a point, ABBA); returns the two runs, epoch `k` of each point
/// being pair `k`. Progress is one line a pair on stderr unless `quiet`.
pub async fn execute_ab(
    a: &Target,
    b: &Target,
    plan: &Plan,
    quiet: bool,
) -> Result<(RunData, RunData), RunError> {
    let mut runs: [Option<RunData>; 2] = [None, None];
    let targets = [a, b];
    for label in plan.labels() {
        let mut epochs: [Vec<Vec<RequestRecord>>; 2] = [Vec::new(), Vec::new()];
        let mut metas = [None, None];
        for k in 0..plan.epochs as usize {
            let one = one_epoch_plan(plan, &label, k);
            let order = if a_first(k) { [0, 1] } else { [1, 0] };
            for side in order {
                let mut run = execute(targets[side], &one, &Output::quiet()).await?;
                let mut recs = run
                    .points
                    .pop()
                    .and_then(|mut p| p.epochs.pop())
                    .unwrap_or_default();
                for r in &mut recs {
                    r.epoch = k as u32;
                }
                metas[side].get_or_insert(run.meta);
                epochs[side].push(recs);
            }
            if !quiet {
                eprintln!(
                    "  {}: pair {}/{} ({})",
                    label.describe(),
                    k + 1,
                    plan.epochs,
                    if a_first(k) { "A B" } else { "B A" }
                );
            }
            if crate::load::interrupt::stopping() {
                break;
            }
        }
        for side in 0..2 {
            let Some(meta) = metas[side].take() else {
                continue;
            };
            let point = PointData::new(
                label.clone(),
                std::mem::take(&mut epochs[side]),
                &meta.percentiles,
                &meta.slo,
            );
            runs[side]
                .get_or_insert_with(|| RunData {
                    meta,
                    points: Vec::new(),
                })
                .points
                .push(point);
        }
    }
    match runs {
        [Some(mut ra), Some(mut rb)] => {
            let note = "A/B: epochs interleaved in ABBA order with the same requests for both \
                        members of a pair; judged with paired statistics";
            for (r, side) in [(&mut ra, "A"), (&mut rb, "B")] {
                r.meta.notes.push(format!("{note} (this is side {side})"));
                r.meta.interrupted = crate::load::interrupt::stopping();
            }
            Ok((ra, rb))
        }
        _ => Err(RunError::BadSetting {
            flag: "--parallel-num/--request-rate".into(),
            reason: "no point to measure".into(),
        }),
    }
}
