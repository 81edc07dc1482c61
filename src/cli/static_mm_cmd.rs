//! `servebench static-mm`: the multimodal static benchmark of
//! `modal_benchmark_parallel.py`: chat requests carrying N seeded images of a
//! given size beside text of an exact token length; the same sweep, epochs,
//! metrics and CSV as the static benchmark, with image columns.

use std::path::PathBuf;

use super::static_cmd::{run_plan_on, ImageArgs, RunOutcome};
use super::{CliError, CommonArgs, EndpointArgs, StaticSweepArgs};
use crate::run::resolve_target;

/// Flags of `servebench static-mm`.
#[derive(Debug, Clone, clap::Args)]
pub struct StaticMmArgs {
    #[command(flatten)]
    pub endpoint: EndpointArgs,
    #[command(flatten)]
    pub sweep: StaticSweepArgs,
    #[command(flatten)]
    pub images: ImageArgs,
    /// CSV output (default: <output-dir>/<name>/new/benchmark.csv).
    #[arg(long)]
    pub benchmark_csv: Option<PathBuf>,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Validate, resolve the endpoint, run the multimodal sweep, write.
/// Images travel in chat messages, so `--backend openai` (completions, no
/// images) is taken as `openai-chat`.
pub async fn run_static_mm_cmd(a: &StaticMmArgs) -> Result<RunOutcome, CliError> {
    a.sweep.validate()?;
    a.images.validate()?;
    super::output::check_csv_path(a.benchmark_csv.as_deref())?;
    a.common.run_dir("static-mm")?;
    let mut endpoint = a.endpoint.clone();
    let switched = endpoint.backend == "openai";
    if switched {
        endpoint.backend = "openai-chat".into();
    }
    if endpoint.backend != "openai-chat" {
        return Err(CliError::BadFlag {
            flag: format!("--backend {}", endpoint.backend),
            reason: "images are sent in OpenAI chat messages: use openai-chat".into(),
        });
    }
    let target = resolve_target(&endpoint).await?;
    let name = a.common.name.as_deref().unwrap_or("static-mm");
    let mut plan = a.sweep.plan(name, a.common.seed, Some(a.images.images()));
    if switched {
        let note = "--backend openai taken as openai-chat: images travel in chat messages \
                    (/v1/chat/completions)";
        if !a.common.quiet {
            eprintln!("servebench: note: {note}");
        }
        plan.notes.push(note.into());
    }
    if let Err(e) = super::calibrate_cmd::apply_calibration(&a.sweep, &a.common, &mut plan) {
        target.stop().await;
        return Err(e);
    }
    let out = run_plan_on(&target, &plan, &a.common, a.benchmark_csv.as_deref()).await;
    target.stop().await;
    out
}
