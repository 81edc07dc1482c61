//! Reports: the terminal table, CSV, JSON, Markdown and HTML with SVG
//! figures, all from one [`RunData`]. Report code only reads runs; it never
//! measures.
//!
//! - [`write_markdown`] / [`markdown_summary`]: a summary fit for a pull
//!   request comment, with the comparison table when there is a baseline.
//! - [`write_html_report`]: one page per run (`<dir>/index.html`) with its
//!   tables and SVG figures beside it; [`write_index`]: the report root's
//!   index of every run found as `<id>/new/run.json`.
//!
//! [`RunData`]: crate::metrics::RunData

mod csv_out;
mod error;
mod figures;
mod html;
mod markdown;
mod plots;
mod records;
mod stdout;
mod table;

pub use csv_out::{columns, write_csv, CsvError};
pub use error::ReportError;
pub use html::{write_html_report, write_index, HtmlOptions};
pub use markdown::{markdown_summary, md_escape, write_markdown};
pub use plots::{cdf_points, MAX_CDF_POINTS};
pub use records::RecordsWriter;
pub use stdout::print_out;
pub use table::{fixed_width, run_table};
