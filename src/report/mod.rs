//! Reports: the terminal table, CSV and JSON, all from one [`RunData`].
//! Report code only reads runs; it never measures.
//!
//! [`RunData`]: crate::metrics::RunData

mod csv_out;
mod json_out;
mod table;

pub use csv_out::{columns, write_csv, CsvError};
pub use json_out::{write_json, JsonError};
pub use table::run_table;
