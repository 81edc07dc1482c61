//! # servebench
//!
//! Benchmark LLM inference servers the way Criterion benchmarks functions.
//!
//! Data flows one way through the modules:
//! [`workload`] (tokenizer, prompts, datasets) → [`load`] (closed/open loop,
//! through a [`backend`]) → [`metrics`] (per-request records, aggregates) →
//! [`stats`] → [`report`] (terminal table, CSV, JSON).
//!
//! The [`sim`] module holds an embedded OpenAI-compatible simulated server with
//! a continuous-batching performance model; with no endpoint given, every
//! benchmark runs against it.

pub mod analysis;
pub mod backend;
pub mod baseline;
pub mod bench;
pub mod cli;
pub mod load;
pub mod metrics;
pub mod record;
pub mod report;
pub mod sim;
pub mod stats;
pub mod workload;
