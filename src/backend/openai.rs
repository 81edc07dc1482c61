//! OpenAI-compatible APIs: `/v1/completions` (`openai`) and
//! `/v1/chat/completions` (`openai-chat`), streamed as SSE.
//!
//! Requests ask for `stream_options.include_usage` (a final `usage` chunk),
//! with `--use-spec-decode` also `continuous_usage_stats` (vLLM's usage in
//! every chunk, which gives the tokens of each speculative step),
//! and, when the output length is forced, `ignore_eos: true` and
//! `min_tokens = max_tokens`. Chat requests send `max_completion_tokens` as
//! well as `max_tokens`.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::{
    Backend, ChatTurn, HttpRequest, ParseError, RequestOptions, SseFramer, StreamEvent,
    StreamParser,
};
use crate::record::ServerLatency;
use crate::workload::RequestSpec;

/// `--backend openai`: `POST /v1/completions`.
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenAiCompletions;

/// `--backend openai-chat`: `POST /v1/chat/completions`.
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenAiChat;

#[derive(Serialize)]
struct StreamOptions {
    include_usage: bool,
    /// vLLM: usage in every chunk (asked with `--use-spec-decode`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    continuous_usage_stats: bool,
}

#[derive(Serialize)]
struct CompletionBody<'a> {
    model: &'a str,
    prompt: &'a str,
    max_tokens: usize,
    temperature: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_k: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<StreamOptions>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    ignore_eos: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    min_tokens: Option<usize>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    return_latency: bool,
}

/// A chat message; `content` is a string, or text and image parts.
#[derive(Serialize)]
struct Message<'a, C> {
    role: &'a str,
    content: C,
}

#[derive(Serialize)]
struct ChatBody<'a, M> {
    model: &'a str,
    messages: M,
    max_tokens: usize,
    max_completion_tokens: usize,
    temperature: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_k: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<StreamOptions>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    ignore_eos: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    min_tokens: Option<usize>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    return_latency: bool,
}

pub(super) fn to_bytes<T: Serialize>(body: &T) -> bytes::Bytes {
    bytes::Bytes::from(serde_json::to_vec(body).expect("request bodies serialise"))
}

impl Backend for OpenAiCompletions {
    fn name(&self) -> &'static str {
        "openai"
    }

    fn build(&self, spec: &RequestSpec, opts: &RequestOptions) -> HttpRequest {
        let body = CompletionBody {
            model: &opts.model,
            prompt: &spec.prompt,
            max_tokens: spec.max_tokens,
            temperature: opts.sampling.temperature,
            top_k: opts.sampling.top_k,
            top_p: opts.sampling.top_p,
            stream: !opts.non_streaming,
            stream_options: (!opts.non_streaming).then_some(StreamOptions {
                include_usage: true,
                continuous_usage_stats: opts.spec_decode.is_some(),
            }),
            ignore_eos: spec.force_output_len,
            min_tokens: spec.force_output_len.then_some(spec.max_tokens),
            return_latency: opts.return_latency,
        };
        HttpRequest {
            path: "/v1/completions",
            body: to_bytes(&body),
            prompt_bytes: spec.prompt.len(),
        }
    }

    fn parser(&self, opts: &RequestOptions, _req: &HttpRequest) -> Box<dyn StreamParser> {
        Box::new(OpenAiParser::new(opts.tokens_per_chunk))
    }
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Part<'a> {
    Text { text: &'a str },
    ImageUrl { image_url: ImageUrl<'a> },
}

#[derive(Serialize)]
struct ImageUrl<'a> {
    url: &'a str,
}

impl OpenAiChat {
    /// The chat request for `spec` with the user message's `content`.
    fn request<C: Serialize>(spec: &RequestSpec, opts: &RequestOptions, content: C) -> HttpRequest {
        let messages = [Message {
            role: "user",
            content,
        }];
        Self::with_messages(spec, opts, messages)
    }

