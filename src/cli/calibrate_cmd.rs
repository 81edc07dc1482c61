//! `servebench calibrate`: A/A epochs of a static sweep against the endpoint,
//! then each gated metric's epoch-to-epoch noise, the MDE it allows at 3,
//! 5, 10 and 20 epochs, the epochs a target MDE needs and a drift check,
//! saved as `<output-dir>/<name>/calibration.json`. Later `static` and
//! `static-mm` runs of that name without `--epochs` run the recommended
//! epochs.

use std::path::PathBuf;

use super::common::{CommonArgs, PrecisionArgs};
use super::static_cmd::{run_plan_on, RunOutcome, StaticSweepArgs};
use super::{CliError, EndpointArgs};
use crate::analysis::{
    calibrate, calibration_table, Calibration, MetricId, MIN_CALIBRATION_EPOCHS,
};
use crate::baseline::{load_calibration, save_calibration};
use crate::run::{resolve_target, Plan, DEFAULT_MAX_EPOCHS};
use crate::stats::CompareConfig;

pub use crate::analysis::DEFAULT_TARGET_MDE as DEFAULT_CALIBRATION_TARGET;

/// Flags of `servebench calibrate`: the static sweep's, where `--epochs`
/// is the number of A/A epochs measured (at least 4; 10 or more gives a
/// usable noise estimate), `--target-mde` the MDE to recommend epochs for
/// (default 3%) and `--max-epochs` the most it may recommend (default 20).
#[derive(Debug, Clone, clap::Args)]
pub struct CalibrateArgs {
    #[command(flatten)]
    pub endpoint: EndpointArgs,
    #[command(flatten)]
    pub sweep: StaticSweepArgs,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// What a calibration produced.
#[derive(Debug)]
pub struct CalibrateOutcome {
    pub calibration: Calibration,
    /// Where it was saved.
    pub path: PathBuf,
    /// The A/A run itself (`<output-dir>/<name>-calibration/new/`).
    pub run: RunOutcome,
}

/// Validate, resolve the endpoint, run the A/A epochs, calibrate, save.
pub async fn run_calibrate_cmd(a: &CalibrateArgs) -> Result<CalibrateOutcome, CliError> {
    let target_mde = a
        .sweep
        .precision
        .target_mde
        .unwrap_or(DEFAULT_CALIBRATION_TARGET);
    let max_epochs = a.sweep.precision.max_epochs.unwrap_or(DEFAULT_MAX_EPOCHS);
    if max_epochs < 3 {
        return Err(CliError::BadFlag {
            flag: "--max-epochs".into(),
            reason: "a comparison needs at least 3 epochs a side".into(),
        });
    }
    // The calibration's epochs are fixed: no adaptive rule while measuring.
    let sweep = StaticSweepArgs {
        precision: PrecisionArgs::default(),
        ..a.sweep.clone()
    };
    sweep.validate()?;
    if sweep.epochs < MIN_CALIBRATION_EPOCHS {
        return Err(CliError::BadFlag {
            flag: "--epochs".into(),
            reason: format!(
                "{} A/A epochs cannot estimate the noise: calibrate with at least \
                 {MIN_CALIBRATION_EPOCHS} (10 or more recommended)",
                sweep.epochs
            ),
        });
    }
    let name = a.common.name.as_deref().unwrap_or("static");
    let run_common = CommonArgs {
        name: Some(format!("{name}-calibration")),
        ..a.common.clone()
    };
    run_common.run_dir(name)?;
    let plan = sweep.plan(&format!("{name}-calibration"), a.common.seed, None);
    let target = resolve_target(&a.endpoint).await?;
    let run = run_plan_on(&target, &plan, &run_common, None).await;
    target.stop().await;
    let run = run?;
    let calibration = calibrate(
        &run.run,
        &MetricId::DEFAULT_GATED,
        target_mde,
        &CompareConfig::default(),
        max_epochs,
    );
    let dir = a.common.output_dir.join(name);
    let path = save_calibration(&dir, &calibration).map_err(|e| CliError::write(&dir, e))?;
    if !a.common.quiet {
        crate::out!(
            "\ncalibration of {name} ({} A/A epochs a point)\n",
            sweep.epochs
        );
        crate::out!("{}", calibration_table(&calibration));
        crate::outln!(
            "saved {}: `servebench static --name {name}` (or static-mm) without --epochs \
             now runs {} epochs a point",
            path.display(),
            calibration.epochs_to_use()
        );
    }
    Ok(CalibrateOutcome {
        calibration,
        path,
        run,
    })
}

/// When `--epochs` was left at its default and `<output-dir>/<name>/`
/// holds a calibration: the plan runs the epochs it recommends, and its
/// notes say so.
pub(super) fn apply_calibration(
    sweep: &StaticSweepArgs,
    common: &CommonArgs,
    plan: &mut Plan,
) -> Result<(), CliError> {
    if sweep.epochs_explicit {
        return Ok(());
    }
    let dir = common.output_dir.join(&plan.name);
    let Some(c) = load_calibration(&dir).map_err(|e| CliError::BadFlag {
        flag: "calibration".into(),
        reason: e.to_string(),
    })?
    else {
        return Ok(());
    };
    plan.epochs = c.epochs_to_use();
    plan.notes.push(format!(
        "{} epochs a point, as calibrated in {} for an MDE of {:.1} %{}",
        plan.epochs,
        dir.join(crate::baseline::CALIBRATION_FILE).display(),
        100.0 * c.target_mde,
        if c.recommended_epochs.is_none() {
            " (out of reach: the calibration's cap)"
        } else {
            ""
        }
    ));
    Ok(())
}
