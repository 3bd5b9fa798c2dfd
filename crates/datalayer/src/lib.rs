//! An industrial datalayer for silverline modules, in the manner of WAXI on the ctrlX Datalayer
//! (paper, section IV-B): typed nodes by hierarchical path (`plant/pendulum/angle`), node
//! metadata, exclusive write ownership and handles whose lifetime the Host manages.
//!
//! It owns:
//!
//! * the **tree** ([`Datalayer`]): nodes with a [`Meta`] (type, unit, bounds, who may write),
//!   their values and versions, and watches on them;
//! * **ownership**: a module *claims* a node; writes by anyone else are refused with
//!   [`DlError::Owned`]. The owner is the module (`app/module`), not one instance of it, so that
//!   a staged update's shadow and the replicas of a module share it, and the output gate decides
//!   which of them writes; the claim ends when the module's last instance stops;
//! * the **`sl:datalayer` API** ([`DatalayerApi`], import module `sl_datalayer`, with the
//!   `host-api` feature): handles, read, write, claim, release, metadata, for modules of any
//!   language. A stale or forged handle is an error code, never a trap.
//!
//! It must not know the Host's scheduling or channels, nor any field bus: field I/O (a plant
//! simulation, an EtherCAT master) writes through [`Writer::Io`].
#![deny(missing_docs)]

#[cfg(feature = "host-api")]
mod api;
mod tree;

#[cfg(feature = "host-api")]
pub use api::{DatalayerApi, DL_DROPPED_INACTIVE, DL_EBADF, DL_EEMPTY, DL_EINVAL, DL_ENOENT, DL_EOWNED, DL_ERANGE, DL_EREADONLY, DL_ETYPE};
pub use tree::{Datalayer, Meta, NodeType, Value, Waker, Watch, Writer};

/// Why a datalayer operation was refused. Nothing changed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DlError {
    /// No node at that path or id.
    #[error("no datalayer node `{0}`")]
    NoNode(String),
    /// The value is not of the node's type.
    #[error("`{path}` holds {expected}: {value} is not one")]
    WrongType {
        /// Node path.
        path: String,
        /// Its type.
        expected: &'static str,
        /// The refused value.
        value: String,
    },
    /// Below the node's min or above its max.
    #[error("`{path}`: {value} is outside [{min}, {max}]")]
    OutOfRange {
        /// Node path.
        path: String,
        /// The refused value.
        value: String,
        /// Its min (`-`: none).
        min: String,
        /// Its max (`-`: none).
        max: String,
    },
    /// Modules may not write it (field input: only I/O writes it).
    #[error("`{0}` is read-only for modules")]
    ReadOnly(String),
    /// Another module owns it.
    #[error("`{path}` is owned by `{owner}`")]
    Owned {
        /// Node path.
        path: String,
        /// Its owner.
        owner: String,
    },
    /// A path that is not `segment/segment/...` of `[A-Za-z0-9_-]`.
    #[error("`{0}` is not a datalayer path (segments of letters, digits, `_` and `-`, separated by `/`)")]
    BadPath(String),
    /// The node exists already.
    #[error("the datalayer node `{0}` exists already")]
    Exists(String),
}
