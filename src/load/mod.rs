//! Sending load: the streaming client, closed-loop epochs and open-loop
//! arrivals. This module sends, timestamps and forwards records; nothing
//! else (the sweeps that drive it live in [`crate::run`]).

mod arrival;
pub use crate::netstamp::STAMPS_ENV;
mod client;
mod closed;
mod counting;
mod deadline;
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

/// The client's environment variables ([`STAMPS_ENV`],
/// [`spawner::THREADS_ENV`]) hold values it takes: the variable and why
/// not, so that a typo is refused before any load instead of falling back.
pub fn check_env() -> Result<(), (&'static str, String)> {
    if let Ok(v) = std::env::var(STAMPS_ENV) {
        if crate::netstamp::parse_stamps(&v).is_none() {
            return Err((STAMPS_ENV, format!("`{v}`: expected kernel or user")));
        }
    }
    if let Ok(v) = std::env::var(spawner::THREADS_ENV) {
        if spawner::parse_threads(&v).is_none() {
            return Err((
                spawner::THREADS_ENV,
                format!(
                    "`{v}`: expected a count from 1 to {}",
                    spawner::MAX_LOAD_THREADS
                ),
            ));
        }
    }
    Ok(())
}
