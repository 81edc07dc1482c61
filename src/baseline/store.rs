//! The report folder and the versioned run files in it.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{sanitize_id, BaselineError, NEW_RUN};
use crate::analysis::RunComparison;
use crate::metrics::RunData;

/// The `format` tag of a run file.
pub const FORMAT: &str = "servebench-run";
/// The run-file version this servebench writes (and the newest it reads).
pub const VERSION: u64 = 1;
/// Environment variable that moves the report folder.
pub const REPORT_DIR_ENV: &str = "SERVEBENCH_REPORT_DIR";
/// The report folder when nothing says otherwise (relative to the working
/// directory; `cargo bench` runs in the package root).
const DEFAULT_REPORT_DIR: &str = "target-reports";

/// What a `run.json` holds: a format tag, a version and the run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunFile {
    pub format: String,
    pub version: u64,
    pub run: RunData,
}

/// The report folder and the paths inside it.
///
/// ```
/// use servebench::baseline::ReportDir;
/// let dir = ReportDir::new("target-reports");
/// assert_eq!(
///     dir.run_file("static/short", "main"),
///     std::path::Path::new("target-reports/static/short/main/run.json")
/// );
/// assert!(dir.bench_dir("../../etc").starts_with("target-reports"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportDir {
    root: PathBuf,
}

impl ReportDir {
    /// A report folder at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        ReportDir { root: root.into() }
    }

    /// `$SERVEBENCH_REPORT_DIR`, else `target-reports`.
    pub fn from_env() -> Self {
        match std::env::var_os(REPORT_DIR_ENV).filter(|v| !v.is_empty()) {
            Some(v) => ReportDir::new(v),
            None => ReportDir::new(DEFAULT_REPORT_DIR),
        }
    }

    /// The root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Folder of one benchmark (its id sanitised).
    pub fn bench_dir(&self, id: &str) -> PathBuf {
        self.root.join(sanitize_id(id))
    }

    /// Folder of one saved run of a benchmark (`new`, or a baseline name).
    pub fn run_dir(&self, id: &str, name: &str) -> PathBuf {
        self.bench_dir(id).join(sanitize_id(name))
    }

    /// `run.json` of one saved run.
    pub fn run_file(&self, id: &str, name: &str) -> PathBuf {
        self.run_dir(id, name).join("run.json")
    }

    /// Folder of the latest run of a benchmark.
    pub fn new_dir(&self, id: &str) -> PathBuf {
        self.run_dir(id, NEW_RUN)
    }

    /// The Markdown summary of a gated bench run.
    pub fn gate_summary(&self) -> PathBuf {
        self.root.join("gate-summary.md")
    }

    /// A run named on the command line: a `run.json` path, a folder holding
    /// one, or `<benchmark id>/<baseline name>` under this report folder.
    pub fn resolve(&self, reference: &str) -> Result<PathBuf, BaselineError> {
        let p = Path::new(reference);
        if p.is_file() {
            return Ok(p.to_path_buf());
        }
        if p.join("run.json").is_file() {
            return Ok(p.join("run.json"));
        }
        let as_id = p.is_relative() && !reference.ends_with(".json");
        let under = self.root.join(sanitize_id(reference)).join("run.json");
        if as_id && under.is_file() {
            return Ok(under);
        }
        Err(BaselineError::Missing {
            path: p.to_path_buf(),
            hint: as_id.then(|| {
                format!(
                    "not a run.json, a folder holding one, nor {}",
                    under.display()
                )
            }),
        })
    }
}

/// Write `bytes` to `path` atomically (temporary file, then rename).
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), BaselineError> {
    let io = |source| BaselineError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let tmp = path.with_extension("json.tmp");
    let mut f = std::fs::File::create(&tmp).map_err(io)?;
    f.write_all(bytes).and_then(|_| f.flush()).map_err(io)?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(io)
}

/// Save `run` to `path` as a version-1 run file.
pub fn save_run(path: &Path, run: &RunData) -> Result<(), BaselineError> {
    #[derive(Serialize)]
    struct Out<'a> {
        format: &'a str,
        version: u64,
        run: &'a RunData,
    }
    let out = Out {
        format: FORMAT,
        version: VERSION,
        run,
    };
    let bytes = serde_json::to_vec(&out).map_err(|e| BaselineError::Corrupt {
        path: path.to_path_buf(),
        reason: format!("cannot serialise: {e}"),
    })?;
    write_atomic(path, &bytes)
}

/// Load a run file, checking its format tag and version before the run.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let p = dir.path().join("run.json");
/// std::fs::write(&p, r#"{"format":"servebench-run","version":99,"run":{}}"#).unwrap();
/// let e = servebench::baseline::load_run(&p).unwrap_err().to_string();
/// assert!(e.contains("run.json") && e.contains("version 99 is newer"));
/// ```
pub fn load_run(path: &Path) -> Result<RunData, BaselineError> {
    let bytes = std::fs::read(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => BaselineError::Missing {
            path: path.to_path_buf(),
            hint: None,
        },
        _ => BaselineError::Io {
            path: path.to_path_buf(),
            source,
        },
    })?;
    let corrupt = |reason: String| BaselineError::Corrupt {
        path: path.to_path_buf(),
        reason,
    };
    let mut v: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| corrupt(format!("not JSON: {e}")))?;
    let format = v.get("format").and_then(|f| f.as_str()).unwrap_or("");
    if format != FORMAT {
        return Err(BaselineError::WrongFormat {
            path: path.to_path_buf(),
            found: format.to_string(),
        });
    }
    let version = v.get("version").and_then(|x| x.as_u64()).unwrap_or(0);
    if version > VERSION {
        return Err(BaselineError::NewerVersion {
            path: path.to_path_buf(),
            found: version,
        });
    }
    if version != VERSION {
        return Err(BaselineError::UnsupportedVersion {
            path: path.to_path_buf(),
            found: version,
        });
    }
    let run = v
        .get_mut("run")
        .map(serde_json::Value::take)
        .ok_or_else(|| corrupt("no `run` field".into()))?;
    let run: RunData = serde_json::from_value(run).map_err(|e| corrupt(format!("bad run: {e}")))?;
    for p in &run.points {
        for r in p.epochs.iter().flatten() {
            r.check()
                .map_err(|e| corrupt(format!("point {}: {e}", p.label.id())))?;
        }
    }
    Ok(run)
}

/// Save a comparison as `comparison.json` in `dir`.
pub fn save_comparison(dir: &Path, cmp: &RunComparison) -> Result<PathBuf, BaselineError> {
    let path = dir.join("comparison.json");
    let bytes = serde_json::to_vec_pretty(cmp).map_err(|e| BaselineError::Corrupt {
        path: path.clone(),
        reason: format!("cannot serialise: {e}"),
    })?;
    write_atomic(&path, &bytes)?;
    Ok(path)
}
