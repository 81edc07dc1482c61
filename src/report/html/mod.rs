//! The HTML report: one page per benchmark run with its tables and SVG
//! figures in the same folder, and an index of every run under the report
//! root. Templates live in `templates/` and are compiled into the binary, so
//! the report is written from any working directory; the pages load nothing
//! from the network and run no script.

mod context;
mod index;
mod server;

use std::path::{Path, PathBuf};

use tera::Tera;

pub use index::write_index;

use super::error::{write_file, ReportError};
use super::plots::{render_all, Figures, Inputs};
use crate::analysis::RunComparison;
use crate::metrics::RunData;

/// Options of the HTML report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HtmlOptions {
    /// Draw the SVG figures (`false` for `--noplot`: tables only).
    pub plots: bool,
}

impl Default for HtmlOptions {
    fn default() -> Self {
        HtmlOptions { plots: true }
    }
}

const TEMPLATES: [(&str, &str); 4] = [
    ("style.css", include_str!("../../../templates/style.css")),
    ("base.html", include_str!("../../../templates/base.html")),
    (
        "report.html",
        include_str!("../../../templates/report.html"),
    ),
    ("index.html", include_str!("../../../templates/index.html")),
];

/// The template engine, with autoescape on for every `.html` template.
fn engine() -> Result<Tera, ReportError> {
    let mut t = Tera::default();
    t.add_raw_templates(TEMPLATES.to_vec())
        .map_err(|e| template_error("templates/", &e))?;
    t.autoescape_on(vec![".html"]);
    Ok(t)
}

fn template_error(name: &str, e: &tera::Error) -> ReportError {
    // Tera keeps the useful part of the message in the error's sources.
    let mut reason = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        reason.push_str(": ");
        reason.push_str(&s.to_string());
        src = s.source();
    }
    ReportError::Template {
        template: name.to_string(),
        reason,
    }
}

/// Render template `name` with `data`.
pub(crate) fn render(name: &str, data: &impl serde::Serialize) -> Result<String, ReportError> {
    let ctx = tera::Context::from_serialize(data).map_err(|e| template_error(name, &e))?;
    engine()?
        .render(name, &ctx)
        .map_err(|e| template_error(name, &e))
}

/// Write the run's page to `dir/index.html`, with its figures as SVG files
/// beside it, and return the page's path.
///
/// `comparison` is the run compared with a baseline, and the baseline run
/// itself (drawn dashed under the new run's lines). A figure that cannot be
/// drawn is replaced by a note on the page; only a page that cannot be
/// written is an error.
pub fn write_html_report(
    dir: &Path,
    run: &RunData,
    comparison: Option<(&RunComparison, &RunData)>,
    opts: &HtmlOptions,
) -> Result<PathBuf, ReportError> {
    std::fs::create_dir_all(dir).map_err(|e| ReportError::io(dir, e))?;
    let figures = if opts.plots {
        let inp = Inputs {
            run,
            base: comparison.map(|c| c.1),
            base_name: comparison.map(|c| c.0.baseline.clone()).unwrap_or_default(),
            cmp: comparison.map(|c| c.0),
        };
        render_all(dir, &inp)
    } else {
        Figures::default()
    };
    let page = context::page(dir, run, comparison.map(|c| c.0), opts.plots, figures);
    let html = render("report.html", &page)?;
    let path = dir.join("index.html");
    write_file(&path, &html)?;
    Ok(path)
}
