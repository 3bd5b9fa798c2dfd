//! `silverline bench`: the Host micro-benchmarks of `silverline-bench`, printed as markdown (or
//! JSON). Every ratio is taken against a baseline measured in the same run.

use silverline_bench::{BenchConfig, SECTIONS};
use std::path::PathBuf;

/// Arguments of `silverline bench`.
#[derive(clap::Args)]
pub struct BenchArgs {
    /// Small N everywhere, a few seconds in all: a smoke run for CI, not for figures.
    #[arg(long)]
    quick: bool,
    /// Print the report as JSON instead of markdown.
    #[arg(long)]
    json: bool,
    /// Run only these sections: instantiate, host-call, latency, publish.
    #[arg(long, num_args = 1.., value_name = "NAME", value_parser = clap::builder::PossibleValuesParser::new(SECTIONS.iter().copied()))]
    only: Vec<String>,
    /// MQTT broker for `latency` and `publish` (`mqtt://HOST:PORT`); default: a private
    /// Mosquitto started on a free port.
    #[arg(long)]
    broker: Option<String>,
    /// Also measure deploying this module (event-triggered reactor with input `in` and output
    /// `out`, e.g. the C echo guest); repeatable.
    #[arg(long = "module", value_name = "FILE")]
    modules: Vec<PathBuf>,
}

pub fn run(args: BenchArgs) -> anyhow::Result<i32> {
    let config = BenchConfig {
        quick: args.quick,
        only: args.only,
        broker: args.broker,
        modules: args.modules,
        progress: true,
    };
    let report = silverline_bench::run(&config)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.to_markdown());
    }
    Ok(0)
}
