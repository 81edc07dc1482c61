//! Datasets for the dynamic benchmark: loading, filtering and sampling.
//!
//! Five formats are read (see [`DatasetType`]); each is parsed entry by entry
//! on one thread while the previous batch of entries is tokenized (in
//! parallel, with [`Tokenizer::count_batch`]) on the calling thread, so that a
//! 600 MB ShareGPT file never sits in memory as a whole.
//!
//! Every entry becomes a [`DatasetEntry`] with its prompt's token count under
//! the run's tokenizer and an output length; [`DatasetFilter`] drops entries
//! that are too short or too long, and [`sample_requests`] draws the requests
//! of one run from what is left.

mod alpaca;
mod custom;
mod error;
mod human_eval;
mod json_array;
mod jsonl;
mod sample;
mod sharegpt;

pub(crate) use json_array::for_each_entry;
pub(crate) use sharegpt::{is_assistant, is_human};

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use super::Tokenizer;

pub use error::DatasetError;
pub use sample::{load_and_sample, sample_requests};

/// Dataset file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DatasetType {
    /// ShareGPT (`ShareGPT_V3_unfiltered_cleaned_split.json`): a JSON array of
    /// `{"id", "conversations": [{"from": "human", "value": ..}, {"from": "gpt", "value": ..}, ..]}`.
    /// The first human turn is the prompt; the first gpt turn after it gives
    /// the output length. Entries without such a pair are skipped.
    ShareGpt,
    /// Alpaca: a JSON array of `{"instruction", "input", "output"}`, read as
    /// the seed reads it: the prompt is `input` (not `instruction`), the
    /// `output` text's token count is the output length; an entry with an
    /// empty `input` falls to the length filter.
    Alpaca,
    /// A JSON array of either servebench's `gen-dataset` entries
    /// `{"prompt", "input_tokens", "output_tokens"}` (see
    /// [`crate::workload::write_dataset`]) or the seed's `generate_dataset.py`
    /// entries `{"input", "output", "instruction": "NA"}` (prompt `input`,
    /// output length the token count of `output`), told apart entry by entry.
    Custom,
    /// JSON Lines: one object per line with `prompt` (or `text`) and either an
    /// integer `output_tokens` (or `max_tokens`, `output_len`) or an `output`
    /// text whose token count is the output length. Blank lines are skipped.
    Jsonl,
    /// HumanEval (`HumanEval.jsonl`): JSON Lines of `{"prompt",
    /// "canonical_solution", ..}`; the prompt is `prompt`, the token count of
    /// `canonical_solution` is the output length. The seed drops only entries
    /// of length 0: see [`DatasetFilter::for_type`].
    HumanEval,
}

impl DatasetType {
    /// Every type, in the order the help text lists them.
    pub const ALL: [DatasetType; 5] = [
        DatasetType::ShareGpt,
        DatasetType::Alpaca,
        DatasetType::Custom,
        DatasetType::Jsonl,
        DatasetType::HumanEval,
    ];

    /// The name used on the command line (`sharegpt`, `alpaca`, `custom`,
    /// `jsonl`, `human-eval`).
    pub fn name(self) -> &'static str {
        match self {
            DatasetType::ShareGpt => "sharegpt",
            DatasetType::Alpaca => "alpaca",
            DatasetType::Custom => "custom",
            DatasetType::Jsonl => "jsonl",
            DatasetType::HumanEval => "human-eval",
        }
    }
}

impl fmt::Display for DatasetType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DatasetType {
    type Err = DatasetError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "sharegpt" => Ok(DatasetType::ShareGpt),
            "alpaca" => Ok(DatasetType::Alpaca),
            "custom" => Ok(DatasetType::Custom),
            "jsonl" => Ok(DatasetType::Jsonl),
            "human-eval" | "humaneval" | "human_eval" => Ok(DatasetType::HumanEval),
            _ => Err(DatasetError::UnknownType(s.to_string())),
        }
    }
}

/// One usable dataset entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetEntry {
    /// The prompt text.
    pub prompt: String,
    /// Token count of `prompt` under the run's tokenizer (no special tokens).
    pub prompt_tokens: usize,
    /// Output length to ask for (and force).
    pub output_tokens: usize,
}

