//! The sessions of a multi-turn sweep, drawn or generated before any load.

use super::plan::{SessionSource, SessionsWorkload};
use super::{RunError, Target};
use crate::workload::{sharegpt_sessions, synthetic_sessions, PromptSynth, RequestSpec, Session};

/// `total` sessions for the whole run (every point and epoch its own), and
/// the notes they call for.
pub(super) async fn prepare(
    target: &Target,
    w: &SessionsWorkload,
    total: usize,
    seed: u64,
) -> Result<(Vec<Session>, Vec<String>), RunError> {
    let probe = RequestSpec {
        id: 0,
        prompt: String::new(),
        prompt_tokens: 0,
        max_tokens: 1,
        force_output_len: false,
    };
    if target.client.prepare_conversation(&[], &probe).is_none() {
        return Err(RunError::BadSetting {
            flag: "--backend".into(),
            reason: format!(
                "{}: multi-turn sessions send chat messages; use --backend openai-chat",
                target.client.backend().name()
            ),
        });
    }
    let tok = target.tokenizer.clone();
    let source = w.source.clone();
    let built = tokio::task::spawn_blocking(move || -> Result<_, RunError> {
        match source {
            SessionSource::Generated(shape) => {
                let synth = PromptSynth::new(&tok)?;
                Ok(synthetic_sessions(&synth, shape, total, 0, seed)?)
            }
            SessionSource::ShareGpt {
                path,
                min_turns,
                max_turns,
            } => Ok(sharegpt_sessions(
                &path, &tok, total, min_turns, max_turns, seed,
            )?),
        }
    })
    .await
    .map_err(|e| RunError::BadSetting {
        flag: "--sessions".into(),
        reason: format!("building the sessions panicked: {e}"),
    })??;
    let mut notes = Vec::new();
    let distinct = built.len();
    let sessions: Vec<Session> = if distinct < total {
        notes.push(format!(
            "the dataset gave {distinct} conversations for the {total} sessions of the run: some \
             were replayed more than once, which a prefix cache can serve faster"
        ));
        (0..total)
            .map(|i| Session {
                id: i as u64,
                ..built[i % distinct].clone()
            })
            .collect()
    } else {
        built
    };
    let turns: usize = sessions.iter().map(|s| s.turns.len()).sum();
    notes.push(format!(
        "multi-turn sessions: {:.2} turns a session on average; each turn's prompt carries the \
         conversation so far ({}){}",
        turns as f64 / sessions.len().max(1) as f64,
        if w.dataset_replies {
            "the dataset's replies as the assistant's turns"
        } else {
            "the model's own answers as the assistant's turns"
        },
        if w.think_time.is_zero() {
            String::new()
        } else {
            format!(", {} ms think time between turns", w.think_time.as_millis())
        }
    ));
    Ok((sessions, notes))
}

/// Stand-ins for the sessions in the sweep's request list: session `i`'s
/// first turn, id `i` (epochs take their sessions by these ids; warm-up
/// requests take their lengths).
pub(super) fn first_turns(sessions: &[Session]) -> Vec<RequestSpec> {
    sessions
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let t = s.turns.first()?;
            Some(RequestSpec {
                id: i as u64,
                prompt: t.user.clone(),
                prompt_tokens: t.user_tokens,
                max_tokens: t.output_tokens,
                force_output_len: true,
            })
        })
        .collect()
}
