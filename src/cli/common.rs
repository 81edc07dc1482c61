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
        let dir = self.output_dir.join(name).join("new");
        std::fs::create_dir_all(&dir).map_err(|e| CliError::Write {
            path: dir.display().to_string(),
            reason: e.to_string(),
        })?;
        Ok(dir)
    }
}
