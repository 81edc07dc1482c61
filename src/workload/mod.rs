//! Workload preparation: tokenizer handling, prompt synthesis to exact token
//! counts, datasets. Everything here runs before the clock starts.

mod dataset;
mod generate;
mod images;
mod prompt;
mod sessions;
mod shared_prefix;
mod tokenizer;
mod trace;

pub use dataset::{
    load_and_sample, load_dataset, load_dataset_with_stats, sample_requests, DatasetEntry,
    DatasetError, DatasetFilter, DatasetType, LoadStats,
};
pub use generate::{
    generate, generate_outputs, read_generated, write_dataset, write_seed_dataset, GenFormat,
    GenerateError, GenerateSpec, GeneratedRequest,
};
pub use images::{encode_image, image_data_url, ImageError, ImageFormat};
pub(crate) use prompt::mix;
pub use prompt::{PromptError, PromptSynth};
pub use sessions::{sharegpt_sessions, synthetic_sessions, Session, SessionShape, Turn};
pub use shared_prefix::{
    expected_shared_prefix_hit_ratio, expected_static_prefix_hit_ratio, shared_prefix_requests,
    static_shared_prefix_note, SharedPrefixError, SharedPrefixRequest, SharedPrefixSpec,
    DEFAULT_PREFIX_BLOCK_TOKENS,
};
pub use tokenizer::{hf_cache_tokenizer, Tokenizer, TokenizerError, DEFAULT_TOKENIZER_NAME};
pub use trace::{
    expected_prefix_hit_ratio, Trace, TraceError, TraceFormat, TraceRequest, TraceWindow,
};

/// One request to send, fully prepared before the run.
///
/// `prompt_tokens` is the exact token count of `prompt` (for chat: of the
/// user message content) under the run's tokenizer, without special tokens.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RequestSpec {
    /// Index of the request inside its run (stable, used in records).
    pub id: u64,
    /// The prompt text (completions) or the user message content (chat).
    pub prompt: String,
    /// Token count of `prompt` without special tokens.
    pub prompt_tokens: usize,
    /// Output tokens asked for (`max_tokens`).
    pub max_tokens: usize,
    /// Force exactly `max_tokens` output tokens (`ignore_eos` and `min_tokens`).
    pub force_output_len: bool,
}
