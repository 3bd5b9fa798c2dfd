//! `silverline platform`: print this machine's platform manifest.

use silverline_manifest::PlatformManifest;

/// Arguments of `silverline platform`.
#[derive(clap::Args)]
pub struct PlatformArgs {
    /// Output format.
    #[arg(short = 'o', long, value_parser = ["yaml", "json"], default_value = "yaml")]
    output: String,
}

pub fn run(args: PlatformArgs) -> anyhow::Result<i32> {
    let platform = PlatformManifest::probe();
    let text = match args.output.as_str() {
        "json" => serde_json::to_string_pretty(&platform)?,
        _ => serde_norway::to_string(&platform)?,
    };
    println!("{}", text.trim_end());
    Ok(0)
}
