//! JSON Lines: one object per line.
//!
//! Each object holds a prompt (`prompt`, else `text`) and an output length:
//! an integer `output_tokens`, `max_tokens` or `output_len` (first found
//! wins), else an `output` text whose token count is the length. Blank lines
//! are skipped; other fields are ignored.

use std::io::BufRead;
use std::path::Path;

use serde_json::{Map, Value};

use super::{open, DatasetError, Parsed, RawEntry, RawOutput};

const PROMPT_KEYS: [&str; 2] = ["prompt", "text"];
const LENGTH_KEYS: [&str; 3] = ["output_tokens", "max_tokens", "output_len"];

/// Parse a JSONL file, handing each entry to `emit`.
pub(crate) fn parse(
    path: &Path,
    emit: &mut dyn FnMut(Parsed) -> Result<(), DatasetError>,
) -> Result<(), DatasetError> {
    for_each_line(path, parse_line, emit)
}

/// Call `parse_line` on every non-blank line of the JSONL file `path` (its
/// bytes without the line ending) and hand each entry to `emit`. A line that
/// `parse_line` refuses becomes [`DatasetError::Line`], naming the file and
/// the line (from 1).
pub(crate) fn for_each_line(
    path: &Path,
    mut parse_line: impl FnMut(&[u8]) -> Result<RawEntry, String>,
    emit: &mut dyn FnMut(Parsed) -> Result<(), DatasetError>,
) -> Result<(), DatasetError> {
    let mut reader = open(path)?;
    let mut buf = Vec::new();
    let mut line_no = 0usize;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|source| DatasetError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        if n == 0 {
            return Ok(());
        }
        line_no += 1;
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let line = buf.strip_suffix(b"\n").unwrap_or(&buf);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let entry = parse_line(line).map_err(|reason| DatasetError::Line {
            path: path.to_path_buf(),
            line: line_no,
            reason,
        })?;
        emit(Parsed::Entry(entry))?;
    }
}

fn parse_line(bytes: &[u8]) -> Result<RawEntry, String> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| format!("bad JSON: {e}"))?;
    let Value::Object(mut obj) = value else {
        return Err(format!("expected a JSON object, found {}", kind(&value)));
    };
    let prompt = match take_first(&mut obj, &PROMPT_KEYS) {
        Some((_, Value::String(s))) => s,
        Some((key, v)) => return Err(format!("`{key}` must be a string, found {}", kind(&v))),
        None => return Err("missing field `prompt` (or `text`)".to_string()),
    };
    let output = match take_first(&mut obj, &LENGTH_KEYS) {
        Some((key, v)) => RawOutput::Tokens(as_length(key, &v)?),
        None => match obj.remove("output") {
            Some(Value::String(s)) => RawOutput::Text(s),
            Some(v) => return Err(format!("`output` must be a string, found {}", kind(&v))),
            None => {
                return Err(
                    "missing output length: expected an integer `output_tokens`, \
                     `max_tokens` or `output_len`, or an `output` text"
                        .to_string(),
                )
            }
        },
    };
    Ok(RawEntry { prompt, output })
}

fn take_first(
    obj: &mut Map<String, Value>,
    keys: &[&'static str],
) -> Option<(&'static str, Value)> {
    keys.iter().find_map(|k| obj.remove(*k).map(|v| (*k, v)))
}

fn as_length(key: &str, v: &Value) -> Result<usize, String> {
    let n = match v {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| *f >= 0.0 && f.fract() == 0.0)
                .map(|f| f as u64)
        }),
        _ => None,
    };
    n.and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| format!("`{key}` must be a non-negative integer, found {}", show(v)))
}

pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::Number(n) => n.to_string(),
        other => kind(other).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(line: &str) -> String {
        match parse_line(line.as_bytes()) {
            Ok(_) => panic!("{line} parsed"),
            Err(e) => e,
        }
    }

    #[test]
    fn bad_lines_say_what_is_wrong() {
        let cases = [
            ("{\"prompt\": \"abc\", ", "bad JSON: EOF while parsing"),
            (r#"{"output_tokens": 5}"#, "missing field `prompt`"),
            (
                r#"{"prompt": 5}"#,
                "`prompt` must be a string, found a number",
            ),
            (r#"{"text": null}"#, "`text` must be a string, found null"),
            (r#"{"prompt": "a", "output_tokens": "5"}"#, "found a string"),
            (
                r#"{"prompt": "a", "max_tokens": -2}"#,
                "`max_tokens` must be a non-negative integer, found -2",
            ),
            (
                r#"{"prompt": "a", "output_len": 1.5}"#,
                "`output_len` must be a non-negative integer, found 1.5",
            ),
            (
                r#"{"prompt": "a", "output": 7}"#,
                "`output` must be a string, found a number",
            ),
            (r#"{"prompt": "a"}"#, "missing output length"),
            ("[1, 2]", "expected a JSON object, found an array"),
        ];
        for (line, needle) in cases {
            let e = err(line);
            assert!(e.contains(needle), "{line}: {e:?} lacks {needle:?}");
        }
    }

    #[test]
    fn first_length_key_wins() {
        let e = parse_line(br#"{"text": "p", "output_len": 3, "max_tokens": 9, "output": "x"}"#)
            .unwrap();
        assert_eq!(e.prompt, "p");
        assert!(matches!(e.output, RawOutput::Tokens(9)));
    }
}
