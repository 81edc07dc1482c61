//! Figures of multi-turn sessions: TTFT by turn index (which shows a prefix
//! cache at work on the growing history), session duration and goodput per
//! session.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{RequestRecord, Slo};
use crate::stats::Summary;

/// The figures of one turn index, over every session that reached it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TurnFigures {
    /// Turn index, from 0.
    pub turn: u32,
    /// Turns of this index that completed.
    pub completed: usize,
    /// Their TTFT, ms.
    pub ttft_ms: Summary,
    /// Their mean prompt tokens (the conversation so far and the user's
    /// message).
    pub mean_input_tokens: Option<f64>,
}

/// Sessions of one point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionFigures {
    /// Sessions that sent at least one turn.
    pub sessions: usize,
    /// Sessions none of whose turns failed.
    pub completed: usize,
    /// By turn index.
    pub turns: Vec<TurnFigures>,
    /// Completed sessions: first send to the last answer's end, s (think
    /// times included).
    pub duration_s: Summary,
    /// Completed sessions every turn of which met the SLOs, per second of
    /// wall time (when SLOs are set).
    pub goodput_sessions_per_s: Option<f64>,
}

impl SessionFigures {
    /// The figures of `records` (all requests of the point, failures
    /// included), `None` when none belongs to a session. `wall_s`: the
    /// point's wall time.
    pub fn of(
        records: &[&RequestRecord],
        ps: &[f64],
        slo: &Slo,
        wall_s: f64,
    ) -> Option<SessionFigures> {
        // (epoch, session) -> its turns
        let mut by_session: BTreeMap<(u32, u64), Vec<&RequestRecord>> = BTreeMap::new();
        for r in records {
            if let Some(s) = r.session {
                by_session.entry((r.epoch, s.session)).or_default().push(r);
            }
        }
        if by_session.is_empty() {
            return None;
        }
        let mut by_turn: BTreeMap<u32, Vec<&RequestRecord>> = BTreeMap::new();
        let (mut completed, mut good) = (0usize, 0usize);
        let mut durations = Vec::new();
        for turns in by_session.values() {
            for r in turns.iter().filter(|r| r.ok()) {
                by_turn
                    .entry(r.session.map_or(0, |s| s.turn))
                    .or_default()
                    .push(r);
            }
            if turns.iter().all(|r| r.ok()) {
                completed += 1;
                let first = turns
                    .iter()
                    .map(|r| r.start_s)
                    .fold(f64::INFINITY, f64::min);
                let last = turns
                    .iter()
                    .map(|r| r.start_s + r.done_ms / 1e3)
                    .fold(f64::NEG_INFINITY, f64::max);
                durations.push(last - first);
                good += usize::from(turns.iter().all(|r| slo.met_by(r)));
            }
        }
        let turns = by_turn
            .into_iter()
            .map(|(turn, rs)| TurnFigures {
                turn,
                completed: rs.len(),
                ttft_ms: Summary::of(rs.iter().filter_map(|r| r.ttft_ms), ps),
                mean_input_tokens: Some(
                    rs.iter().map(|r| r.input_tokens as f64).sum::<f64>() / rs.len() as f64,
                ),
            })
            .collect();
        Some(SessionFigures {
            sessions: by_session.len(),
            completed,
            turns,
            duration_s: Summary::of(durations, ps),
            goodput_sessions_per_s: (!slo.is_empty() && wall_s > 0.0).then(|| good as f64 / wall_s),
        })
    }

    /// Median TTFT of the first turns and of the later ones, ms.
    pub fn ttft_p50_first_and_later(&self) -> (Option<f64>, Option<f64>) {
        let first = self.turns.iter().find(|t| t.turn == 0);
        let later: Vec<&TurnFigures> = self.turns.iter().filter(|t| t.turn > 0).collect();
        // The later turns' median, weighted by their counts: the median of
        // the per-turn medians would weigh a rare deep turn like the second.
        let mut pts: Vec<(f64, usize)> = later
            .iter()
            .filter_map(|t| t.ttft_ms.p(50.0).map(|p| (p, t.completed)))
            .collect();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        let total: usize = pts.iter().map(|p| p.1).sum();
        let mut acc = 0;
        let later_p50 = pts.iter().find_map(|&(p, n)| {
            acc += n;
            (2 * acc >= total).then_some(p)
        });
        (first.and_then(|t| t.ttft_ms.p(50.0)), later_p50)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::SessionTurn;

    fn rec(session: u64, turn: u32, start_s: f64, ttft: f64, ok: bool) -> RequestRecord {
        let mut r = RequestRecord::from_raw(crate::record::RawRequest {
            id: session * 10 + u64::from(turn),
            epoch: 0,
            start_s,
            done_ms: 100.0,
            chunks: vec![(ttft, 1), (ttft + 10.0, 1)],
            input_tokens: 10 * (u64::from(turn) + 1),
            requested_output_tokens: 2,
            usage_output_tokens: Some(2),
            usage_input_tokens: None,
            counted_output_tokens: Some(2),
            server: None,
            failure: (!ok).then(|| crate::record::Failure {
                kind: crate::record::FailureKind::HttpStatus,
                message: "500".into(),
            }),
            resent: 0,
        });
        r.session = Some(SessionTurn { session, turn });
        r
    }

    #[test]
    fn turns_durations_and_completion() {
        let rs = [
            rec(0, 0, 0.0, 50.0, true),
            rec(0, 1, 1.0, 10.0, true),
            rec(1, 0, 0.5, 60.0, true),
            rec(1, 1, 2.0, 12.0, false),
        ];
        let refs: Vec<&RequestRecord> = rs.iter().collect();
        let f = SessionFigures::of(&refs, &[50.0], &Slo::default(), 4.0).unwrap();
        assert_eq!((f.sessions, f.completed), (2, 1));
        assert_eq!(f.turns.len(), 2);
        assert_eq!(f.turns[0].completed, 2);
        assert_eq!(f.turns[0].ttft_ms.p(50.0), Some(55.0));
        assert_eq!(f.turns[1].completed, 1, "the failed turn is not counted");
        assert_eq!(f.turns[1].mean_input_tokens, Some(20.0));
        // Session 0: from 0 s to 1 s + 100 ms.
        assert!((f.duration_s.mean.unwrap() - 1.1).abs() < 1e-9);
        assert_eq!(f.goodput_sessions_per_s, None);
        assert_eq!(f.ttft_p50_first_and_later(), (Some(55.0), Some(10.0)));
        let slo = Slo {
            ttft_ms: Some(20.0),
            ..Slo::default()
        };
        // Session 0's first turn (50 ms) breaks the TTFT objective.
        let g = SessionFigures::of(&refs, &[50.0], &slo, 4.0).unwrap();
        assert_eq!(g.goodput_sessions_per_s, Some(0.0));
        assert!(SessionFigures::of(&[], &[50.0], &slo, 1.0).is_none());
    }
}
