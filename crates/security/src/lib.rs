//! Who may do what in silverline. The threat model and how the pieces fit are in
//! `docs/security.md`; this crate holds the mechanisms, free of networking, so that the
//! Orchestrator, the Hosts, the broker and the CLI share one definition of each:
//!
//! * [`tokens`]: REST API bearer tokens with roles (viewer, operator, admin; host for blob
//!   fetching), stored hashed;
//! * [`capabilities`]: imports a module's manifest must grant;
//! * [`acl`]: the control plane's identities and the topics each may publish and read;
//! * [`grants`]: the application data topics each Host may use, from what it was told to run;
//! * [`credentials`]: what a Host receives at enrolment, and the Orchestrator's MQTT user table;
//! * [`signing`]: ed25519 keys, commands signed by the Orchestrator and verified (with replay
//!   protection) by Hosts;
//! * [`provenance`]: publisher signatures inside modules and a Host's trust policy;
//! * [`mosquitto`]: the same policy as Mosquitto password and ACL files;
//! * [`tls`]: optional TLS for REST and MQTT (rustls) from PEM files;
//! * [`secret`]: random secrets and owner-only files.
//!
//! ```
//! use silverline_security::signing::{public_key, CommandSigner, CommandVerifier, Freshness, KeyPair, now_us};
//! let signer = CommandSigner::new(KeyPair::generate());
//! let key = public_key(&signer.public_hex())?;
//! let mut host = CommandVerifier::new("edge-1", vec![key], Freshness::default(), None);
//! let cmd = signer.sign("edge-1", r#"{"command":"delete"}"#.into());
//! assert!(host.verify(&cmd, now_us()).is_ok());
//! assert!(host.verify(&cmd, now_us()).is_err(), "a replay is refused");
//! # Ok::<(), anyhow::Error>(())
//! ```
#![deny(missing_docs)]

pub mod acl;
pub mod capabilities;
pub mod credentials;
pub mod grants;
pub mod mosquitto;
pub mod provenance;
pub mod secret;
pub mod signing;
pub mod tls;
pub mod tokens;

pub use acl::{Principal, TopicRules};
pub use tokens::Role;
