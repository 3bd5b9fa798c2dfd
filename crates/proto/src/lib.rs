//! silverline's control plane: the topic layout and the versioned messages that the Orchestrator
//! and the Hosts exchange over MQTT (paper section IV-C, "internal Silverline communication API").
//!
//! This crate owns *what* is said on the control plane; it must not know how it is carried
//! (MQTT clients live in the agent and the Orchestrator) nor about wasmtime or HTTP. The full
//! description, with examples, is `docs/protocol.md`.
//!
//! Every message is JSON with a version field `"v": 1`. [`decode`] refuses other versions and
//! malformed payloads with a [`ProtoError`] that says what was wrong: receivers log and drop such
//! messages, they never crash on them.
//!
//! ```
//! use silverline_proto::{decode, encode, topics, Ack, CommandId};
//! let ack = Ack { command: CommandId("c-1".into()), ok: true, error: None, duplicate: false };
//! let bytes = encode(&ack);
//! assert_eq!(decode::<Ack>(&bytes).unwrap(), ack);
//! assert_eq!(topics::acks("edge-1"), "silverline/v1/hosts/edge-1/acks");
//! ```
#![deny(missing_docs)]

pub mod prometheus;
pub mod status;
pub mod topics;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use silverline_manifest::{HostManifest, PlatformManifest};
pub use status::{HostEvent, HostStatus, ModuleId};

/// The protocol version this crate speaks.
pub const VERSION: u32 = 1;

/// Why a control-plane payload was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProtoError {
    /// Not JSON, or not the expected shape.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// A version this build does not speak.
    #[error("unsupported protocol version {found} (this build speaks {VERSION})")]
    Version {
        /// The version in the message.
        found: u64,
    },
}

/// Serialise a message with the version field.
pub fn encode<T: Serialize>(msg: &T) -> Vec<u8> {
    let mut value = serde_json::to_value(msg).expect("control-plane messages serialise");
    if let serde_json::Value::Object(map) = &mut value {
        map.insert("v".into(), VERSION.into());
    }
    serde_json::to_vec(&value).expect("a JSON value serialises")
}

/// Parse a message, checking its version.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ProtoError> {
    let mut value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| ProtoError::Malformed(e.to_string()))?;
    let map = value.as_object_mut().ok_or_else(|| ProtoError::Malformed("expected a JSON object".into()))?;
    match map.remove("v").and_then(|v| v.as_u64()) {
        Some(v) if v == VERSION as u64 => {}
        Some(found) => return Err(ProtoError::Version { found }),
        None => return Err(ProtoError::Malformed("missing version field `v`".into())),
    }
    serde_json::from_value(value).map_err(|e| ProtoError::Malformed(e.to_string()))
}

/// Identifies one command; a re-delivered command with the same id is acknowledged again but
/// not executed twice.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CommandId(pub String);

impl std::fmt::Display for CommandId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Host → Orchestrator, on connect and whenever the Orchestrator says [`Hello`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Registration {
    /// Who the Host is (Fig. 4).
    #[serde(deserialize_with = "validated")]
    pub host: HostManifest,
    /// What it runs on (Fig. 3).
    #[serde(deserialize_with = "validated")]
    pub platform: PlatformManifest,
    /// Module instances it runs right now (for reconciliation after restarts).
    pub modules: Vec<RunningModule>,
    /// When the Host made this message, on its monotonic clock in ns: echoed in the
    /// [`CommandKind::Lease`] that answers it.
    #[serde(default)]
    pub lease_ref: u64,
    /// Import module → API name for every API the Host offers, so that the Orchestrator can
    /// place modules by what they import even for APIs it has never heard of.
    #[serde(default)]
    pub api_imports: std::collections::BTreeMap<String, String>,
}

/// Manifests travel as JSON and are validated on arrival, exactly as a file would be.
fn validated<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: std::str::FromStr<Err = silverline_manifest::ManifestErrors>,
{
    let value = serde_json::Value::deserialize(d)?;
    value.to_string().parse().map_err(|e: silverline_manifest::ManifestErrors| serde::de::Error::custom(e.to_string().replace('\n', "; ")))
}

/// A module instance a Host runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunningModule {
    /// Instance id.
    pub id: ModuleId,
    /// sha256 of its Wasm.
    pub sha256: String,
}

/// Host → Orchestrator, retained; the Host's MQTT last will sets `online: false`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostState {
    /// Host name.
    pub host: String,
    /// Connected or not.
    pub online: bool,
}

/// Host → Orchestrator, periodically.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusReport {
    /// Increases by one per report.
    pub seq: u64,
    /// Host resources.
    pub resources: Resources,
    /// Module states and profiles: of every module, or with `page` set of some of them.
    pub status: HostStatus,
    /// Set when `status.modules` holds one page of the Host's modules: a Host of thousands of
    /// modules reports them in turns, so that a report stays small.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<StatusPage>,
    /// As [`Registration::lease_ref`].
    #[serde(default)]
    pub lease_ref: u64,
}

/// Which part of a Host's modules a [`StatusReport`] carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusPage {
    /// Position of the first module of the page, in id order.
    pub from: u32,
    /// Modules on the Host.
    pub total: u32,
    /// Every module id on the Host, on the first page of each round (`from == 0`): the
    /// receiver forgets the modules not listed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ids: Option<Vec<ModuleId>>,
}

