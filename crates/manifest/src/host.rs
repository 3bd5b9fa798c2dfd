//! The host manifest (Fig. 4 of the paper): who a Host instance is (uuid, name) and what it
//! offers (system APIs, tags, platform id). A Host sends it to the Orchestrator on registration.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize, Serializer};

use crate::error::{at, quoted, Errors, ManifestError, ManifestErrors};
use crate::ids::check_api;
use crate::parse;

/// Longest host name.
pub const MAX_HOST_NAME_LEN: usize = 63;

/// A Host instance's unique id: a canonical 8-4-4-4-12 hexadecimal UUID, stored lowercase.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HostUuid(String);

impl HostUuid {
    /// Validates `s` as a canonical UUID (either case; stored lowercase).
    pub fn parse(s: &str) -> Result<Self, ManifestError> {
        let groups: Vec<&str> = s.split('-').collect();
        let lens_ok = groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12]);
        let hex_ok = groups
            .iter()
            .all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()));
        if lens_ok && hex_ok {
            Ok(HostUuid(s.to_ascii_lowercase()))
        } else {
            let expected = "a UUID in canonical 8-4-4-4-12 hexadecimal form, \
                            e.g. 5f937916-d29d-4f66-801e-3d69f57728e2";
            Err(ManifestError::new("", quoted(s), expected))
        }
    }

    /// A fresh random (version 4) UUID.
    pub fn new_v4() -> Self {
        let mut b = random_bytes();
        b[6] = (b[6] & 0x0f) | 0x40; // version 4
        b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
        let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
        let s = format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        );
        HostUuid(s)
    }

    /// The UUID, lowercase.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for HostUuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// 16 random bytes from the kernel; without /dev/urandom, from std's randomly keyed hasher
/// mixed with the time and a counter (good enough for ids, not for secrets).
fn random_bytes() -> [u8; 16] {
    use std::io::Read;
    let mut b = [0u8; 16];
    let from_kernel = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut b));
    if from_kernel.is_err() {
        b = hashed_bytes();
    }
    b
}

fn hashed_bytes() -> [u8; 16] {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut out = [0u8; 16];
    for half in out.chunks_mut(8) {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        h.write_u128(std::time::UNIX_EPOCH.elapsed().map_or(0, |d| d.as_nanos()));
        half.copy_from_slice(&h.finish().to_le_bytes());
    }
    out
}

/// A validated host manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostManifest {
    /// Unique id of this Host instance.
    pub uuid: HostUuid,
    /// Human-friendly name (1..=63 characters, no control characters).
    pub name: String,
    /// System APIs offered, each `namespace:name` (e.g. `sl:channels`).
    pub apis: Vec<String>,
    /// Tags and platform id.
    pub metadata: HostMetadata,
}

/// Deployment-relevant facts about a Host.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[serde(expecting = "host metadata (a mapping with `tags` and `platformId`)")]
pub struct HostMetadata {
    /// Free-form tags the Orchestrator matches placement constraints against.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Id of the platform manifest of the machine this Host runs on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_id: Option<String>,
    /// Most module instances the Host holds at once (its module slots); the Orchestrator
    /// places no more there. A running Host reports the value it applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_modules: Option<u32>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[serde(expecting = "a host manifest (a mapping with `uuid`, `name` and `apis`)")]
struct RawHost {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kind: Option<String>,
    uuid: String,
    name: String,
    apis: Vec<String>,
    #[serde(default)]
    metadata: HostMetadata,
}

impl HostManifest {
    /// A manifest for a new Host instance named `name`, with a fresh random uuid, no APIs and
    /// no metadata (the caller fills those in).
    pub fn generate(name: &str) -> Self {
        HostManifest {
            uuid: HostUuid::new_v4(),
            name: name.to_string(),
            apis: Vec::new(),
            metadata: HostMetadata::default(),
        }
    }

    /// Reads, parses and validates the host manifest at `path`.
    pub fn from_file(path: &Path) -> Result<Self, ManifestErrors> {
        parse::read_file(path)?
            .parse()
            .map_err(|e: ManifestErrors| e.in_file(path))
    }

