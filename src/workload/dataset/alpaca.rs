//! Alpaca: a JSON array of `{"instruction", "input", "output"}`, read as the
//! seed's `benchmark_serving.py` reads it.
//!
//! The prompt is the `input` field and the completion is `output` (its token
//! count is the output length). `instruction` is **not** used: the seed has an
//! Alpaca prompt template but never calls it, so an entry with an empty
//! `input` has a 0-token prompt and is dropped by the length filter, as in
//! the seed. `input` and `output` are required (the seed raises on a missing
//! one); other fields are ignored.

use std::path::Path;

use serde::Deserialize;

use super::json_array::for_each_entry;
use super::{DatasetError, Parsed, RawEntry, RawOutput};

#[derive(Deserialize)]
struct Entry {
    input: String,
    output: String,
}

/// Parse an Alpaca file, handing each entry to `emit`.
pub(crate) fn parse(
    path: &Path,
    emit: &mut dyn FnMut(Parsed) -> Result<(), DatasetError>,
) -> Result<(), DatasetError> {
    for_each_entry(path, |_, e: Entry| {
        emit(Parsed::Entry(RawEntry {
            prompt: e.input,
            output: RawOutput::Text(e.output),
        }))
    })
}
