//! Integration tests of the Host with real Wasm modules (C built by clang, WAT), one binary.

mod common;
mod compute;
mod containment;
mod datalayer; // the industrial datalayer: handles, ownership, field input
mod density;
mod errors;
mod event;
mod handover;
mod mqtt;
mod periodic;
mod realtime;
mod refabi;
mod routing;
mod sidecar; // the sidecar API with the real sidecars
mod overrun; // onOverrun policies
mod vss; // vehicle signals: the sunroof case study, checked writes, API triggers
