//! Identifier newtypes and the syntax rules for names, endpoints and API names.
//!
//! The newtypes keep a module name from being passed where a channel name is wanted. Values
//! built by this crate's parsers are always valid; `new`/`filter`/`topic` validate too.
//! Deserializing them directly (they are `serde(transparent)`) does not validate: go through a
//! manifest parser for untrusted input.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{quoted, ManifestError};

/// Longest application, module or channel name.
pub const MAX_NAME_LEN: usize = 63;
/// Longest MQTT topic or filter, in bytes (the MQTT limit).
pub const MAX_ENDPOINT_LEN: usize = 65535;

/// What a name must look like, for error messages.
pub(crate) const NAME_RULE: &str = "a name of 1 to 63 characters from A-Z, a-z, 0-9, `_` and `-`";

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The identifier as written in the manifest.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Wraps a value that the caller has validated (or will discard if invalid).
            pub(crate) fn unchecked(s: String) -> Self {
                $name(s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        // Lets maps keyed by the newtype be looked up with a plain `&str`.
        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

macro_rules! named_id {
    ($(#[$doc:meta])* $name:ident) => {
        string_id!($(#[$doc])* $name);

        impl $name {
            /// Validates `name` against the name rule (1..=63 of `[A-Za-z0-9_-]`).
            pub fn new(name: impl Into<String>) -> Result<Self, ManifestError> {
                let name = name.into();
                check_name(&name).map_err(|e| ManifestError::new("", quoted(&name), e))?;
                Ok($name(name))
            }
        }
    };
}

named_id!(
    /// Name of an application, unique among the applications of a deployment.
    AppName
);
named_id!(
    /// Name of a module, unique within its application.
    ModuleName
);
named_id!(
    /// Name of a channel, unique within its module across inputs and outputs.
    ChannelName
);
string_id!(
    /// An MQTT-style channel endpoint: a topic (outputs) or a topic filter with `+`/`#`
    /// wildcards (inputs).
    Endpoint
);

impl Endpoint {
    /// Validates `s` as a topic filter, the rule for input endpoints (wildcards allowed).
    pub fn filter(s: impl Into<String>) -> Result<Self, ManifestError> {
        let s = s.into();
        check_filter(&s).map_err(|e| ManifestError::new("", quoted(&s), e))?;
        Ok(Endpoint(s))
    }

    /// Validates `s` as a topic, the rule for output endpoints (no wildcards).
    pub fn topic(s: impl Into<String>) -> Result<Self, ManifestError> {
        let s = s.into();
        check_topic(&s).map_err(|e| ManifestError::new("", quoted(&s), e))?;
        Ok(Endpoint(s))
    }

    /// True if the endpoint contains a `+` or `#` wildcard level.
    pub fn has_wildcards(&self) -> bool {
        self.0.contains(['+', '#'])
    }
}

/// Checks the name rule; the error is the "expected" text.
pub(crate) fn check_name(name: &str) -> Result<(), String> {
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok_chars && (1..=MAX_NAME_LEN).contains(&name.len()) {
        Ok(())
    } else {
        Err(NAME_RULE.to_string())
    }
}

/// Rules common to topics and filters: non-empty, no NUL, at most 65535 bytes.
fn check_endpoint_common(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("a non-empty MQTT topic".to_string());
    }
    if s.contains('\0') {
        return Err("an MQTT topic without NUL characters".to_string());
    }
    if s.len() > MAX_ENDPOINT_LEN {
        return Err(format!("an MQTT topic of at most {MAX_ENDPOINT_LEN} bytes"));
    }
    Ok(())
}

/// An output endpoint: an MQTT topic name, which may not contain wildcards.
pub(crate) fn check_topic(s: &str) -> Result<(), String> {
    check_endpoint_common(s)?;
    if s.contains(['+', '#']) {
        return Err(
            "an MQTT topic without `+` or `#` wildcards (outputs publish to one topic)".into(),
        );
    }
    Ok(())
}

/// An input endpoint: an MQTT topic filter. `+` must be a whole level; `#` must be a whole
/// level and the last one.
pub(crate) fn check_filter(s: &str) -> Result<(), String> {
    check_endpoint_common(s)?;
    let levels: Vec<&str> = s.split('/').collect();
    for (i, level) in levels.iter().enumerate() {
        if level.contains('#') && (*level != "#" || i + 1 != levels.len()) {
            return Err("an MQTT topic filter where `#` is a whole level and the last one".into());
        }
        if level.contains('+') && *level != "+" {
            return Err("an MQTT topic filter where `+` is a whole level".into());
        }
    }
    Ok(())
}

/// A system API name such as `sl:channels`: `namespace:name`, both parts non-empty and made of
/// `[A-Za-z0-9_.-]`.
pub(crate) fn check_api(s: &str) -> Result<(), String> {
    let part_ok = |p: &str| {
        !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    };
    match s.split_once(':') {
        Some((ns, name)) if part_ok(ns) && part_ok(name) => Ok(()),
        _ => Err("an API name of the form `namespace:name`, e.g. `sl:channels`".into()),
    }
}

/// True for a system API name (`namespace:name`), see [`check_api`].
pub fn is_api_name(s: &str) -> bool {
    check_api(s).is_ok()
}

/// The import modules of the APIs silverline ships, with the API each belongs to, so that an
/// import no Host offers can still be named by its API. Hosts report their own mapping,
/// plug-ins included, when they register; this table only fills in for APIs no Host has.
pub const KNOWN_IMPORTS: &[(&str, &str)] = &[
    ("sl", "sl:channels"),
    ("sl_sidecar", "sl:sidecar"),
    ("wasi_snapshot_preview1", "wasm:wasi_preview1"),
    ("env", "env:reference-runtime"),
    ("sl_vss", "sl:vss"),
    ("sl_datalayer", "sl:datalayer"),
];

/// The name under which a module's writes through system APIs are switched like an output
/// channel (a handover flips it with the channels; a replica's gate opens and closes it). No
/// manifest channel can have it: `@` is not allowed in channel names.
pub const API_WRITES: &str = "@apis";

/// The API that import module `module` belongs to, if silverline ships it.
pub fn api_of_import(module: &str) -> Option<&'static str> {
    KNOWN_IMPORTS.iter().find(|(m, _)| *m == module).map(|(_, api)| *api)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(ModuleName::new("sensor_1-a").is_ok());
        assert!(ModuleName::new("").is_err());
        assert!(ModuleName::new("a b").is_err());
        assert!(ModuleName::new("x".repeat(64)).is_err());
        assert!(AppName::new("x".repeat(63)).is_ok());
    }

    #[test]
    fn filters() {
        for ok in ["a/b", "a/+/c", "#", "a/#", "+", "/a", "a//b", "+/+/#"] {
            assert!(check_filter(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a/#/b", "a#", "a/b+", "+a/b", "a\0b", "##"] {
            assert!(check_filter(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn topics() {
        assert!(check_topic("sensors/raw").is_ok());
        assert!(check_topic("sensors/+").is_err());
        assert!(check_topic("#").is_err());
        assert!(check_topic(&"a".repeat(65536)).is_err());
        assert!(Endpoint::topic("a/b").unwrap().as_str() == "a/b");
        assert!(Endpoint::filter("a/#").unwrap().has_wildcards());
    }

    #[test]
    fn apis() {
        assert!(check_api("sl:channels").is_ok());
        assert!(check_api("wasm:wasi_preview1").is_ok());
        assert!(check_api("channels").is_err());
        assert!(check_api(":x").is_err());
        assert!(check_api("a:b:c").is_err());
    }

    #[test]
    fn newtypes_compare_with_str() {
        let n = ModuleName::new("m").unwrap();
        assert_eq!(n, "m");
        assert_eq!(n.to_string(), "m");
    }
}
