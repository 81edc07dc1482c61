//! The human-readable files of a saved run: the HTML page (with plots
//! unless `--noplot`) and the Markdown summary, both from `report`.

use std::path::{Path, PathBuf};

use super::BenchError;
use crate::analysis::RunComparison;
use crate::metrics::RunData;
use crate::report::{write_html_report, write_markdown, HtmlOptions};

/// Write `dir/index.html` (and its figures) and `dir/summary.md`.
pub fn write(
    dir: &Path,
    run: &RunData,
    comparison: Option<(&RunComparison, &RunData)>,
    plots: bool,
) -> Result<Vec<PathBuf>, BenchError> {
    let page = write_html_report(dir, run, comparison, &HtmlOptions { plots })?;
    let md = dir.join("summary.md");
    write_markdown(&md, run, comparison.map(|c| c.0))?;
    Ok(vec![page, md])
}
