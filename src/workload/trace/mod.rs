//! Production traces, read as they are published, and replayed at their own
//! times.
//!
//! Three formats (see [`TraceFormat`]): Mooncake's JSONL (with the hash ids
//! of the prompt's blocks, so that the replay shares exactly the prefixes
//! the trace shared), BurstGPT's CSV and Azure's LLM inference CSV. A trace
//! is read once, before any load, into [`Trace`]: the send offset, prompt
//! length, output length (and block hash ids) of each request of the chosen
//! window. Its prompts are built by [`Trace::requests`].

mod prompts;
mod read;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

pub use prompts::expected_prefix_hit_ratio;

/// The published trace formats servebench reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TraceFormat {
    /// Mooncake (FAST '25), JSON Lines: `{"timestamp": <ms from the trace's
    /// start>, "input_length": N, "output_length": M, "hash_ids": [46, 47, ..]}`.
    /// Each hash id names one block of the prompt (512 tokens by default);
    /// requests that share a hash id share that block.
    Mooncake,
    /// BurstGPT, CSV with the columns `Timestamp` (s), `Model`, `Request
    /// tokens`, `Response tokens`, `Total tokens`, `Log Type`. Rows with 0
    /// response tokens were failures in the original and are skipped.
    BurstGpt,
    /// Azure LLM inference traces (2023, 2024), CSV with the columns
    /// `TIMESTAMP` (`2023-11-16 18:15:46.6805900`), `ContextTokens`,
    /// `GeneratedTokens`.
    Azure,
}

impl TraceFormat {
    /// The name on the command line: `mooncake`, `burstgpt`, `azure`.
    pub fn name(self) -> &'static str {
        match self {
            TraceFormat::Mooncake => "mooncake",
            TraceFormat::BurstGpt => "burstgpt",
            TraceFormat::Azure => "azure",
        }
    }
}

impl fmt::Display for TraceFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for TraceFormat {
    type Err = TraceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "mooncake" => Ok(TraceFormat::Mooncake),
            "burstgpt" | "burst-gpt" => Ok(TraceFormat::BurstGpt),
            "azure" => Ok(TraceFormat::Azure),
            _ => Err(TraceError::UnknownFormat(s.to_string())),
        }
    }
}

/// Errors reading a trace or building its prompts.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// Not one of the three formats.
    #[error("unknown trace format {0:?}: expected mooncake, burstgpt or azure")]
    UnknownFormat(String),
    /// The file cannot be opened or read.
    #[error("trace {}: cannot read: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A line (JSONL) or row (CSV) is malformed.
    #[error("trace {}: line {line}: {reason}", path.display())]
    Line {
        /// The file.
        path: PathBuf,
        /// Line number, from 1.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// No request is left in the window.
    #[error("trace {}: no request to replay: {reason}", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
        /// What was read and skipped.
        reason: String,
    },
    /// A window or block setting is not usable.
    #[error("{flag}: {reason}")]
    BadSetting {
        /// The flag at fault.
        flag: String,
        /// Why.
        reason: String,
    },
    /// A prompt could not be built to its exact length.
    #[error(transparent)]
    Prompt(#[from] super::PromptError),
}

/// Which part of a trace is replayed.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TraceWindow {
    /// Skip the requests of the first `start_s` seconds (of the trace's own
    /// time, from its first row).
    pub start_s: f64,
    /// Replay only the requests of `duration_s` seconds from `start_s`.
    pub duration_s: Option<f64>,
    /// At most this many requests (the first ones of the window).
    pub max_requests: Option<usize>,
}

impl TraceWindow {
    fn check(&self) -> Result<(), TraceError> {
        let bad = |flag: &str, reason: String| TraceError::BadSetting {
            flag: flag.into(),
            reason,
        };
        if !(self.start_s.is_finite() && self.start_s >= 0.0) {
            return Err(bad(
                "--trace-start",
                format!("{}: must be 0 or more seconds", self.start_s),
            ));
        }
        if let Some(d) = self.duration_s {
            if !(d.is_finite() && d > 0.0) {
                return Err(bad(
                    "--trace-duration",
                    format!("{d}: must be a positive number of seconds"),
                ));
            }
        }
        if self.max_requests == Some(0) {
            return Err(bad("--max-requests", "must be at least 1".into()));
        }
        Ok(())
    }
}

