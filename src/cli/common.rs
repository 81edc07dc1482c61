//! Flags every benchmark command shares besides the endpoint.

use std::path::PathBuf;

use super::CliError;

/// Output folder, run name, seed and verbosity.
#[derive(Debug, Clone, clap::Args)]
pub struct CommonArgs {
    /// Report folder; the run goes to <output-dir>/<name>/new/.
    #[arg(long, default_value = "target-reports")]
    pub output_dir: PathBuf,
    /// Name of the run's folder (default: the sub-command's name).
    #[arg(long)]
    pub name: Option<String>,
    /// Seed of prompts, sampling and arrival times: same seed, same workload.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// No progress bars or table.
    #[arg(long, short)]
    pub quiet: bool,
    /// Skip the plots of the HTML report.
    #[arg(long)]
    pub noplot: bool,
}

impl CommonArgs {
    /// Defaults, writing under `dir`.
    pub fn in_dir(dir: impl Into<PathBuf>) -> Self {
        CommonArgs {
            output_dir: dir.into(),
            name: None,
            seed: 0,
            quiet: true,
            noplot: false,
        }
    }

    /// The run's folder, `<output-dir>/<name>/new`, created.
    pub fn run_dir(&self, default_name: &str) -> Result<PathBuf, CliError> {
        let dir = self.name_dir(default_name)?.join("new");
        std::fs::create_dir_all(&dir).map_err(|e| CliError::Write {
            path: dir.display().to_string(),
            reason: e.to_string(),
        })?;
        Ok(dir)
    }

    /// `<output-dir>/<name>` (`--name`, else `default_name`), the name
    /// checked; nothing is created.
    pub fn name_dir(&self, default_name: &str) -> Result<PathBuf, CliError> {
        let name = self.name.as_deref().unwrap_or(default_name);
        let safe = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && !name.starts_with('.');
        if !safe {
            return Err(CliError::BadFlag {
                flag: "--name".into(),
                reason: format!(
                    "`{name}`: use letters, digits, '-', '_' and '.', not starting with '.'"
                ),
            });
        }
        Ok(self.output_dir.join(name))
    }
}

/// Adaptive epochs (`--target-mde`, `--max-epochs`) of the load commands.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PrecisionArgs {
    /// Adaptive epochs: after --epochs, keep adding epochs at each point until
    /// every gated metric (output and request throughput, TTFT, TPOT and E2EL
    /// p50) could show a change this small against a baseline as noisy as
    /// this run (significance 0.05, power 80 %), e.g. 3% or 0.03
    #[arg(long, value_parser = crate::run::parse_target_mde)]
    pub target_mde: Option<f64>,
    /// With --target-mde: at most this many measured epochs a point (default 20)
    #[arg(long)]
    pub max_epochs: Option<u32>,
}

impl PrecisionArgs {
    /// The adaptive-epoch rule of the flags over `epochs` planned epochs
    /// (`None` without `--target-mde`); checked before any load.
    pub fn rule(&self, epochs: u32) -> Result<Option<crate::run::Precision>, CliError> {
        crate::run::Precision::from_flags(
            self.target_mde,
            self.max_epochs,
            epochs,
            crate::analysis::MetricId::DEFAULT_GATED.to_vec(),
            crate::stats::CompareConfig::default().significance,
        )
        .map_err(|(flag, reason)| CliError::BadFlag { flag, reason })
    }
}