/// A Host's resource use.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Resources {
    /// 1-minute load average of the machine.
    pub load1: f64,
    /// Memory available on the machine, in bytes.
    pub memory_available_bytes: u64,
    /// Resident memory of the Host process, in bytes.
    pub process_rss_bytes: u64,
}

/// Orchestrator → Host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Command {
    /// Unique id, echoed in the [`Ack`].
    pub id: CommandId,
    /// What to do.
    #[serde(flatten)]
    pub kind: CommandKind,
}

/// Orchestrator → Host on `commands`: a [`Command`] (JSON, in `body`) signed with the
/// Orchestrator's ed25519 key over the Host's name, the counter and the body, so that neither a
/// forged command nor one replayed from another Host's topic or from the past is executed. The
/// counter is the Orchestrator's clock in microseconds, made strictly increasing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedCommand {
    /// The Host the command is for.
    pub host: String,
    /// Strictly increasing per Orchestrator key: microseconds since the Unix epoch.
    pub counter: u64,
    /// The encoded [`Command`].
    pub body: String,
    /// ed25519 signature, hex (see `silverline-security`'s `signing` module for the signed bytes).
    pub signature: String,
}

/// The commands a Host understands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "kebab-case")]
pub enum CommandKind {
    /// Deploy one module instance.
    Deploy(DeployModule),
    /// Remove one module instance (no error if it is not there: idempotent).
    Delete {
        /// Instance id.
        module: ModuleId,
    },
    /// Activate or deactivate an output channel of a module instance.
    SetChannelActive {
        /// Instance id.
        module: ModuleId,
        /// Output channel name.
        channel: String,
        /// New state.
        active: bool,
        /// From this periodic activation index on (absent: at once). The Host refuses an index
        /// that has already started, so a handover is exact or visibly fails.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from_activation: Option<i64>,
    },
    /// The Host may publish on its fenced outputs until `lease_ms` after `from_ns`, the
    /// `lease_ref` of the report this answers (the Host's own clock). Not acknowledged.
    Lease {
        /// The `lease_ref` of the [`Registration`] or [`StatusReport`] this answers.
        from_ns: u64,
        /// Length of the lease.
        lease_ms: u64,
    },
    /// Register again (the Orchestrator had given this Host up): it reconciles what the Host
    /// runs before it grants a lease. Not acknowledged.
    Register,
}

/// What a Host needs to deploy a module instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeployModule {
    /// Instance id, e.g. `pipeline/filter`.
    pub module: ModuleId,
    /// Application name.
    pub app: String,
    /// An application manifest (JSON) holding just this module.
    pub manifest: serde_json::Value,
    /// sha256 of the module's Wasm; the Host verifies what it fetches.
    pub sha256: String,
    /// Where to fetch the Wasm when it is not cached: `GET {blob_url}/{sha256}`.
    pub blob_url: String,
}

/// Host → Orchestrator: the outcome of a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// The command.
    pub command: CommandId,
    /// Done (or already done).
    pub ok: bool,
    /// Why not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The command had been executed before; this is the earlier result.
    #[serde(default)]
    pub duplicate: bool,
}

/// Orchestrator → all Hosts: "I am (back); register again".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// Orchestrator instance id (changes on restart).
    pub orchestrator: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_versions_and_garbage_are_refused() {
        assert!(matches!(decode::<Hello>(b"not json"), Err(ProtoError::Malformed(_))));
        assert!(matches!(decode::<Hello>(b"[1]"), Err(ProtoError::Malformed(_))));
        assert!(matches!(decode::<Hello>(br#"{"orchestrator":"o"}"#), Err(ProtoError::Malformed(_))));
        assert_eq!(decode::<Hello>(br#"{"v":2,"orchestrator":"o"}"#), Err(ProtoError::Version { found: 2 }));
        assert!(decode::<Hello>(br#"{"v":1,"orchestrator":"o"}"#).is_ok());
    }

    #[test]
    fn commands_round_trip() {
        let cmd = Command {
            id: CommandId("x".into()),
            kind: CommandKind::SetChannelActive { module: ModuleId("a/b".into()), channel: "out".into(), active: false, from_activation: Some(7) },
        };
        let bytes = encode(&cmd);
        assert!(std::str::from_utf8(&bytes).unwrap().contains(r#""command":"set-channel-active""#));
        assert_eq!(decode::<Command>(&bytes).unwrap(), cmd);
    }

    /// Found by `fuzz/` (target `control`): without serde_json's `float_roundtrip` feature (on in
    /// the workspace) a number with many digits is not correctly rounded, so a float in a message
    /// (a Host's load, a platform's `cpufreqMhz`) moved by an ULP each time it was re-encoded.
    #[test]
    fn floats_survive_a_round_trip() {
        let digits = "2933333333333333333333333333333333333333333333333333333333333333333333333";
        let json = format!(r#"{{"v":1,"load1":{digits},"memory_available_bytes":0,"process_rss_bytes":0}}"#);
        let first: Resources = decode(json.as_bytes()).unwrap();
        assert_eq!(decode::<Resources>(&encode(&first)).unwrap(), first);
        assert_eq!(first.load1, digits.parse::<f64>().unwrap(), "correctly rounded");
    }
}
