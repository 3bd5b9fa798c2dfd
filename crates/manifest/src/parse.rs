//! Stage one of reading a manifest: text (YAML or JSON) into raw serde structs, with every serde
//! error turned into a [`ManifestError`] carrying the field path.
//!
//! Stage two (semantic validation into the public types) lives next to each manifest's types.

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::error::{join, quoted, ManifestError, ManifestErrors};

/// The concrete syntax of a manifest text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JSON: the first non-blank character is `{`.
    Json,
    /// YAML: everything else.
    Yaml,
}

impl Format {
    /// Detects the format: JSON when the first non-whitespace character is `{`, else YAML.
    ///
    /// YAML would accept the JSON too, but serde_json's messages are better for JSON input.
    pub fn detect(text: &str) -> Format {
        match text.trim_start().chars().next() {
            Some('{') => Format::Json,
            _ => Format::Yaml,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Format::Json => "JSON",
            Format::Yaml => "YAML",
        }
    }
}

/// Deserializes `text` into `T`, mapping serde's error to a path/found/expected triple.
pub(crate) fn from_text<T: DeserializeOwned>(text: &str) -> Result<T, ManifestErrors> {
    // An empty YAML document would otherwise read as an empty mapping and be reported as a
    // missing first field, which hides the real problem.
    if is_blank(text) {
        return Err(ManifestError::new("", "an empty document", "a manifest").into());
    }
    let format = Format::detect(text);
    let result = match format {
        Format::Json => from_json(text),
        Format::Yaml => from_yaml(text),
    };
    result.map_err(|(path, msg)| serde_error(&path, &msg, format).into())
}

/// Nothing but blank lines and YAML comments.
fn is_blank(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .all(|l| l.is_empty() || l.starts_with('#'))
}

fn from_json<T: DeserializeOwned>(text: &str) -> Result<T, (String, String)> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(&mut de)
        .map_err(|e| (e.path().to_string(), e.inner().to_string()))?;
    // Trailing garbage after the object is a syntax error, not a field problem.
    de.end().map_err(|e| (".".to_string(), e.to_string()))?;
    Ok(value)
}

fn from_yaml<T: DeserializeOwned>(text: &str) -> Result<T, (String, String)> {
    let de = serde_norway::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| (e.path().to_string(), e.inner().to_string()))
}

/// Reads a manifest file; an unreadable file is an error for the document as a whole.
pub(crate) fn read_file(path: &Path) -> Result<String, ManifestErrors> {
    std::fs::read_to_string(path).map_err(|e| {
        ManifestErrors::from(
            ManifestError::new("", e.to_string(), "a readable UTF-8 manifest file").in_file(path),
        )
    })
}

/// Checks the optional `kind` key against the manifest being read.
pub(crate) fn check_kind(kind: Option<&str>, want: &str) -> Result<(), ManifestError> {
    match kind {
        None => Ok(()),
        Some(k) if k == want => Ok(()),
        Some(k) => Err(ManifestError::new(
            "kind",
            quoted(k),
            format!("`{want}` (or no `kind` at all)"),
        )),
    }
}

/// Turns serde_path_to_error's path and serde's message into a [`ManifestError`].
///
/// serde's messages follow fixed patterns (`unknown field `x`, expected ...`, `missing field
/// `x``, `invalid type: X, expected Y`, ...); anything else is a syntax error of the document.
fn serde_error(path: &str, msg: &str, format: Format) -> ManifestError {
    // "." is serde_path_to_error's root; "?" marks a segment it could not name (a syntax
    // error in a key): keep the part of the path that is known.
    let path = path.split('?').next().unwrap_or("").trim_end_matches('.');
    let core = strip_location(msg);
    let known = [
        "unknown field `",
        "missing field `",
        "duplicate field `",
        "unknown variant `",
        "invalid type: ",
        "invalid value: ",
        "invalid length ",
    ];
    // serde_norway prefixes its own path ("modules[0]: ..."); start at serde's own words.
    match known.iter().filter_map(|k| core.find(k)).min() {
        Some(start) => data_error(path, &core[start..]),
        None => ManifestError::new(
            path,
            format!("a syntax error: {msg}"),
            format!("a well-formed {} document", format.name()),
        ),
    }
}

