//! # servebench
//!
//! Benchmark LLM inference servers the way Criterion benchmarks functions.
//!
//! Data flows one way through the modules:
//! [`workload`] (tokenizer, prompts, datasets) → [`load`] (closed/open loop,
//! through a [`backend`]) → [`record`]s → [`metrics`] (aggregates, the metric
//! catalogue) → [`stats`] and [`analysis`] (with saved runs from
//! [`baseline`]) → [`report`] (terminal, CSV, JSON, Markdown, HTML).
//! [`run`] is the one engine that executes a plan along this chain; the
//! command line ([`cli`]) and the bench harness ([`bench`]) each build a
//! plan and call it, and neither imports the other.
//!
//! The [`sim`] module holds an embedded OpenAI-compatible simulated server with
//! a continuous-batching performance model; with no endpoint given, every
//! benchmark runs against it.

pub mod analysis;
pub mod backend;
pub mod baseline;
pub mod bench;
pub mod cli;
pub mod interop;
pub mod load;
pub mod metrics;
pub(crate) mod netstamp;
pub mod record;
pub mod report;
pub mod run;
pub mod server_metrics;
pub mod sim;
pub mod stats;
pub mod workload;
