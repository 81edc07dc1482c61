//! Errors of dataset loading.

use std::path::PathBuf;

use super::{DatasetFilter, DatasetType, LoadStats};

/// Errors loading, parsing or writing a dataset.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// The dataset type name is not one of the five.
    #[error("unknown dataset type {0:?}: expected sharegpt, alpaca, custom, jsonl or human-eval")]
    UnknownType(String),
    /// The file cannot be opened or read.
    #[error("dataset {}: cannot read: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// An entry of a JSON array is malformed.
    #[error("dataset {}: entry {index} (0-based): {reason}", path.display())]
    Entry {
        /// The file.
        path: PathBuf,
        /// Index of the entry in the top-level array, from 0.
        index: usize,
        /// What is wrong (with serde_json's line and column when it knows them).
        reason: String,
    },
    /// A line of a JSONL file is malformed.
    #[error("dataset {}: line {line}: {reason}", path.display())]
    Line {
        /// The file.
        path: PathBuf,
        /// Line number, from 1.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The file as a whole is malformed (not a JSON array, trailing data...).
    #[error("dataset {}: {reason}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// No entry is left after parsing and filtering.
    #[error("dataset {} ({kind}): no usable entry: {}", path.display(), describe_empty(stats, filter))]
    NoUsableEntry {
        /// The file.
        path: PathBuf,
        /// Its format.
        kind: DatasetType,
        /// What happened to the entries.
        stats: LoadStats,
        /// The filter that was applied.
        filter: DatasetFilter,
    },
}

fn describe_empty(s: &LoadStats, f: &DatasetFilter) -> String {
    if s.read == 0 {
        return "the file holds no entry".to_string();
    }
    let mut parts = vec![format!("{} entries read", s.read)];
    if s.skipped > 0 {
        parts.push(format!("{} without a prompt/output pair", s.skipped));
    }
    if s.too_short > 0 {
        parts.push(format!(
            "{} with a prompt under {} or an output under {} tokens",
            s.too_short, f.min_prompt_tokens, f.min_output_tokens
        ));
    }
    if let (true, Some(m)) = (s.prompt_too_long > 0, f.max_prompt_tokens) {
        parts.push(format!(
            "{} with a prompt over --max-prompt-tokens {m}",
            s.prompt_too_long
        ));
    }
    if let (true, Some(m)) = (s.total_too_long > 0, f.max_tokens) {
        parts.push(format!(
            "{} with prompt+output over --max-tokens {m}",
            s.total_too_long
        ));
    }
    parts.join(", ")
}
