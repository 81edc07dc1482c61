//! Failures of a request before or while its response streams: their
//! categories and messages.

use crate::record::{Failure, FailureKind};

/// True when `e` says that the connection ended cleanly (EOF, not a reset)
/// before any byte of a response: hyper's "connection closed before message
/// completed". That is a server closing a connection it had offered to keep
/// alive (its idle or request-count limit, or llama.cpp's server, which
/// closes after every stream) as the next request went out on it. A
/// refused connection, a reset (RST: a server that failed the request), a
/// timeout or a TLS failure is not this, and stays a failure.
pub(super) fn closed_before_response(e: &reqwest::Error) -> bool {
    if e.is_timeout() || e.is_connect() || e.is_status() || e.is_body() || e.is_decode() {
        return false;
    }
    let mut src: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(inner) = src {
        if let Some(h) = inner.downcast_ref::<hyper::Error>() {
            return h.is_incomplete_message();
        }
        src = inner.source();
    }
    false
}

/// The message of a request whose first byte did not come in time.
pub(super) const NO_FIRST_BYTE: &str =
    "first-byte timeout: no response (headers and first body bytes) in time";
/// The message of a body that stalled.
pub(super) const IDLE: &str = "idle timeout between chunks";

pub(super) fn fail(kind: FailureKind, message: impl Into<String>) -> Failure {
    Failure {
        kind,
        message: message.into(),
    }
}

/// A failure before any response header: a timeout, or a connection that
/// could not be made or was reset or closed before the server answered.
pub(super) fn classify(e: &reqwest::Error) -> Failure {
    let kind = if e.is_timeout() {
        FailureKind::Timeout
    } else {
        FailureKind::Connect
    };
    fail(kind, error_chain(e))
}

/// The error and its sources, one after another.
pub(super) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}
