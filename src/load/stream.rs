//! What a response stream showed: the state the client builds while it
//! reads a body, and the token count of each chunk once the stream ended.

use crate::backend::{RequestOptions, StreamEvent};
use crate::record::ServerLatency;

/// What the stream told us so far.
#[derive(Default)]
pub(super) struct StreamState {
    pub text: String,
    pub chunks: Vec<(f64, u32)>,
    pub usage_completion: Option<u64>,
    pub usage_prompt: Option<u64>,
    pub latency: Option<ServerLatency>,
    pub saw_done: bool,
    pub stream_error: Option<String>,
    pub resent: u32,
}

impl StreamState {
    /// Take the events of one read of the body, received at `ms`. Token
    /// events that arrived in the same read are one burst: one chunk
    /// carrying their tokens (a server that sends one event per token of a
    /// multi-step burst shows its bursts this way).
    pub fn absorb(&mut self, events: &mut Vec<StreamEvent>, ms: f64) {
        let mut burst = false;
        for ev in events.drain(..) {
            match ev {
                StreamEvent::Tokens { tokens } => match self.chunks.last_mut() {
                    Some(last) if burst => last.1 += tokens,
                    _ => {
                        self.chunks.push((ms, tokens));
                        burst = true;
                    }
                },
                StreamEvent::Usage {
                    prompt_tokens,
                    completion_tokens,
                } => {
                    self.usage_prompt = prompt_tokens.or(self.usage_prompt);
                    self.usage_completion = completion_tokens.or(self.usage_completion);
                }
                StreamEvent::Latency(l) => self.latency = Some(l),
                StreamEvent::Error(m) => {
                    self.stream_error.get_or_insert(m);
                }
                StreamEvent::Done => self.saw_done = true,
            }
        }
    }
}

/// Options for the stream parsers: every text event counts one token.
pub(super) fn parser_options(opts: &RequestOptions) -> RequestOptions {
    RequestOptions {
        tokens_per_chunk: 1,
        ..opts.clone()
    }
}

/// Set each chunk's token count from what the stream showed. With the
/// server's own count (`usage`), the chunks share it in proportion to the
/// events each carried (so 128 tokens over 128 chunks is one a chunk
/// whatever a flag says, and over 16 chunks eight a chunk); without it,
/// each event is taken to carry `assumed` tokens (`--num-scheduler-steps`).
pub fn chunk_tokens(chunks: &mut [(f64, u32)], usage: Option<u64>, assumed: u32) {
    let shown: u64 = chunks.iter().map(|c| u64::from(c.1)).sum();
    if shown == 0 {
        return;
    }
    let Some(total) = usage.filter(|&u| u > 0) else {
        let k = assumed.max(1);
        if k > 1 {
            for c in chunks.iter_mut() {
                c.1 = c.1.saturating_mul(k);
            }
        }
        return;
    };
    if total == shown {
        return;
    }
    // Cumulative rounding: the counts sum to `total` exactly.
    let (mut cum, mut given) = (0u64, 0u64);
    for c in chunks.iter_mut() {
        cum += u64::from(c.1);
        let upto = ((cum as u128 * total as u128 + shown as u128 / 2) / shown as u128) as u64;
        c.1 = u32::try_from(upto - given).unwrap_or(u32::MAX);
        given = upto;
    }
}

#[cfg(test)]
mod tests {
    use super::chunk_tokens;

    fn counts(c: &[(f64, u32)]) -> Vec<u32> {
        c.iter().map(|c| c.1).collect()
    }

    #[test]
    fn usage_decides_tokens_per_chunk() {
        // One token per chunk, whatever the flag says.
        let mut c: Vec<(f64, u32)> = (0..128).map(|i| (i as f64, 1)).collect();
        chunk_tokens(&mut c, Some(128), 8);
        assert!(counts(&c).iter().all(|&k| k == 1));
        // Sixteen chunks for 128 tokens: eight a chunk.
        let mut c: Vec<(f64, u32)> = (0..16).map(|i| (i as f64, 1)).collect();
        chunk_tokens(&mut c, Some(128), 1);
        assert!(counts(&c).iter().all(|&k| k == 8));
        // Bursts merged from one read keep their weight; the sum is exact.
        let mut c = vec![(0.0, 1), (1.0, 4), (2.0, 4), (3.0, 2)];
        chunk_tokens(&mut c, Some(22), 1);
        assert_eq!(counts(&c).iter().sum::<u32>(), 22);
        assert_eq!(counts(&c), vec![2, 8, 8, 4]);
    }

    #[test]
    fn without_usage_the_flag_is_assumed() {
        let mut c = vec![(0.0, 1), (1.0, 1), (2.0, 2)];
        chunk_tokens(&mut c, None, 4);
        assert_eq!(counts(&c), vec![4, 4, 8]);
        let mut c = vec![(0.0, 1), (1.0, 1)];
        chunk_tokens(&mut c, Some(0), 1);
        assert_eq!(counts(&c), vec![1, 1]);
        let mut empty: Vec<(f64, u32)> = Vec::new();
        chunk_tokens(&mut empty, Some(5), 3);
        assert!(empty.is_empty());
    }
}
