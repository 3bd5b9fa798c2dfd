//! The channel abstraction of silverline and its backends.
//!
//! A *channel* is the only way a Wasm module talks to the world: it publishes bytes on an output
//! channel and receives bytes from an input channel. Modules name channels; the application
//! manifest maps each name to an *endpoint* (an MQTT-style topic). This crate owns what happens
//! between a publish and a receive:
//!
//! * [`Router`]: the per-Host switchboard. A publish is delivered straight into the queues of
//!   co-located subscribers (**loopback**: no broker, one copy) and, when a [`RemoteBackend`] is
//!   attached, handed to it for subscribers on other Hosts.
//! * [`InputQueue`]: a bounded queue per input channel. When it is full the *oldest* message is
//!   dropped and counted, so a slow consumer always sees the freshest data.
//! * [`OutputPort`]: the publishing side of one output channel. An inactive port drops publishes
//!   and counts them: whether a channel is active is decided outside the module (manifest,
//!   zero-downtime update, failover).
//! * [`Fence`]: the Host's lease on its outputs; without it, fenced ports drop what they are
//!   given (counted), so a Host its Orchestrator has given up on cannot publish next to the
//!   copies of its modules that now run elsewhere.
//! * [`MqttBackend`]: a [`RemoteBackend`] over any MQTT 3.1.1 broker.
//!
//! This crate must not know about manifests' YAML, Wasm or the control plane; it moves bytes.
//! (It shares one piece with the manifest crate: the rule of which topics an endpoint matches.)
//!
//! ```
//! use silverline_channels::{Router, InputQueue, RoutingMode};
//! use std::sync::Arc;
//!
//! let router = Router::new(RoutingMode::LoopbackFirst);
//! let queue = Arc::new(InputQueue::new(4));
//! router.subscribe("plant/temp", queue.clone());
//! let port = router.output_port("plant/temp", true);
//! port.publish(b"21.5");
//! assert_eq!(queue.pop().as_deref(), Some(&b"21.5"[..]));
//! ```
#![deny(missing_docs)]

pub mod fence;
mod mqtt;
pub mod priority;
mod rate;
mod queue;
mod router;
mod topic;

pub use fence::Fence;
pub use rate::PublishLimit;
pub use mqtt::{no_delay, MqttBackend, MqttConfig};
pub use queue::InputQueue;
pub use router::{OutputPort, PublishOutcome, RemoteBackend, RemoteSink, Router, RoutingMode};
pub use topic::{topic_matches, validate_filter, validate_topic};
