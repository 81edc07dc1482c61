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
    /// Reasoning events were seen.
    pub reasoned: bool,
    /// Arrival of the first answer token after reasoning.
    pub answer_ms: Option<f64>,
    pub usage_reasoning: Option<u64>,
    /// Each usage count seen after a chunk: `(chunks so far, the server's
    /// cumulative completion tokens)`, the last one per chunk. A server that
    /// sends usage in every chunk (vLLM's `continuous_usage_stats`) gives
    /// one per chunk, hence each chunk's exact tokens; others give one at
    /// the end.
    pub usage_marks: Vec<(usize, u64)>,
    /// With `--use-spec-decode`: the length of `text` at the end of each
    /// chunk, so that each chunk's text can be counted when the usage does
    /// not say (`None`: not kept).
    pub text_ends: Option<Vec<usize>>,
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
                StreamEvent::Tokens { tokens } => {
                    if self.reasoned && self.answer_ms.is_none() {
                        self.answer_ms = Some(ms);
                    }
                    self.token_chunk(ms, tokens, &mut burst);
                }
                StreamEvent::Reasoning { tokens } => {
                    self.reasoned = true;
                    self.token_chunk(ms, tokens, &mut burst);
                }
                StreamEvent::ReasoningUsage(n) => self.usage_reasoning = Some(n),
                StreamEvent::Usage {
                    prompt_tokens,
                    completion_tokens,
                } => {
                    self.usage_prompt = prompt_tokens.or(self.usage_prompt);
                    self.usage_completion = completion_tokens.or(self.usage_completion);
                    if let Some(c) = completion_tokens {
                        self.usage_mark(c);
                    }
                }
                StreamEvent::Latency(l) => {
                    let cached = self.latency.and_then(|x| x.cached_prompt_tokens);
                    self.latency = Some(ServerLatency {
                        cached_prompt_tokens: l.cached_prompt_tokens.or(cached),
                        ..l
                    });
                }
                StreamEvent::CachedPrompt(n) => {
                    self.latency
                        .get_or_insert_with(Default::default)
                        .cached_prompt_tokens = Some(n);
                }
                StreamEvent::Error(m) => {
                    self.stream_error.get_or_insert(m);
                }
                StreamEvent::Done => self.saw_done = true,
            }
        }
        if let Some(ends) = &mut self.text_ends {
            if ends.len() < self.chunks.len() {
                ends.push(self.text.len());
            } else if let Some(last) = ends.last_mut() {
                *last = self.text.len();
            }
        }
    }

    /// The server's cumulative completion tokens `c`, seen after the chunks
    /// so far.
    fn usage_mark(&mut self, c: u64) {
        let n = self.chunks.len();
        if n == 0 {
            return;
        }
        match self.usage_marks.last_mut() {
            Some(m) if m.0 == n => m.1 = c,
            _ => self.usage_marks.push((n, c)),
        }
    }

    /// Set each chunk's tokens from the server's usage after each chunk,
    /// when every chunk had one and each added tokens (vLLM's
    /// `continuous_usage_stats`): exact per-step counts. False, changing
    /// nothing, otherwise.
    pub fn exact_chunk_tokens(&mut self) -> bool {
        let marks = &self.usage_marks;
        let exact = !self.chunks.is_empty()
            && marks.len() == self.chunks.len()
            && marks.iter().enumerate().all(|(i, m)| {
                let before = if i == 0 { 0 } else { marks[i - 1].1 };
                m.0 == i + 1 && m.1 > before
            });
        if exact {
            let mut before = 0;
            for (c, m) in self.chunks.iter_mut().zip(marks) {
                c.1 = u32::try_from(m.1 - before).unwrap_or(u32::MAX);
                before = m.1;
            }
        }
        exact
    }

    /// Set each chunk's tokens from the tokenizer's count of its text
    /// (`--use-spec-decode` without per-chunk usage): each token of the
    /// whole text belongs to the chunk its last byte arrived in, and a
    /// chunk counts at least one. False, changing nothing, when the chunks'
    /// texts were not kept.
    pub fn counted_chunk_tokens(&mut self, tokenizer: &crate::workload::Tokenizer) -> bool {
        let Some(ends) = &self.text_ends else {
            return false;
        };
        if ends.len() != self.chunks.len() || self.chunks.is_empty() {
            return false;
        }
        let counts = tokenizer.count_pieces(&self.text, ends);
        for (c, n) in self.chunks.iter_mut().zip(counts) {
            c.1 = n.max(1);
        }
        true
    }

    /// `tokens` received at `ms`: a new chunk, or added to the one this
    /// read already started (`burst`).
    fn token_chunk(&mut self, ms: f64, tokens: u32, burst: &mut bool) {
        match self.chunks.last_mut() {
            Some(last) if *burst => last.1 += tokens,
            _ => {
                self.chunks.push((ms, tokens));
                *burst = true;
            }
        }
    }
}

