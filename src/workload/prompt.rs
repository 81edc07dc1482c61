//! Prompt synthesis to an exact token count.
//!
//! The synthesiser collects the vocabulary entries that are a space followed
//! by a short run of ASCII letters and that encode, on their own, to exactly
//! one token (" the", " model", ...). Byte-level BPE (GPT-2, Llama 3, Qwen)
//! and Metaspace (SentencePiece) pre-tokenizers split text at such word
//! boundaries, so a string of `n` such words encodes to exactly `n` tokens.
//!
//! When the synthesiser is made, it checks this property on a calibration set
//! of prompts; a tokenizer that passes is trusted from then on (re-encoding a
//! 1,800-token prompt costs about 2 ms, which would dominate the preparation
//! of large workloads). A tokenizer that fails has every prompt re-encoded,
//! and trimmed or extended until its count is exact.

use rand::Rng;

use super::Tokenizer;

/// Errors making a prompt.
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    /// The tokenizer has too few single-token words to build prompts from.
    #[error("tokenizer {0}: fewer than 64 single-token words in its vocabulary; cannot build exact-length prompts")]
    PoorVocabulary(String),
    /// The adjustment loop could not reach the exact count.
    #[error("tokenizer {tokenizer}: could not build a prompt of exactly {wanted} tokens (closest: {got})")]
    Inexact {
        tokenizer: String,
        wanted: usize,
        got: usize,
    },
}

