//! The one error type of this crate: a field path, what was found there and what was expected.
//!
//! Every problem in a manifest, whether serde noticed it (unknown field, wrong type, missing
//! field) or semantic validation did (period too short, unknown channel), is reported the same
//! way so that a person can fix the file without reading Rust.

use std::fmt;
use std::path::{Path, PathBuf};

/// One problem in a manifest, located by its field path.
///
/// Displays as `modules[1].trigger.periodInNs: expected a positive integer number of
/// nanoseconds, found -5`, prefixed by the file name when the manifest came from a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestError {
    /// The file the manifest was read from, when it was read from a file.
    pub file: Option<PathBuf>,
    /// Field path in `a.b[1].c` form, using the manifest's own (camelCase) keys; empty for the
    /// document as a whole (syntax errors, unreadable file, unrecognised manifest).
    pub path: String,
    /// What the manifest contains at `path`.
    pub found: String,
    /// What would have been accepted there.
    pub expected: String,
}

impl ManifestError {
    /// An error at `path` (see [`ManifestError::path`]).
    pub fn new(
        path: impl Into<String>,
        found: impl Into<String>,
        expected: impl Into<String>,
    ) -> Self {
        ManifestError {
            file: None,
            path: path.into(),
            found: found.into(),
            expected: expected.into(),
        }
    }

    /// The same error, attributed to the manifest file `file`.
    pub fn in_file(mut self, file: &Path) -> Self {
        self.file = Some(file.to_path_buf());
        self
    }
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}: ", file.display())?;
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        write!(f, "expected {}, found {}", self.expected, self.found)
    }
}

impl std::error::Error for ManifestError {}

/// All problems found in one manifest (never empty when returned as an error).
///
/// Validation keeps going after the first problem so that one run shows everything to fix;
/// displays one error per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestErrors(pub Vec<ManifestError>);

impl ManifestErrors {
    /// The errors, in document order as far as validation could keep it.
    pub fn iter(&self) -> std::slice::Iter<'_, ManifestError> {
        self.0.iter()
    }

    /// How many errors there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are none (only possible for a hand-built value).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first error whose path is exactly `path`, handy in tests and tools.
    pub fn at(&self, path: &str) -> Option<&ManifestError> {
        self.0.iter().find(|e| e.path == path)
    }

    /// The same errors, all attributed to the manifest file `file`.
    pub fn in_file(self, file: &Path) -> Self {
        ManifestErrors(self.0.into_iter().map(|e| e.in_file(file)).collect())
    }
}

impl From<ManifestError> for ManifestErrors {
    fn from(e: ManifestError) -> Self {
        ManifestErrors(vec![e])
    }
}

impl IntoIterator for ManifestErrors {
    type Item = ManifestError;
    type IntoIter = std::vec::IntoIter<ManifestError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl fmt::Display for ManifestErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ManifestErrors {}

/// Collects errors during validation; validators push and carry on.
#[derive(Default)]
pub(crate) struct Errors(Vec<ManifestError>);

impl Errors {
    pub(crate) fn push(
        &mut self,
        path: &str,
        found: impl Into<String>,
        expected: impl Into<String>,
    ) {
        self.0.push(ManifestError::new(path, found, expected));
    }

    pub(crate) fn add(&mut self, e: ManifestError) {
        self.0.push(e);
    }

    /// `value` if nothing was pushed, otherwise all the errors.
    pub(crate) fn finish<T>(self, value: T) -> Result<T, ManifestErrors> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(ManifestErrors(self.0))
        }
    }
}

/// `parent.key`, or `key` at the top level.
pub(crate) fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// `parent[index]`.
pub(crate) fn at(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

/// A string value as shown in `found`: quoted, with escapes, so blanks and control characters
/// are visible.
pub(crate) fn quoted(s: &str) -> String {
    format!("{s:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_with_and_without_file() {
        let e = ManifestError::new("modules[1].trigger.periodInNs", "-5", "a positive integer");
        assert_eq!(
            e.to_string(),
            "modules[1].trigger.periodInNs: expected a positive integer, found -5"
        );
        let e = e.in_file(Path::new("app.yaml"));
        assert!(e.to_string().starts_with("app.yaml: modules[1]"));
    }

    #[test]
    fn errors_display_one_per_line() {
        let errs = ManifestErrors(vec![
            ManifestError::new("a", "1", "2"),
            ManifestError::new("", "x", "y"),
        ]);
        assert_eq!(
            errs.to_string(),
            "a: expected 2, found 1\nexpected y, found x"
        );
    }

    #[test]
    fn path_helpers() {
        assert_eq!(join("", "name"), "name");
        assert_eq!(join(&at("modules", 2), "file"), "modules[2].file");
    }
}
