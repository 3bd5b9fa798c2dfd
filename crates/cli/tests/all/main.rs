//! End-to-end tests of the `silverline` binary (real process, real modules, real broker).

mod admission; // issue 7: response-time analysis, measured budgets
mod common;
mod density;
mod events; // issue 8
mod failover; // issue 6: replicas and sidecar failover in network namespaces
mod latency; // issue 7: end-to-end latency
mod metrics; // issue 8
mod orchestrated;
mod platform;
mod realtime;
mod robustness;
mod run;
mod security;
mod tls;
mod update;
mod validate;
