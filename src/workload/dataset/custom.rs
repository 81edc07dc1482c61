//! `custom`: a JSON array in either of two shapes, told apart entry by entry.
//!
//! - **servebench** (written by `servebench gen-dataset`, see
//!   [`crate::workload::write_dataset`]): `{"prompt": str, "input_tokens":
//!   int, "output_tokens": int}`; `input_len` and `output_len` are accepted as
//!   aliases, and `input_tokens` is optional (the prompt is always re-counted
//!   with the run's tokenizer, which may differ from the one that generated
//!   the file).
//! - **seed** (written by the seed's `generate_dataset.py` and by
//!   `servebench gen-dataset --format seed`): `{"input": str, "output": str,
//!   "instruction": "NA"}`. `input` is the prompt; the token count of the
//!   `output` text is the output length, as the seed's `benchmark_serving.py`
//!   re-tokenizes it. `instruction` is ignored.
//!
//! An entry with `prompt` is read as servebench's shape (an integer
//! `output_tokens`/`output_len` is then required); otherwise `input` and an
//! `output` text are required. Other fields are ignored.

use std::path::Path;

use serde::Deserialize;

use super::json_array::for_each_entry;
use super::{DatasetError, Parsed, RawEntry, RawOutput};

#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    prompt: Option<String>,
    #[serde(default, alias = "input_len", rename = "input_tokens")]
    _input_tokens: Option<u64>,
    #[serde(default, alias = "output_len")]
    output_tokens: Option<usize>,
    #[serde(default)]
    input: Option<String>,
    #[serde(default)]
    output: Option<String>,
}

/// Parse a custom file, handing each entry to `emit`.
pub(crate) fn parse(
    path: &Path,
    emit: &mut dyn FnMut(Parsed) -> Result<(), DatasetError>,
) -> Result<(), DatasetError> {
    for_each_entry(path, |index, e: Entry| {
        let entry = match (e.prompt, e.input) {
            (Some(prompt), _) => match e.output_tokens {
                Some(n) => RawEntry {
                    prompt,
                    output: RawOutput::Tokens(n),
                },
                None => return Err(entry_error(path, index, "missing field `output_tokens`")),
            },
            (None, Some(input)) => match e.output {
                Some(text) => RawEntry {
                    prompt: input,
                    output: RawOutput::Text(text),
                },
                None => return Err(entry_error(path, index, "missing field `output`")),
            },
            (None, None) => {
                return Err(entry_error(
                    path,
                    index,
                    "missing field `prompt` (servebench's shape) or `input` (the seed's)",
                ))
            }
        };
        emit(Parsed::Entry(entry))
    })
}

fn entry_error(path: &Path, index: usize, reason: &str) -> DatasetError {
    DatasetError::Entry {
        path: path.to_path_buf(),
        index,
        reason: reason.to_string(),
    }
}
