//! The report's SVG figures (plotters). Each figure is drawn on its own; one
//! that fails, or panics, becomes a note on the page and never costs the
//! others or the report.

mod breakdown;
pub(crate) mod capacity;
mod cdf;
mod change;
mod chart;
mod server;
mod sweep;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use serde::Serialize;

pub(crate) use breakdown::{breakdown_rows, BreakdownRow};
pub use cdf::{cdf_points, MAX_CDF_POINTS};

use crate::analysis::RunComparison;
use crate::metrics::RunData;

/// What the figures are drawn from.
pub(crate) struct Inputs<'a> {
    pub run: &'a RunData,
    /// The baseline run, for overlays.
    pub base: Option<&'a RunData>,
    pub base_name: String,
    pub cmp: Option<&'a RunComparison>,
}

/// A drawn figure: the SVG document and its caption.
pub(crate) struct Drawn {
    pub svg: String,
    pub caption: String,
}

type Draw<'a> = Box<dyn FnOnce() -> Result<Option<Drawn>, String> + 'a>;

/// A figure to draw: its file name, its title, and how to draw it
/// (`Ok(None)` when the run has no data for it).
pub(crate) struct Job<'a> {
    file: String,
    title: String,
    draw: Draw<'a>,
}

impl<'a> Job<'a> {
    pub(crate) fn new(
        file: &str,
        title: &str,
        draw: impl FnOnce() -> Result<Option<Drawn>, String> + 'a,
    ) -> Job<'a> {
        Job {
            file: file.into(),
            title: title.into(),
            draw: Box::new(draw),
        }
    }
}

/// A figure written next to the page.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Figure {
    /// File name, relative to the page.
    pub file: String,
    pub title: String,
    pub caption: String,
    /// Shown in the comparison section rather than with the other figures.
    pub in_comparison: bool,
    /// Shown in the server-metrics section.
    pub in_server: bool,
}

/// The figures written, and a note for each that could not be.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Figures {
    pub figures: Vec<Figure>,
    pub failures: Vec<String>,
}

/// Draw every figure of `inp` into `dir`.
pub(crate) fn render_all(dir: &Path, inp: &Inputs<'_>) -> Figures {
    let mut jobs = Vec::new();
    jobs.extend(change::jobs(inp));
    jobs.extend(sweep::jobs(inp));
    jobs.extend(cdf::jobs(inp));
    jobs.extend(breakdown::jobs(inp));
    jobs.extend(server::jobs(inp));
    run_jobs(dir, jobs)
}

/// Draw `jobs` into `dir`, each on its own: an error or a panic becomes a
/// note, never the end of the report.
fn run_jobs(dir: &Path, jobs: Vec<Job<'_>>) -> Figures {
    let mut out = Figures::default();
    for job in jobs {
        let Job { file, title, draw } = job;
        let drawn = match catch_unwind(AssertUnwindSafe(draw)) {
            Ok(r) => r,
            Err(panic) => Err(panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "the plotting code panicked".into())),
        };
        match drawn {
            Ok(None) => {}
            Ok(Some(d)) => match std::fs::write(dir.join(&file), d.svg) {
                Ok(()) => out.figures.push(Figure {
                    in_comparison: file == "change.svg",
                    in_server: file.starts_with("server_"),
                    file,
                    title,
                    caption: d.caption,
                }),
                Err(e) => out
                    .failures
                    .push(format!("{title}: cannot write {file}: {e}")),
            },
            Err(e) => out.failures.push(format!("{title}: {e}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_or_panicking_figure_becomes_a_note() {
        let dir = tempfile::tempdir().unwrap();
        let ok = || {
            Ok(Some(Drawn {
                svg: "<svg xmlns=\"http://www.w3.org/2000/svg\"/>".into(),
                caption: "fine".into(),
            }))
        };
        let jobs = vec![
            Job::new("a.svg", "A", || Err("no data range".to_string())),
            Job::new("b.svg", "B", || panic!("plotting bug")),
            Job::new("c.svg", "C", || Ok(None)),
            Job::new("d.svg", "D", ok),
        ];
        let f = run_jobs(dir.path(), jobs);
        assert_eq!(f.figures.len(), 1);
        assert_eq!(f.figures[0].file, "d.svg");
        assert!(dir.path().join("d.svg").is_file());
        assert_eq!(f.failures, vec!["A: no data range", "B: plotting bug"]);
    }
}
