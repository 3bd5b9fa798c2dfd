//! silverline's replica failover (paper sections IV-C "Sidecars" and V-C "Transparent Fault
//! Tolerance and Failover"; the spec is `docs/failover.md`).
//!
//! This crate owns:
//!
//! - [`wire`]: the 32-byte sidecar message (kinds, layout, encoding);
//! - [`sidecars`]: the four built-in sidecar modules (`sidecars/*.wat` at the workspace root,
//!   bundled here as text and compiled to Wasm on request), with the format of their configs;
//! - [`coordinator`]: the failover coordinator's decisions as a Rust state machine that makes
//!   exactly the decisions of `coordinator.wat`, so that the Orchestrator-based baseline and the
//!   sidecar coordinator differ only in where they run.
//!
//! It must not do I/O, run Wasm (no wasmtime) or talk to the network: Hosts run the sidecars and
//! the Orchestrator carries the messages; this crate only says what they are.
//!
//! ```
//! use silverline_failover::coordinator::{Coordinator, Out, Policy};
//! use silverline_failover::wire::{Msg, ACTIVATE, ALIVE};
//! let mut c = Coordinator::new(2, Policy::Priority, 10_000_000, 1_000_000);
//! let out = c.on_message(&Msg::new(ALIVE, 1, 5, 0, 300), 100);
//! assert!(matches!(out[0], Out::Cmd(1, Msg { kind: ACTIVATE, t1: 10_000_100, .. })));
//! assert_eq!(c.primary(), Some(1));
//! ```
#![deny(missing_docs)]

pub mod coordinator;
pub mod sidecars;
pub mod wire;
