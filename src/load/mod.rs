//! Sending load: the streaming client, closed-loop epochs and the static sweep.
//! This module sends, timestamps and forwards records; nothing else.

mod client;
mod closed;
mod guard;
pub mod interrupt;
pub mod selfwatch;

pub use client::{Client, ClientError, Endpoint, PreparedRequest, Timeouts, UnaryOutcome};
pub use closed::{run_closed_epoch, EpochRun};
pub use guard::{FailureLimit, RunGuard};
mod sweep;

pub use sweep::{
    run_static, run_static_with, PointKey, PointRun, Quiet, StaticPlan, SweepObserver,
};
mod open;

pub use open::{arrival_offsets, run_open_loop, ScheduleError};
