//! `--backend tgi`: Hugging Face TGI's `POST /generate_stream`, and
//! `--backend mindspore-tgi`: MindIE's TGI-compatible variant of it.
//!
//! Request: `{"inputs", "parameters": {"max_new_tokens", "details": true,
//! "do_sample": false}}`. Stream: SSE events, one token each:
//! `data:{"token": {"id": 42, "text": " the", "special": false}, "generated_text": null, "details": null}`;
//! the last also carries `generated_text` and `details.generated_tokens`.
//! There is no `[DONE]`. `{"error", "error_type"}` events are failures.
//! `token.id` may be a number or a list (MindIE), `data:` may be followed by a
//! space or not. MindIE servers started with full text enabled send
//! cumulative `token.text`; the parser detects it (each text extending all
//! the text so far) and keeps only the new part.
//!
//! TGI has no `ignore_eos`: the output length cannot be forced, so records
//! carry the real length and the run's notes say so.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::openai::to_bytes;
use super::{
    Backend, HttpRequest, ParseError, RequestOptions, SseFramer, StreamEvent, StreamParser,
};
use crate::workload::RequestSpec;

/// The TGI streaming API (or MindIE's TGI-compatible one).
#[derive(Debug, Clone, Copy)]
pub struct Tgi {
    name: &'static str,
}

impl Tgi {
    /// Hugging Face TGI.
    pub fn hugging_face() -> Self {
        Tgi { name: "tgi" }
    }

    /// MindIE's TGI-compatible `/generate_stream`.
    pub fn mindie_compatible() -> Self {
        Tgi {
            name: "mindspore-tgi",
        }
    }
}

#[derive(Serialize)]
struct Params {
    max_new_tokens: usize,
    details: bool,
    do_sample: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_k: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
}

#[derive(Serialize)]
struct Body<'a> {
    inputs: &'a str,
    parameters: Params,
}

impl Backend for Tgi {
    fn events_are_tokens(&self) -> bool {
        true
    }

    fn name(&self) -> &'static str {
        self.name
    }

    fn build(&self, spec: &RequestSpec, opts: &RequestOptions) -> HttpRequest {
        HttpRequest {
            path: "/generate_stream",
            body: to_bytes(&Body {
                inputs: &spec.prompt,
                parameters: Params {
                    max_new_tokens: spec.max_tokens,
                    details: true,
                    do_sample: opts.sampling.samples(),
                    temperature: opts.sampling.samples().then_some(opts.sampling.temperature),
                    top_k: opts.sampling.top_k,
                    top_p: opts.sampling.top_p,
                },
            }),
            prompt_bytes: spec.prompt.len(),
        }
    }

    fn parser(&self, _opts: &RequestOptions, _req: &HttpRequest) -> Box<dyn StreamParser> {
        Box::new(TgiParser::default())
    }

    fn can_force_length(&self) -> bool {
        false
    }

    fn end_marker(&self) -> bool {
        false
    }
}

#[derive(Deserialize)]
pub(super) struct Token<'a> {
    #[serde(borrow, default)]
    pub text: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
pub(super) struct Details {
    #[serde(default)]
    pub generated_tokens: Option<u64>,
}

/// One TGI (or MindIE) stream event.
#[derive(Deserialize)]
pub(super) struct Event<'a> {
    #[serde(borrow, default)]
    pub token: Option<Token<'a>>,
    #[serde(default)]
    pub details: Option<Details>,
    #[serde(borrow, default)]
    pub generated_text: Option<Cow<'a, str>>,
    #[serde(default)]
    pub error: Option<serde_json::Value>,
    #[serde(default)]
    pub error_type: Option<String>,
    /// MindIE: server-side prefill time of this request, ms.
    #[serde(default)]
    pub prefill_time: Option<f64>,
    /// MindIE: server-side decode time of this token, ms.
    #[serde(default)]
    pub decode_time: Option<f64>,
}

/// Parser of TGI-style SSE token events.
#[derive(Default)]
pub struct TgiParser {
    framer: SseFramer,
    /// Token events so far.
    events: u64,
    /// Whether `token.text` is cumulative, once known.
    cumulative: Option<bool>,
    /// The previous piece, kept until the mode is known.
    last_piece: String,
    pub(super) server: super::mindie::ServerTimes,
}

