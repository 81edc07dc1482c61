//! The simulated prefix cache: chained block hashes, as vLLM computes them.
//!
//! A prompt's token ids are cut into blocks of `prefix_block_tokens`; the hash
//! of block `i` covers the hash of block `i - 1` and the ids of block `i`, so a
//! block hash identifies the whole prefix up to it. Only full blocks are
//! cached. A prompt's cached part is its longest run of leading blocks whose
//! hashes are all in the cache. The cache holds at most `capacity` blocks and
//! evicts the least recently used one.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};

/// Chained hashes of the full blocks of `ids`.
pub(crate) fn block_hashes(ids: &[u32], block: usize) -> Vec<u64> {
    let block = block.max(1);
    let mut prev = 0u64;
    ids.chunks_exact(block)
        .map(|chunk| {
            // DefaultHasher::new() uses fixed keys: hashes are stable in-process.
            let mut h = DefaultHasher::new();
            prev.hash(&mut h);
            chunk.hash(&mut h);
            prev = h.finish();
            prev
        })
        .collect()
}

/// Least-recently-used set of block hashes.
#[derive(Debug)]
pub(crate) struct PrefixCache {
    capacity: usize,
    tick: u64,
    /// hash -> last use tick
    used: HashMap<u64, u64>,
    /// last use tick -> hash (oldest first)
    order: BTreeMap<u64, u64>,
}

impl PrefixCache {
    /// An empty cache of at most `capacity` blocks.
    pub(crate) fn new(capacity: usize) -> Self {
        PrefixCache {
            capacity: capacity.max(1),
            tick: 0,
            used: HashMap::new(),
            order: BTreeMap::new(),
        }
    }

    /// Number of leading blocks of `hashes` present in the cache (touched as used).
    pub(crate) fn lookup(&mut self, hashes: &[u64]) -> usize {
        let n = hashes
            .iter()
            .take_while(|h| self.used.contains_key(h))
            .count();
        for h in &hashes[..n] {
            self.touch(*h);
        }
        n
    }

    /// Insert every block of `hashes`, evicting the least recently used.
    pub(crate) fn insert(&mut self, hashes: &[u64]) {
        for h in hashes {
            self.touch(*h);
        }
        while self.used.len() > self.capacity {
            match self.order.pop_first() {
                Some((_, h)) => {
                    self.used.remove(&h);
                }
                None => break,
            }
        }
    }

    fn touch(&mut self, h: u64) {
        self.tick += 1;
        if let Some(old) = self.used.insert(h, self.tick) {
            self.order.remove(&old);
        }
        self.order.insert(self.tick, h);
    }

    /// Blocks held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.used.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chained_and_lru() {
        let a: Vec<u32> = (0..40).collect();
        let mut b = a.clone();
        b[20] = 999; // differs in block 1
        let ha = block_hashes(&a, 16);
        let hb = block_hashes(&b, 16);
        assert_eq!(ha.len(), 2);
        assert_eq!(ha[0], hb[0]);
        assert_ne!(ha[1], hb[1]);
        let mut c = PrefixCache::new(3);
        assert_eq!(c.lookup(&ha), 0);
        c.insert(&ha);
        assert_eq!(c.lookup(&hb), 1);
        c.insert(&hb); // 3 blocks now
        assert_eq!(c.len(), 3);
        let other = block_hashes(&[7; 16], 16);
        c.insert(&other); // evicts the LRU: ha[1]
        assert_eq!(c.len(), 3);
        assert_eq!(c.lookup(&ha), 1);
        assert_eq!(c.lookup(&hb), 2);
    }
}