/// Which entries to keep. The defaults drop prompts or outputs shorter than
/// 4 tokens, as vLLM's `benchmark_serving.py` does, and keep everything else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetFilter {
    /// Drop entries whose prompt has more tokens than this (`--max-prompt-tokens`).
    pub max_prompt_tokens: Option<usize>,
    /// Drop entries whose prompt plus output exceed this (`--max-tokens`).
    pub max_tokens: Option<usize>,
    /// Drop entries whose prompt has fewer tokens than this (default 4; see
    /// [`DatasetFilter::for_type`]).
    pub min_prompt_tokens: usize,
    /// Drop entries whose output has fewer tokens than this (default 4).
    pub min_output_tokens: usize,
}

impl DatasetFilter {
    /// The seed's length filter for `kind`, with no upper bound: prompts and
    /// outputs under 4 tokens are dropped, except for
    /// [`DatasetType::HumanEval`], where the seed drops only entries whose
    /// prompt or output has 0 tokens. Set `max_prompt_tokens` / `max_tokens`
    /// on the result as needed.
    pub fn for_type(kind: DatasetType) -> Self {
        match kind {
            DatasetType::HumanEval => DatasetFilter {
                min_prompt_tokens: 1,
                min_output_tokens: 1,
                ..DatasetFilter::default()
            },
            _ => DatasetFilter::default(),
        }
    }
}

impl Default for DatasetFilter {
    fn default() -> Self {
        DatasetFilter {
            max_prompt_tokens: None,
            max_tokens: None,
            min_prompt_tokens: 4,
            min_output_tokens: 4,
        }
    }
}

/// What happened to the entries of a file while loading it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadStats {
    /// Entries (or non-blank lines) read from the file.
    pub read: usize,
    /// Entries without a prompt/output pair (ShareGPT with fewer than 2 turns).
    pub skipped: usize,
    /// Dropped: prompt or output shorter than the minimum.
    pub too_short: usize,
    /// Dropped: prompt longer than `max_prompt_tokens`.
    pub prompt_too_long: usize,
    /// Dropped: prompt plus output longer than `max_tokens`.
    pub total_too_long: usize,
    /// Entries kept.
    pub kept: usize,
}

/// Where an entry's output length comes from.
pub(crate) enum RawOutput {
    /// Given as a number of tokens.
    Tokens(usize),
    /// Given as text, to be tokenized.
    Text(String),
}

/// An entry as parsed, before tokenization and filtering.
pub(crate) struct RawEntry {
    pub prompt: String,
    pub output: RawOutput,
}

/// What a format parser hands back for each entry it reads.
pub(crate) enum Parsed {
    /// A usable prompt/output pair.
    Entry(RawEntry),
    /// An entry that is valid but has no prompt/output pair.
    Skip,
}

/// Load and filter a dataset file.
///
/// Prompt lengths are counted with `tok` (for `custom` files too, so that a
/// file generated with another tokenizer is still measured correctly);
/// output lengths are counted with `tok` when the format gives a text.
pub fn load_dataset(
    path: impl AsRef<Path>,
    kind: DatasetType,
    tok: &Tokenizer,
    filter: &DatasetFilter,
) -> Result<Vec<DatasetEntry>, DatasetError> {
    load_dataset_with_stats(path, kind, tok, filter).map(|(entries, _)| entries)
}

/// [`load_dataset`], also returning what happened to the entries.
pub fn load_dataset_with_stats(
    path: impl AsRef<Path>,
    kind: DatasetType,
    tok: &Tokenizer,
    filter: &DatasetFilter,
) -> Result<(Vec<DatasetEntry>, LoadStats), DatasetError> {
    let path = path.as_ref();
    let parse =
        |emit: &mut dyn FnMut(Parsed) -> Result<(), DatasetError>| parse_file(path, kind, emit);
    let (entries, stats) = pipeline(parse, tok, filter)?;
    if entries.is_empty() {
        return Err(DatasetError::NoUsableEntry {
            path: path.to_path_buf(),
            kind,
            stats,
            filter: filter.clone(),
        });
    }
    Ok((entries, stats))
}

/// Parse `path` as `kind`, handing each entry to `emit`.
fn parse_file(
    path: &Path,
    kind: DatasetType,
    emit: &mut dyn FnMut(Parsed) -> Result<(), DatasetError>,
) -> Result<(), DatasetError> {
    match kind {
        DatasetType::ShareGpt => sharegpt::parse(path, emit),
        DatasetType::Alpaca => alpaca::parse(path, emit),
        DatasetType::Custom => custom::parse(path, emit),
        DatasetType::Jsonl => jsonl::parse(path, emit),
        DatasetType::HumanEval => human_eval::parse(path, emit),
    }
}

