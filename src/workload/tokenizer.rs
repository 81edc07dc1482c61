//! Loading Hugging Face tokenizers, and the small default tokenizer that ships
//! inside the crate.
//!
//! `--tokenizer` is a `tokenizer.json`, a directory holding one, or a Hugging
//! Face hub id (`meta-llama/Llama-3.1-8B-Instruct`) already in the local
//! Hugging Face cache ([`hf_cache_tokenizer`]). Nothing is ever downloaded.

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
    /// Neither a path nor a hub id found in the local Hugging Face cache.
    #[error(
        "tokenizer {id}: no such file or directory, and not in the local Hugging Face cache \
         (nothing is downloaded); looked at: {}",
        looked.join("; ")
    )]
    NotInHubCache {
        /// The `--tokenizer` value.
        id: String,
        /// Every place looked at, each with what was missing there.
        looked: Vec<String>,
    },
}

/// Where a Hugging Face hub id's `tokenizer.json` sits in the local Hugging
/// Face cache, looked up with `env` (e.g. `|k| std::env::var(k).ok()`).
///
/// The cache is `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else
/// `$HOME/.cache/huggingface/hub`; the id `org/name` is the folder
/// `models--org--name` there (`name` alone: `models--name`). The revision is
/// the one `refs/main` names when that file exists, else the newest folder
/// under `snapshots/` (by modification time, then name); the file is
/// `snapshots/<rev>/tokenizer.json`. Nothing is fetched. The error names the
/// path itself and every place looked at in the cache.
pub fn hf_cache_tokenizer(
    id: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<PathBuf, TokenizerError> {
    let mut looked = vec![format!("{id} (no such file or directory)")];
    let not_found = |looked: Vec<String>| TokenizerError::NotInHubCache {
        id: id.to_string(),
        looked,
    };
    if !is_hub_id(id) {
        looked.push("not a Hugging Face hub id (ORG/NAME), so no cache was searched".into());
        return Err(not_found(looked));
    }
    let var = |k: &str| env(k).filter(|v| !v.is_empty());
    let cache = if let Some(c) = var("HF_HUB_CACHE") {
        PathBuf::from(c)
    } else if let Some(h) = var("HF_HOME") {
        Path::new(&h).join("hub")
    } else if let Some(home) = var("HOME") {
        Path::new(&home).join(".cache/huggingface/hub")
    } else {
        looked.push("no Hugging Face cache: HF_HUB_CACHE, HF_HOME and HOME are unset".into());
        return Err(not_found(looked));
    };
    let repo = cache.join(format!("models--{}", id.replace('/', "--")));
    if !repo.is_dir() {
        looked.push(format!("{} (no such directory)", repo.display()));
        return Err(not_found(looked));
    }
    let refs_main = repo.join("refs/main");
    let rev = match std::fs::read_to_string(&refs_main) {
        Ok(r) if !r.trim().is_empty() => r.trim().to_string(),
        _ => match newest_snapshot(&repo.join("snapshots")) {
            Some(r) => r,
            None => {
                looked.push(format!(
                    "{} (no such file) and {} (no snapshot)",
                    refs_main.display(),
                    repo.join("snapshots").display()
                ));
                return Err(not_found(looked));
            }
        },
    };
    let file = repo.join("snapshots").join(rev).join("tokenizer.json");
    if file.is_file() {
        Ok(file)
    } else {
        looked.push(format!("{} (no such file)", file.display()));
        Err(not_found(looked))
    }
}

/// `org/name` or `name`, of letters, digits, `-`, `_` and `.`, not starting
/// with `.` or `-`: the shape of a Hugging Face model id.
fn is_hub_id(id: &str) -> bool {
    let parts: Vec<&str> = id.split('/').collect();
    parts.len() <= 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && !p.starts_with(['.', '-'])
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        })
}

