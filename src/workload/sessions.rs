//! Multi-turn sessions: conversations whose every turn carries the
//! conversation so far.
//!
//! A [`Session`] is a list of user turns, each with its prompt text (exact
//! token count), the output length to ask for, and the dataset's own reply
//! (used in the history instead of the model's answer when asked). Sessions
//! come from ShareGPT conversations ([`sharegpt_sessions`], every
//! human/assistant pair a turn) or from a generator ([`synthetic_sessions`]).
//! Everything here is built before the clock starts; only the history of a
//! session's later turns (the model's actual answers) is known during the run.

use std::path::Path;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Deserialize;

use super::dataset::{for_each_entry, is_assistant, is_human};
use super::{DatasetError, PromptError, PromptSynth, Tokenizer};

/// One user turn of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn {
    /// The user message.
    pub user: String,
    /// Its token count (no special tokens).
    pub user_tokens: usize,
    /// Output tokens to ask for (and force).
    pub output_tokens: usize,
    /// The dataset's reply to this turn (ShareGPT's assistant turn, or
    /// generated words of `output_tokens` tokens), put in the history of
    /// the later turns instead of the model's answer with `--dataset-replies`.
    pub reply: String,
}

/// One conversation to replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Index of the session in its run.
    pub id: u64,
    pub turns: Vec<Turn>,
}

/// Settings of generated sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionShape {
    /// Turns per session.
    pub turns: usize,
    /// Tokens of each user message.
    pub user_tokens: usize,
    /// Output tokens of each answer.
    pub output_tokens: usize,
}

/// `n` generated sessions of `shape`, every user message unique (its first
/// words derive from the session and turn), ids from `first_id`.
pub fn synthetic_sessions(
    synth: &PromptSynth,
    shape: SessionShape,
    n: usize,
    first_id: u64,
    seed: u64,
) -> Result<Vec<Session>, PromptError> {
    let mut rng = StdRng::seed_from_u64(seed);
    let per = shape.turns.max(1) as u64;
    (0..n as u64)
        .map(|i| {
            let id = first_id + i;
            let turns = (0..per)
                .map(|t| {
                    let unique = id * per + t;
                    Ok(Turn {
                        user: synth.prompt(shape.user_tokens, Some(unique), &mut rng)?,
                        user_tokens: shape.user_tokens,
                        output_tokens: shape.output_tokens,
                        reply: synth.prompt(shape.output_tokens, None, &mut rng)?,
                    })
                })
                .collect::<Result<Vec<_>, PromptError>>()?;
            Ok(Session { id, turns })
        })
        .collect()
}

#[derive(Deserialize)]
struct Conversation {
    #[serde(default)]
    conversations: Vec<Message>,
}

#[derive(Deserialize)]
struct Message {
    from: String,
    value: String,
}

/// The (user, reply) pairs of a conversation, in order: each human turn
/// followed by an assistant turn (other layouts end the conversation there).
fn pairs(c: Conversation, max_turns: usize) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut it = c.conversations.into_iter();
    while out.len() < max_turns {
        let (Some(u), Some(a)) = (it.next(), it.next()) else {
            break;
        };
        if !is_human(&u.from) || !is_assistant(&a.from) || u.value.is_empty() {
            break;
        }
        out.push((u.value, a.value));
    }
    out
}

/// `n` sessions drawn (seeded reservoir sampling, so a 600 MB file is
/// never held whole) from the ShareGPT conversations of at least
/// `min_turns` human/assistant pairs, at most `max_turns` each. A turn asks
/// for as many output tokens as the dataset's reply has (at least 1).
pub fn sharegpt_sessions(
    path: &Path,
    tok: &Tokenizer,
    n: usize,
    min_turns: usize,
    max_turns: usize,
    seed: u64,
) -> Result<Vec<Session>, DatasetError> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut kept: Vec<Vec<(String, String)>> = Vec::with_capacity(n);
    let mut seen = 0usize;
    for_each_entry::<Conversation, _>(path, |_, c| {
        let p = pairs(c, max_turns.max(1));
        if p.len() < min_turns.max(1) {
            return Ok(());
        }
        seen += 1;
        if kept.len() < n {
            kept.push(p);
        } else {
            let j = rng.random_range(0..seen);
            if j < n {
                kept[j] = p;
            }
        }
        Ok(())
    })?;
    if kept.is_empty() {
        return Err(DatasetError::Malformed {
            path: path.to_path_buf(),
            reason: format!(
                "no conversation with {} or more human/assistant turns",
                min_turns.max(1)
            ),
        });
    }
    Ok(kept
        .into_iter()
        .enumerate()
        .map(|(i, p)| Session {
            id: i as u64,
            turns: p
                .into_iter()
                .map(|(user, reply)| Turn {
                    user_tokens: tok.count(&user),
                    output_tokens: tok.count(&reply).max(1),
                    user,
                    reply,
                })
                .collect(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn generated_sessions_have_exact_unique_turns() {
        let tok = Tokenizer::default_embedded();
        let synth = PromptSynth::new(&tok).unwrap();
        let shape = SessionShape {
            turns: 3,
            user_tokens: 20,
            output_tokens: 7,
        };
        let s = synthetic_sessions(&synth, shape, 4, 10, 1).unwrap();
        assert_eq!(s.len(), 4);
        assert_eq!(s[0].id, 10);
        let mut firsts = std::collections::HashSet::new();
        for sess in &s {
            assert_eq!(sess.turns.len(), 3);
            for t in &sess.turns {
                assert_eq!(tok.count(&t.user), 20);
                assert_eq!(tok.count(&t.reply), 7);
                assert_eq!((t.user_tokens, t.output_tokens), (20, 7));
                assert!(firsts.insert(tok.encode(&t.user)[..4].to_vec()), "unique");
            }
        }
        assert_eq!(synthetic_sessions(&synth, shape, 4, 10, 1).unwrap(), s);
    }

    #[test]
    fn sharegpt_conversations_become_sessions() {
        let mut f = tempfile::Builder::new().suffix(".json").tempfile().unwrap();
        f.write_all(
            br#"[
 {"id": "a", "conversations": [
   {"from": "human", "value": "hello there"}, {"from": "gpt", "value": "hi, how can I help"},
   {"from": "human", "value": "tell me a story"}, {"from": "gpt", "value": "once upon a time"},
   {"from": "human", "value": "and then"}]},
 {"id": "b", "conversations": [{"from": "human", "value": "one turn"}, {"from": "gpt", "value": "only"}]},
 {"id": "c", "conversations": [{"from": "gpt", "value": "assistant first"}, {"from": "human", "value": "x"}]}
]"#,
        )
        .unwrap();
        let tok = Tokenizer::default_embedded();
        let s = sharegpt_sessions(f.path(), &tok, 5, 2, 8, 0).unwrap();
        assert_eq!(s.len(), 1, "only `a` has two full pairs");
        let t = &s[0].turns;
        assert_eq!(t.len(), 2, "the dangling third human turn is dropped");
        assert_eq!(t[1].user, "tell me a story");
        assert_eq!(t[1].reply, "once upon a time");
        assert_eq!(t[1].output_tokens, tok.count("once upon a time"));
        let one = sharegpt_sessions(f.path(), &tok, 5, 1, 1, 0).unwrap();
        assert_eq!(one.len(), 2);
        assert!(one.iter().all(|s| s.turns.len() == 1));
        let e = sharegpt_sessions(f.path(), &tok, 5, 3, 8, 0).unwrap_err();
        assert!(e.to_string().contains("3 or more"), "{e}");
    }
}