/// Entries per batch handed from the parsing thread to the tokenizer.
const BATCH: usize = 1024;

/// Parse on a scoped thread, tokenize and filter batches on this one.
fn pipeline<P>(
    parse: P,
    tok: &Tokenizer,
    filter: &DatasetFilter,
) -> Result<(Vec<DatasetEntry>, LoadStats), DatasetError>
where
    P: FnOnce(&mut dyn FnMut(Parsed) -> Result<(), DatasetError>) -> Result<(), DatasetError>
        + Send,
{
    let mut stats = LoadStats::default();
    let mut kept = Vec::new();
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<(Vec<RawEntry>, usize)>(4);
        let parser = s.spawn(move || {
            let mut batch = Vec::with_capacity(BATCH);
            let mut skipped = 0;
            parse(&mut |p| {
                match p {
                    Parsed::Entry(e) => batch.push(e),
                    Parsed::Skip => skipped += 1,
                }
                if batch.len() + skipped >= BATCH {
                    // The receiver only goes away once this thread is done.
                    let _ = tx.send((std::mem::take(&mut batch), skipped));
                    skipped = 0;
                }
                Ok(())
            })?;
            let _ = tx.send((batch, skipped));
            Ok::<(), DatasetError>(())
        });
        for (batch, skipped) in rx {
            stats.read += batch.len() + skipped;
            stats.skipped += skipped;
            tokenize_and_filter(batch, tok, filter, &mut stats, &mut kept);
        }
        parser.join().expect("dataset parser thread panicked")
    })?;
    stats.kept = kept.len();
    Ok((kept, stats))
}

pub(crate) fn tokenize_and_filter(
    batch: Vec<RawEntry>,
    tok: &Tokenizer,
    filter: &DatasetFilter,
    stats: &mut LoadStats,
    out: &mut Vec<DatasetEntry>,
) {
    let prompts: Vec<&str> = batch.iter().map(|e| e.prompt.as_str()).collect();
    let prompt_counts = tok.count_batch(&prompts);
    let texts: Vec<&str> = batch
        .iter()
        .filter_map(|e| match &e.output {
            RawOutput::Text(t) => Some(t.as_str()),
            RawOutput::Tokens(_) => None,
        })
        .collect();
    let mut text_counts = tok.count_batch(&texts).into_iter();
    for (e, prompt_tokens) in batch.into_iter().zip(prompt_counts) {
        let output_tokens = match e.output {
            RawOutput::Tokens(n) => n,
            RawOutput::Text(_) => text_counts.next().unwrap_or(0),
        };
        if prompt_tokens < filter.min_prompt_tokens || output_tokens < filter.min_output_tokens {
            stats.too_short += 1;
        } else if filter.max_prompt_tokens.is_some_and(|m| prompt_tokens > m) {
            stats.prompt_too_long += 1;
        } else if filter
            .max_tokens
            .is_some_and(|m| prompt_tokens + output_tokens > m)
        {
            stats.total_too_long += 1;
        } else {
            out.push(DatasetEntry {
                prompt: e.prompt,
                prompt_tokens,
                output_tokens,
            });
        }
    }
}

/// Open a dataset file for buffered reading, naming it on failure.
pub(crate) fn open(path: &Path) -> Result<std::io::BufReader<std::fs::File>, DatasetError> {
    let f = std::fs::File::open(path).map_err(|source| DatasetError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(std::io::BufReader::with_capacity(1 << 20, f))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_round_trip() {
        for t in DatasetType::ALL {
            assert_eq!(t.name().parse::<DatasetType>().unwrap(), t);
        }
        assert_eq!(
            "HumanEval".parse::<DatasetType>().unwrap(),
            DatasetType::HumanEval
        );
        assert_eq!(
            " ShareGPT ".parse::<DatasetType>().unwrap(),
            DatasetType::ShareGpt
        );
        let e = "csv".parse::<DatasetType>().unwrap_err().to_string();
        assert_eq!(
            e,
            "unknown dataset type \"csv\": expected sharegpt, alpaca, custom, jsonl or human-eval"
        );
    }
}
