//! Sending load: the streaming client, closed-loop epochs and open-loop
//! arrivals. This module sends, timestamps and forwards records; nothing
//! else (the sweeps that drive it live in [`crate::run`]).

mod arrival;
mod client;
mod closed;
mod counting;
mod failure;
pub(crate) use failure::error_chain;
mod guard;
mod h1;
pub(crate) use h1::is_loopback;
pub mod interrupt;
pub mod selfwatch;
pub mod spawner;
mod stream;
mod unary;

pub use client::{Client, ClientError, Endpoint, PreparedRequest, Timeouts};
pub use closed::{run_closed_epoch, run_wave_epoch, EpochRun, Keep};
pub use guard::{FailureLimit, RunGuard};
pub use spawner::{load_threads, set_load_threads, Spawner};
pub use stream::chunk_tokens;
pub use unary::UnaryOutcome;
mod open;
mod sessions;

pub use open::{arrival_offsets, grouped_arrival_offsets, run_open_loop, ScheduleError};
pub use sessions::{run_sessions, SessionLoad};