    /// The chat request for `spec` with these `messages`.
    fn with_messages<M: Serialize>(
        spec: &RequestSpec,
        opts: &RequestOptions,
        messages: M,
    ) -> HttpRequest {
        let body = ChatBody {
            model: &opts.model,
            messages,
            max_tokens: spec.max_tokens,
            max_completion_tokens: spec.max_tokens,
            temperature: opts.sampling.temperature,
            top_k: opts.sampling.top_k,
            top_p: opts.sampling.top_p,
            stream: !opts.non_streaming,
            stream_options: (!opts.non_streaming).then_some(StreamOptions {
                include_usage: true,
                continuous_usage_stats: opts.spec_decode.is_some(),
            }),
            ignore_eos: spec.force_output_len,
            min_tokens: spec.force_output_len.then_some(spec.max_tokens),
            return_latency: opts.return_latency,
        };
        HttpRequest {
            path: "/v1/chat/completions",
            body: to_bytes(&body),
            prompt_bytes: spec.prompt.len(),
        }
    }
}

impl Backend for OpenAiChat {
    fn name(&self) -> &'static str {
        "openai-chat"
    }

    fn build(&self, spec: &RequestSpec, opts: &RequestOptions) -> HttpRequest {
        OpenAiChat::request(spec, opts, spec.prompt.as_str())
    }

    fn build_conversation(
        &self,
        history: &[ChatTurn<'_>],
        spec: &RequestSpec,
        opts: &RequestOptions,
    ) -> Option<HttpRequest> {
        let messages: Vec<Message<'_, &str>> = history
            .iter()
            .map(|t| Message {
                role: t.role.as_str(),
                content: t.content,
            })
            .chain(std::iter::once(Message {
                role: "user",
                content: spec.prompt.as_str(),
            }))
            .collect();
        let mut http = OpenAiChat::with_messages(spec, opts, messages);
        http.prompt_bytes += history.iter().map(|t| t.content.len()).sum::<usize>();
        Some(http)
    }

    fn build_multimodal(
        &self,
        spec: &RequestSpec,
        images: &[String],
        opts: &RequestOptions,
    ) -> Option<HttpRequest> {
        let mut content = vec![Part::Text { text: &spec.prompt }];
        content.extend(images.iter().map(|u| Part::ImageUrl {
            image_url: ImageUrl { url: u },
        }));
        Some(OpenAiChat::request(spec, opts, content))
    }

    fn parser(&self, opts: &RequestOptions, _req: &HttpRequest) -> Box<dyn StreamParser> {
        Box::new(OpenAiParser::new(opts.tokens_per_chunk))
    }
}

#[derive(Deserialize, Default)]
struct Delta<'a> {
    #[serde(borrow, default)]
    content: Option<Cow<'a, str>>,
    /// vLLM's and DeepSeek's reasoning deltas.
    #[serde(borrow, default)]
    reasoning_content: Option<Cow<'a, str>>,
    /// Newer vLLM / OpenAI-style reasoning deltas.
    #[serde(borrow, default)]
    reasoning: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
struct Choice<'a> {
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    delta: Option<Delta<'a>>,
}

#[derive(Deserialize)]
struct Usage {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens_details: Option<CompletionDetails>,
    #[serde(default)]
    prompt_tokens_details: Option<PromptDetails>,
}

/// `usage.prompt_tokens_details`: prompt tokens the server's prefix cache
/// served (vLLM with `--enable-prompt-tokens-details`, SGLang, OpenAI).
#[derive(Deserialize)]
struct PromptDetails {
    #[serde(default)]
    cached_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct CompletionDetails {
    #[serde(default)]
    reasoning_tokens: Option<u64>,
}

/// One streamed chunk; only the first choice is read (no Vec per chunk).
#[derive(Deserialize)]
struct Chunk<'a> {
    #[serde(borrow, default, deserialize_with = "first_choice")]
    choices: Option<Choice<'a>>,
    #[serde(default)]
    usage: Option<Usage>,
    #[serde(default)]
    latency: Option<ServerLatency>,
    /// llama.cpp's server: its own timings, on the last chunk.
    #[serde(default)]
    timings: Option<LlamaTimings>,
    #[serde(default)]
    error: Option<serde_json::Value>,
    #[serde(default)]
    object: Option<Cow<'a, str>>,
    #[serde(default)]
    message: Option<Cow<'a, str>>,
}

