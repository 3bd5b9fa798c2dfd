//! The silverline Host: the runtime layer of every platform.
//!
//! A [`Host`] is a thin process around a Wasm engine (wasmtime) that runs many small modules.
//! It owns:
//!
//! * the **engine** ([`EngineConfig`]): modules compiled once and cached by sha256 (in memory and
//!   on disk), instantiated from a pre-linked `InstancePre` out of the pooling allocator;
//! * **triggers**: periodic activations on a schedule that does not drift (activation k runs at
//!   `anchor + k·period`), or event activations when a message reaches an input channel; one
//!   module's activations never overlap, many modules run on a pool of worker threads;
//! * the **channel API** (import module `sl`, see `docs/channel-abi.md`) over a
//!   [`silverline_channels::Router`]: loopback between co-located modules, MQTT to others;
//! * **containment**: fuel budgets, wall-clock deadlines (epoch interruption), memory limits;
//!   a failing module is stopped, reported and restarted per its manifest's policy;
//! * **timing**: real-time modules on threads of their own under SCHED_DEADLINE or SCHED_FIFO
//!   (pinned by the same partitioning admission control analysed, `silverline_placement::rta`),
//!   the manifest's `onOverrun` policy, a cgroup CPU quota for best-effort threads;
//! * **profiles** and events: [`Host::status`], [`Host::events`].
//!
//! It must not decide placement (the Orchestrator does) nor speak the control plane: a
//! control-plane agent drives a Host through this API.
//!
//! ```no_run
//! use silverline_host::{Host, HostConfig};
//! use silverline_manifest::ApplicationManifest;
//! use std::time::Duration;
//!
//! let app = ApplicationManifest::from_file("examples/pipeline/app.yaml".as_ref())?;
//! let host = Host::new(HostConfig::new())?;
//! host.deploy_app(&app)?;
//! host.wait_for(Duration::from_secs(2), |s| s.modules.iter().all(|m| m.activations > 3));
//! # Ok::<(), anyhow::Error>(())
//! ```
#![deny(missing_docs)]

mod abi;
mod cache;
mod command;
mod ctx;
mod engine;
mod host;
mod module;
mod output;
mod cpuquota;
mod overrun;
mod pmqos;
mod realtime;
mod refabi;
mod rtthread;
mod schedule;
mod sidecar;
mod stats;

pub use abi::{DIR_IN, DIR_OUT, MAX_MESSAGE, SL_DROPPED_INACTIVE, SL_E2BIG, SL_EAGAIN, SL_EBADF, SL_EINVAL, SL_EMPTY, SL_ENOENT};
pub use cache::{read_wasm_file, wasm_from_bytes, Digest256};
pub use command::{run_command, CommandGrants};
pub use ctx::{builtin_apis, ModuleCtx};
pub use silverline_hostapi::{ApiSet, ApiView, Extensions, HostApi, ModuleInfo, Waker};
pub use engine::{Allocation, EngineConfig, Metering, DEFAULT_MAX_MODULES};
pub use host::{DeployError, Host, HostConfig, DEFAULT_WAKE_EARLY};
pub use pmqos::current_bound_us;
pub use realtime::RealtimePolicy;
pub use output::{print_sink, OutputSink, Stream};
pub use silverline_proto::status::*;
