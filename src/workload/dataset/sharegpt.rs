//! ShareGPT (`ShareGPT_V3_unfiltered_cleaned_split.json`).
//!
//! A JSON array of `{"id": .., "conversations": [{"from": .., "value": ..}, ..]}`.
//! The prompt is the first human turn (`from` = `human` or `user`); the output
//! is the first assistant turn after it (`gpt`, `chatgpt`, `bard`,
//! `assistant` or `model`). For the usual layout (human first, gpt second)
//! this is vLLM's `conversations[0]` / `conversations[1]`. Entries with fewer
//! than two turns, or without such a pair, are skipped, as vLLM skips them.
//! Turns after the pair are checked for syntax but not kept in memory.

use std::fmt;
use std::path::Path;

use serde::de::{Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::Deserialize;

use super::json_array::for_each_entry;
use super::{DatasetError, Parsed, RawEntry, RawOutput};

#[derive(Deserialize)]
struct Entry {
    conversations: Pair,
}

/// The prompt/output pair found in `conversations`, if any.
struct Pair(Option<(String, String)>);

#[derive(Deserialize)]
struct Turn {
    from: String,
    value: String,
}

/// A human turn's `from` (`human`, `user`).
pub(crate) fn is_human(from: &str) -> bool {
    matches!(from, "human" | "user")
}

/// An assistant turn's `from` (`gpt`, `chatgpt`, `bard`, `assistant`, `model`).
pub(crate) fn is_assistant(from: &str) -> bool {
    matches!(from, "gpt" | "chatgpt" | "bard" | "assistant" | "model")
}

impl<'de> Deserialize<'de> for Pair {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(PairVisitor)
    }
}

struct PairVisitor;

impl<'de> Visitor<'de> for PairVisitor {
    type Value = Pair;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of {\"from\", \"value\"} turns")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Pair, A::Error> {
        let mut turns = 0usize;
        let mut prompt: Option<String> = None;
        let mut pair = None;
        loop {
            if pair.is_some() {
                match seq.next_element::<IgnoredAny>()? {
                    Some(_) => turns += 1,
                    None => break,
                }
                continue;
            }
            let Some(turn) = seq.next_element::<Turn>()? else {
                break;
            };
            turns += 1;
            if prompt.is_none() {
                if is_human(&turn.from) {
                    prompt = Some(turn.value);
                }
            } else if is_assistant(&turn.from) {
                pair = prompt.take().map(|p| (p, turn.value));
            }
        }
        Ok(Pair(if turns >= 2 { pair } else { None }))
    }
}

/// Parse a ShareGPT file, handing each entry to `emit`.
pub(crate) fn parse(
    path: &Path,
    emit: &mut dyn FnMut(Parsed) -> Result<(), DatasetError>,
) -> Result<(), DatasetError> {
    for_each_entry(path, |_, e: Entry| {
        emit(match e.conversations.0 {
            Some((prompt, output)) => Parsed::Entry(RawEntry {
                prompt,
                output: RawOutput::Text(output),
            }),
            None => Parsed::Skip,
        })
    })
}
