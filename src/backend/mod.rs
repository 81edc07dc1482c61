//! Server API flavours. A [`Backend`] turns a [`RequestSpec`] into an HTTP
//! request and gives a [`StreamParser`] that turns the response body into
//! [`StreamEvent`]s. One small module per API.

mod mindie;
mod openai;
mod sse;
mod tgi;
mod vllm;

use crate::record::ServerLatency;
use crate::workload::RequestSpec;

pub use mindie::MindIe;
pub use openai::{OpenAiChat, OpenAiCompletions, OpenAiParser};
pub use sse::SseFramer;
pub use tgi::{Tgi, TgiParser};
pub use vllm::VllmGenerate;

/// Options that apply to every request of a run.
#[derive(Debug, Clone, Default)]
pub struct RequestOptions {
    /// The model name sent in the request.
    pub model: String,
    /// Ask for server-side latency figures (`"return_latency": true`).
    pub return_latency: bool,
    /// Tokens the server sends per chunk when the stream does not say
    /// (`--num-scheduler-steps`); 1 by default.
    pub tokens_per_chunk: u32,
    /// Ask for one JSON response instead of a stream (the latency test).
    pub non_streaming: bool,
    /// Sampling parameters sent with every request.
    pub sampling: Sampling,
    /// The server decodes speculatively (`--use-spec-decode`): OpenAI
    /// requests then also ask for `stream_options.continuous_usage_stats`,
    /// so that each chunk's usage gives the tokens of each step.
    pub spec_decode: Option<SpecDecode>,
}

/// Speculative decoding on the server (`--use-spec-decode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct SpecDecode {
    /// Draft tokens the server proposes per decode step
    /// (`--num-speculative-tokens`), when given: the acceptance rate needs it.
    pub num_speculative_tokens: Option<u32>,
}

/// Sampling parameters (`--temperature`, `--top-k`, `--top-p`). The default
/// is greedy decoding (temperature 0) with the server's own top-k and top-p,
/// which are then left out of the request.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Sampling {
    /// Sampling temperature; 0 is greedy.
    pub temperature: f64,
    /// Keep the k most likely tokens (`None`: not sent, the server's own).
    pub top_k: Option<i64>,
    /// Nucleus sampling mass (`None`: not sent, the server's own).
    pub top_p: Option<f64>,
}

impl Sampling {
    /// True when the request asks the server to sample (temperature above
    /// 0), which the TGI and MindIE APIs call `do_sample`.
    pub fn samples(&self) -> bool {
        self.temperature > 0.0
    }

    /// True for the default (greedy, the server's top-k and top-p).
    pub fn is_default(&self) -> bool {
        *self == Sampling::default()
    }
}

/// A request ready to send: built and serialised before the clock starts.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    /// Path under the base URL, e.g. `/v1/completions`.
    pub path: &'static str,
    /// The serialised JSON body.
    pub body: bytes::Bytes,
    /// Length in bytes of the prompt text (APIs that echo the prompt in
    /// their stream strip it with this).
    pub prompt_bytes: usize,
}

/// One thing the parser found in the stream.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// A chunk carrying `tokens` output tokens whose text was appended to the
    /// text accumulator passed to [`StreamParser::feed`].
    Tokens { tokens: u32 },
    /// A chunk of a reasoning model's reasoning (`reasoning_content` or
    /// `reasoning` deltas) carrying `tokens` output tokens, its text appended
    /// like an answer's.
    Reasoning { tokens: u32 },
    /// The server's count of reasoning tokens
    /// (`usage.completion_tokens_details.reasoning_tokens`).
    ReasoningUsage(u64),
    /// Token usage reported by the server.
    Usage {
        prompt_tokens: Option<u64>,
        completion_tokens: Option<u64>,
    },
    /// Server-side latency figures.
    Latency(ServerLatency),
    /// Prompt tokens the server's prefix cache served
    /// (`usage.prompt_tokens_details.cached_tokens`).
    CachedPrompt(u64),
    /// An error reported inside the stream (after a 2xx status).
    Error(String),
    /// The stream's end marker (`data: [DONE]`).
    Done,
}

/// Who said one message of a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Assistant,
}

impl Role {
    /// The role's name in a chat request (`user`, `assistant`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// One earlier message of a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChatTurn<'a> {
    pub role: Role,
    pub content: &'a str,
}

