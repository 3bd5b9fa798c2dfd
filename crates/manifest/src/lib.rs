//! Silverline's manifests. This crate owns the four documents that describe a deployment —
//! **application**, **host**, **platform** and **topology** manifests (section IV-A of the
//! paper): their Rust types, parsing from YAML or JSON, validation with an exact field path in
//! every error, serialization back to the same schema, and probing the local machine for its
//! platform manifest.
//!
//! It must not talk to the network and knows nothing about wasmtime or any other engine:
//! it checks that a manifest is well formed and self-consistent, and leaves loading modules,
//! matching topics and placing modules to the crates that do those things.
//!
//! Reading is done in two stages: serde parses the text into raw structs that reject unknown
//! keys (errors carry the path via `serde_path_to_error`), then validation turns the raw
//! structs into the public types, checking ranges and cross-references and reporting every
//! problem it finds, not just the first. Either way an error reads
//! `modules[1].trigger.periodInNs: expected ..., found -5`. See `docs/manifests.md` for the
//! schema reference.
//!
//! ```
//! use std::path::Path;
//! use std::time::Duration;
//! use silverline_manifest::{ApplicationManifest, Trigger};
//!
//! let yaml = r#"
//! name: app1
//! modules:
//!   - name: process
//!     file: process.wasm
//!     trigger: { type: periodic, periodInNs: 50000000 }
//!     outputChannels:
//!       channels: [ { name: y, endpoint: ep2, payloadSizeInBytes: 20 } ]
//! "#;
//! let app = ApplicationManifest::from_str(yaml, Path::new("/apps/app1")).unwrap();
//! let process = app.module("process").unwrap();
//! assert_eq!(process.file, Path::new("/apps/app1/process.wasm"));
//! assert_eq!(
//!     process.trigger,
//!     Trigger::Periodic { period: Duration::from_millis(50), offset: Duration::ZERO }
//! );
//!
//! let bad = yaml.replace("50000000", "-5");
//! let err = ApplicationManifest::from_str(&bad, Path::new(".")).unwrap_err();
//! assert!(err.to_string().starts_with(
//!     "modules[0].trigger.periodInNs: expected a positive integer number of nanoseconds"
//! ));
//! ```
#![deny(missing_docs)]

mod application;
mod detect;
mod error;
mod host;
mod ids;
mod parse;
mod platform;
mod probe;
mod topology;

pub use application::{
    ApplicationManifest, Chain, ChannelSpec, CoordinatorKind, Criticality, Failover, FailoverPolicy, ModuleSpec, OverrunPolicy, Placement, PreopenDir, Resources,
    RestartMode, RestartPolicy, Trigger, WasiGrants, DEFAULT_BACKOFF, DEFAULT_MAX_RESTARTS,
    filter_covers, filters_overlap, topic_matches, DEFAULT_CLOCK_SKEW, DEFAULT_HEARTBEAT, DEFAULT_LEASE, DEFAULT_QUEUE_DEPTH, DEFAULT_TIMEOUT, MIN_PERIOD,
};
pub use detect::{detect_kind, parse_any, parse_any_file, AnyManifest, ManifestKind};
pub use error::{ManifestError, ManifestErrors};
pub use host::{HostManifest, HostMetadata, HostUuid, MAX_HOST_NAME_LEN};
pub use ids::{api_of_import, is_api_name, API_WRITES, KNOWN_IMPORTS, AppName, ChannelName, Endpoint, ModuleName, MAX_ENDPOINT_LEN, MAX_NAME_LEN};
pub use parse::Format;
pub use platform::{CpuInfo, MemoryInfo, NetworkInfo, NetworkInterface, OsInfo, PlatformManifest};
pub use topology::{Link, TopologyManifest};
