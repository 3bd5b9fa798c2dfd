//! A VSS databroker that the Kuksa ecosystem can talk to, and a signal store for Hosts on it.
//!
//! It owns:
//!
//! * the **wire**: the subset of Kuksa's `kuksa.val.v1` and `kuksa.val.v2` protos that
//!   kuksa-client 0.6.0 and KUKSA Databroker clients use (`proto/`, compiled at build time by
//!   protox, so no `protoc` is needed), and the conversions between them and silverline's
//!   [`Value`](silverline_vss::Value) and catalog ([`convert`]);
//! * the **server** ([`Databroker`], [`serve`], [`spawn`]): both services on one port over a
//!   [`LocalStore`](silverline_vss::LocalStore), every write through the catalog's checks;
//! * **authentication** ([`Auth`]): a bearer token on every call unless no-auth is chosen;
//! * the **client store** ([`RemoteStore`]): a [`SignalStore`](silverline_vss::SignalStore)
//!   over v2 gRPC, for a Host whose signals live in a broker.
//!
//! It must not touch a Wasm engine, the Host's scheduling or its channels: it builds on
//! `silverline-vss` without its `host-api` feature, and a Host uses it only as a
//! `SignalStore`.
//!
//! # What a Kuksa client sees
//!
//! | RPC | does |
//! |---|---|
//! | v1 `GetServerInfo`, v2 `GetServerInfo` | name and version (kuksa-client's `connect()` needs the v1 one) |
//! | v1 `Get` | current values, actuator targets and metadata (with `data_type`) of a leaf, a branch or a `*`/`**` pattern |
//! | v1 `Set` | current values (`FIELD_VALUE`) and actuator targets (`FIELD_ACTUATOR_TARGET`); a refused entry is reported in `errors` and the request changes nothing |
//! | v1 `Subscribe` | current values and targets, by pattern |
//! | v2 `GetValue`, `GetValues` | current values, by path or id (ids are the catalog's) |
//! | v2 `PublishValue` | a current value |
//! | v2 `Actuate` | an actuator's target (it is stored; no provider is needed) |
//! | v2 `Subscribe`, `SubscribeById` | current values of leaves; the first message carries them all |
//! | v2 `ListMetadata` | metadata of a leaf, branch or pattern |
//!
//! Others (`StreamedUpdate`, `OpenProviderStream`, `BatchActuate`, ...) answer UNIMPLEMENTED,
//! which is what makes kuksa-client fall back to the ones above. A wrongly typed,
//! out-of-range or not-allowed write is INVALID_ARGUMENT with the catalog's message (path and
//! bound); an unknown path is NOT_FOUND. Array datatypes are refused: the catalog holds
//! scalars.
//!
//! # Current values and targets
//!
//! A [`LocalStore`](silverline_vss::LocalStore) holds one value per signal; a silverline
//! module writing an actuator writes that value. Kuksa keeps an actuator's target apart from
//! its current value, so the broker keeps targets in a second `LocalStore` over the same
//! catalog ([`Databroker::targets`]); the store it is given holds current values, which is
//! what [`RemoteStore`] reads and writes.
//!
//! ```
//! use silverline_vss::{Catalog, LocalStore, SignalStore, Value};
//! use silverline_vss_broker::{spawn, Auth, RemoteStore, DEFAULT_TIMEOUT};
//! let catalog = Catalog::from_json(r#"{"Vehicle": {"type": "branch", "children": {
//!     "Speed": {"type": "sensor", "datatype": "float", "min": 0, "max": 250}}}}"#)?;
//! let broker = spawn("127.0.0.1:0".parse()?, LocalStore::new(catalog), Auth::Token("s3cret".into()))?;
//! let host = RemoteStore::connect(&broker.url(), Some("s3cret"), DEFAULT_TIMEOUT)?;
//! let speed = host.catalog().resolve("Vehicle.Speed")?.id;
//! host.set(speed, Value::Float(42.0))?;
//! assert!(host.set(speed, Value::Float(300.0)).is_err());
//! assert_eq!(broker.broker().values().get(speed)?.map(|d| d.value), Some(Value::Float(42.0)));
//! # Ok::<(), anyhow::Error>(())
//! ```
#![deny(missing_docs)]

mod auth;
pub mod convert;
mod paths;
mod remote;
mod server;
mod subscribe;
mod v1;
mod v2;

pub use auth::Auth;
pub use remote::{RemoteStore, DEFAULT_TIMEOUT, RETRY_AFTER};
pub use server::{serve, spawn, BrokerCounters, BrokerHandle, Databroker, SHUTDOWN_GRACE};

/// The name both `GetServerInfo`s answer.
pub const SERVER_NAME: &str = "silverline-vss-broker";

/// The code generated from `proto/` (tonic clients and servers, prost messages).
#[allow(missing_docs, clippy::all)]
pub mod proto {
    /// `kuksa.val.v1`.
    pub mod v1 {
        tonic::include_proto!("kuksa.val.v1");
    }
    /// `kuksa.val.v2`.
    pub mod v2 {
        tonic::include_proto!("kuksa.val.v2");
    }
}