impl TgiParser {
    fn event(
        &mut self,
        data: &[u8],
        text: &mut String,
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), ParseError> {
        let data = data.trim_ascii();
        if data.is_empty() || data == b"[DONE]" {
            return Ok(());
        }
        let ev: Event = super::parse_event(data)?;
        if let Some(err) = ev.error {
            let msg = err
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| err.to_string());
            let kind = ev.error_type.unwrap_or_default();
            out.push(StreamEvent::Error(format!("{kind}: {msg}")));
            return Ok(());
        }
        self.server.absorb(ev.prefill_time, ev.decode_time);
        if let Some(tok) = ev.token {
            let piece = tok.text.unwrap_or_default();
            self.events += 1;
            self.push_piece(text, &piece);
            out.push(StreamEvent::Tokens { tokens: 1 });
        }
        if let Some(full) = ev.generated_text {
            // The final event's full text is authoritative.
            text.clear();
            text.push_str(&full);
        }
        if let Some(d) = ev.details {
            if d.generated_tokens.is_some() {
                out.push(StreamEvent::Usage {
                    prompt_tokens: None,
                    completion_tokens: d.generated_tokens,
                });
            }
        }
        Ok(())
    }

    /// Append the new part of `piece` to `text`. Until the stream's mode is
    /// known, pieces are taken as incremental; when the second and third
    /// pieces each extend the one before, the server sends cumulative text and
    /// `text` becomes the latest piece (then only suffixes are appended).
    fn push_piece(&mut self, text: &mut String, piece: &str) {
        match self.cumulative {
            Some(true) => match piece.strip_prefix(text.as_str()) {
                Some(new) => text.push_str(new),
                None => {
                    text.clear();
                    text.push_str(piece);
                }
            },
            Some(false) => text.push_str(piece),
            None => {
                let extends = self.events >= 2
                    && piece.len() > self.last_piece.len()
                    && piece.starts_with(self.last_piece.as_str());
                if !extends && self.events >= 2 {
                    self.cumulative = Some(false);
                    text.push_str(piece);
                } else if extends && self.events >= 3 {
                    self.cumulative = Some(true);
                    text.clear();
                    text.push_str(piece);
                } else {
                    text.push_str(piece);
                    self.last_piece.clear();
                    self.last_piece.push_str(piece);
                }
            }
        }
    }
}

impl StreamParser for TgiParser {
    fn feed(
        &mut self,
        bytes: &[u8],
        text: &mut String,
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), ParseError> {
        let mut framer = std::mem::take(&mut self.framer);
        let r = framer.feed(bytes, |d| self.event(d, text, out));
        self.framer = framer;
        r
    }

    fn finish(&mut self, text: &mut String, out: &mut Vec<StreamEvent>) -> Result<(), ParseError> {
        let mut framer = std::mem::take(&mut self.framer);
        let r = framer.finish(|d| self.event(d, text, out));
        self.framer = framer;
        r?;
        if let Some(l) = self.server.latency() {
            out.push(StreamEvent::Latency(l));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(pieces: &[&[u8]]) -> (Result<(), ParseError>, String, Vec<StreamEvent>) {
        let mut p = TgiParser::default();
        let (mut text, mut out) = (String::new(), Vec::new());
        for piece in pieces {
            if let Err(e) = p.feed(piece, &mut text, &mut out) {
                return (Err(e), text, out);
            }
        }
        let r = p.finish(&mut text, &mut out);
        (r, text, out)
    }

    #[test]
    fn tgi_stream_with_details_no_done() {
        let body = concat!(
            "data:{\"index\":1,\"token\":{\"id\":5,\"text\":\" a\",\"logprob\":-1.0,\"special\":false},\"generated_text\":null,\"details\":null}\n\n",
            "data: {\"index\":2,\"token\":{\"id\":[6],\"text\":\" b\",\"special\":false},\"generated_text\":\" a b\",",
            "\"details\":{\"finish_reason\":\"length\",\"generated_tokens\":2,\"seed\":null}}\r\n\r\n"
        );
        let (r, text, ev) = run(&[body.as_bytes()]);
        r.unwrap();
        assert_eq!(text, " a b");
        assert_eq!(
            ev,
            vec![
                StreamEvent::Tokens { tokens: 1 },
                StreamEvent::Tokens { tokens: 1 },
                StreamEvent::Usage {
                    prompt_tokens: None,
                    completion_tokens: Some(2)
                }
            ]
        );
    }

    #[test]
    fn error_event_is_a_failure() {
        let (r, _, ev) = run(&[
            b"data:{\"error\":\"Input validation error\",\"error_type\":\"validation\"}\n\n",
        ]);
        r.unwrap();
        assert_eq!(
            ev,
            vec![StreamEvent::Error(
                "validation: Input validation error".into()
            )]
        );
    }

    #[test]
    fn cumulative_text_detected() {
        let mut body = String::new();
        let mut acc = String::new();
        for w in [" one", " two", " three", " four"] {
            acc.push_str(w);
            body.push_str(&format!(
                "data: {{\"token\":{{\"id\":[1],\"text\":\"{acc}\"}}}}\n\n"
            ));
        }
        let (r, text, ev) = run(&[body.as_bytes()]);
        r.unwrap();
        assert_eq!(text, " one two three four");
        assert_eq!(ev.len(), 4);
    }

    #[test]
    fn incremental_text_that_repeats_is_not_cumulative() {
        let mut body = String::new();
        for w in [" a", " ab", " a", " abc"] {
            body.push_str(&format!(
                "data: {{\"token\":{{\"id\":1,\"text\":\"{w}\"}}}}\n\n"
            ));
        }
        let (r, text, _) = run(&[body.as_bytes()]);
        r.unwrap();
        assert_eq!(text, " a ab a abc");
    }

    #[test]
    fn truncated_event_is_malformed() {
        let (r, _, _) = run(&[b"data: {\"token\":{\"id\":1,\"te"]);
        assert!(r.is_err());
    }
}
