//! Reports: the terminal table and CSV (more outputs build on the same
//! summaries). Report code only reads summaries; it never measures.

mod csv_out;
mod table;

pub use csv_out::{static_csv_header, static_csv_row, write_static_csv, CsvError};
pub use table::static_table;
