//! `--backend vllm`: vLLM's legacy `POST /generate` API.
//!
//! Request: `{"prompt", "stream": true, "max_tokens", "temperature": 0,
//! "ignore_eos", "min_tokens"}`. Response: JSON objects
//! `{"text": ["<prompt + output so far>"]}` separated by `\0` (older servers)
//! or `\n` (newer). The text is cumulative and starts with the prompt; there is
//! no usage and no end marker (the stream ends with the body), so output
//! tokens are counted with the tokenizer on the new text.

use serde::{Deserialize, Serialize};

use super::openai::to_bytes;
use super::{Backend, HttpRequest, ParseError, RequestOptions, StreamEvent, StreamParser};
use crate::workload::RequestSpec;

/// The legacy vLLM API.
#[derive(Debug, Clone, Copy, Default)]
pub struct VllmGenerate;

#[derive(Serialize)]
struct Body<'a> {
    prompt: &'a str,
    stream: bool,
    max_tokens: usize,
    temperature: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_k: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    ignore_eos: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    min_tokens: Option<usize>,
}

impl Backend for VllmGenerate {
    fn name(&self) -> &'static str {
        "vllm"
    }

    fn build(&self, spec: &RequestSpec, opts: &RequestOptions) -> HttpRequest {
        HttpRequest {
            path: "/generate",
            body: to_bytes(&Body {
                prompt: &spec.prompt,
                stream: true,
                max_tokens: spec.max_tokens,
                temperature: opts.sampling.temperature,
                top_k: opts.sampling.top_k,
                top_p: opts.sampling.top_p,
                ignore_eos: spec.force_output_len,
                min_tokens: spec.force_output_len.then_some(spec.max_tokens),
            }),
            prompt_bytes: spec.prompt.len(),
        }
    }

    fn parser(&self, opts: &RequestOptions, req: &HttpRequest) -> Box<dyn StreamParser> {
        Box::new(VllmParser {
            buf: Vec::new(),
            scan: 0,
            seen: 0,
            prompt_bytes: req.prompt_bytes,
            first: true,
            tokens_per_chunk: opts.tokens_per_chunk.max(1),
        })
    }

    fn end_marker(&self) -> bool {
        false
    }
}

#[derive(Deserialize)]
struct Chunk {
    text: Vec<String>,
}

/// Parser of `\0`- or `\n`-separated cumulative JSON objects.
struct VllmParser {
    buf: Vec<u8>,
    /// Where the search for the next separator resumes in `buf`.
    scan: usize,
    /// Bytes of the cumulative text already seen (prompt included).
    seen: usize,
    prompt_bytes: usize,
    first: bool,
    tokens_per_chunk: u32,
}

impl VllmParser {
    fn object(
        &mut self,
        raw: &[u8],
        text: &mut String,
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), ParseError> {
        let raw = raw.trim_ascii();
        if raw.is_empty() {
            return Ok(());
        }
        let chunk: Chunk = super::parse_event(raw)?;
        let Some(full) = chunk.text.into_iter().next() else {
            return Ok(());
        };
        if self.first {
            self.first = false;
            // Servers echo the prompt; one that does not starts at 0.
            self.seen = if full.len() >= self.prompt_bytes {
                self.prompt_bytes
            } else {
                0
            };
        }
        if full.len() > self.seen {
            let new = full.get(self.seen..).ok_or_else(|| {
                ParseError("cumulative text does not extend the previous text".into())
            })?;
            text.push_str(new);
            self.seen = full.len();
            out.push(StreamEvent::Tokens {
                tokens: self.tokens_per_chunk,
            });
        }
        Ok(())
    }
}

impl StreamParser for VllmParser {
    fn feed(
        &mut self,
        bytes: &[u8],
        text: &mut String,
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), ParseError> {
        self.buf.extend_from_slice(bytes);
        // The bytes before `scan` were searched on an earlier read: a long
        // object in many small reads is searched once (linear, not
        // quadratic), and each object is parsed in place, not copied.
        let buf = std::mem::take(&mut self.buf);
        let (mut start, mut from) = (0, self.scan);
        let mut result = Ok(());
        while let Some(i) = memchr::memchr2(b'\0', b'\n', &buf[from..]) {
            let end = from + i;
            result = self.object(&buf[start..end], text, out);
            start = end + 1;
            from = start;
            if result.is_err() {
                break;
            }
        }
        self.buf = buf;
        self.buf.drain(..start);
        self.scan = self.buf.len();
        result
    }

    fn finish(&mut self, text: &mut String, out: &mut Vec<StreamEvent>) -> Result<(), ParseError> {
        let rest = std::mem::take(&mut self.buf);
        self.scan = 0;
        self.object(&rest, text, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(prompt: &str, pieces: &[&[u8]]) -> (Result<(), ParseError>, String, usize) {
        let req = HttpRequest {
            path: "/generate",
            body: bytes::Bytes::new(),
            prompt_bytes: prompt.len(),
        };
        let opts = RequestOptions {
            tokens_per_chunk: 1,
            ..RequestOptions::default()
        };
        let mut p = VllmGenerate.parser(&opts, &req);
        let (mut text, mut out) = (String::new(), Vec::new());
        for piece in pieces {
            if let Err(e) = p.feed(piece, &mut text, &mut out) {
                return (Err(e), text, out.len());
            }
        }
        let r = p.finish(&mut text, &mut out);
        (r, text, out.len())
    }

    #[test]
    fn nul_separated_cumulative_with_prompt() {
        let body = b"{\"text\": [\"Hi there a\"]}\0{\"text\": [\"Hi there a b\"]}\0";
        let (r, text, n) = run("Hi there", &[body]);
        r.unwrap();
        assert_eq!(text, " a b");
        assert_eq!(n, 2);
    }

    #[test]
    fn newline_separated_split_reads_no_trailing_separator() {
        let body = "{\"text\": [\"P \u{e9}\"]}\n{\"text\": [\"P \u{e9}\u{e8}\"]}";
        let b = body.as_bytes();
        let (r, text, n) = run("P", &[&b[..5], &b[5..19], &b[19..]]);
        r.unwrap();
        assert_eq!(text, " \u{e9}\u{e8}");
        assert_eq!(n, 2);
    }

    #[test]
    fn bad_json_is_malformed() {
        let (r, _, _) = run("P", &[b"{\"text\": [\"P a\"\0"]);
        assert!(r.is_err());
    }

    #[test]
    fn body_shape() {
        let spec = RequestSpec {
            id: 0,
            prompt: "x".into(),
            prompt_tokens: 1,
            max_tokens: 8,
            force_output_len: true,
        };
        let h = VllmGenerate.build(&spec, &RequestOptions::default());
        let v: serde_json::Value = serde_json::from_slice(&h.body).unwrap();
        assert_eq!(v["prompt"], "x");
        assert_eq!(v["stream"], true);
        assert_eq!(v["ignore_eos"], true);
        assert_eq!(v["max_tokens"], 8);
    }
}
