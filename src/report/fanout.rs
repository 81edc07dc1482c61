//! One [`Report`] trait, one implementation per output format, and the
//! fan-out that hands a finished run to each. The command line and the
//! bench harness write every run through [`Reports::standard`], so the same
//! run gives the same files, in the same layout, with the same figures.
//!
//! A run folder (see [`crate::baseline`] for the names):
//!
//! ```text
//! <run folder>/run.json          the run (versioned), written first
//! <run folder>/comparison.json   against its baseline, when there is one
//! <run folder>/benchmark.csv     one row per point (or where --benchmark-csv says)
//! <run folder>/summary.md        Markdown, fit for a pull request
//! <run folder>/report/index.html the HTML page and its SVG figures
//! ```

use std::path::{Path, PathBuf};

use super::{render_run, write_csv, write_html_report, write_markdown, HtmlOptions};
use super::{write_index, ReportError};
use crate::analysis::RunComparison;
use crate::baseline::{CSV_FILE, HTML_DIR, SUMMARY_FILE};
use crate::metrics::RunData;

/// What every report is made from.
#[derive(Debug, Clone, Copy)]
pub struct ReportInput<'a> {
    /// The run's folder.
    pub dir: &'a Path,
    /// The report root whose index lists every run (refreshed by the HTML
    /// report), if any.
    pub root: Option<&'a Path>,
    /// The run's id (a benchmark id, a command's run name).
    pub id: &'a str,
    pub run: &'a RunData,
    /// The run against its baseline: the comparison and the baseline run.
    pub comparison: Option<(&'a RunComparison, &'a RunData)>,
}

/// One output format.
pub trait Report {
    /// What it is, for messages ("CSV", "HTML"...).
    fn name(&self) -> &'static str;
    /// Write (or print) the report; the file it wrote, if any.
    fn write(&self, input: &ReportInput<'_>) -> Result<Option<PathBuf>, ReportError>;
    /// A failure of this report stops the others (the data itself); a
    /// failure of an optional one is a warning.
    fn required(&self) -> bool {
        true
    }
}

/// `run.json` (and `comparison.json`): the data every other output and
/// every later comparison is rebuilt from.
pub struct JsonReport;

impl Report for JsonReport {
    fn name(&self) -> &'static str {
        "JSON"
    }
    fn write(&self, i: &ReportInput<'_>) -> Result<Option<PathBuf>, ReportError> {
        let json = crate::baseline::run_file_in(i.dir);
        crate::baseline::save_run(&json, i.run)?;
        crate::baseline::save_or_clear_comparison(i.dir, i.comparison.map(|c| c.0))?;
        Ok(Some(json))
    }
}

/// The CSV, one row per point (the seed tools' columns first).
pub struct CsvReport {
    /// Where to write it (default: `benchmark.csv` in the run folder).
    pub path: Option<PathBuf>,
}

impl Report for CsvReport {
    fn name(&self) -> &'static str {
        "CSV"
    }
    fn write(&self, i: &ReportInput<'_>) -> Result<Option<PathBuf>, ReportError> {
        let path = self.path.clone().unwrap_or_else(|| i.dir.join(CSV_FILE));
        write_csv(&path, i.run)?;
        Ok(Some(path))
    }
}

/// `summary.md`, with the comparison table when there is a baseline.
pub struct MarkdownReport;

impl Report for MarkdownReport {
    fn name(&self) -> &'static str {
        "Markdown"
    }
    fn write(&self, i: &ReportInput<'_>) -> Result<Option<PathBuf>, ReportError> {
        let path = i.dir.join(SUMMARY_FILE);
        write_markdown(&path, i.run, i.comparison.map(|c| c.0))?;
        Ok(Some(path))
    }
}

/// The HTML page (`report/index.html`, with plots unless `--noplot`) and
/// the root's index of every run.
pub struct HtmlReport {
    pub plots: bool,
}

impl Report for HtmlReport {
    fn name(&self) -> &'static str {
        "HTML report"
    }
    fn required(&self) -> bool {
        false
    }
    fn write(&self, i: &ReportInput<'_>) -> Result<Option<PathBuf>, ReportError> {
        let opts = HtmlOptions { plots: self.plots };
        let page = write_html_report(&i.dir.join(HTML_DIR), i.run, i.comparison, &opts)?;
        if let Some(root) = i.root {
            write_index(root)?;
        }
        Ok(Some(page))
    }
}

/// The terminal: the table of the run's figures, or its comparison with
/// the baseline (see [`render_run`]).
pub struct TerminalReport {
    pub color: bool,
}

impl Report for TerminalReport {
    fn name(&self) -> &'static str {
        "terminal"
    }
    fn required(&self) -> bool {
        false
    }
    fn write(&self, i: &ReportInput<'_>) -> Result<Option<PathBuf>, ReportError> {
        crate::out!(
            "{}",
            render_run(i.id, i.run, i.comparison.map(|c| c.0), self.color)
        );
        Ok(None)
    }
}

/// Reports to write, in order.
pub struct Reports(Vec<Box<dyn Report>>);

/// What [`Reports::write`] produced.
#[derive(Debug, Default)]
pub struct Written {
    /// Every file written, in order (`run.json` first).
    pub files: Vec<PathBuf>,
    /// Optional reports that failed, as warnings.
    pub warnings: Vec<String>,
}

impl Written {
    /// The file whose name is `name`, if written.
    pub fn file(&self, name: &str) -> Option<&Path> {
        self.files
            .iter()
            .find(|p| p.file_name().is_some_and(|n| n == name))
            .map(PathBuf::as_path)
    }
}

impl Reports {
    /// No report.
    pub fn new() -> Self {
        Reports(Vec::new())
    }

    /// Add a report.
    pub fn with(mut self, r: impl Report + 'static) -> Self {
        self.0.push(Box::new(r));
        self
    }

    /// JSON, CSV (at `csv` when given), Markdown and HTML (plots unless
    /// `noplot`), then the terminal unless `terminal` is `None`.
    pub fn standard(csv: Option<&Path>, noplot: bool, terminal: Option<TerminalReport>) -> Self {
        let r = Reports::new()
            .with(JsonReport)
            .with(CsvReport {
                path: csv.map(Path::to_path_buf),
            })
            .with(MarkdownReport)
            .with(HtmlReport { plots: !noplot });
        match terminal {
            Some(t) => r.with(t),
            None => r,
        }
    }

    /// Hand `input` to every report in order. A required report's failure
    /// stops the fan-out; an optional one's becomes a warning.
    pub fn write(&self, input: &ReportInput<'_>) -> Result<Written, ReportError> {
        let mut w = Written::default();
        for r in &self.0 {
            match r.write(input) {
                Ok(Some(p)) => w.files.push(p),
                Ok(None) => {}
                Err(e) if !r.required() => {
                    w.warnings.push(format!("{} not written: {e}", r.name()))
                }
                Err(e) => return Err(e),
            }
        }
        Ok(w)
    }
}

impl Default for Reports {
    fn default() -> Self {
        Reports::new()
    }
}
