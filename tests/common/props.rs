//! Shared by the property tests. Include it with
//! `mod common { pub mod props; }`.

use proptest::test_runner::{Config, RngSeed};

/// `cases` cases from a fixed seed: every run draws the same inputs (no
/// failure files written: a failing case reproduces from the seed).
pub fn config(cases: u32, seed: u64) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        ..Config::default()
    }
}