/// One request of a trace.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceRequest {
    /// Send offset from the window's start, seconds of the trace's time.
    pub at_s: f64,
    /// Prompt length, tokens.
    pub input_tokens: usize,
    /// Output length, tokens.
    pub output_tokens: usize,
    /// Hash ids of the prompt's blocks, in order (Mooncake only).
    pub hash_ids: Vec<u64>,
}

/// The requests of a trace's window, read before any load.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// The file.
    pub path: PathBuf,
    /// Its format.
    pub format: TraceFormat,
    /// The window replayed.
    pub window: TraceWindow,
    /// Requests in send order.
    pub requests: Vec<TraceRequest>,
    /// Rows of the window skipped: failed in the original (0 output tokens)
    /// or with an empty prompt.
    pub skipped: usize,
}

impl Trace {
    /// Read the requests of `window` from the trace at `path`. Malformed
    /// lines, timestamps that go backwards and an empty window are errors
    /// naming the file (and line).
    pub fn read(
        path: &Path,
        format: TraceFormat,
        window: TraceWindow,
    ) -> Result<Trace, TraceError> {
        window.check()?;
        let (requests, skipped) = read::read(path, format, &window)?;
        if requests.is_empty() {
            return Err(TraceError::Empty {
                path: path.to_path_buf(),
                reason: format!(
                    "{skipped} row(s) of the window skipped (0 output or input tokens), none left{}",
                    if window.start_s > 0.0 || window.duration_s.is_some() {
                        "; widen --trace-start/--trace-duration"
                    } else {
                        ""
                    }
                ),
            });
        }
        Ok(Trace {
            path: path.to_path_buf(),
            format,
            window,
            requests,
            skipped,
        })
    }

    /// The file's name and format, e.g. `mooncake:conversation_trace.jsonl`,
    /// with the window when there is one.
    pub fn name(&self) -> String {
        let file = self.path.file_name().map_or_else(
            || self.path.display().to_string(),
            |f| f.to_string_lossy().into_owned(),
        );
        let mut s = format!("{}:{file}", self.format);
        let w = &self.window;
        if w.start_s > 0.0 || w.duration_s.is_some() {
            s.push_str(&format!(" [{} s", w.start_s));
            if let Some(d) = w.duration_s {
                s.push_str(&format!(", +{d} s"));
            }
            s.push(']');
        }
        if let Some(m) = w.max_requests {
            s.push_str(&format!(" first {m}"));
        }
        s
    }

    /// Requests of the window.
    pub fn len(&self) -> usize {
        self.requests.len()
    }

    /// True when the window holds no request (never, once read).
    pub fn is_empty(&self) -> bool {
        self.requests.is_empty()
    }

    /// Span from the first to the last send, seconds of the trace's time.
    pub fn span_s(&self) -> f64 {
        match (self.requests.first(), self.requests.last()) {
            (Some(a), Some(b)) => b.at_s - a.at_s,
            _ => 0.0,
        }
    }

    /// Mean request rate at `speedup` (requests/s): `(n - 1) / span`;
    /// infinite when every request is sent at the same time.
    pub fn mean_rate(&self, speedup: f64) -> f64 {
        let span = self.span_s();
        if self.requests.len() < 2 || span <= 0.0 {
            return f64::INFINITY;
        }
        (self.requests.len() - 1) as f64 / span * speedup
    }

    /// Send offsets (seconds from the start of the replay) at `speedup`
    /// (2 = twice as fast as the trace).
    pub fn offsets(&self, speedup: f64) -> Vec<f64> {
        self.requests.iter().map(|r| r.at_s / speedup).collect()
    }

    /// The longest prompt and output of the window, tokens.
    pub fn longest(&self) -> (usize, usize) {
        self.requests
            .iter()
            .map(|r| (r.input_tokens, r.output_tokens))
            .max_by_key(|(p, o)| p + o)
            .unwrap_or((0, 0))
    }
}

#[cfg(test)]
mod tests;