/// The `timings` object llama.cpp's server adds to the last chunk of a
/// stream (ms, and prompt tokens served from its cache).
#[derive(Debug, Deserialize)]
struct LlamaTimings {
    #[serde(default)]
    prompt_ms: Option<f64>,
    #[serde(default)]
    predicted_ms: Option<f64>,
    #[serde(default)]
    predicted_per_token_ms: Option<f64>,
    #[serde(default)]
    cache_n: Option<u64>,
}

impl LlamaTimings {
    /// As server-side figures: prefill = `prompt_ms`, decode per token =
    /// `predicted_per_token_ms`, request = `prompt_ms + predicted_ms`
    /// (processing only; llama.cpp reports no queue time).
    fn latency(&self) -> ServerLatency {
        ServerLatency {
            prefill_latency: self.prompt_ms,
            model_prefill_latency: None,
            avg_decode_latency: self.predicted_per_token_ms,
            time_in_queue: None,
            request_latency: self.prompt_ms.zip(self.predicted_ms).map(|(a, b)| a + b),
            ttft_server_ms: None,
            cached_prompt_tokens: self.cache_n,
        }
    }
}

fn first_choice<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Choice<'de>>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<Choice<'de>>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an array of choices")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let first = seq.next_element::<Choice<'de>>()?;
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(first)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(V)
}

/// Parser of OpenAI SSE streams (completions and chat chunks alike).
#[derive(Debug)]
pub struct OpenAiParser {
    framer: SseFramer,
    tokens_per_chunk: u32,
}

impl OpenAiParser {
    /// A parser that counts `tokens_per_chunk` tokens per text chunk.
    pub fn new(tokens_per_chunk: u32) -> Self {
        OpenAiParser {
            framer: SseFramer::default(),
            tokens_per_chunk: tokens_per_chunk.max(1),
        }
    }
}

fn handle_event(
    data: &[u8],
    tokens_per_chunk: u32,
    text: &mut String,
    out: &mut Vec<StreamEvent>,
) -> Result<(), ParseError> {
    let trimmed = data.trim_ascii();
    if trimmed == b"[DONE]" {
        out.push(StreamEvent::Done);
        return Ok(());
    }
    if trimmed.is_empty() {
        return Ok(());
    }
    if let Some(piece) = quick_piece(trimmed) {
        push_piece(&piece, false, tokens_per_chunk, text, out);
        return Ok(());
    }
    full_event(trimmed, tokens_per_chunk, text, out)
}

/// A chunk's text `piece` (answer or `reasoning`): appended to `text`, and
/// one token event of `tokens`; an empty piece is no token.
fn push_piece(
    piece: &str,
    reasoning: bool,
    tokens: u32,
    text: &mut String,
    out: &mut Vec<StreamEvent>,
) {
    if piece.is_empty() {
        return;
    }
    text.push_str(piece);
    out.push(if reasoning {
        StreamEvent::Reasoning { tokens }
    } else {
        StreamEvent::Tokens { tokens }
    });
}

/// Keys whose presence anywhere in a chunk sends it to the full parse: the
/// chunk may carry an error, server timings, or reasoning.
const FULL_PARSE_KEYS: [&[u8]; 5] = [
    b"\"error",
    b"\"latency\"",
    b"\"timings\"",
    b"\"message\"",
    b"\"reasoning",
];

