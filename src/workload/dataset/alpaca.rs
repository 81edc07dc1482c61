//! Alpaca: a JSON array of `{"instruction", "input", "output"}`.
//!
//! The prompt is the instruction, followed by a newline and the input when
//! the input is present and not empty; the output's token count is the
//! output length.

use std::path::Path;

use serde::Deserialize;

use super::json_array::for_each_entry;
use super::{DatasetError, Parsed, RawEntry, RawOutput};

#[derive(Deserialize)]
struct Entry {
    instruction: String,
    #[serde(default)]
    input: Option<String>,
    output: String,
}

/// Parse an Alpaca file, handing each entry to `emit`.
pub(crate) fn parse(
    path: &Path,
    emit: &mut dyn FnMut(Parsed) -> Result<(), DatasetError>,
) -> Result<(), DatasetError> {
    for_each_entry(path, |_, e: Entry| {
        let mut prompt = e.instruction;
        if let Some(input) = e.input.filter(|i| !i.is_empty()) {
            prompt.push('\n');
            prompt.push_str(&input);
        }
        emit(Parsed::Entry(RawEntry {
            prompt,
            output: RawOutput::Text(e.output),
        }))
    })
}
