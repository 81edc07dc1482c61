//! The prompts of a trace's requests.
//!
//! A Mooncake request's prompt is the concatenation of its blocks' tokens:
//! each hash id stands for `block_tokens` words drawn once (seeded by the
//! hash id and the replay's salt), the last block cut to the request's exact
//! `input_length`. Two requests that share a hash id therefore share that
//! block's text, and a prefix cache sees exactly the trace's sharing. Tokens
//! beyond the blocks the trace lists, and every prompt of a format without
//! hash ids, are unique to their request.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{Trace, TraceError};
use crate::workload::prompt::mix;
use crate::workload::{PromptSynth, RequestSpec};

impl Trace {
    /// The requests of one replay of the window, in send order, with ids
    /// from `first_id`. `salt` gives the replay text of its own (two replays
    /// with different salts share no block), so that the epochs of a run
    /// each meet the trace's sharing from a cache that has not seen them.
    /// Outputs are forced to the trace's lengths.
    pub fn requests(
        &self,
        synth: &PromptSynth,
        block_tokens: usize,
        salt: u64,
        first_id: u64,
    ) -> Result<Vec<RequestSpec>, TraceError> {
        if block_tokens == 0 {
            return Err(TraceError::BadSetting {
                flag: "--block-size".into(),
                reason: "must be at least 1 token".into(),
            });
        }
        let words = synth.word_count();
        let mut blocks: HashMap<u64, Vec<u32>> = HashMap::new();
        let mut rng = StdRng::seed_from_u64(mix(salt, u64::MAX));
        self.requests
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let id = first_id + i as u64;
                let n = r.input_tokens;
                let prompt = if r.hash_ids.is_empty() {
                    synth.prompt(n, Some(id), &mut rng)?
                } else {
                    let mut out = String::with_capacity(n * 8);
                    let mut left = n;
                    for &h in &r.hash_ids {
                        if left == 0 {
                            break;
                        }
                        let block = blocks.entry(h).or_insert_with(|| {
                            let mut b = StdRng::seed_from_u64(mix(salt, h));
                            (0..block_tokens)
                                .map(|_| b.random_range(0..words) as u32)
                                .collect()
                        });
                        let take = left.min(block_tokens);
                        for &w in &block[..take] {
                            synth.push_word(&mut out, w as usize);
                        }
                        left -= take;
                    }
                    // Past the listed blocks: this request's own words.
                    let mut own = StdRng::seed_from_u64(mix(salt ^ 0x7a11, id));
                    for _ in 0..left {
                        synth.push_word(&mut out, own.random_range(0..words));
                    }
                    synth.finish(out, n, &mut rng)?
                };
                Ok(RequestSpec {
                    id,
                    prompt,
                    prompt_tokens: n,
                    max_tokens: r.output_tokens,
                    force_output_len: true,
                })
            })
            .collect()
    }
}

/// The prefix-cache hit ratio the trace implies: the share of its prompt
/// tokens in leading full blocks that an earlier request of the window
/// already sent (an unbounded cache of `block_tokens`-token blocks, chained
/// as vLLM chains them: a block counts only after a run of cached blocks).
/// `None` for a trace without hash ids.
pub fn expected_prefix_hit_ratio(trace: &Trace, block_tokens: usize) -> Option<f64> {
    if block_tokens == 0 || trace.requests.iter().all(|r| r.hash_ids.is_empty()) {
        return None;
    }
    let mut seen: HashSet<u64> = HashSet::new();
    let (mut hit, mut total) = (0u64, 0u64);
    for r in &trace.requests {
        total += r.input_tokens as u64;
        let full = (r.input_tokens / block_tokens).min(r.hash_ids.len());
        let mut key = 0u64;
        let mut cached = true;
        for &h in &r.hash_ids[..full] {
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            (key, h).hash(&mut hasher);
            key = hasher.finish();
            cached &= !seen.insert(key);
            if cached {
                hit += block_tokens as u64;
            }
        }
    }
    (total > 0).then(|| hit as f64 / total as f64)
}
