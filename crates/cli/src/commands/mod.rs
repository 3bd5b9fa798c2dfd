//! One module per subcommand. Each exposes `Args` (clap) and `run(args) -> Result<exit code>`.

pub mod apis;
pub mod bench;
pub mod broker;
pub mod capacity;
pub mod delete;
pub mod deploy;
pub mod get;
pub mod host;
pub mod logs;
pub mod orchestrator;
pub mod platform;
pub mod run;
pub mod sign;
pub mod switchover;
pub mod timing;
pub mod token;
pub mod up;
pub mod update;
pub mod validate;
pub mod vss_broker;
