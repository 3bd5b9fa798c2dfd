//! End-to-end tests of the `silverline` binary (real process, real modules, real broker).

mod admission; // response-time analysis, measured budgets
mod common;
mod density;
mod events;
mod failover; // replicas and sidecar failover in network namespaces
mod latency; // end-to-end latency
mod metrics;
mod orchestrated;
mod platform;
mod realtime;
mod robustness;
mod run;
mod security;
mod sunroof; // the automotive case study: databroker, vcu and zcu, kuksa-client
mod tls;
mod update;
mod validate;
