//! Reports: the terminal, CSV, JSON, Markdown and HTML with SVG figures,
//! all from one [`RunData`], each an implementation of the one [`Report`]
//! trait, handed the run by the fan-out [`Reports`]. Report code only reads
//! runs; it never measures.
//!
//! - [`write_markdown`] / [`markdown_summary`]: a summary fit for a pull
//!   request comment, with the comparison table when there is a baseline.
//! - [`write_html_report`]: one page per run (`<dir>/index.html`) with its
//!   tables and SVG figures beside it; [`write_index`]: the report root's
//!   index of every run found as `<id>/new/run.json`.
//!
//! [`RunData`]: crate::metrics::RunData

mod capacity;
mod csv_out;
mod error;
mod fanout;
mod figures;
mod html;
mod markdown;
mod plots;
pub mod seed_csv;
mod stdout;
mod table;
mod terminal;

pub use capacity::{
    capacity_table, html_escape, write_capacity_csv, write_capacity_html, CAPACITY_CSV,
};
pub use csv_out::{columns, write_csv, CsvError};
pub use error::ReportError;
pub use fanout::{
    CsvReport, HtmlReport, JsonReport, MarkdownReport, Report, ReportInput, Reports,
    TerminalReport, Written,
};
pub use html::{write_html_report, write_index, HtmlOptions};
pub use markdown::{markdown_summary, md_escape, write_markdown};
pub use plots::{cdf_points, MAX_CDF_POINTS};
pub use seed_csv::{write_seed_csv, SeedCsvFormat, SeedCsvOptions, SeedCsvReport};
pub use stdout::print_out;
pub use table::{fixed_width, run_table};
pub use terminal::{render_run, value, wrap, ColorChoice, WIDTH};
