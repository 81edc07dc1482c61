//! Drawing the requests of one run from a loaded dataset.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use std::path::Path;

use super::{
    parse_file, tokenize_and_filter, DatasetEntry, DatasetError, DatasetFilter, DatasetType,
    LoadStats, Parsed,
};
use crate::workload::{RequestSpec, Tokenizer};

/// Draw `num_prompts` requests from `entries`, reproducibly from `seed`.
///
/// When `num_prompts <= entries.len()`, entries are drawn without
/// replacement (a seeded partial shuffle). When more prompts are asked for
/// than there are entries, every entry is used once and the remaining
/// `num_prompts - entries.len()` are drawn uniformly **with replacement**
/// (as vLLM oversamples), and the whole list is shuffled. An empty `entries`
/// gives no requests.
///
/// Request ids run from 0 in the returned order; `max_tokens` is the entry's
/// output length and `force_output_len` is `true`, since the length comes
/// from the dataset and must be produced exactly (`ignore_eos`), as vLLM
/// does.
pub fn sample_requests(
    entries: &[DatasetEntry],
    num_prompts: usize,
    seed: u64,
) -> Vec<RequestSpec> {
    if entries.is_empty() || num_prompts == 0 {
        return Vec::new();
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut picks: Vec<usize> = (0..entries.len()).collect();
    if num_prompts <= entries.len() {
        let (chosen, _) = picks.partial_shuffle(&mut rng, num_prompts);
        picks = chosen.to_vec();
    } else {
        for _ in entries.len()..num_prompts {
            picks.push(rng.random_range(0..entries.len()));
        }
        picks.shuffle(&mut rng);
    }
    to_requests(entries, picks)
}

/// Sample `num_prompts` requests from a dataset file, tokenizing only what
/// is needed: the file is parsed whole, its entries are shuffled with
/// `seed`, and they are tokenized and filtered in that order until
/// `num_prompts` are kept (what vLLM's `benchmark_serving.py` does). For
/// ShareGPT and a thousand prompts this tokenizes about a thousand entries
/// instead of ninety thousand.
///
/// The result is a uniform draw without replacement from the entries that
/// pass `filter`, like [`sample_requests`] over [`super::load_dataset`], but
/// not the same draw for the same seed. When fewer entries pass than asked
/// for, all of them are used and the rest drawn with replacement, as in
/// [`sample_requests`]. No entry passing gives
/// [`DatasetError::NoUsableEntry`]. Holds the parsed entries (for ShareGPT,
/// the texts of the first two turns) in memory meanwhile.
pub fn load_and_sample(
    path: impl AsRef<Path>,
    kind: DatasetType,
    tok: &Tokenizer,
    filter: &DatasetFilter,
    num_prompts: usize,
    seed: u64,
) -> Result<Vec<RequestSpec>, DatasetError> {
    let path = path.as_ref();
    let mut raw = Vec::new();
    let mut stats = LoadStats::default();
    parse_file(path, kind, &mut |p| {
        stats.read += 1;
        match p {
            Parsed::Entry(e) => raw.push(e),
            Parsed::Skip => stats.skipped += 1,
        }
        Ok(())
    })?;
    let mut rng = StdRng::seed_from_u64(seed);
    raw.shuffle(&mut rng);
    let mut kept = Vec::new();
    let mut raw = raw.into_iter().peekable();
    while kept.len() < num_prompts && raw.peek().is_some() {
        let want = (num_prompts - kept.len()).clamp(64, 4096);
        let batch: Vec<_> = raw.by_ref().take(want).collect();
        tokenize_and_filter(batch, tok, filter, &mut stats, &mut kept);
    }
    stats.kept = kept.len();
    if kept.is_empty() {
        return Err(DatasetError::NoUsableEntry {
            path: path.to_path_buf(),
            kind,
            stats,
            filter: filter.clone(),
        });
    }
    if kept.len() >= num_prompts {
        kept.truncate(num_prompts);
        let order = (0..num_prompts).collect();
        return Ok(to_requests(&kept, order));
    }
    Ok(sample_requests(&kept, num_prompts, seed))
}

fn to_requests(entries: &[DatasetEntry], picks: Vec<usize>) -> Vec<RequestSpec> {
    picks
        .into_iter()
        .enumerate()
        .map(|(id, i)| {
            let e = &entries[i];
            RequestSpec {
                id: id as u64,
                prompt: e.prompt.clone(),
                prompt_tokens: e.prompt_tokens,
                max_tokens: e.output_tokens,
                force_output_len: true,
            }
        })
        .collect()
}