/// A stream that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed stream: {0}")]
pub struct ParseError(pub String);

/// Parse one event's JSON. The bytes must be UTF-8 as a whole (an invalid
/// byte is malformed even inside a field the type would skip); an error
/// shows the start of the event.
pub(crate) fn parse_event<'a, T: serde::Deserialize<'a>>(data: &'a [u8]) -> Result<T, ParseError> {
    if let Err(e) = std::str::from_utf8(data) {
        return Err(ParseError(format!("invalid UTF-8 in event: {e}")));
    }
    serde_json::from_slice(data).map_err(|e| {
        let shown = String::from_utf8_lossy(&data[..data.len().min(120)]);
        ParseError(format!("{e} in event `{shown}`"))
    })
}

/// Incremental parser of one response body. Bytes arrive in arbitrary pieces
/// (an event or a UTF-8 character may be split across reads).
pub trait StreamParser: Send {
    /// Parse `bytes`; append generated text to `text` and push events to `out`.
    fn feed(
        &mut self,
        bytes: &[u8],
        text: &mut String,
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), ParseError>;
    /// The body ended: flush what is buffered.
    fn finish(&mut self, text: &mut String, out: &mut Vec<StreamEvent>) -> Result<(), ParseError>;
}

/// A server API flavour.
pub trait Backend: Send + Sync {
    /// The `--backend` name.
    fn name(&self) -> &'static str;
    /// Build the streaming HTTP request for `spec`.
    fn build(&self, spec: &RequestSpec, opts: &RequestOptions) -> HttpRequest;
    /// Build the request for `spec` with images (`data:` URLs) in the same
    /// user message; `None` when the API takes no images.
    fn build_multimodal(
        &self,
        _spec: &RequestSpec,
        _images: &[String],
        _opts: &RequestOptions,
    ) -> Option<HttpRequest> {
        None
    }
    /// A fresh parser for the response body of `req`.
    fn parser(&self, opts: &RequestOptions, req: &HttpRequest) -> Box<dyn StreamParser>;

    /// A chat request whose messages are `history` (earlier turns of a
    /// conversation, in order) then `spec.prompt` as the user's message;
    /// `None` for a backend without chat messages.
    fn build_conversation(
        &self,
        _history: &[ChatTurn<'_>],
        _spec: &RequestSpec,
        _opts: &RequestOptions,
    ) -> Option<HttpRequest> {
        None
    }
    /// False when the API cannot force the output length (no `ignore_eos`):
    /// records then carry the real length and a shorter output is not a
    /// failure.
    fn can_force_length(&self) -> bool {
        true
    }
    /// True when a complete stream ends with an end marker (`[DONE]`), so
    /// that a body ending without one is a broken stream.
    fn end_marker(&self) -> bool {
        true
    }
    /// True when each token event of the stream is exactly one token (TGI's
    /// `token` events), so that no flag's assumption applies to it.
    fn events_are_tokens(&self) -> bool {
        false
    }
}

/// The backends `--backend` accepts.
pub const BACKEND_NAMES: &[&str] = &[
    "openai",
    "openai-chat",
    "vllm",
    "tgi",
    "mindspore",
    "mindspore-tgi",
];

/// Errors choosing a backend.
#[derive(Debug, thiserror::Error)]
#[error("--backend {0}: unknown backend (expected one of: {list})", list = BACKEND_NAMES.join(", "))]
pub struct UnknownBackend(pub String);

/// The backend called `name`.
///
/// ```
/// assert_eq!(servebench::backend::by_name("openai").unwrap().name(), "openai");
/// assert!(servebench::backend::by_name("nope").is_err());
/// ```
pub fn by_name(name: &str) -> Result<Box<dyn Backend>, UnknownBackend> {
    match name {
        "openai" => Ok(Box::new(OpenAiCompletions)),
        "openai-chat" => Ok(Box::new(OpenAiChat)),
        "vllm" => Ok(Box::new(VllmGenerate)),
        "tgi" => Ok(Box::new(Tgi::hugging_face())),
        "mindspore" => Ok(Box::new(MindIe)),
        "mindspore-tgi" => Ok(Box::new(Tgi::mindie_compatible())),
        other => Err(UnknownBackend(other.to_string())),
    }
}
