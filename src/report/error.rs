//! The error of the reports.

/// Why a report could not be written. A single plot that fails is not an
/// error: the page shows a note instead of the plot.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file or folder could not be written or read.
    #[error("cannot write report file {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A template failed to render (a bug in `templates/`).
    #[error("cannot render report template {template}: {reason}")]
    Template { template: String, reason: String },
    /// The run or comparison file could not be written.
    #[error(transparent)]
    Data(#[from] crate::baseline::BaselineError),
    /// The CSV could not be written.
    #[error(transparent)]
    Csv(#[from] crate::report::CsvError),
}

impl ReportError {
    /// An I/O error on `path`.
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> ReportError {
        ReportError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

/// Write `text` to `path`, creating the parent folders.
pub(crate) fn write_file(path: &std::path::Path, text: &str) -> Result<(), ReportError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| ReportError::io(dir, e))?;
    }
    std::fs::write(path, text).map_err(|e| ReportError::io(path, e))
}
