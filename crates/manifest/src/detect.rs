//! Reading a manifest without knowing its kind in advance (e.g. `silverline validate FILE`).
//!
//! The `kind` key decides when present; otherwise the top-level keys do: `modules` means an
//! application, `uuid` or `apis` a host, `cpu` a platform, `links` a topology.

use std::fmt;
use std::path::Path;

use serde::de::IgnoredAny;
use serde::Deserialize;

use crate::application::{absolute, manifest_dir};
use crate::error::{quoted, ManifestError, ManifestErrors};
use crate::parse;
use crate::{ApplicationManifest, HostManifest, PlatformManifest, TopologyManifest};

/// The four kinds of manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ManifestKind {
    /// [`ApplicationManifest`].
    Application,
    /// [`HostManifest`].
    Host,
    /// [`PlatformManifest`].
    Platform,
    /// [`TopologyManifest`].
    Topology,
}

impl ManifestKind {
    /// All kinds, in documentation order.
    pub const ALL: [ManifestKind; 4] = [
        ManifestKind::Application,
        ManifestKind::Host,
        ManifestKind::Platform,
        ManifestKind::Topology,
    ];

    /// The value of the `kind` key for this kind.
    pub fn as_str(self) -> &'static str {
        match self {
            ManifestKind::Application => "application",
            ManifestKind::Host => "host",
            ManifestKind::Platform => "platform",
            ManifestKind::Topology => "topology",
        }
    }

    /// The kind whose `kind` key is `s`.
    pub fn from_key(s: &str) -> Option<ManifestKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for ManifestKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A manifest of any of the four kinds.
// Parsed once per file and matched right away, so the size of the platform variant does not
// matter and boxing it would only make matching clumsier.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum AnyManifest {
    /// An application manifest.
    Application(ApplicationManifest),
    /// A host manifest.
    Host(HostManifest),
    /// A platform manifest.
    Platform(PlatformManifest),
    /// A topology manifest.
    Topology(TopologyManifest),
}

impl AnyManifest {
    /// Which kind this is.
    pub fn kind(&self) -> ManifestKind {
        match self {
            AnyManifest::Application(_) => ManifestKind::Application,
            AnyManifest::Host(_) => ManifestKind::Host,
            AnyManifest::Platform(_) => ManifestKind::Platform,
            AnyManifest::Topology(_) => ManifestKind::Topology,
        }
    }
}

/// Just the keys detection looks at; everything else is left for the real parse.
#[derive(Deserialize)]
#[serde(expecting = "a manifest (a mapping)")]
struct Keys {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    modules: Option<IgnoredAny>,
    #[serde(default)]
    uuid: Option<IgnoredAny>,
    #[serde(default)]
    apis: Option<IgnoredAny>,
    #[serde(default)]
    cpu: Option<IgnoredAny>,
    #[serde(default)]
    links: Option<IgnoredAny>,
}

/// The kind of the manifest in `text`, by its `kind` key or else by its top-level keys.
pub fn detect_kind(text: &str) -> Result<ManifestKind, ManifestErrors> {
    let keys: Keys = parse::from_text(text)?;
    if let Some(k) = keys.kind {
        let expected = "one of `application`, `host`, `platform`, `topology`";
        return ManifestKind::from_key(&k)
            .ok_or_else(|| ManifestError::new("kind", quoted(&k), expected).into());
    }
    let kind = if keys.modules.is_some() {
        ManifestKind::Application
    } else if keys.uuid.is_some() || keys.apis.is_some() {
        ManifestKind::Host
    } else if keys.cpu.is_some() {
        ManifestKind::Platform
    } else if keys.links.is_some() {
        ManifestKind::Topology
    } else {
        let expected = "a `kind` key, or one of the top-level keys `modules` (application), \
                        `uuid`/`apis` (host), `cpu` (platform) or `links` (topology)";
        return Err(ManifestError::new("", "none of them", expected).into());
    };
    Ok(kind)
}

/// Parses and validates a manifest of any kind; `base_dir` resolves an application
/// manifest's relative paths and is ignored for the other kinds.
pub fn parse_any(text: &str, base_dir: &Path) -> Result<AnyManifest, ManifestErrors> {
    Ok(match detect_kind(text)? {
        ManifestKind::Application => {
            AnyManifest::Application(ApplicationManifest::from_str(text, base_dir)?)
        }
        ManifestKind::Host => AnyManifest::Host(text.parse()?),
        ManifestKind::Platform => AnyManifest::Platform(text.parse()?),
        ManifestKind::Topology => AnyManifest::Topology(text.parse()?),
    })
}

/// Reads, parses and validates the manifest at `path`, whatever its kind. Errors carry the file
/// name.
pub fn parse_any_file(path: &Path) -> Result<AnyManifest, ManifestErrors> {
    let text = parse::read_file(path)?;
    parse_any(&text, &absolute(&manifest_dir(path))).map_err(|e| e.in_file(path))
}