fn data_error(path: &str, msg: &str) -> ManifestError {
    if let Some(rest) = msg.strip_prefix("unknown field `") {
        let (name, tail) = backticked(rest);
        let expected = match tail.strip_prefix(", expected ") {
            Some(list) => list.to_string(),
            None => "no fields at all here".to_string(),
        };
        return ManifestError::new(
            with_key(path, name),
            format!("unknown field `{name}`"),
            expected,
        );
    }
    if let Some(rest) = msg.strip_prefix("missing field `") {
        let (name, _) = backticked(rest);
        return ManifestError::new(
            with_key(path, name),
            "nothing",
            format!("the required field `{name}`"),
        );
    }
    if let Some(rest) = msg.strip_prefix("duplicate field `") {
        let (name, _) = backticked(rest);
        return ManifestError::new(
            with_key(path, name),
            "the field twice",
            "each field at most once",
        );
    }
    if let Some(rest) = msg.strip_prefix("unknown variant `") {
        let (name, tail) = backticked(rest);
        let expected = tail.strip_prefix(", expected ").unwrap_or(tail);
        return ManifestError::new(path, quoted(name), expected.to_string());
    }
    let body = ["invalid type: ", "invalid value: ", "invalid length "]
        .iter()
        .find_map(|p| msg.strip_prefix(p))
        .unwrap_or(msg);
    // `rfind`: the found part may quote a string that itself contains ", expected ".
    match body.rfind(", expected ") {
        Some(i) => ManifestError::new(
            path,
            pretty_found(&body[..i]),
            pretty_expected(&body[i + 11..]),
        ),
        None => ManifestError::new(path, body.to_string(), "a valid value"),
    }
}

/// serde_path_to_error already ends the path with the offending key for unknown and missing
/// fields in some formats and not in others; append it only when it is not there yet.
fn with_key(path: &str, key: &str) -> String {
    if path == key || path.ends_with(&format!(".{key}")) {
        path.to_string()
    } else {
        join(path, key)
    }
}

/// Splits "name`rest" at the closing backtick.
fn backticked(s: &str) -> (&str, &str) {
    match s.find('`') {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, ""),
    }
}

/// Removes the " at line L column C" that serde_json and serde_norway append: the path says
/// more, and the position would differ between the YAML and JSON spelling of one manifest.
fn strip_location(msg: &str) -> &str {
    match msg.rfind(" at line ") {
        Some(i) if msg[i..].contains(" column ") => &msg[..i],
        _ => msg,
    }
}

/// serde's wording for values ("unit value", "sequence") in manifest vocabulary.
fn pretty_found(found: &str) -> String {
    match found {
        "unit value" => "null (no value)".to_string(),
        "sequence" => "a list".to_string(),
        "map" => "a mapping".to_string(),
        other => other.to_string(),
    }
}

/// serde's names for Rust types ("u32", "a sequence") in manifest vocabulary.
fn pretty_expected(expected: &str) -> String {
    match expected {
        "u8" | "u16" | "u32" | "u64" | "usize" => "a non-negative integer".to_string(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "an integer".to_string(),
        "f32" | "f64" => "a number".to_string(),
        "a sequence" => "a list".to_string(),
        "a map" => "a mapping".to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_json_by_first_brace() {
        assert_eq!(Format::detect("  \n{\"a\":1}"), Format::Json);
        assert_eq!(Format::detect("a: 1"), Format::Yaml);
        assert_eq!(Format::detect(""), Format::Yaml);
    }

    #[test]
    fn maps_unknown_field() {
        let e = serde_error(
            "modules[0]",
            "unknown field `foo`, expected `name` or `file`",
            Format::Json,
        );
        assert_eq!(e.path, "modules[0].foo");
        assert_eq!(e.expected, "`name` or `file`");
        let e = serde_error(
            "modules[0].foo",
            "unknown field `foo`, expected `a`",
            Format::Yaml,
        );
        assert_eq!(e.path, "modules[0].foo");
    }

    #[test]
    fn maps_invalid_type_and_strips_location() {
        let msg =
            "modules[0].x: invalid type: string \"a, expected b\", expected i64 at line 3 column 9";
        let e = serde_error("modules[0].x", msg, Format::Yaml);
        assert_eq!(e.found, "string \"a, expected b\"");
        assert_eq!(e.expected, "an integer");
    }

    #[test]
    fn unknown_messages_are_syntax_errors() {
        let e = serde_error(
            ".",
            "did not find expected key at line 2 column 1",
            Format::Yaml,
        );
        assert_eq!(e.path, "");
        assert!(e.found.contains("line 2"));
        assert!(e.expected.contains("YAML"));
    }
}
