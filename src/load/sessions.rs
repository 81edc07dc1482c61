//! Multi-turn sessions: sessions start at precomputed offsets (open loop,
//! at most `max_active` at once); each sends its turns one after another,
//! a think time after each answer, every turn carrying the conversation so
//! far (the model's answers, or the dataset's replies).
//!
//! A turn's request is built when its turn comes (its history holds the
//! model's answers), outside the turn's own timings: its clock starts when
//! it is sent. A failed turn ends its session.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Client, EpochRun, Keep};
use crate::backend::{ChatTurn, Role};
use crate::record::{RequestRecord, SessionTurn};
use crate::workload::{RequestSpec, Session};

/// The sessions of one epoch and how they are paced.
#[derive(Debug, Clone)]
pub struct SessionLoad {
    pub sessions: Vec<Session>,
    /// Start of each session, seconds from the epoch's start.
    pub offsets: Vec<f64>,
    /// At most this many sessions active at once (a session waiting for a
    /// slot starts late, and its lateness shows it).
    pub max_active: Option<usize>,
    /// Pause between an answer and the session's next turn.
    pub think_time: Duration,
    /// Put the dataset's replies in the history instead of the model's answers.
    pub dataset_replies: bool,
    /// Request id of each session's first turn; its turns are numbered on
    /// from it (a shard's sessions keep the ids they have in the whole run).
    pub first_ids: Vec<u64>,
}

impl SessionLoad {
    /// Turns of every session.
    pub fn turns(&self) -> usize {
        self.sessions.iter().map(|s| s.turns.len()).sum()
    }
}

/// Run one epoch of sessions; records arrive through `on_records` as turns
/// complete (each carries its session and turn, the first turn its
/// scheduled start).
pub async fn run_sessions(
    client: Arc<Client>,
    load: SessionLoad,
    epoch: u32,
    keep: Keep,
    on_records: &mut (dyn FnMut(&[RequestRecord]) + Send),
) -> EpochRun {
    assert_eq!(
        load.sessions.len(),
        load.offsets.len(),
        "one offset per session"
    );
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(RequestRecord, Option<String>)>();
    let sem = load
        .max_active
        .map(|c| Arc::new(tokio::sync::Semaphore::new(c.max(1))));
    let expected = load.turns();
    let phase_start = Instant::now() + Duration::from_millis(2);
    assert_eq!(
        load.sessions.len(),
        load.first_ids.len(),
        "one first id per session"
    );
    let mut spawner = super::Spawner::here();
    let starts = load.offsets.into_iter().zip(load.first_ids);
    for (s, (offset, first_id)) in load.sessions.into_iter().zip(starts) {
        let (client, tx, sem) = (client.clone(), tx.clone(), sem.clone());
        let (think, replies) = (load.think_time, load.dataset_replies);
        spawner.spawn(async move {
            let due = phase_start + Duration::from_secs_f64(offset);
            tokio::time::sleep_until(tokio::time::Instant::from_std(due)).await;
            let _permit = match sem {
                Some(s) => Some(s.acquire_owned().await.expect("semaphore open")),
                None => None,
            };
            let mut history: Vec<(Role, String)> = Vec::new();
            let mut history_tokens = 0usize;
            for (t, turn) in s.turns.iter().enumerate() {
                if t > 0 && !think.is_zero() {
                    tokio::time::sleep(think).await;
                }
                if client.stopping() {
                    return;
                }
                let past: Vec<ChatTurn<'_>> = history
                    .iter()
                    .map(|(role, content)| ChatTurn {
                        role: *role,
                        content,
                    })
                    .collect();
                let spec = RequestSpec {
                    id: first_id + t as u64,
                    prompt: turn.user.clone(),
                    prompt_tokens: history_tokens + turn.user_tokens,
                    max_tokens: turn.output_tokens,
                    force_output_len: true,
                };
                // The backend was checked for chat messages before the run.
                let Some(req) = client.prepare_conversation(&past, &spec) else {
                    return;
                };
                drop(past);
                let (mut rec, pending, answer) =
                    client.execute_turn(&req, epoch, phase_start).await;
                rec.session = Some(SessionTurn {
                    session: s.id,
                    turn: t as u32,
                });
                if t == 0 {
                    rec.scheduled_s = Some(offset);
                }
                let (ok, out) = (rec.ok(), rec.output_tokens as usize);
                let _ = tx.send((rec, pending));
                if !ok {
                    return;
                }
                let (reply, reply_tokens) = if replies {
                    (turn.reply.clone(), turn.output_tokens)
                } else {
                    (answer, out)
                };
                history_tokens += turn.user_tokens + reply_tokens;
                history.push((Role::User, turn.user.clone()));
                history.push((Role::Assistant, reply));
            }
        });
    }
    drop(tx);
    super::closed::collect(&client, epoch, expected, keep, &mut rx, on_records).await
}
