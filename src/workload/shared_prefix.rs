//! Shared-prefix workloads, as SGLang's `generated-shared-prefix` dataset
//! makes them: `groups` groups, each with a system prompt of its own of
//! `prefix_tokens` tokens, followed in each of the group's
//! `prompts_per_group` requests by a question of `question_tokens` tokens
//! unique to that request; every output forced to `output_tokens`. The
//! requests of all groups are shuffled together (seeded), as SGLang's
//! `random.shuffle(input_requests)` does.
//!
//! Prompts are built of single-token words (see [`PromptSynth`]): with a
//! tokenizer that is exact by construction (the embedded one, Llama 3, Qwen
//! ...) a prompt is exactly `prefix_tokens + question_tokens` tokens and its
//! first `prefix_tokens` token ids are its group's system prompt; with any
//! other tokenizer the total is still exact (repaired at the question's end).
//! Each round (an epoch of a point) gets system prompts of its own, so that
//! no round finds another's prefixes in the server's cache.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use super::prompt::mix;
use super::{PromptError, PromptSynth, RequestSpec};

/// Block size, in tokens, that expected hit ratios are stated for when the
/// server's is not known: vLLM's default and the embedded simulator's.
pub const DEFAULT_PREFIX_BLOCK_TOKENS: usize = 16;

/// Words of the unique segment that opens each system prompt and question.
const UNIQUE_WORDS: usize = 4;

/// A shared-prefix workload: SGLang's `--gsp-num-groups`,
/// `--gsp-prompts-per-group`, `--gsp-system-prompt-len`, `--gsp-question-len`
/// and `--gsp-output-len`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedPrefixSpec {
    /// Groups, each with a system prompt of its own (G).
    pub groups: usize,
    /// Requests of each group (P); one round sends `groups × prompts_per_group`.
    pub prompts_per_group: usize,
    /// Tokens of each group's system prompt, the shared prefix (L).
    pub prefix_tokens: usize,
    /// Tokens of each request's own question, after the prefix (Q).
    pub question_tokens: usize,
    /// Output tokens of every request, forced (O).
    pub output_tokens: usize,
}

/// A shared-prefix setting that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{flag}: {reason}")]
pub struct SharedPrefixError {
    /// The setting, as the command line spells it (`--gsp-num-groups` ...).
    pub flag: String,
    /// Why it cannot be used.
    pub reason: String,
}

/// One request of a shared-prefix round and the group it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedPrefixRequest {
    /// Index of the request's group in its round (0-based).
    pub group: usize,
    /// The request; its prompt starts with the group's system prompt.
    pub request: RequestSpec,
}

impl SharedPrefixSpec {
    /// SGLang's defaults: 64 groups of 16 prompts, 2,048-token system
    /// prompts, 128-token questions, 256 output tokens.
    pub fn sglang_defaults() -> Self {
        SharedPrefixSpec {
            groups: 64,
            prompts_per_group: 16,
            prefix_tokens: 2048,
            question_tokens: 128,
            output_tokens: 256,
        }
    }

    /// Requests of one round: `groups × prompts_per_group`.
    pub fn requests_per_round(&self) -> usize {
        self.groups.saturating_mul(self.prompts_per_group)
    }

    /// Tokens of every prompt: `prefix_tokens + question_tokens`.
    pub fn prompt_tokens(&self) -> usize {
        self.prefix_tokens.saturating_add(self.question_tokens)
    }

    /// Check every count is at least 1 (the flags named as SGLang names them).
    pub fn validate(&self) -> Result<(), SharedPrefixError> {
        for (flag, v) in [
            ("--gsp-num-groups", self.groups),
            ("--gsp-prompts-per-group", self.prompts_per_group),
            ("--gsp-system-prompt-len", self.prefix_tokens),
            ("--gsp-question-len", self.question_tokens),
            ("--gsp-output-len", self.output_tokens),
        ] {
            if v == 0 {
                return Err(SharedPrefixError {
                    flag: flag.into(),
                    reason: "must be at least 1".into(),
                });
            }
        }
        if self.groups.checked_mul(self.prompts_per_group).is_none()
            || self
                .prefix_tokens
                .checked_add(self.question_tokens)
                .is_none()
        {
            return Err(SharedPrefixError {
                flag: "--gsp-num-groups/--gsp-prompts-per-group".into(),
                reason: "too many requests or tokens".into(),
            });
        }
        Ok(())
    }
}

