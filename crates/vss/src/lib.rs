//! Vehicle signals for silverline modules: the COVESA Vehicle Signal Specification (VSS) as a
//! Host API.
//!
//! It owns:
//!
//! * the **catalog** ([`Catalog`]): a VSS JSON export flattened to signals with their datatype,
//!   min, max and allowed values, each with a dense 32-bit id;
//! * the **checks** a write must pass ([`Signal::check`]): a wrongly typed or out-of-range
//!   write is refused and changes nothing;
//! * **signal stores** ([`SignalStore`]): [`LocalStore`] keeps values in the Host's process;
//! * the **`sl:vss` API** ([`VssApi`], import module `sl_vss`): get, set and watch by path for
//!   any module of any language, registered by a Host like every other API.
//!
//! It must not know the Host's scheduling or channels: it reaches a module only through
//! [`silverline_hostapi::ApiView`].
//!
//! ```
//! use silverline_vss::{Catalog, LocalStore, SignalStore, Value};
//! let catalog = Catalog::from_json(r#"{"Vehicle": {"type": "branch", "children": {
//!     "Speed": {"type": "sensor", "datatype": "float", "min": 0, "max": 250}}}}"#)?;
//! let store = LocalStore::new(catalog);
//! let speed = store.catalog().resolve("Vehicle.Speed")?.id;
//! store.set(speed, Value::Float(42.0))?;
//! assert!(store.set(speed, Value::Float(300.0)).is_err());
//! assert_eq!(store.get(speed)?.map(|d| d.value), Some(Value::Float(42.0)));
//! # Ok::<(), anyhow::Error>(())
//! ```
#![deny(missing_docs)]

#[cfg(feature = "host-api")]
mod api;
mod catalog;
mod store;
mod value;

#[cfg(feature = "host-api")]
pub use api::{VssApi, VSS_DROPPED_INACTIVE, VSS_EINVAL, VSS_EMPTY, VSS_ENOENT, VSS_ERANGE, VSS_ETYPE, VSS_EUNAVAILABLE};
pub use catalog::{Catalog, Signal, SignalKind};
pub use store::{unix_now_ns, Datapoint, LocalStore, SignalStore, StoreCounters, Waker, Watch};
pub use value::{DataType, Value};

/// Why a signal operation was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VssError {
    /// No such path in the catalog.
    #[error("no signal `{0}` in the VSS catalog")]
    UnknownSignal(String),
    /// No such id in the catalog.
    #[error("no signal with id {0} in the VSS catalog")]
    UnknownId(u32),
    /// The value is not of the signal's datatype.
    #[error("`{path}` is a {datatype}: {value} is not one")]
    WrongType {
        /// Signal path.
        path: String,
        /// Its datatype.
        datatype: &'static str,
        /// The refused value.
        value: String,
    },
    /// Below `min` or above `max`.
    #[error("`{path}`: {value} is outside [{min}, {max}]")]
    OutOfRange {
        /// Signal path.
        path: String,
        /// The refused value.
        value: String,
        /// The catalog's min (`-`: none).
        min: String,
        /// The catalog's max (`-`: none).
        max: String,
    },
    /// Not one of the allowed values.
    #[error("`{path}`: {value} is not one of the allowed values ({allowed})")]
    NotAllowed {
        /// Signal path.
        path: String,
        /// The refused value.
        value: String,
        /// The allowed values.
        allowed: String,
    },
    /// The store behind the API cannot be reached.
    #[error("the signal store is unavailable: {0}")]
    Unavailable(String),
}
