//! `--backend mindspore`: the MindIE-style native text-generation API served
//! on Ascend, `POST /infer`.
//!
//! Request: `{"inputs", "stream": true, "parameters": {"max_new_tokens",
//! "ignore_eos", "details": true}}`. Stream: SSE events
//! `data: {"prefill_time": 45.1, "decode_time": null, "token": {"id": [42], "text": " the"}}`,
//! one token each, with the server's own `prefill_time` (on the first) and
//! `decode_time` (on the others) in ms; the last event also carries
//! `generated_text` and `details.generated_tokens`. The server-side times are
//! recorded like the `return_latency` figures: `prefill_latency` =
//! `prefill_time`, `avg_decode_latency` = mean of the `decode_time`s.

use serde::Serialize;

use super::openai::to_bytes;
use super::tgi::TgiParser;
use super::{Backend, HttpRequest, RequestOptions, StreamParser};
use crate::record::ServerLatency;
use crate::workload::RequestSpec;

/// The MindIE native `/infer` API.
#[derive(Debug, Clone, Copy, Default)]
pub struct MindIe;

#[derive(Serialize)]
struct Params {
    max_new_tokens: usize,
    ignore_eos: bool,
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
    stream: bool,
    parameters: Params,
}

impl Backend for MindIe {
    fn name(&self) -> &'static str {
        "mindspore"
    }

    fn build(&self, spec: &RequestSpec, opts: &RequestOptions) -> HttpRequest {
        HttpRequest {
            path: "/infer",
            body: to_bytes(&Body {
                inputs: &spec.prompt,
                stream: true,
                parameters: Params {
                    max_new_tokens: spec.max_tokens,
                    ignore_eos: spec.force_output_len,
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

    fn end_marker(&self) -> bool {
        false
    }
}

/// Server-side times seen in a MindIE stream.
#[derive(Debug, Default, Clone)]
pub(super) struct ServerTimes {
    prefill_ms: Option<f64>,
    decode_sum_ms: f64,
    decode_n: u32,
}

impl ServerTimes {
    /// Take the times of one event.
    pub fn absorb(&mut self, prefill: Option<f64>, decode: Option<f64>) {
        if let Some(p) = prefill {
            self.prefill_ms.get_or_insert(p);
        }
        if let Some(d) = decode {
            self.decode_sum_ms += d;
            self.decode_n += 1;
        }
    }

    /// The figures, when the stream had any.
    pub fn latency(&self) -> Option<ServerLatency> {
        if self.prefill_ms.is_none() && self.decode_n == 0 {
            return None;
        }
        Some(ServerLatency {
            prefill_latency: self.prefill_ms,
            avg_decode_latency: (self.decode_n > 0)
                .then(|| self.decode_sum_ms / self.decode_n as f64),
            ..ServerLatency::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::StreamEvent;

    #[test]
    fn infer_stream_records_server_times() {
        let body = concat!(
            "data: {\"prefill_time\": 40.5, \"decode_time\": null, \"token\": {\"id\": [11], \"text\": \" a\"}}\n\n",
            "data: {\"prefill_time\": null, \"decode_time\": 10.0, \"token\": {\"id\": [12], \"text\": \" b\"}}\n\n",
            "data: {\"prefill_time\": null, \"decode_time\": 12.0, \"token\": {\"id\": [13], \"text\": \" c\"},",
            " \"generated_text\": \" a b c\", \"details\": {\"finish_reason\": \"length\", \"generated_tokens\": 3}}\n\n"
        );
        let req = HttpRequest {
            path: "/infer",
            body: bytes::Bytes::new(),
            prompt_bytes: 0,
        };
        let mut p = MindIe.parser(&RequestOptions::default(), &req);
        let (mut text, mut out) = (String::new(), Vec::new());
        p.feed(body.as_bytes(), &mut text, &mut out).unwrap();
        p.finish(&mut text, &mut out).unwrap();
        assert_eq!(text, " a b c");
        assert_eq!(
            out.iter()
                .filter(|e| matches!(e, StreamEvent::Tokens { .. }))
                .count(),
            3
        );
        let lat = out
            .iter()
            .find_map(|e| match e {
                StreamEvent::Latency(l) => Some(*l),
                _ => None,
            })
            .unwrap();
        assert_eq!(lat.prefill_latency, Some(40.5));
        assert_eq!(lat.avg_decode_latency, Some(11.0));
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
        let v: serde_json::Value =
            serde_json::from_slice(&MindIe.build(&spec, &RequestOptions::default()).body).unwrap();
        assert_eq!(v["inputs"], "x");
        assert_eq!(v["stream"], true);
        assert_eq!(v["parameters"]["max_new_tokens"], 8);
        assert_eq!(v["parameters"]["ignore_eos"], true);
        assert_eq!(v["parameters"]["details"], true);
    }
}