impl StreamState {
    /// The reasoning part of the answer, once the chunks have their token
    /// counts: the server's reasoning-token count, else the tokens of the
    /// chunks before the first answer token.
    pub fn reasoning(&self) -> Option<crate::record::Reasoning> {
        self.reasoned.then(|| crate::record::Reasoning {
            tokens: self.usage_reasoning.unwrap_or_else(|| {
                self.chunks
                    .iter()
                    .take_while(|c| self.answer_ms.is_none_or(|a| c.0 < a))
                    .map(|c| u64::from(c.1))
                    .sum()
            }),
            answer_ms: self.answer_ms,
        })
    }
}

/// Options for the stream parsers: every text event counts one token.
pub(super) fn parser_options(opts: &RequestOptions) -> RequestOptions {
    RequestOptions {
        tokens_per_chunk: 1,
        ..opts.clone()
    }
}

/// Set each chunk's token count from what the stream showed.
///
/// The first chunk is the prefill's output, one token per event it showed
/// (an engine emits one token per sequence from a prefill step, also under
/// a multi-step scheduler). With the server's own count (`usage`), the rest
/// of the tokens are shared among the later chunks in proportion to the
/// events each carried (so 128 tokens over 128 chunks is one a chunk
/// whatever a flag says; 1 + 8 x 16 tokens over 17 chunks is one, then
/// eight a chunk). Without it, each later event is taken to carry `assumed`
/// tokens (`--num-scheduler-steps`). A usage smaller than the events shown
/// is shared among all chunks alike.
pub fn chunk_tokens(chunks: &mut [(f64, u32)], usage: Option<u64>, assumed: u32) {
    let shown: u64 = chunks.iter().map(|c| u64::from(c.1)).sum();
    if shown == 0 {
        return;
    }
    let first = chunks.first().map_or(0, |c| u64::from(c.1));
    let Some(total) = usage.filter(|&u| u > 0) else {
        let k = assumed.max(1);
        if k > 1 {
            for c in chunks.iter_mut().skip(1) {
                c.1 = c.1.saturating_mul(k);
            }
        }
        return;
    };
    if total == shown {
        return;
    }
    if total > shown && chunks.len() > 1 {
        // The first chunk keeps its count; the later ones share the rest.
        share(&mut chunks[1..], shown - first, total - first);
    } else {
        share(chunks, shown, total);
    }
}

