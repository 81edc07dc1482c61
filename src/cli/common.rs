//! Flags every benchmark command shares besides the endpoint.

use std::path::PathBuf;

use super::output::WriteOptions;
use super::CliError;
use crate::metrics::DEFAULT_PERCENTILES;
use crate::report::{SeedCsvFormat, SeedCsvOptions};
use crate::run::{DynamicWorkload, Plan, Sweep};

/// Which CSV a load command writes besides its own (`--csv-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum CsvFormat {
    /// servebench's own `benchmark.csv` only.
    #[default]
    Servebench,
    /// Also the seed tool's CSV, O/R lineage (Chinese headers, ms).
    Seed,
    /// Also the seed tool's CSV, N lineage (English headers, seconds).
    SeedN,
}

impl CsvFormat {
    /// The seed lineage to write, if any.
    pub fn seed(self) -> Option<SeedCsvFormat> {
        match self {
            CsvFormat::Servebench => None,
            CsvFormat::Seed => Some(SeedCsvFormat::Seed),
            CsvFormat::SeedN => Some(SeedCsvFormat::SeedN),
        }
    }
}

/// One value of `--percentiles`: a number in (0, 100].
pub fn parse_percentile(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(p) if p > 0.0 && p <= 100.0 => Ok(p),
        _ => Err(format!(
            "`{s}`: each percentile must be a number above 0 and at most 100 (e.g. 50,90,99)"
        )),
    }
}

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
    /// Also write the seed tool's own CSV: `seed` (benchmark_tools' Chinese
    /// headers, ms) or `seed-n` (its newer English headers, seconds), at
    /// --benchmark-csv when given, else benchmark_parallel.csv /
    /// benchmark_serving.csv in the run folder; servebench's benchmark.csv
    /// stays in the run folder.
    #[arg(long, value_enum, default_value_t = CsvFormat::Servebench)]
    pub csv_format: CsvFormat,
    /// Percentiles of every latency distribution (TTFT, TPOT, ITL, E2EL),
    /// comma-separated, each above 0 and at most 100, e.g. 50,75,90,95,99.
    #[arg(
        long,
        value_delimiter = ',',
        value_parser = parse_percentile,
        default_values_t = DEFAULT_PERCENTILES
    )]
    pub percentiles: Vec<f64>,
    /// Set by `servebench run PLAN`: this process is one worker of a
    /// sharded run, writing its run folder where the plan's workers meet.
    #[arg(skip)]
    pub shard: Option<ShardOut>,
}

/// A worker's shard and its run folder (`servebench run`).
#[derive(Debug, Clone, PartialEq)]
pub struct ShardOut {
    pub run: crate::run::ShardRun,
    /// The worker's run folder, `<out>/shard-<rank>`.
    pub dir: PathBuf,
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
            csv_format: CsvFormat::Servebench,
            percentiles: DEFAULT_PERCENTILES.to_vec(),
            shard: None,
        }
    }

    /// Refuse `--csv-format` and `--percentiles` on `command`, which writes
    /// neither servebench's nor the seed's benchmark CSV (`ab`, `latency`).
    pub fn refuse_csv_flags(&self, command: &str) -> Result<(), CliError> {
        let only = "only static, static-mm, serving, all and calibrate";
        if self.csv_format != CsvFormat::Servebench {
            return Err(CliError::BadFlag {
                flag: "--csv-format".into(),
                reason: format!(
                    "{only} write the seed tool's CSV; `servebench {command}` does not"
                ),
            });
        }
        if self.percentile_list() != DEFAULT_PERCENTILES.to_vec() {
            return Err(CliError::BadFlag {
                flag: "--percentiles".into(),
                reason: format!("{only} take it; `servebench {command}` reports p50, p90 and p99"),
            });
        }
        Ok(())
    }

    /// `--percentiles`, ascending, each once.
    pub fn percentile_list(&self) -> Vec<f64> {
        let mut ps = self.percentiles.clone();
        ps.sort_by(f64::total_cmp);
        ps.dedup_by(|a, b| (*a - *b).abs() < 1e-9);
        ps
    }

    /// `plan` with the run's percentiles (`--percentiles`).
    pub fn apply(&self, plan: &Plan) -> Plan {
        Plan {
            percentiles: self.percentile_list(),
            shard: self.shard.as_ref().map(|s| s.run.clone()),
            ..plan.clone()
        }
    }

    /// How the outputs of `plan`'s run are written: quiet, plots, and the
    /// seed CSV of `--csv-format` (its dataset column from the plan:
    /// the dataset type, `random` for generated prompts).
    pub fn write_options(&self, plan: &Plan) -> WriteOptions {
        let dataset = match &plan.sweep {
            Sweep::Dynamic(d) => match &d.workload {
                DynamicWorkload::Dataset { kind, .. } => kind.name().to_string(),
                DynamicWorkload::Generated(_) => "random".to_string(),
                DynamicWorkload::Trace(t) => t.trace.format.name().to_string(),
                DynamicWorkload::Sessions(_) => "sessions".to_string(),
                DynamicWorkload::SharedPrefix(_) => "generated-shared-prefix".to_string(),
            },
            Sweep::Static(_) => "random".to_string(),
        };
        WriteOptions {
            quiet: self.quiet,
            noplot: self.noplot,
            seed: self
                .csv_format
                .seed()
                .map(|format| SeedCsvOptions { format, dataset }),
        }
    }

    /// The run's folder, `<output-dir>/<name>/new`, created.
    /// A shard's run goes to its own folder instead (`servebench run`).
    pub fn run_dir(&self, default_name: &str) -> Result<PathBuf, CliError> {
        let dir = match &self.shard {
            Some(s) => s.dir.clone(),
            None => self.name_dir(default_name)?.join("new"),
        };
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

/// A count flag's value (`--epochs`, `--parallel-num`, ...): a whole number
/// of 0 or more. Negative numbers reach this parser (the flags allow them)
/// so that `--epochs -2` is refused naming the flag rather than read as an
/// unknown flag `-2`; 0 passes here and is refused by the command's own
/// checks where a count must be at least 1.
pub fn parse_count<T: std::str::FromStr>(v: &str) -> Result<T, String> {
    v.trim()
        .parse()
        .map_err(|_| format!("`{v}` is not a whole number (1 or more)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_checked_sorted_and_deduplicated() {
        assert_eq!(parse_percentile(" 99.9"), Ok(99.9));
        assert_eq!(parse_percentile("100"), Ok(100.0));
        for bad in ["0", "-5", "100.5", "nan", "p99", ""] {
            assert!(parse_percentile(bad).is_err(), "{bad}");
        }
        let mut c = CommonArgs::in_dir("x");
        c.percentiles = vec![99.0, 50.0, 99.0, 75.0];
        assert_eq!(c.percentile_list(), vec![50.0, 75.0, 99.0]);
        let plan = Plan::new(
            "p",
            Sweep::Static(crate::run::StaticSweep::new(vec![(8, 2)], vec![1])),
        );
        assert_eq!(plan.percentiles, DEFAULT_PERCENTILES.to_vec());
        assert_eq!(c.apply(&plan).percentiles, vec![50.0, 75.0, 99.0]);
        assert!(c.write_options(&plan).seed.is_none());
        c.csv_format = CsvFormat::SeedN;
        let seed = c.write_options(&plan).seed.unwrap();
        assert_eq!(seed.format, SeedCsvFormat::SeedN);
        assert_eq!(seed.dataset, "random");
    }
}
