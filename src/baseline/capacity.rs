//! The capacity file of a run folder: `capacity.json`, a versioned
//! `{"format": "servebench-capacity", "version": 1, "capacity": ...}`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::store::write_json_atomic;
use super::{sanitize_id, BaselineError, ReportDir};
use crate::metrics::capacity::CapacityResult;

/// Name of the capacity file of a run folder.
pub const CAPACITY_FILE: &str = "capacity.json";
/// Format tag of a capacity file.
pub const CAPACITY_FORMAT: &str = "servebench-capacity";
/// Version of the capacity file this servebench writes and reads.
pub const CAPACITY_VERSION: u64 = 1;

#[derive(Serialize)]
struct Out<'a> {
    format: &'static str,
    version: u64,
    capacity: &'a CapacityResult,
}

#[derive(Deserialize)]
struct In {
    #[serde(default)]
    format: serde_json::Value,
    #[serde(default)]
    version: serde_json::Value,
    capacity: Option<serde_json::Value>,
}

/// Save `c` as the capacity file of the run folder `dir`; returns its path.
pub fn save_capacity(dir: &Path, c: &CapacityResult) -> Result<PathBuf, BaselineError> {
    let path = dir.join(CAPACITY_FILE);
    let body = Out {
        format: CAPACITY_FORMAT,
        version: CAPACITY_VERSION,
        capacity: c,
    };
    write_json_atomic(&path, &body, true)?;
    Ok(path)
}

/// Load a capacity file, checking its format tag and version first.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let p = dir.path().join("capacity.json");
/// std::fs::write(&p, r#"{"format":"servebench-capacity","version":7,"capacity":{}}"#).unwrap();
/// let e = servebench::baseline::load_capacity(&p).unwrap_err().to_string();
/// assert!(e.contains("capacity.json") && e.contains("version 7"));
/// ```
pub fn load_capacity(path: &Path) -> Result<CapacityResult, BaselineError> {
    let corrupt = |reason: String| BaselineError::Corrupt {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|source| BaselineError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let body: In = serde_json::from_slice(&bytes).map_err(|e| corrupt(format!("not JSON: {e}")))?;
    let format = body.format.as_str().unwrap_or("");
    if format != CAPACITY_FORMAT {
        return Err(corrupt(format!(
            "format {format:?}, expected {CAPACITY_FORMAT:?}"
        )));
    }
    match body.version.as_u64() {
        Some(CAPACITY_VERSION) => {}
        Some(v) if v > CAPACITY_VERSION => {
            return Err(corrupt(format!(
                "capacity file version {v} is newer than this servebench reads \
                 (version {CAPACITY_VERSION}); upgrade servebench"
            )))
        }
        v => {
            return Err(corrupt(format!(
                "unsupported capacity file version {v:?} (this servebench reads version \
                 {CAPACITY_VERSION})"
            )))
        }
    }
    let c = body
        .capacity
        .ok_or_else(|| corrupt("no `capacity` field".into()))?;
    serde_json::from_value(c).map_err(|e| corrupt(format!("bad capacity: {e}")))
}

impl ReportDir {
    /// The capacity file of run `name` (`new`, a baseline) of benchmark `id`.
    pub fn capacity_file(&self, id: &str, name: &str) -> PathBuf {
        self.run_dir(id, name).join(CAPACITY_FILE)
    }

    /// A capacity named on the command line: a `capacity.json` path, a
    /// folder holding one, or `<name>/<run>` under this report folder;
    /// `None` when the reference names no capacity file.
    pub fn resolve_capacity(&self, reference: &str) -> Option<PathBuf> {
        let p = Path::new(reference);
        if p.is_file() {
            return (p.file_name()? == CAPACITY_FILE).then(|| p.to_path_buf());
        }
        if p.join(CAPACITY_FILE).is_file() {
            return Some(p.join(CAPACITY_FILE));
        }
        let under = self.root().join(sanitize_id(reference)).join(CAPACITY_FILE);
        (p.is_relative() && under.is_file()).then_some(under)
    }
}