/// Append the unique segment of `id` (up to [`UNIQUE_WORDS`] words, fewer
/// when `budget` is smaller); returns the words written.
fn push_unique(synth: &PromptSynth, out: &mut String, mut id: u64, budget: usize) -> usize {
    let base = synth.word_count() as u64;
    let n = UNIQUE_WORDS.min(budget);
    for _ in 0..n {
        synth.push_word(out, (id % base) as usize);
        id /= base;
    }
    n
}

/// The requests of one round of `spec`, shuffled across groups with a
/// generator seeded by `seed` and `round`, ids `first_id..` in send order.
///
/// Each group's system prompt opens with a segment unique to
/// `(round, group)` (so no two groups, and no two rounds, share a leading
/// block), then random words; each question opens with a segment unique to
/// the request, then random words. Two rounds with different `round` share
/// no text a prefix cache could match.
pub fn shared_prefix_requests(
    spec: &SharedPrefixSpec,
    synth: &PromptSynth,
    seed: u64,
    round: u64,
    first_id: u64,
) -> Result<Vec<SharedPrefixRequest>, PromptError> {
    let mut rng = StdRng::seed_from_u64(mix(seed, round));
    let words = synth.word_count();
    let (l, q) = (spec.prefix_tokens, spec.question_tokens);
    let per_round = spec.requests_per_round() as u64;
    let mut out = Vec::with_capacity(spec.requests_per_round());
    for g in 0..spec.groups {
        // Unique across rounds and groups: round * groups + g.
        let gid = round
            .wrapping_mul(spec.groups as u64)
            .wrapping_add(g as u64);
        let mut prefix = String::with_capacity(l * 8);
        let lead = push_unique(synth, &mut prefix, gid, l);
        for _ in lead..l {
            synth.push_word(&mut prefix, rng.random_range(0..words));
        }
        let prefix = synth.finish(prefix, l, &mut rng)?;
        for p in 0..spec.prompts_per_group {
            let qid = round
                .wrapping_mul(per_round)
                .wrapping_add((g * spec.prompts_per_group + p) as u64);
            let mut text = String::with_capacity(prefix.len() + q * 8);
            text.push_str(&prefix);
            let lead = push_unique(synth, &mut text, qid, q);
            for _ in lead..q {
                synth.push_word(&mut text, rng.random_range(0..words));
            }
            let prompt = synth.finish(text, l + q, &mut rng)?;
            out.push(SharedPrefixRequest {
                group: g,
                request: RequestSpec {
                    id: 0,
                    prompt,
                    prompt_tokens: l + q,
                    max_tokens: spec.output_tokens,
                    force_output_len: true,
                },
            });
        }
    }
    out.shuffle(&mut rng);
    for (i, r) in out.iter_mut().enumerate() {
        r.request.id = first_id + i as u64;
    }
    Ok(out)
}

/// The prefix-cache hit ratio a round of `spec` implies: cached prompt
/// tokens over all prompt tokens, for an unbounded cache of full
/// `block_tokens`-token blocks that starts the round cold, when each
/// group's first request is prefilled before the group's others arrive.
///
/// The first request of each group finds nothing cached; each of the other
/// `P - 1` finds its system prompt's full blocks, `⌊L/B⌋·B` tokens (the
/// block that straddles the system prompt and the question differs between
/// requests). So the ratio is `(P-1)·⌊L/B⌋·B / (P·(L+Q))`, the same for any
/// number of groups. A `block_tokens` of 0 is taken as 1 (a token-granular
/// cache).
///
/// ```
/// use servebench::workload::{expected_shared_prefix_hit_ratio, SharedPrefixSpec};
/// let spec = SharedPrefixSpec {
///     groups: 4, prompts_per_group: 8, prefix_tokens: 1000,
///     question_tokens: 24, output_tokens: 16,
/// };
/// // 7 of 8 requests find 992 (62 blocks of 16) of their 1,024 tokens.
/// let r = expected_shared_prefix_hit_ratio(&spec, 16);
/// assert!((r - 7.0 * 992.0 / (8.0 * 1024.0)).abs() < 1e-12);
/// ```
pub fn expected_shared_prefix_hit_ratio(spec: &SharedPrefixSpec, block_tokens: usize) -> f64 {
    let b = block_tokens.max(1) as f64;
    let p = spec.prompts_per_group as f64;
    let total = spec.prompt_tokens() as f64;
    if p == 0.0 || total == 0.0 {
        return 0.0;
    }
    let cached = (spec.prefix_tokens as f64 / b).floor() * b;
    (p - 1.0) * cached / (p * total)
}