/// The name of the newest folder under `snapshots` (by modification time,
/// ties broken by name), if any.
fn newest_snapshot(snapshots: &Path) -> Option<String> {
    std::fs::read_dir(snapshots)
        .ok()?
        .flatten()
        .filter(|e| e.path().is_dir())
        .filter_map(|e| {
            let t = e.metadata().and_then(|m| m.modified()).ok()?;
            Some((t, e.file_name().to_string_lossy().into_owned()))
        })
        .max()
        .map(|(_, name)| name)
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

    /// `from_path` when a path is given, else the embedded default. A path
    /// that does not exist is looked up as a Hugging Face hub id in the local
    /// cache ([`hf_cache_tokenizer`], with the process environment); the
    /// tokenizer is then named by the id.
    pub fn load(path: Option<&Path>) -> Result<Self, TokenizerError> {
        Self::load_with_env(path, |k| std::env::var(k).ok())
    }

    /// [`Tokenizer::load`] with the environment given as `env`.
    pub fn load_with_env(
        path: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, TokenizerError> {
        let Some(p) = path else {
            return Ok(Self::default_embedded());
        };
        if p.exists() {
            return Self::from_path(p);
        }
        let id = p.to_string_lossy();
        if !is_hub_id(&id) {
            return Err(TokenizerError::Missing {
                path: p.to_path_buf(),
            });
        }
        let file = hf_cache_tokenizer(&id, env)?;
        let mut tok = Self::from_path(&file)?;
        tok.name = id.into_owned();
        Ok(tok)
    }

    /// The tokenizer as a Hugging Face `tokenizer.json` text (e.g. to write
    /// the embedded one to a file).
    pub fn to_json(&self) -> Result<String, TokenizerError> {
        self.inner
            .to_string(false)
            .map_err(|e| TokenizerError::Unreadable {
                path: PathBuf::from(&self.name),
                reason: e.to_string(),
            })
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

    /// Tokens of `text` in each of its pieces, the pieces ending at the
    /// byte offsets `ends` (ascending): a token belongs to the piece its
    /// last byte is in (tokens past the last end go to the last piece).
    pub fn count_pieces(&self, text: &str, ends: &[usize]) -> Vec<u32> {
        let mut out = vec![0u32; ends.len()];
        if ends.is_empty() {
            return out;
        }
        if let Ok(enc) = self.inner.encode(text, false) {
            for &(_, end) in enc.get_offsets() {
                let i = ends.partition_point(|&e| e < end).min(ends.len() - 1);
                out[i] = out[i].saturating_add(1);
            }
        }
        out
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

    /// An HF cache under a temp dir: `models--org--name` with the given
    /// snapshots (revision, holds a tokenizer.json) and `refs/main`.
    fn hf_cache(snapshots: &[(&str, bool)], main: Option<&str>) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("hub/models--org--name");
        let json = Tokenizer::default_embedded().to_json().unwrap();
        for (rev, with_json) in snapshots {
            let snap = repo.join("snapshots").join(rev);
            std::fs::create_dir_all(&snap).unwrap();
            if *with_json {
                std::fs::write(snap.join("tokenizer.json"), &json).unwrap();
            }
            // Distinct modification times, in the order given.
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        if let Some(m) = main {
            std::fs::create_dir_all(repo.join("refs")).unwrap();
            std::fs::write(repo.join("refs/main"), m).unwrap();
        }
        dir
    }

    fn env_of(pairs: &[(&str, String)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        move |k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn hub_id_resolves_in_each_cache_location() {
        let c = hf_cache(&[("abc123", true)], None);
        let root = c.path().to_str().unwrap().to_string();
        let want = c
            .path()
            .join("hub/models--org--name/snapshots/abc123/tokenizer.json");
        let envs = [
            env_of(&[
                ("HF_HUB_CACHE", format!("{root}/hub")),
                ("HF_HOME", "/x".into()),
            ]),
            env_of(&[("HF_HOME", root.clone()), ("HOME", "/x".into())]),
        ];
        for env in envs {
            assert_eq!(hf_cache_tokenizer("org/name", env).unwrap(), want);
        }
        let home = tempfile::tempdir().unwrap();
        let cache = home.path().join(".cache/huggingface");
        std::fs::create_dir_all(&cache).unwrap();
        std::fs::rename(c.path().join("hub"), cache.join("hub")).unwrap();
        let env = env_of(&[("HOME", home.path().to_str().unwrap().to_string())]);
        let tok = Tokenizer::load_with_env(Some(Path::new("org/name")), env).unwrap();
        assert_eq!(tok.name(), "org/name");
        let text = "The quick brown fox jumps over the lazy dog.";
        assert_eq!(tok.encode(text), Tokenizer::default_embedded().encode(text));
    }

    #[test]
    fn refs_main_wins_over_a_newer_snapshot() {
        let c = hf_cache(&[("main1", true), ("newer2", true)], Some("main1\n"));
        let env = env_of(&[("HF_HOME", c.path().to_str().unwrap().to_string())]);
        let got = hf_cache_tokenizer("org/name", &env).unwrap();
        assert!(
            got.ends_with("models--org--name/snapshots/main1/tokenizer.json"),
            "{got:?}"
        );
        std::fs::remove_file(c.path().join("hub/models--org--name/refs/main")).unwrap();
        let got = hf_cache_tokenizer("org/name", &env).unwrap();
        assert!(
            got.ends_with("models--org--name/snapshots/newer2/tokenizer.json"),
            "{got:?}"
        );
    }

    #[test]
    fn not_found_names_every_place_looked_at() {
        let c = hf_cache(&[("old", true), ("rev9", false)], Some("rev9"));
        let root = c.path().to_str().unwrap().to_string();
        let env = env_of(&[("HF_HOME", root.clone())]);
        let e = hf_cache_tokenizer("org/name", &env)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            format!(
                "tokenizer org/name: no such file or directory, and not in the local Hugging \
                 Face cache (nothing is downloaded); looked at: org/name (no such file or \
                 directory); {root}/hub/models--org--name/snapshots/rev9/tokenizer.json (no such file)"
            )
        );
        let e = Tokenizer::load_with_env(Some(Path::new("org/other")), &env)
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with(&format!(
                "looked at: org/other (no such file or directory); \
                 {root}/hub/models--org--other (no such directory)"
            )),
            "{e}"
        );
        let e = hf_cache_tokenizer("org/name", env_of(&[]))
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with("no Hugging Face cache: HF_HUB_CACHE, HF_HOME and HOME are unset"),
            "{e}"
        );
        // A path that is no hub id keeps the plain error.
        let e = Tokenizer::load_with_env(Some(Path::new("/no/such/tok.json")), &env).unwrap_err();
        assert!(matches!(e, TokenizerError::Missing { .. }), "{e}");
    }

    #[test]
    fn hub_id_shapes() {
        for ok in [
            "gpt2",
            "meta-llama/Llama-3.1-8B-Instruct",
            "Qwen/Qwen2.5-7B_x",
        ] {
            assert!(is_hub_id(ok), "{ok}");
        }
        for bad in ["/abs/x", "./x", "a/b/c", "../x", "a b/c", "", "org/"] {
            assert!(!is_hub_id(bad), "{bad}");
        }
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
