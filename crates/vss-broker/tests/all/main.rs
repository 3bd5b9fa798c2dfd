//! The broker end to end: started in-process on 127.0.0.1 port 0, driven by [`RemoteStore`],
//! by raw gRPC, and by the real kuksa-client from PyPI.
//!
//! [`RemoteStore`]: silverline_vss_broker::RemoteStore

mod grpc;
mod kuksa_client;
mod remote;

use silverline_vss::{Catalog, LocalStore};
use silverline_vss_broker::{spawn, Auth, BrokerHandle};
use std::path::PathBuf;

pub const TOKEN: &str = "test-token-3f9a";
pub const POSITION: &str = "Vehicle.Cabin.Sunroof.Position";
pub const SWITCH: &str = "Vehicle.Cabin.Sunroof.Switch";
pub const KNOB: &str = "Vehicle.Cabin.Sunroof.Knob";

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The sunroof example's catalog.
pub fn catalog() -> Catalog {
    Catalog::from_file(&repo().join("examples/sunroof/vss.json")).expect("the sunroof catalog")
}

/// A broker on a free local port with the test token.
pub fn broker() -> BrokerHandle {
    spawn("127.0.0.1:0".parse().unwrap(), LocalStore::new(catalog()), Auth::Token(TOKEN.into())).expect("the broker starts")
}

/// The catalog id of `path`.
pub fn id(path: &str) -> u32 {
    catalog().resolve(path).expect("a sunroof signal").id
}
