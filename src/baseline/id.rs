//! Benchmark ids and baseline names, made safe to use as paths.
//!
//! A benchmark id is `group/name[/parameter]`; each `/`-separated segment
//! becomes one folder under the report directory, so every segment is
//! reduced to `[A-Za-z0-9._-]`, and no segment may be empty, `.` or `..`:
//! an id can never leave the report directory.

use super::BaselineError;

/// One segment with every character outside `[A-Za-z0-9._-]` replaced by
/// `_`; a segment made only of dots (`.`, `..`) becomes underscores too.
fn clean_segment(s: &str) -> String {
    let out: String = s
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.chars().all(|c| c == '.') {
        "_".repeat(out.len().max(1))
    } else {
        out
    }
}

/// The path-safe form of a benchmark id: segments split on `/` (and `\`),
/// empty segments dropped, each segment cleaned. Never empty, never
/// absolute, never holds `..`.
///
/// ```
/// use servebench::baseline::sanitize_id;
/// assert_eq!(sanitize_id("static/short sweep/p128"), "static/short_sweep/p128");
/// assert_eq!(sanitize_id("/../etc//passwd"), "__/etc/passwd");
/// assert_eq!(sanitize_id(""), "_");
/// ```
pub fn sanitize_id(id: &str) -> String {
    let segs: Vec<String> = id
        .split(['/', '\\'])
        .filter(|s| !s.trim().is_empty())
        .map(clean_segment)
        .collect();
    if segs.is_empty() {
        "_".to_string()
    } else {
        segs.join("/")
    }
}

/// Folder names the report directory uses for itself.
pub const RESERVED_NAMES: [&str; 2] = [super::NEW_RUN, super::PREVIOUS_RUN];

/// Check a baseline name given with `flag` (`--save-baseline`...): one
/// segment of `[A-Za-z0-9._-]`, not `.`/`..`, not a reserved name (`new`, `previous`).
///
/// ```
/// use servebench::baseline::check_baseline_name;
/// assert!(check_baseline_name("--baseline", "main").is_ok());
/// assert!(check_baseline_name("--baseline", "../main").is_err());
/// assert!(check_baseline_name("--save-baseline", "new").is_err());
/// ```
pub fn check_baseline_name(flag: &str, name: &str) -> Result<(), BaselineError> {
    let bad = |reason: &str| {
        Err(BaselineError::BadName {
            flag: flag.to_string(),
            name: name.to_string(),
            reason: reason.to_string(),
        })
    };
    if name.is_empty() {
        return bad("is empty");
    }
    if clean_segment(name) != name {
        return bad("may only hold letters, digits, `.`, `_` and `-`");
    }
    if name.chars().all(|c| c == '.') {
        return bad("is not a folder name");
    }
    if RESERVED_NAMES.contains(&name) {
        return bad("is reserved for the latest run (`new`) and the one before (`previous`)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_cannot_escape() {
        for evil in [
            "..",
            "../..",
            "/abs/path",
            "a/../../b",
            "C:\\x\\..",
            ". /.",
            "a/./b",
        ] {
            let s = sanitize_id(evil);
            assert!(!s.starts_with('/'), "{evil} -> {s}");
            assert!(
                s.split('/').all(|seg| seg != ".." && seg != "."),
                "{evil} -> {s}"
            );
            assert!(std::path::Path::new(&s).is_relative());
        }
        assert_eq!(sanitize_id("g/n/p1024-o128"), "g/n/p1024-o128");
        assert_eq!(sanitize_id("ünï/x"), "_n_/x");
        assert_eq!(sanitize_id("C:\\x"), "C_/x");
    }

    #[test]
    fn names() {
        for ok in ["main", "pr-12", "v1.2_rc"] {
            check_baseline_name("--baseline", ok).unwrap();
        }
        for bad in ["", "..", "a/b", "new", "x y"] {
            let e = check_baseline_name("--baseline", bad)
                .unwrap_err()
                .to_string();
            assert!(e.contains("--baseline"), "{e}");
        }
    }
}
