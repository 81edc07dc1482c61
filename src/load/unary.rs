//! Non-streaming requests (the single-request latency test): send, read
//! the whole JSON answer, time it.

use std::time::Instant;

use super::client::{Client, PreparedRequest};
use super::failure::{classify, fail, NO_FIRST_BYTE};
use crate::record::{Failure, FailureKind};

/// The answer to a non-streaming request.
#[derive(Debug, Clone)]
pub struct UnaryOutcome {
    /// Start to end of body, ms.
    pub elapsed_ms: f64,
    /// The JSON body, or why there is none.
    pub result: Result<serde_json::Value, Failure>,
}

impl Client {
    /// Send a non-streaming request and read its whole JSON answer. The
    /// elapsed time runs from just before the request is written to the end
    /// of the body.
    pub async fn execute_unary(&self, req: &PreparedRequest) -> UnaryOutcome {
        let url = format!("{}{}", self.base, req.http.path);
        let start = Instant::now();
        let first_byte = tokio::time::Instant::from_std(start + self.timeouts.first_byte);
        let send = async {
            let request = self.http.post(url).body(req.http.body.clone()).send();
            let mut resp = match tokio::time::timeout_at(first_byte, request).await {
                Err(_) => return Err(fail(FailureKind::Timeout, NO_FIRST_BYTE)),
                Ok(r) => super::client::Streamed::Reqwest(r.map_err(|e| classify(&e))?),
            };
            let status = resp.status();
            let mut body = Vec::new();
            let (first_byte, idle) = (first_byte.into_std(), self.timeouts.idle);
            let timer = std::pin::pin!(super::client::BodyLimits::timer(start, first_byte, idle));
            let mut limits = super::client::BodyLimits::new(timer, first_byte, idle);
            while let Some((b, _)) = self.next_chunk(&mut resp, &mut limits).await? {
                body.extend_from_slice(&b);
            }
            if !status.is_success() {
                return Err(fail(
                    FailureKind::HttpStatus,
                    super::failure::status_message(status, &String::from_utf8_lossy(&body)),
                ));
            }
            serde_json::from_slice::<serde_json::Value>(&body).map_err(|e| {
                fail(
                    FailureKind::MalformedStream,
                    format!("response is not JSON: {e}"),
                )
            })
        };
        let result = match tokio::time::timeout(self.timeouts.total, send).await {
            Ok(r) => r,
            Err(_) => Err(fail(FailureKind::Timeout, "total request timeout")),
        };
        UnaryOutcome {
            elapsed_ms: start.elapsed().as_secs_f64() * 1e3,
            result,
        }
    }
}
