//! JSON output: the whole run, every per-request record and every summary,
//! so that any figure can be recomputed later.

use std::io::Write;
use std::path::Path;

use crate::metrics::RunData;

/// Errors writing a JSON report.
#[derive(Debug, thiserror::Error)]
#[error("cannot write JSON {path}: {reason}")]
pub struct JsonError {
    pub path: String,
    pub reason: String,
}

/// Write `run` as JSON to `path`, atomically (a temporary file renamed into
/// place), so a reader never sees half a file.
pub fn write_json(path: &Path, run: &RunData) -> Result<(), JsonError> {
    let err = |e: &dyn std::fmt::Display| JsonError {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| err(&e))?;
    }
    let tmp = path.with_extension("json.tmp");
    let file = std::fs::File::create(&tmp).map_err(|e| err(&e))?;
    let mut w = std::io::BufWriter::new(file);
    serde_json::to_writer(&mut w, run).map_err(|e| err(&e))?;
    w.flush().map_err(|e| err(&e))?;
    drop(w);
    std::fs::rename(&tmp, path).map_err(|e| err(&e))?;
    Ok(())
}
