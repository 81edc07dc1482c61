//! HumanEval (`HumanEval.jsonl`, as the seed's static benchmark reads it).
//!
//! JSON Lines: one object per line with a `prompt` text (the prompt) and a
//! `canonical_solution` text (the completion, whose token count is the output
//! length). Other fields (`task_id`, `test`, `entry_point`) are ignored.
//! Blank lines are skipped, as HumanEval's own `stream_jsonl` skips them; any
//! other line that is not such an object is an error naming the file and the
//! line. The file is read as it is (not gzip-compressed).

use std::path::Path;

use serde_json::Value;

use super::jsonl::{for_each_line, kind};
use super::{DatasetError, Parsed, RawEntry, RawOutput};

/// Parse a HumanEval file, handing each entry to `emit`.
pub(crate) fn parse(
    path: &Path,
    emit: &mut dyn FnMut(Parsed) -> Result<(), DatasetError>,
) -> Result<(), DatasetError> {
    for_each_line(path, parse_line, emit)
}

fn parse_line(bytes: &[u8]) -> Result<RawEntry, String> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| format!("bad JSON: {e}"))?;
    let Value::Object(mut obj) = value else {
        return Err(format!("expected a JSON object, found {}", kind(&value)));
    };
    let mut text = |key: &str| match obj.remove(key) {
        Some(Value::String(s)) => Ok(s),
        Some(v) => Err(format!("`{key}` must be a string, found {}", kind(&v))),
        None => Err(format!("missing field `{key}`")),
    };
    let prompt = text("prompt")?;
    let solution = text("canonical_solution")?;
    Ok(RawEntry {
        prompt,
        output: RawOutput::Text(solution),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_gives_prompt_and_solution() {
        let e = parse_line(
            br#"{"task_id": "HumanEval/0", "prompt": "def f():\n", "canonical_solution": "    return 1\n", "test": "x", "entry_point": "f"}"#,
        )
        .unwrap();
        assert_eq!(e.prompt, "def f():\n");
        assert!(matches!(e.output, RawOutput::Text(ref s) if s == "    return 1\n"));
    }

    #[test]
    fn bad_lines_say_what_is_wrong() {
        let cases = [
            ("{\"prompt\": \"abc\", ", "bad JSON: EOF while parsing"),
            (r#"{"canonical_solution": "x"}"#, "missing field `prompt`"),
            (r#"{"prompt": "x"}"#, "missing field `canonical_solution`"),
            (
                r#"{"prompt": 3, "canonical_solution": "x"}"#,
                "`prompt` must be a string, found a number",
            ),
            (
                r#"{"prompt": "x", "canonical_solution": null}"#,
                "`canonical_solution` must be a string, found null",
            ),
            ("[1]", "expected a JSON object, found an array"),
        ];
        for (line, needle) in cases {
            let e = match parse_line(line.as_bytes()) {
                Ok(_) => panic!("{line} parsed"),
                Err(e) => e,
            };
            assert!(e.contains(needle), "{line}: {e:?} lacks {needle:?}");
        }
    }
}
