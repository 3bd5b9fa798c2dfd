//! End-to-end tests of the `silverline` binary (real process, real modules, real broker).

mod common;
mod orchestrated;
mod platform;
mod run;
mod update;
mod validate;
