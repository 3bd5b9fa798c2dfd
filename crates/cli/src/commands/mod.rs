//! One module per subcommand. Each exposes `Args` (clap) and `run(args) -> Result<exit code>`.

pub mod platform;
pub mod run;
pub mod validate;