/// Scale the counts of `chunks` (summing to `shown`) to sum to `total`
/// exactly, by cumulative rounding.
fn share(chunks: &mut [(f64, u32)], shown: u64, total: u64) {
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
        // A multi-step scheduler (8 steps): the prefill's token, then 16
        // bursts of eight.
        let mut c: Vec<(f64, u32)> = (0..17).map(|i| (i as f64, 1)).collect();
        chunk_tokens(&mut c, Some(129), 1);
        assert_eq!(c[0].1, 1);
        assert!(counts(&c)[1..].iter().all(|&k| k == 8), "{:?}", counts(&c));
        // 33 tokens in bursts of 4 (vLLM-style): 1 + 8 x 4. Shared over all
        // nine chunks alike, the first would take 4 and the ITL would count
        // 29 tokens instead of 32 (10 % too high).
        let mut c: Vec<(f64, u32)> = (0..9).map(|i| (i as f64, 1)).collect();
        chunk_tokens(&mut c, Some(33), 1);
        assert_eq!(counts(&c), vec![1, 4, 4, 4, 4, 4, 4, 4, 4]);
        // Bursts merged from one read keep their weight; the sum is exact.
        let mut c = vec![(0.0, 1), (1.0, 4), (2.0, 4), (3.0, 2)];
        chunk_tokens(&mut c, Some(22), 1);
        assert_eq!(counts(&c).iter().sum::<u32>(), 22);
        assert_eq!(counts(&c), vec![1, 8, 9, 4]);
        // A usage below the events shown: shared among all chunks.
        let mut c = vec![(0.0, 1), (1.0, 1), (2.0, 1), (3.0, 1)];
        chunk_tokens(&mut c, Some(2), 1);
        assert_eq!(counts(&c).iter().sum::<u32>(), 2);
    }

    #[test]
    fn usage_in_every_chunk_gives_each_chunks_tokens() {
        use super::StreamState;
        use crate::backend::StreamEvent;
        let usage = |c| StreamEvent::Usage {
            prompt_tokens: Some(5),
            completion_tokens: Some(c),
        };
        let tok = |t| StreamEvent::Tokens { tokens: t };
        let mut st = StreamState::default();
        // The role chunk's usage (0) comes before any chunk.
        st.absorb(&mut vec![usage(0)], 1.0);
        st.absorb(&mut vec![tok(1), usage(1)], 10.0);
        st.absorb(&mut vec![tok(1), usage(4)], 20.0);
        // Two steps in one read: one chunk, both steps' tokens.
        st.absorb(&mut vec![tok(1), usage(6), tok(1), usage(7)], 30.0);
        st.absorb(&mut vec![tok(1), usage(8)], 40.0);
        // The final usage-only chunk repeats the total.
        st.absorb(&mut vec![usage(8), StreamEvent::Done], 41.0);
        assert!(st.exact_chunk_tokens());
        assert_eq!(counts(&st.chunks), vec![1, 3, 3, 1]);
        // Usage only at the end: not exact, nothing changed.
        let mut st = StreamState::default();
        st.absorb(&mut vec![tok(1)], 10.0);
        st.absorb(&mut vec![tok(1)], 20.0);
        st.absorb(&mut vec![usage(5)], 21.0);
        assert!(!st.exact_chunk_tokens());
        assert_eq!(counts(&st.chunks), vec![1, 1]);
    }

    #[test]
    fn chunk_texts_are_counted_when_usage_does_not_say() {
        use super::StreamState;
        use crate::backend::StreamEvent;
        let tok = crate::workload::Tokenizer::default_embedded();
        let mut st = StreamState {
            text_ends: Some(Vec::new()),
            ..Default::default()
        };
        for piece in [" the", " model the model", " the"] {
            st.text.push_str(piece);
            st.absorb(&mut vec![StreamEvent::Tokens { tokens: 1 }], 1.0);
        }
        assert!(st.counted_chunk_tokens(&tok));
        let want: Vec<u32> = [" the", " model the model", " the"]
            .iter()
            .map(|p| tok.count(p) as u32)
            .collect();
        assert_eq!(counts(&st.chunks), want);
    }

    #[test]
    fn without_usage_the_flag_is_assumed() {
        let mut c = vec![(0.0, 1), (1.0, 1), (2.0, 2)];
        chunk_tokens(&mut c, None, 4);
        assert_eq!(counts(&c), vec![1, 4, 8]);
        let mut c = vec![(0.0, 1), (1.0, 1)];
        chunk_tokens(&mut c, Some(0), 1);
        assert_eq!(counts(&c), vec![1, 1]);
        let mut empty: Vec<(f64, u32)> = Vec::new();
        chunk_tokens(&mut empty, Some(5), 3);
        assert!(empty.is_empty());
    }
}
