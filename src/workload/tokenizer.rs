//! Loading Hugging Face tokenizers, and the small default tokenizer that ships
//! inside the crate.

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Name reported for the embedded default tokenizer.
pub const DEFAULT_TOKENIZER_NAME: &str = "servebench-bpe-4k";

/// The embedded default tokenizer: a 4,096-entry byte-level BPE trained by
/// `examples/train_tokenizer.rs` (see the README to reproduce it).
static DEFAULT_TOKENIZER_JSON: &[u8] = include_bytes!("../../assets/tokenizer.json");

/// Errors loading a tokenizer.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    /// The path does not exist.
    #[error("tokenizer {path}: no such file or directory")]
    Missing { path: PathBuf },
    /// The path is a directory without a `tokenizer.json`.
    #[error("tokenizer {path}: directory holds no tokenizer.json")]
    NoJsonInDir { path: PathBuf },
    /// The file exists but could not be read or parsed.
    #[error("tokenizer {path}: cannot load: {reason}")]
    Unreadable { path: PathBuf, reason: String },
}

/// A tokenizer shared by prompt synthesis, token counting and the simulator.
///
/// Cheap to clone (the model sits behind an `Arc`).
///
/// ```
/// let tok = servebench::workload::Tokenizer::default_embedded();
/// assert!(tok.count("hello world") >= 2);
/// ```
#[derive(Clone)]
pub struct Tokenizer {
    inner: Arc<tokenizers::Tokenizer>,
    name: String,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("name", &self.name)
            .finish()
    }
}

impl Tokenizer {
    /// The tokenizer that ships inside the crate.
    pub fn default_embedded() -> Self {
        let inner = tokenizers::Tokenizer::from_bytes(DEFAULT_TOKENIZER_JSON)
            .expect("embedded tokenizer.json is valid");
        Tokenizer {
            inner: Arc::new(inner),
            name: DEFAULT_TOKENIZER_NAME.to_string(),
        }
    }

    /// Load a Hugging Face `tokenizer.json`, or a directory holding one.
    pub fn from_path(path: &Path) -> Result<Self, TokenizerError> {
        if !path.exists() {
            return Err(TokenizerError::Missing {
                path: path.to_path_buf(),
            });
        }
        let file = if path.is_dir() {
            let f = path.join("tokenizer.json");
            if !f.is_file() {
                return Err(TokenizerError::NoJsonInDir {
                    path: path.to_path_buf(),
                });
            }
            f
        } else {
            path.to_path_buf()
        };
        let inner =
            tokenizers::Tokenizer::from_file(&file).map_err(|e| TokenizerError::Unreadable {
                path: file.clone(),
                reason: e.to_string(),
            })?;
        Ok(Tokenizer {
            inner: Arc::new(inner),
            name: path.display().to_string(),
        })
    }

    /// `from_path` when a path is given, else the embedded default.
    pub fn load(path: Option<&Path>) -> Result<Self, TokenizerError> {
        match path {
            Some(p) => Self::from_path(p),
            None => Ok(Self::default_embedded()),
        }
    }

    /// The tokenizer's name: its path, or [`DEFAULT_TOKENIZER_NAME`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Token ids of `text`, without special tokens.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        match self.inner.encode_fast(text, false) {
            Ok(enc) => enc.get_ids().to_vec(),
            Err(_) => Vec::new(),
        }
    }

    /// Token count of `text`, without special tokens.
    pub fn count(&self, text: &str) -> usize {
        match self.inner.encode_fast(text, false) {
            Ok(enc) => enc.len(),
            Err(_) => 0,
        }
    }

    /// Token counts of many texts, encoded in parallel.
    pub fn count_batch(&self, texts: &[&str]) -> Vec<usize> {
        match self.inner.encode_batch_fast(texts.to_vec(), false) {
            Ok(encs) => encs.iter().map(|e| e.len()).collect(),
            Err(_) => texts.iter().map(|t| self.count(t)).collect(),
        }
    }

    /// Text of `ids`, skipping special tokens.
    pub fn decode(&self, ids: &[u32]) -> String {
        self.inner.decode(ids, true).unwrap_or_default()
    }

    /// The vocabulary's words that encode, alone, to exactly one token: a
    /// space then 2 to 10 lowercase ASCII letters (" the", " model"...), with
    /// the id the tokenizer gives each, sorted by id. Prompt synthesis and the
    /// simulator's output text are built from them.
    pub fn single_token_words(&self) -> Vec<(u32, String)> {
        let mut words: Vec<(u32, String)> = Vec::new();
        for (_, id) in self.inner.get_vocab(false) {
            let text = self.decode(&[id]);
            let body = text.strip_prefix(' ').unwrap_or(&text);
            if body.len() < 2 || body.len() > 10 || !body.bytes().all(|b| b.is_ascii_lowercase()) {
                continue;
            }
            let word = format!(" {body}");
            if let [only] = self.encode(&word)[..] {
                words.push((only, word));
            }
        }
        words.sort();
        words.dedup_by(|a, b| a.1 == b.1);
        words
    }

    /// Size of the vocabulary, special tokens included.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_roundtrip() {
        let tok = Tokenizer::default_embedded();
        let text = "The quick brown fox jumps over the lazy dog.";
        let ids = tok.encode(text);
        assert_eq!(tok.count(text), ids.len());
        assert_eq!(tok.decode(&ids), text);
        assert!(tok.vocab_size() >= 1000);
    }

    #[test]
    fn missing_path_is_named() {
        let err = Tokenizer::from_path(Path::new("/nonexistent/tok.json")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/tok.json"));
    }

    #[test]
    fn dir_without_json() {
        let dir = std::env::temp_dir().join(format!("sb-no-tok-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let err = Tokenizer::from_path(&dir).unwrap_err();
        let _ = std::fs::remove_dir(&dir);
        assert!(matches!(err, TokenizerError::NoJsonInDir { .. }));
    }

    #[test]
    fn unreadable_file() {
        let f = std::env::temp_dir().join(format!("sb-bad-tok-{}.json", std::process::id()));
        std::fs::write(&f, "{not json").unwrap();
        let err = Tokenizer::from_path(&f).unwrap_err();
        std::fs::remove_file(&f).ok();
        assert!(matches!(err, TokenizerError::Unreadable { .. }));
    }
}