    /// True if the Host offers the API `api` (e.g. `sl:channels`).
    pub fn has_api(&self, api: &str) -> bool {
        self.apis.iter().any(|a| a == api)
    }

    /// True if the Host carries tag `tag`.
    pub fn has_tag(&self, tag: &str) -> bool {
        self.metadata.tags.iter().any(|t| t == tag)
    }

    /// The manifest as JSON in the manifest schema.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("manifest types always serialize")
    }

    /// The manifest as YAML in the manifest schema.
    pub fn to_yaml(&self) -> String {
        serde_norway::to_string(self).expect("manifest types always serialize")
    }

    fn to_raw(&self) -> RawHost {
        RawHost {
            kind: Some("host".into()),
            uuid: self.uuid.to_string(),
            name: self.name.clone(),
            apis: self.apis.clone(),
            metadata: self.metadata.clone(),
        }
    }
}

impl FromStr for HostManifest {
    type Err = ManifestErrors;

    /// Parses and validates a host manifest (YAML, or JSON if it starts with `{`).
    fn from_str(text: &str) -> Result<Self, ManifestErrors> {
        validate(parse::from_text(text)?)
    }
}

impl Serialize for HostManifest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_raw().serialize(s)
    }
}

fn validate(raw: RawHost) -> Result<HostManifest, ManifestErrors> {
    let mut errs = Errors::default();
    if let Err(e) = parse::check_kind(raw.kind.as_deref(), "host") {
        errs.add(e);
    }
    let uuid = HostUuid::parse(&raw.uuid).unwrap_or_else(|mut e| {
        e.path = "uuid".into();
        errs.add(e);
        HostUuid(raw.uuid.clone())
    });
    let name_ok = (1..=MAX_HOST_NAME_LEN).contains(&raw.name.chars().count())
        && !raw.name.chars().any(char::is_control)
        && !raw.name.trim().is_empty();
    if !name_ok {
        errs.push(
            "name",
            quoted(&raw.name),
            "a name of 1 to 63 printable characters",
        );
    }
    for (i, api) in raw.apis.iter().enumerate() {
        if let Err(expected) = check_api(api) {
            errs.push(&at("apis", i), quoted(api), expected);
        }
    }
    for (i, tag) in raw.metadata.tags.iter().enumerate() {
        if tag.trim().is_empty() {
            errs.push(&at("metadata.tags", i), quoted(tag), "a non-empty tag");
        }
    }
    if raw
        .metadata
        .platform_id
        .as_deref()
        .is_some_and(|p| p.trim().is_empty())
    {
        errs.push("metadata.platformId", quoted(""), "a non-empty platform id");
    }
    if raw.metadata.max_modules == Some(0) {
        errs.push("metadata.maxModules", "0", "at least 1 module slot");
    }
    let host = HostManifest {
        uuid,
        name: raw.name,
        apis: raw.apis,
        metadata: raw.metadata,
    };
    errs.finish(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_uuids_are_canonical_and_distinct() {
        let a = HostUuid::new_v4();
        let b = HostUuid::new_v4();
        assert_ne!(a, b);
        assert!(HostUuid::parse(a.as_str()).is_ok());
        assert_eq!(&a.as_str()[14..15], "4");
        assert!(matches!(&a.as_str()[19..20], "8" | "9" | "a" | "b"));
    }

    #[test]
    fn fallback_randomness_differs() {
        assert_ne!(hashed_bytes(), hashed_bytes());
    }

    #[test]
    fn uuid_parse_rules() {
        assert!(HostUuid::parse("5F937916-D29D-4F66-801E-3D69F57728E2").is_ok());
        assert!(HostUuid::parse("5f937916d29d4f66801e3d69f57728e2").is_err());
        assert!(HostUuid::parse("5f937916-d29d-4f66-801e-3d69f57728eg").is_err());
        assert!(HostUuid::parse("").is_err());
    }

    #[test]
    fn generated_manifest_validates() {
        let mut h = HostManifest::generate("edge 1");
        h.apis.push("sl:channels".into());
        let back: HostManifest = h.to_json().parse().unwrap();
        assert_eq!(back, h);
    }
}