/// The prefix-cache hit ratio of a static sweep's prompts of
/// `prompt_tokens` tokens that all share one `shared_tokens`-token prefix
/// (`--shared-prefix-tokens`, the seed's `--prefix-caching-num`): every
/// measured request finds the prefix's full blocks, `⌊K/B⌋·B` tokens,
/// cached (the warm-up, or an earlier request, sent it; an unbounded cache
/// of `block_tokens`-token blocks, 0 taken as 1), and the rest of its
/// prompt, unique, not.
///
/// ```
/// use servebench::workload::expected_static_prefix_hit_ratio;
/// assert_eq!(expected_static_prefix_hit_ratio(100, 200, 16), 96.0 / 200.0);
/// ```
pub fn expected_static_prefix_hit_ratio(
    shared_tokens: usize,
    prompt_tokens: usize,
    block_tokens: usize,
) -> f64 {
    if prompt_tokens == 0 {
        return 0.0;
    }
    let b = block_tokens.max(1);
    (shared_tokens.min(prompt_tokens) / b * b) as f64 / prompt_tokens as f64
}

/// The run note of a static sweep whose prompts share a
/// `shared_tokens`-token prefix: the sharing and the expected hit ratio of
/// each prompt length (at [`DEFAULT_PREFIX_BLOCK_TOKENS`]-token blocks).
pub fn static_shared_prefix_note(shared_tokens: usize, prompt_lens: &[usize]) -> String {
    let b = DEFAULT_PREFIX_BLOCK_TOKENS;
    let mut lens = prompt_lens.to_vec();
    lens.sort_unstable();
    lens.dedup();
    let ratios = lens
        .iter()
        .map(|&p| {
            format!(
                "{:.1} % at {p} tokens",
                expected_static_prefix_hit_ratio(shared_tokens, p, b) * 100.0
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "every prompt shared a {shared_tokens}-token prefix (prefix cache measured on \
         purpose); expected prefix-cache hit ratio {ratios} (every measured request finding \
         the prefix's full {b}-token blocks cached, sent by the warm-up or an earlier request; \
         an unbounded cache)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::Tokenizer;

    fn spec(g: usize, p: usize, l: usize, q: usize) -> SharedPrefixSpec {
        SharedPrefixSpec {
            groups: g,
            prompts_per_group: p,
            prefix_tokens: l,
            question_tokens: q,
            output_tokens: 7,
        }
    }

    fn common(a: &[u32], b: &[u32]) -> usize {
        a.iter().zip(b).take_while(|(x, y)| x == y).count()
    }

    #[test]
    fn exact_lengths_groups_and_sharing() {
        let tok = Tokenizer::default_embedded();
        let synth = PromptSynth::new(&tok).unwrap();
        let s = spec(3, 4, 100, 21);
        let reqs = shared_prefix_requests(&s, &synth, 42, 0, 10).unwrap();
        assert_eq!(reqs.len(), 12);
        let ids: Vec<Vec<u32>> = reqs.iter().map(|r| tok.encode(&r.request.prompt)).collect();
        for (r, ids) in reqs.iter().zip(&ids) {
            assert_eq!(ids.len(), 121);
            assert_eq!(tok.count(&r.request.prompt), 121);
            assert_eq!(r.request.prompt_tokens, 121);
            assert_eq!(r.request.max_tokens, 7);
            assert!(r.request.force_output_len);
        }
        // Ids in send order.
        assert!(reqs
            .iter()
            .enumerate()
            .all(|(i, r)| r.request.id == 10 + i as u64));
        // Each group has P requests.
        for g in 0..3 {
            assert_eq!(reqs.iter().filter(|r| r.group == g).count(), 4);
        }
        for i in 0..reqs.len() {
            for j in (i + 1)..reqs.len() {
                let c = common(&ids[i], &ids[j]);
                if reqs[i].group == reqs[j].group {
                    // Exactly the system prompt: the questions' unique
                    // segments differ from their first word.
                    assert_eq!(c, 100, "{i} {j}");
                } else {
                    assert_eq!(c, 0, "{i} {j}");
                }
            }
        }
        // Questions are unique.
        let distinct: std::collections::HashSet<_> =
            reqs.iter().map(|r| r.request.prompt.clone()).collect();
        assert_eq!(distinct.len(), 12);
    }

    #[test]
    fn shuffled_across_groups_and_seeded() {
        let tok = Tokenizer::default_embedded();
        let synth = PromptSynth::new(&tok).unwrap();
        let s = spec(8, 8, 20, 5);
        let a = shared_prefix_requests(&s, &synth, 1, 0, 0).unwrap();
        let b = shared_prefix_requests(&s, &synth, 1, 0, 0).unwrap();
        assert_eq!(a, b);
        let groups: Vec<usize> = a.iter().map(|r| r.group).collect();
        let sorted = {
            let mut g = groups.clone();
            g.sort();
            g
        };
        assert_ne!(groups, sorted, "not shuffled");
    }

    #[test]
    fn rounds_share_nothing() {
        let tok = Tokenizer::default_embedded();
        let synth = PromptSynth::new(&tok).unwrap();
        let s = spec(2, 2, 48, 8);
        let a = shared_prefix_requests(&s, &synth, 5, 0, 0).unwrap();
        let b = shared_prefix_requests(&s, &synth, 5, 1, 4).unwrap();
        for x in &a {
            for y in &b {
                let c = common(
                    &tok.encode(&x.request.prompt),
                    &tok.encode(&y.request.prompt),
                );
                assert_eq!(c, 0);
            }
        }
    }

    #[test]
    fn short_prefix_and_question() {
        let tok = Tokenizer::default_embedded();
        let synth = PromptSynth::new(&tok).unwrap();
        let s = spec(2, 3, 1, 1);
        let reqs = shared_prefix_requests(&s, &synth, 0, 0, 0).unwrap();
        assert!(reqs.iter().all(|r| tok.count(&r.request.prompt) == 2));
    }

    #[test]
    fn expected_ratio_by_hand() {
        // L multiple of the block: (P-1)/P · L/(L+Q).
        let r = expected_shared_prefix_hit_ratio(&spec(5, 4, 64, 16), 16);
        assert!((r - 0.75 * 64.0 / 80.0).abs() < 1e-12);
        // L = 100, B = 16: 6 full blocks = 96 tokens; P = 2.
        let r = expected_shared_prefix_hit_ratio(&spec(1, 2, 100, 28), 16);
        assert!((r - 0.5 * 96.0 / 128.0).abs() < 1e-12);
        // One prompt per group: nothing to share.
        assert_eq!(
            expected_shared_prefix_hit_ratio(&spec(9, 1, 512, 8), 16),
            0.0
        );
        // A prefix shorter than a block: nothing cached.
        assert_eq!(
            expected_shared_prefix_hit_ratio(&spec(2, 8, 15, 8), 16),
            0.0
        );
        // Block 0 = token-granular.
        let r = expected_shared_prefix_hit_ratio(&spec(2, 8, 15, 5), 0);
        assert!((r - 7.0 / 8.0 * 15.0 / 20.0).abs() < 1e-12);
        // Independent of the number of groups.
        assert_eq!(
            expected_shared_prefix_hit_ratio(&spec(1, 16, 2048, 128), 16),
            expected_shared_prefix_hit_ratio(&spec(64, 16, 2048, 128), 16)
        );
    }

    #[test]
    fn static_ratio_and_note() {
        assert_eq!(expected_static_prefix_hit_ratio(64, 128, 16), 0.5);
        assert_eq!(expected_static_prefix_hit_ratio(15, 128, 16), 0.0);
        assert_eq!(expected_static_prefix_hit_ratio(0, 128, 16), 0.0);
        let n = static_shared_prefix_note(100, &[200, 128, 200]);
        assert!(n.contains("48.0 % at 200 tokens"), "{n}");
        assert!(n.contains("75.0 % at 128 tokens"), "{n}");
    }

    #[test]
    fn validate_names_flags() {
        let e = spec(0, 1, 1, 1).validate().unwrap_err();
        assert_eq!(e.flag, "--gsp-num-groups");
        let e = spec(1, 1, 1, 0).validate().unwrap_err();
        assert_eq!(e.flag, "--gsp-question-len");
        assert!(SharedPrefixSpec::sglang_defaults().validate().is_ok());
    }
}
