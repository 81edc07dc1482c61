//! The tokenizer's check count of generated texts, deferred off the hot
//! path with bounded memory.
//!
//! When the server reports its own output-token count, the tokenizer's
//! count of the generated text is only a check recorded beside it, so it is
//! not made in the task that reads the stream. Short epochs keep their texts
//! and count them after the epoch, off the measured window. A long epoch
//! (a soak of 300,000 requests) would hold every text until its end, so once
//! the texts held reach [`BATCH_BYTES`] or [`BATCH_TEXTS`] they are handed,
//! as one batch, to a background thread that counts them one by one and
//! keeps only the counts: the memory of an epoch stays flat, at the price of
//! one core's brief work a batch (about 80 ms for 65,536 short texts).

use std::thread::JoinHandle;

use crate::workload::Tokenizer;

/// Bytes of held text that make a batch.
pub const BATCH_BYTES: usize = 16 << 20;
/// Held texts that make a batch, whatever their size.
pub const BATCH_TEXTS: usize = 65_536;
/// Texts encoded together when counting (bounds the encodings held at once).
const ENCODE_CHUNK: usize = 4_096;

/// One text's count: `(index into the epoch's kept records, record id,
/// tokens)`.
pub type Count = (Option<usize>, u64, u64);

type Pending = Vec<(Option<usize>, u64, Box<str>)>;

/// Generated texts of one epoch whose tokenizer count is deferred.
#[derive(Debug)]
pub struct DeferredCounts {
    pending: Pending,
    pending_bytes: usize,
    /// Batches being counted in the background (none for short epochs).
    batches: Vec<JoinHandle<Vec<Count>>>,
    tokenizer: Option<Tokenizer>,
    /// The batch size: [`BATCH_TEXTS`] texts or [`BATCH_BYTES`] bytes.
    batch: (usize, usize),
}

impl Default for DeferredCounts {
    /// Texts kept until [`DeferredCounts::finish`] (no tokenizer).
    fn default() -> Self {
        DeferredCounts::new(None)
    }
}

impl DeferredCounts {
    /// Deferred counts made with `tokenizer`: with `None`, every text is
    /// kept until [`DeferredCounts::finish`].
    pub fn new(tokenizer: Option<Tokenizer>) -> Self {
        DeferredCounts {
            pending: Vec::new(),
            pending_bytes: 0,
            batches: Vec::new(),
            tokenizer,
            batch: (BATCH_TEXTS, BATCH_BYTES),
        }
    }

    /// The same with batches of `texts` texts or `bytes` bytes (tests).
    #[cfg(test)]
    fn with_batch(self, texts: usize, bytes: usize) -> Self {
        DeferredCounts {
            batch: (texts, bytes),
            ..self
        }
    }

    /// True when no text is held or being counted.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty() && self.batches.is_empty()
    }

    /// Hold `text` (of record `id`, at `index` in the kept records) for
    /// counting; a full batch goes to a background thread.
    pub fn push(&mut self, index: Option<usize>, id: u64, text: String) {
        self.pending_bytes += text.len();
        self.pending.push((index, id, text.into_boxed_str()));
        if self.pending_bytes >= self.batch.1 || self.pending.len() >= self.batch.0 {
            self.spawn_batch();
        }
    }

    fn spawn_batch(&mut self) {
        let Some(tok) = self.tokenizer.clone() else {
            return;
        };
        // The batch is handed over only once the thread exists: without a
        // thread it stays held and is counted at the end.
        let (tx, rx) = std::sync::mpsc::channel::<Pending>();
        let spawned = std::thread::Builder::new()
            .name("servebench-count".into())
            .spawn(move || {
                rx.recv()
                    .unwrap_or_default()
                    .iter()
                    .map(|(i, id, t)| (*i, *id, tok.count(t) as u64))
                    .collect()
            });
        if let Ok(h) = spawned {
            match tx.send(std::mem::take(&mut self.pending)) {
                Ok(()) => self.pending_bytes = 0,
                Err(back) => self.pending = back.0,
            }
            self.batches.push(h);
        }
    }

    /// Every count: the background batches joined, the texts still held
    /// counted here with `tokenizer`, a chunk at a time.
    pub fn finish(self, tokenizer: &Tokenizer) -> Vec<Count> {
        let mut out = Vec::new();
        for h in self.batches {
            if let Ok(c) = h.join() {
                out.extend(c);
            }
        }
        for chunk in self.pending.chunks(ENCODE_CHUNK) {
            let texts: Vec<&str> = chunk.iter().map(|(_, _, t)| &**t).collect();
            let counts = tokenizer.count_batch(&texts);
            out.extend(
                chunk
                    .iter()
                    .zip(counts)
                    .map(|((i, id, _), n)| (*i, *id, n as u64)),
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(i: usize) -> String {
        format!("word{} and some more words number {i}", i % 7)
    }

    #[test]
    fn background_batches_count_exactly_what_the_end_would() {
        let tok = Tokenizer::default_embedded();
        // Batches of 16,384 texts here (65,536 in a run): the same logic in
        // a quarter of the time.
        let n = 16_384 * 2 + 123;
        let mut bg = DeferredCounts::new(Some(tok.clone())).with_batch(16_384, BATCH_BYTES);
        let mut late = DeferredCounts::new(None);
        for i in 0..n {
            bg.push(Some(i), i as u64, text(i));
            late.push(Some(i), i as u64, text(i));
        }
        // Two full batches went to the background; the rest is held.
        assert_eq!(bg.batches.len(), 2);
        assert_eq!(bg.pending.len(), 123);
        assert_eq!(late.pending.len(), n);
        let (mut a, mut b) = (bg.finish(&tok), late.finish(&tok));
        a.sort();
        b.sort();
        assert_eq!(a.len(), n);
        assert_eq!(a, b);
        for (i, id, c) in a.iter().take(50) {
            assert_eq!(*i, Some(*id as usize));
            assert_eq!(*c, tok.count(&text(*id as usize)) as u64);
        }
    }

    #[test]
    fn a_batch_also_closes_on_bytes() {
        let tok = Tokenizer::default_embedded();
        let mut d = DeferredCounts::new(Some(tok.clone())).with_batch(BATCH_TEXTS, 4 << 20);
        let big = "token ".repeat((4 << 20) / 6 + 1);
        d.push(None, 1, big.clone());
        assert!(d.pending.is_empty() && d.batches.len() == 1);
        assert_eq!(d.finish(&tok), vec![(None, 1, tok.count(&big) as u64)]);
    }
}