/// The token text of a plain text chunk, found without a full JSON parse:
/// `Some(text)` (possibly empty) when `data` is a chunk whose one `text`
/// (completions) or `content` (chat delta) key holds a string in its only
/// choice, its `usage` is absent or null, and none of
/// [`FULL_PARSE_KEYS`] appears; `None` otherwise, when the full parse
/// decides. Nearly every chunk of a stream is such a chunk; the full parse
/// costs several times this search on them (`examples/chunk_parse.rs`).
/// The chunk must be valid UTF-8 and an object at both ends; a chunk broken
/// only inside those would pass here with its text, as the full parse
/// would not have it.
fn quick_piece(data: &[u8]) -> Option<Cow<'_, str>> {
    if data.first() != Some(&b'{') || data.last() != Some(&b'}') {
        return None;
    }
    let s = std::str::from_utf8(data).ok()?;
    // One pass over the quotes: where `usage`, `choices` and the text key
    // are, and whether a key of the full parse is there.
    let (mut usage, mut choices, mut key) = (None, None, None);
    for (i, pair) in data.windows(2).enumerate() {
        // Most quotes open or close a value no key starts like: the byte
        // after the quote tells.
        if pair[0] != b'"' || !matches!(pair[1], b'e' | b'l' | b'm' | b'r' | b't' | b'u' | b'c') {
            continue;
        }
        let rest = &data[i..];
        if FULL_PARSE_KEYS.iter().any(|k| rest.starts_with(k)) {
            return None;
        }
        // A key is a string followed by `:`; the same words as values (or
        // inside strings, where every quote is escaped) are not.
        let is_key = |k: &[u8]| rest.starts_with(k) && value_after(data, i + k.len()).is_some();
        if is_key(b"\"usage\"") {
            if usage.is_some() {
                return None;
            }
            usage = Some(i + 7);
        } else if is_key(b"\"choices\"") {
            choices.get_or_insert(i);
        } else if let Some(k) = [&b"\"text\""[..], b"\"content\""]
            .into_iter()
            .find(|k| is_key(k))
        {
            if key.is_some() {
                return None;
            }
            key = Some((i, k.len()));
        }
    }
    if let Some(after) = usage {
        value_after(data, after)?.strip_prefix(b"null")?;
    }
    let (at, len) = key?;
    if choices? > at {
        return None;
    }
    let value = value_after(data, at + len)?;
    let start = data.len() - value.len();
    let rest = value.strip_prefix(b"\"")?;
    // The end of the string: the first quote not escaped.
    let mut i = 0;
    let mut escaped = false;
    loop {
        let j = i + memchr::memchr2(b'"', b'\\', &rest[i..])?;
        if rest[j] == b'"' {
            let end = start + 1 + j;
            return if escaped {
                serde_json::from_str::<String>(&s[start..=end])
                    .ok()
                    .map(Cow::Owned)
            } else {
                Some(Cow::Borrowed(&s[start + 1..end]))
            };
        }
        escaped = true;
        i = j + 2;
        if i > rest.len() {
            return None;
        }
    }
}

/// What follows the key that ends at `after`: its `:` and the blanks
/// around it skipped; `None` when no `:` follows.
fn value_after(data: &[u8], after: usize) -> Option<&[u8]> {
    let rest = data.get(after..)?.trim_ascii_start();
    Some(rest.strip_prefix(b":")?.trim_ascii_start())
}

