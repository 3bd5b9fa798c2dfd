//! The secured broker seen from real MQTT clients (rumqttc): who gets in, what they may publish
//! and read, last wills and sessions through the gate, and the unsecured broker still open.

mod acl;
mod bench;
mod common;
mod connect;
mod session;