/// A seed from a salt and a key (SplitMix64's finaliser over both).
pub(crate) fn mix(salt: u64, key: u64) -> u64 {
    let mut z = salt
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .wrapping_add(key)
        .wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Builds prompts of an exact token length.
///
/// ```
/// use rand::SeedableRng;
/// let tok = servebench::workload::Tokenizer::default_embedded();
/// let synth = servebench::workload::PromptSynth::new(&tok).unwrap();
/// let mut rng = rand::rngs::StdRng::seed_from_u64(1);
/// let p = synth.prompt(100, Some(7), &mut rng).unwrap();
/// assert_eq!(tok.count(&p), 100);
/// ```
#[derive(Debug, Clone)]
pub struct PromptSynth {
    tok: Tokenizer,
    words: Vec<String>,
    /// True when word strings were shown to encode one token per word.
    additive: bool,
}

/// Words of the unique leading segment (enough for |words|^4 distinct ids).
const UNIQUE_PREFIX_WORDS: usize = 4;

impl PromptSynth {
    /// Prepare a synthesiser for `tok` (scans its vocabulary once).
    pub fn new(tok: &Tokenizer) -> Result<Self, PromptError> {
        let cands = tok.single_token_words();
        if cands.len() < 64 {
            return Err(PromptError::PoorVocabulary(tok.name().to_string()));
        }
        let mut synth = PromptSynth {
            tok: tok.clone(),
            words: cands.into_iter().map(|(_, w)| w).collect(),
            additive: false,
        };
        synth.additive = synth.calibrate();
        Ok(synth)
    }

    /// Check on 24 seeded prompts (1 to 2,048 words, unique prefixes and
    /// random words) that `n` words encode to exactly `n` tokens.
    fn calibrate(&self) -> bool {
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
        (0..24u64).all(|i| {
            let n = [1, 2, 3, 7, 64, 511, 2048][i as usize % 7];
            let text = self.words_only("", n, Some(i * 7919), &mut rng);
            self.tok.count(&text) == n
        })
    }

    /// True when prompts are exact by construction under this tokenizer
    /// (calibrated), so they are not re-encoded one by one.
    pub fn exact_by_construction(&self) -> bool {
        self.additive
    }

    /// A prompt of exactly `n_tokens` tokens.
    ///
    /// With `unique_id`, the prompt opens with a leading segment derived from
    /// the id, different for every id, so that a prefix cache cannot serve it.
    pub fn prompt<R: Rng + ?Sized>(
        &self,
        n_tokens: usize,
        unique_id: Option<u64>,
        rng: &mut R,
    ) -> Result<String, PromptError> {
        self.prompt_with_prefix("", n_tokens, unique_id, rng)
    }

    /// A prompt of exactly `n_tokens` tokens that starts with `prefix`
    /// (a shared prefix, e.g. from [`PromptSynth::prompt`] itself), followed
    /// by the unique segment when `unique_id` is given, then random words.
    pub fn prompt_with_prefix<R: Rng + ?Sized>(
        &self,
        prefix: &str,
        n_tokens: usize,
        unique_id: Option<u64>,
        rng: &mut R,
    ) -> Result<String, PromptError> {
        let prefix_tokens = if prefix.is_empty() {
            0
        } else {
            self.tok.count(prefix)
        };
        let out = self.words_only(
            prefix,
            n_tokens.saturating_sub(prefix_tokens),
            unique_id,
            rng,
        );
        if self.additive && prefix.is_empty() {
            return Ok(out);
        }
        self.make_exact(out, n_tokens, rng)
    }

    /// Number of single-token words prompts are drawn from.
    pub(crate) fn word_count(&self) -> usize {
        self.words.len()
    }

    /// Append word `i` (modulo [`PromptSynth::word_count`]) to `out`.
    pub(crate) fn push_word(&self, out: &mut String, i: usize) {
        out.push_str(&self.words[i % self.words.len()]);
    }

    /// `text`, built of `n_tokens` words, made exactly `n_tokens` tokens: as
    /// it is when the tokenizer is exact by construction, else checked and
    /// repaired at its end.
    pub(crate) fn finish<R: Rng + ?Sized>(
        &self,
        text: String,
        n_tokens: usize,
        rng: &mut R,
    ) -> Result<String, PromptError> {
        if self.additive {
            return Ok(text);
        }
        self.make_exact(text, n_tokens, rng)
    }

    /// `prefix`, then `n` words: the unique segment of `unique_id`, then random ones.
    fn words_only<R: Rng + ?Sized>(
        &self,
        prefix: &str,
        n: usize,
        unique_id: Option<u64>,
        rng: &mut R,
    ) -> String {
        let mut out = String::with_capacity(prefix.len() + n * 8);
        out.push_str(prefix);
        let mut budget = n;
        if let Some(mut id) = unique_id {
            let base = self.words.len() as u64;
            for _ in 0..UNIQUE_PREFIX_WORDS.min(budget) {
                out.push_str(&self.words[(id % base) as usize]);
                id /= base;
                budget -= 1;
            }
        }
        for _ in 0..budget {
            out.push_str(&self.words[rng.random_range(0..self.words.len())]);
        }
        out
    }

    /// Check the count and repair it if the tokenizer merged across words.
    fn make_exact<R: Rng + ?Sized>(
        &self,
        mut text: String,
        n_tokens: usize,
        rng: &mut R,
    ) -> Result<String, PromptError> {
        let mut got = self.tok.count(&text);
        let mut tries = 0;
        while got != n_tokens && tries < 64 {
            tries += 1;
            if got < n_tokens {
                for _ in 0..(n_tokens - got) {
                    text.push_str(&self.words[rng.random_range(0..self.words.len())]);
                }
            } else {
                // Drop whole trailing words, at most the excess.
                for _ in 0..(got - n_tokens) {
                    match text.rfind(' ') {
                        Some(i) if i > 0 => text.truncate(i),
                        _ => break,
                    }
                }
            }
            got = self.tok.count(&text);
        }
        if got == n_tokens {
            return Ok(text);
        }
        // Last resort: cut the token ids and check the decoded text.
        let ids = self.tok.encode(&text);
        let cut = self.tok.decode(&ids[..n_tokens.min(ids.len())]);
        let c = self.tok.count(&cut);
        if c == n_tokens {
            Ok(cut)
        } else {
            Err(PromptError::Inexact {
                tokenizer: self.tok.name().to_string(),
                wanted: n_tokens,
                got: c,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn exact_lengths() {
        let tok = Tokenizer::default_embedded();
        let synth = PromptSynth::new(&tok).unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        for n in [1, 2, 5, 17, 128, 1000, 4096] {
            for id in [None, Some(0), Some(123_456)] {
                let p = synth.prompt(n, id, &mut rng).unwrap();
                assert_eq!(tok.count(&p), n, "n={n} id={id:?}");
            }
        }
    }

    #[test]
    fn unique_prefixes_differ() {
        let tok = Tokenizer::default_embedded();
        let synth = PromptSynth::new(&tok).unwrap();
        let mut a = rand::rngs::StdRng::seed_from_u64(1);
        let mut b = rand::rngs::StdRng::seed_from_u64(1);
        let p1 = synth.prompt(64, Some(1), &mut a).unwrap();
        let p2 = synth.prompt(64, Some(2), &mut b).unwrap();
        assert_ne!(p1.split(' ').nth(1), p2.split(' ').nth(1));
    }

    #[test]
    fn shared_prefix_kept() {
        let tok = Tokenizer::default_embedded();
        let synth = PromptSynth::new(&tok).unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        let prefix = synth.prompt(32, None, &mut rng).unwrap();
        let p = synth
            .prompt_with_prefix(&prefix, 100, Some(5), &mut rng)
            .unwrap();
        assert!(p.starts_with(&prefix));
        assert_eq!(tok.count(&p), 100);
    }

    #[test]
    fn embedded_tokenizer_is_exact_by_construction() {
        let tok = Tokenizer::default_embedded();
        assert!(PromptSynth::new(&tok).unwrap().exact_by_construction());
    }

    #[test]
    fn zero_tokens() {
        let tok = Tokenizer::default_embedded();
        let synth = PromptSynth::new(&tok).unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        assert_eq!(synth.prompt(0, None, &mut rng).unwrap(), "");
    }
}