/// The full parse of one event's JSON.
fn full_event(
    trimmed: &[u8],
    tokens_per_chunk: u32,
    text: &mut String,
    out: &mut Vec<StreamEvent>,
) -> Result<(), ParseError> {
    let chunk: Chunk = super::parse_event(trimmed)?;
    if let Some(err) = chunk.error {
        let msg = match &err {
            serde_json::Value::Object(o) => o
                .get("message")
                .and_then(|m| m.as_str())
                .map(str::to_string)
                .unwrap_or_else(|| err.to_string()),
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        out.push(StreamEvent::Error(msg));
        return Ok(());
    }
    if chunk.object.as_deref() == Some("error") {
        let msg = chunk.message.as_deref().unwrap_or("error event");
        out.push(StreamEvent::Error(msg.to_string()));
        return Ok(());
    }
    if let Some(choice) = chunk.choices {
        // A chat delta carries an answer, or else a reasoning model's
        // reasoning (timed alike; the first answer token after it is noted).
        let (piece, reasoning) = match (choice.text, choice.delta) {
            (Some(t), _) => (Some(t), false),
            (None, Some(d)) => match d.content.filter(|c| !c.is_empty()) {
                Some(c) => (Some(c), false),
                None => (d.reasoning_content.or(d.reasoning), true),
            },
            (None, None) => (None, false),
        };
        if let Some(piece) = piece {
            push_piece(&piece, reasoning, tokens_per_chunk, text, out);
        }
    }
    if let Some(u) = chunk.usage {
        out.push(StreamEvent::Usage {
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
        });
        if let Some(n) = u.completion_tokens_details.and_then(|d| d.reasoning_tokens) {
            out.push(StreamEvent::ReasoningUsage(n));
        }
        if let Some(n) = u.prompt_tokens_details.and_then(|d| d.cached_tokens) {
            out.push(StreamEvent::CachedPrompt(n));
        }
    }
    if let Some(l) = chunk.latency {
        out.push(StreamEvent::Latency(l));
    } else if let Some(t) = chunk.timings {
        out.push(StreamEvent::Latency(t.latency()));
    }
    Ok(())
}

impl StreamParser for OpenAiParser {
    fn feed(
        &mut self,
        bytes: &[u8],
        text: &mut String,
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), ParseError> {
        let n = self.tokens_per_chunk;
        self.framer.feed(bytes, |d| handle_event(d, n, text, out))
    }

    fn finish(&mut self, text: &mut String, out: &mut Vec<StreamEvent>) -> Result<(), ParseError> {
        let n = self.tokens_per_chunk;
        self.framer.finish(|d| handle_event(d, n, text, out))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pieces: &[&[u8]]) -> (Result<(), ParseError>, String, Vec<StreamEvent>) {
        let mut p = OpenAiParser::new(1);
        let mut text = String::new();
        let mut out = Vec::new();
        for piece in pieces {
            if let Err(e) = p.feed(piece, &mut text, &mut out) {
                return (Err(e), text, out);
            }
        }
        let r = p.finish(&mut text, &mut out);
        (r, text, out)
    }

    #[test]
    fn completion_stream_with_usage_and_latency() {
        let body = concat!(
            "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"text\":\" a\",\"finish_reason\":null}]}\n\n",
            "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"text\":\" b\",\"finish_reason\":\"length\"}]}\n\n",
            "data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2,\"total_tokens\":7},",
            "\"latency\":{\"time_in_queue\":1.5,\"prefill_latency\":20.25}}\n\n",
            "data: [DONE]\n\n"
        );
        let (r, text, ev) = parse(&[body.as_bytes()]);
        r.unwrap();
        assert_eq!(text, " a b");
        assert_eq!(ev[0], StreamEvent::Tokens { tokens: 1 });
        assert_eq!(ev[1], StreamEvent::Tokens { tokens: 1 });
        assert_eq!(
            ev[2],
            StreamEvent::Usage {
                prompt_tokens: Some(5),
                completion_tokens: Some(2)
            }
        );
        match &ev[3] {
            StreamEvent::Latency(l) => {
                assert_eq!(l.time_in_queue, Some(1.5));
                assert_eq!(l.prefill_latency, Some(20.25));
            }
            e => panic!("{e:?}"),
        }
        assert_eq!(ev[4], StreamEvent::Done);
    }

    #[test]
    fn chat_role_chunk_carries_no_token() {
        let body = concat!(
            "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n",
            "data: {\"choices\":[{\"delta\":{\"content\":\"hi \\u00e9\"}}]}\n\n",
            "data: [DONE]\n\n"
        );
        let (r, text, ev) = parse(&[body.as_bytes()]);
        r.unwrap();
        assert_eq!(text, "hi \u{e9}");
        assert_eq!(
            ev,
            vec![StreamEvent::Tokens { tokens: 1 }, StreamEvent::Done]
        );
    }

    #[test]
    fn reasoning_deltas_are_timed_and_told_apart() {
        let (r, text, ev) = parse(&[
            b"data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n",
            b"data: {\"choices\":[{\"delta\":{\"reasoning_content\":\"hm\",\"content\":null}}]}\n\n",
            b"data: {\"choices\":[{\"delta\":{\"reasoning\":\" so\"}}]}\n\n",
            b"data: {\"choices\":[{\"delta\":{\"content\":\" yes\"}}]}\n\n",
            b"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":3,\
              \"completion_tokens_details\":{\"reasoning_tokens\":2}}}\n\n",
        ]);
        r.unwrap();
        assert_eq!(text, "hm so yes");
        assert_eq!(
            ev,
            vec![
                StreamEvent::Reasoning { tokens: 1 },
                StreamEvent::Reasoning { tokens: 1 },
                StreamEvent::Tokens { tokens: 1 },
                StreamEvent::Usage {
                    prompt_tokens: Some(3),
                    completion_tokens: Some(3)
                },
                StreamEvent::ReasoningUsage(2),
            ]
        );
    }

    #[test]
    fn error_event_after_200() {
        let body = "data: {\"error\":{\"object\":\"error\",\"message\":\"boom\",\"code\":500}}\n\ndata: [DONE]\n\n";
        let (r, _, ev) = parse(&[body.as_bytes()]);
        r.unwrap();
        assert_eq!(ev[0], StreamEvent::Error("boom".into()));
    }

    #[test]
    fn bad_json_is_malformed() {
        let (r, _, _) = parse(&[b"data: {\"choices\": [\n\n"]);
        assert!(r.unwrap_err().0.contains("EOF"));
    }

    #[test]
    fn invalid_utf8_is_malformed() {
        let (r, _, _) = parse(&[b"data: {\"choices\":[{\"text\":\"\xff\"}]}\n\n"]);
        assert!(r.is_err());
    }

    #[test]
    fn invalid_utf8_in_an_ignored_field_is_malformed() {
        let (r, _, _) = parse(&[b"data: {\"text\":[\"\xff\xfe\"]}\n\n"]);
        assert!(r.unwrap_err().0.contains("UTF-8"));
    }

    #[test]
    fn utf8_split_across_reads() {
        let body = "data: {\"choices\":[{\"text\":\"\u{4f60}\u{597d}\"}]}\n\ndata: [DONE]\n\n";
        let b = body.as_bytes();
        let (r, text, _) = parse(&[&b[..27], &b[27..]]);
        r.unwrap();
        assert_eq!(text, "\u{4f60}\u{597d}");
    }

    #[test]
    fn bodies_are_valid_json() {
        let spec = RequestSpec {
            id: 1,
            prompt: "say \"hi\"".into(),
            prompt_tokens: 3,
            max_tokens: 16,
            force_output_len: true,
        };
        let opts = RequestOptions {
            model: "m".into(),
            return_latency: true,
            tokens_per_chunk: 1,
            non_streaming: false,
            sampling: Default::default(),
            spec_decode: None,
        };
        let c: serde_json::Value =
            serde_json::from_slice(&OpenAiCompletions.build(&spec, &opts).body).unwrap();
        assert_eq!(c["prompt"], "say \"hi\"");
        assert_eq!(c["min_tokens"], 16);
        assert_eq!(c["ignore_eos"], true);
        assert_eq!(c["stream_options"]["include_usage"], true);
        assert_eq!(c["return_latency"], true);
        let h = OpenAiChat.build(&spec, &opts);
        assert_eq!(h.path, "/v1/chat/completions");
        let c: serde_json::Value = serde_json::from_slice(&h.body).unwrap();
        assert_eq!(c["messages"][0]["content"], "say \"hi\"");
        assert_eq!(c["max_completion_tokens"], 16);
        assert!(c["stream_options"].get("continuous_usage_stats").is_none());
        let spec = RequestOptions {
            spec_decode: Some(Default::default()),
            ..opts
        };
        let c: serde_json::Value =
            serde_json::from_slice(&OpenAiChat.build(&spec_req(), &spec).body).unwrap();
        assert_eq!(c["stream_options"]["continuous_usage_stats"], true);
    }

    fn spec_req() -> RequestSpec {
        RequestSpec {
            id: 2,
            prompt: "p".into(),
            prompt_tokens: 1,
            max_tokens: 4,
            force_output_len: true,
        }
    }
}
#[cfg(test)]
mod quick_tests {
    use super::*;
    use proptest::prelude::*;

    /// The full parse's reading of one event.
    fn full(data: &[u8]) -> Result<(String, Vec<StreamEvent>), ParseError> {
        let (mut text, mut out) = (String::new(), Vec::new());
        full_event(data, 1, &mut text, &mut out)?;
        Ok((text, out))
    }

    #[test]
    fn the_servers_text_chunks_take_the_quick_path() {
        for (chunk, want) in [
            (
                r#"{"id":"cmpl-8c","object":"text_completion","created":1764460800,"model":"m","choices":[{"index":0,"text":" the","logprobs":null,"finish_reason":null,"stop_reason":null}],"usage":null}"#,
                " the",
            ),
            (
                r#"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"a\n\"b\u00e9"},"logprobs":null,"finish_reason":null}]}"#,
                "a\n\"b\u{e9}",
            ),
            (
                r#"{"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}"#,
                "",
            ),
            (
                r#"{"id":"c","choices":[{"text":"x","index":0}],"usage": null}"#,
                "x",
            ),
        ] {
            assert_eq!(
                quick_piece(chunk.as_bytes()).as_deref(),
                Some(want),
                "{chunk}"
            );
            assert_eq!(full(chunk.as_bytes()).unwrap().0, want);
        }
        // Usage, errors, timings, reasoning, two choices, no text, broken
        // ends: the full parse decides.
        for chunk in [
            r#"{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2}}"#,
            r#"{"choices":[{"text":"a"}],"usage":{"completion_tokens":1}}"#,
            r#"{"error":{"message":"overloaded"}}"#,
            r#"{"object":"error","message":"bad"}"#,
            r#"{"choices":[{"text":"a"}],"latency":{"prefill_latency":2.0}}"#,
            r#"{"choices":[{"text":"a"}],"timings":{"prompt_ms":2.0}}"#,
            r#"{"choices":[{"delta":{"content":null,"reasoning_content":"hm"}}]}"#,
            r#"{"choices":[{"text":"a"},{"text":"b"}]}"#,
            r#"{"choices":[{"delta":{"role":"assistant"}}]}"#,
            r#"{"text":"a","choices":[]}"#,
            r#"{"choices":[{"text":"a"}]]"#,
            r#"{"choices":[{"text":"a"#,
            r#"{"choices":[{"text":5}]}"#,
        ] {
            assert_eq!(quick_piece(chunk.as_bytes()), None, "{chunk}");
        }
        // Invalid UTF-8 anywhere.
        let mut bad = br#"{"choices":[{"text":"a"}],"id":"x"}"#.to_vec();
        bad.splice(2..2, [0xFF, 0xFE]);
        assert_eq!(quick_piece(&bad), None);
    }

    /// Strings with the characters and words that could mislead a search.
    fn tricky() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                Just("\"".to_string()),
                Just("\\".to_string()),
                Just("\n".to_string()),
                Just("\u{e9}\u{1F600}".to_string()),
                Just("\"text\":\"".to_string()),
                Just("\"content\"".to_string()),
                Just("\"usage\":{".to_string()),
                Just("\"error".to_string()),
                Just("choices".to_string()),
                Just(":{}[],".to_string()),
                "[a-z ]{0,6}",
            ],
            0..6,
        )
        .prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// Whenever the quick path answers, it answers as the full parse.
        #[test]
        fn the_quick_path_agrees_with_the_full_parse(
            id in tricky(),
            model in tricky(),
            piece in tricky(),
            chat in any::<bool>(),
            usage in 0u8..3,
            spaced in any::<bool>(),
            choices_first in any::<bool>(),
        ) {
            let js = |s: &str| serde_json::to_string(s).unwrap();
            let (colon, comma) = if spaced { (": ", ", ") } else { (":", ",") };
            let choice = if chat {
                format!("{{\"index\"{colon}0{comma}\"delta\"{colon}{{\"content\"{colon}{}}}{comma}\"logprobs\"{colon}null}}", js(&piece))
            } else {
                format!("{{\"index\"{colon}0{comma}\"text\"{colon}{}{comma}\"finish_reason\"{colon}null}}", js(&piece))
            };
            let mut fields = vec![
                format!("\"id\"{colon}{}", js(&id)),
                format!("\"model\"{colon}{}", js(&model)),
            ];
            let choices = format!("\"choices\"{colon}[{choice}]");
            if choices_first { fields.insert(0, choices) } else { fields.push(choices) }
            match usage {
                0 => {}
                1 => fields.push(format!("\"usage\"{colon}null")),
                _ => fields.push(format!("\"usage\"{colon}{{\"prompt_tokens\"{colon}3{comma}\"completion_tokens\"{colon}1}}")),
            }
            let data = format!("{{{}}}", fields.join(comma));
            let (text, events) = full(data.as_bytes()).unwrap();
            match quick_piece(data.as_bytes()) {
                Some(q) => {
                    prop_assert_eq!(&q, &text);
                    prop_assert_eq!(events.len(), usize::from(!q.is_empty()));
                }
                None => {
                    // Only usage or a misleading word sends a chunk to the
                    // full parse.
                    prop_assert!(usage == 2 || data.contains("\"error"), "missed the quick path: {}", data);
                }
            }
        }
    }
}
