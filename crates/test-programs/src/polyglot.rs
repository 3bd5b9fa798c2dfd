//! Guests in languages other than C, built from their sources in the repository when a test asks
//! for them (not in build.rs: their toolchains come from npm and PyPI, which a plain `cargo build`
//! must not need). Each build happens once per test process; a missing toolchain is an error that
//! says how to install it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("the workspace root")
}

fn out_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("silverline-polyglot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create the polyglot build directory");
    dir
}

fn run(what: &str, cmd: &mut Command, hint: &str) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{what}: cannot run {cmd:?}: {e}\n{hint}"))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!("{what} failed ({}):\n{cmd:?}\n{}{}\n{hint}", out.status, String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

const ZIG_HINT: &str = "Zig comes from PyPI: pip install ziglang==0.17.1 (scripts/test installs it)";
const ASC_HINT: &str = "AssemblyScript comes from npm: Node.js and npm are needed (scripts/test installs them)";

/// `examples/sunroof/zig/sunroof_controller.zig` built with Zig (PyPI `ziglang`).
pub fn sunroof_controller_zig() -> Result<PathBuf, String> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let out = out_dir().join("sunroof_controller_zig.wasm");
            let script = workspace().join("examples/sunroof/zig/build.sh");
            run("building the Zig sunroof controller", Command::new("bash").arg(script).arg(&out), ZIG_HINT)?;
            Ok(out)
        })
        .clone()
}

/// `examples/sunroof/assemblyscript/sunroof_controller.ts` built with AssemblyScript (npm
/// `assemblyscript`, pinned by the example's package-lock.json).
pub fn sunroof_controller_assemblyscript() -> Result<PathBuf, String> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let dir = workspace().join("examples/sunroof/assemblyscript");
            if !dir.join("node_modules/.bin/asc").exists() {
                run("installing AssemblyScript", Command::new("npm").args(["ci", "--no-audit", "--no-fund", "--loglevel=error"]).current_dir(&dir), ASC_HINT)?;
            }
            let out = out_dir().join("sunroof_controller_as.wasm");
            let asc = dir.join("node_modules/.bin/asc");
            let mut cmd = Command::new(asc);
            cmd.arg("sunroof_controller.ts").arg("-o").arg(&out).args(["-O3", "--runtime", "stub", "--use", "abort="]).current_dir(&dir);
            run("building the AssemblyScript sunroof controller", &mut cmd, ASC_HINT)?;
            Ok(out)
        })
        .clone()
}
