//! The custom format written by `servebench gen-dataset`
//! ([`crate::workload::write_dataset`]): a JSON array of
//! `{"prompt": str, "input_tokens": int, "output_tokens": int}`.
//!
//! `input_len` and `output_len` are accepted as aliases. `input_tokens` is
//! optional on read: the prompt is always re-counted with the run's
//! tokenizer, which may differ from the one that generated the file.

use std::path::Path;

use serde::Deserialize;

use super::json_array::for_each_entry;
use super::{DatasetError, Parsed, RawEntry, RawOutput};

#[derive(Deserialize)]
struct Entry {
    prompt: String,
    #[serde(default, alias = "input_len", rename = "input_tokens")]
    _input_tokens: Option<u64>,
    #[serde(alias = "output_len")]
    output_tokens: usize,
}

/// Parse a custom file, handing each entry to `emit`.
pub(crate) fn parse(
    path: &Path,
    emit: &mut dyn FnMut(Parsed) -> Result<(), DatasetError>,
) -> Result<(), DatasetError> {
    for_each_entry(path, |_, e: Entry| {
        emit(Parsed::Entry(RawEntry {
            prompt: e.prompt,
            output: RawOutput::Tokens(e.output_tokens),
        }))
    })
}
