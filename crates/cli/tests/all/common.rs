//! Running the real binary.

use std::path::Path;
use std::process::{Command, Output};

pub fn silverline() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_silverline"));
    c.current_dir(repo_root());
    c
}

pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().parent().unwrap()
}

pub fn run(args: &[&str]) -> Output {
    silverline().args(args).output().expect("silverline runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
