//! Output text: every simulated token is one word that the tokenizer encodes
//! to exactly one token (" the", " model", ...), so a client's tokenizer count
//! of the generated text equals the number of tokens the simulator emitted.
//!
//! The list is [`Tokenizer::single_token_words`], as for
//! [`crate::workload::PromptSynth`].

use crate::workload::Tokenizer;

use super::SimError;

/// The output vocabulary: single-token words and their token ids.
#[derive(Debug, Clone)]
pub(crate) struct Words {
    /// The words (each with its leading space).
    pub text: Vec<String>,
    /// `ids[i]` is the token id of `text[i]`.
    pub ids: Vec<u32>,
}

/// Single-token words of `tok`, sorted by token id (deterministic).
pub(crate) fn output_words(tok: &Tokenizer) -> Result<Words, SimError> {
    let cands = tok.single_token_words();
    let ids: Vec<u32> = cands.iter().map(|(id, _)| *id).collect();
    let words: Vec<String> = cands.into_iter().map(|(_, w)| w).collect();
    // The words must not merge with each other: check one long text.
    let sample: String = words.iter().take(512).map(String::as_str).collect();
    let n = words.len().min(512);
    if words.len() < 16 || tok.count(&sample) != n {
        return Err(SimError::Vocabulary(tok.name().to_string()));
    }
    Ok(Words { text: words, ids })
}

/// Cheap per-request word picker (xorshift64*), deterministic per seed.
#[derive(Debug, Clone)]
pub(crate) struct WordPicker {
    state: u64,
}

impl WordPicker {
    /// A picker seeded with `seed` (any value).
    pub(crate) fn new(seed: u64) -> Self {
        WordPicker {
            state: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
        }
    }

    /// Index of the next word among `len` words.
    pub(crate) fn next_index(&mut self, len: usize) -> usize {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        let r = self.state.wrapping_mul(0x2545_F491_4F6C_DD1D);
        (r >> 33) as usize % len
    }

    /// Append `n` words of `words` to `out`.
    #[cfg(test)]
    pub(crate) fn push(&mut self, words: &[String], n: usize, out: &mut String) {
        for _ in 0..n {
            out.push_str(&words[self.next_index(words.len())]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_count_exactly() {
        let tok = Tokenizer::default_embedded();
        let words = output_words(&tok).unwrap();
        let mut p = WordPicker::new(42);
        for n in [1, 4, 100, 1000] {
            let mut s = String::new();
            p.push(&words.text, n, &mut s);
            assert_eq!(tok.count(&s), n);
        }
    }
}
