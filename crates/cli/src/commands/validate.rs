//! `silverline validate FILE...`: check manifests, print every error with its field path.

use silverline_manifest::{parse_any_file, AnyManifest};
use std::path::PathBuf;

/// Arguments of `silverline validate`.
#[derive(clap::Args)]
pub struct ValidateArgs {
    /// Manifest files (YAML or JSON).
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

pub fn run(args: ValidateArgs) -> anyhow::Result<i32> {
    let mut failed = false;
    for file in &args.files {
        match parse_any_file(file) {
            Ok(m) => println!("{}: valid {} manifest", file.display(), kind(&m)),
            Err(errors) => {
                failed = true;
                eprintln!("{}: {} error(s)", file.display(), errors.len());
                for e in errors.iter() {
                    eprintln!("  {e}");
                }
            }
        }
    }
    Ok(if failed { 1 } else { 0 })
}

fn kind(m: &AnyManifest) -> &'static str {
    match m {
        AnyManifest::Application(_) => "application",
        AnyManifest::Host(_) => "host",
        AnyManifest::Platform(_) => "platform",
        AnyManifest::Topology(_) => "topology",
    }
}
