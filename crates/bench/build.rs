//! Compiles the sunroof controller's C source (examples/sunroof/c) natively, so that the VSS
//! benchmark can run the same controller code as native machine code and as Wasm.

fn main() {
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let source = workspace.join("examples/sunroof/c/sunroof_controller.c");
    println!("cargo:rerun-if-changed={}", source.display());
    println!("cargo:rerun-if-changed={}", workspace.join("sdk/c/sl_vss.h").display());
    cc::Build::new().file(&source).include(workspace.join("sdk/c")).opt_level(2).compile("sunroof_controller_native");
}
