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

/// The message of a non-2xx answer: the status and one line of its body,
/// so that a failure reads on one line: JSON compacted, an HTML page's
/// `<title>` (else its first text line), other text's first non-blank
/// line; at most 300 characters, and how much more there was.
pub(super) fn status_message(status: reqwest::StatusCode, body: &str) -> String {
    let body = body.trim();
    // The line shown, and the bytes of the body it stands for.
    let (line, covers) = if let Ok(v) = serde_json::from_str::<serde_json::Value>(body) {
        (v.to_string(), body.len())
    } else if body.to_ascii_lowercase().contains("<html") || body.starts_with('<') {
        let lower = body.to_ascii_lowercase();
        let line = match (lower.find("<title>"), lower.find("</title>")) {
            (Some(a), Some(b)) if b > a + 7 => format!("HTML page \"{}\"", body[a + 7..b].trim()),
            _ => body
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty() && !l.starts_with("<!"))
                .unwrap_or("")
                .to_string(),
        };
        (line, 0)
    } else {
        let line = body
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("");
        (line.to_string(), line.len())
    };
    let short: String = line.chars().take(300).collect();
    let shown = if short.len() < line.len() {
        covers.min(short.len())
    } else {
        covers
    };
    match body.len().saturating_sub(shown) {
        0 => format!("HTTP {status}: {short}"),
        rest => format!("HTTP {status}: {short} (and {rest} more bytes)"),
    }
}

/// A failure before any response header: a timeout, or a connection that
/// could not be made or was reset or closed before the server answered.
pub(super) fn classify(e: &reqwest::Error) -> Failure {
    classify_as(e.is_timeout(), e)
}

/// [`classify`] of any client's error: a `timeout` when `timed_out`, else a
/// `connect` failure, with `e`'s chain as the message.
pub(super) fn classify_as(timed_out: bool, e: &dyn std::error::Error) -> Failure {
    let kind = if timed_out {
        FailureKind::Timeout
    } else {
        FailureKind::Connect
    };
    fail(kind, error_chain(e))
}

/// The error and its sources, one after another.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

#[cfg(test)]
mod status_tests {
    use super::status_message;
    use reqwest::StatusCode;

    #[test]
    fn a_status_body_reads_on_one_line() {
        let html = "<!DOCTYPE HTML>\n<html lang=\"en\">\n<head>\n<title>Error response</title>\n</head>\n<body><p>Error code: 501</p></body></html>\n";
        let m = status_message(StatusCode::NOT_IMPLEMENTED, html);
        assert!(
            m.starts_with("HTTP 501 Not Implemented: HTML page \"Error response\" (and "),
            "{m}"
        );
        assert!(!m.contains('\n'));
        let json =
            "{\n  \"error\": {\n    \"message\": \"maximum context length is 32768\"\n  }\n}";
        assert_eq!(
            status_message(StatusCode::BAD_REQUEST, json),
            "HTTP 400 Bad Request: {\"error\":{\"message\":\"maximum context length is 32768\"}}"
        );
        assert_eq!(
            status_message(StatusCode::BAD_GATEWAY, "\n  upstream down\nretry later\n"),
            "HTTP 502 Bad Gateway: upstream down (and 12 more bytes)"
        );
        assert_eq!(
            status_message(StatusCode::NOT_FOUND, ""),
            "HTTP 404 Not Found: "
        );
    }
}
