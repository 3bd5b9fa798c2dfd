//! Placement benchmark: `cargo run --release -p silverline-placement --example bench`.
//!
//! Generates the synthetic clusters of `common/scenario.rs` (deterministic, seed 42), places
//! them with [`Backtracking`] and prints a Markdown table of median, min and max wall time over
//! several runs. The figures in docs/placement.md come from here.
//!
//! Rows: the 10,000-module × 1,000-Host scenario with both strategies, the same 10x smaller,
//! and the full scenario with a third of the memory (a nearly full cluster), which shows how
//! the strategies behave when the greedy pass is not enough.

#[path = "common/scenario.rs"]
mod scenario;

use std::time::{Duration, Instant};

use silverline_placement::{Backtracking, Fit, Placer};

struct Case {
    name: &'static str,
    apps: usize,
    hosts: usize,
    /// Host memory (capacity and already used) is divided by this.
    memory_divisor: u64,
    fit: Fit,
    runs: usize,
}

const SEED: u64 = 42;
const MODULES_PER_APP: usize = 10;

const fn case(name: &'static str, apps: usize, memory_divisor: u64, fit: Fit, runs: usize) -> Case {
    Case {
        name,
        apps,
        hosts: apps,
        memory_divisor,
        fit,
        runs,
    }
}

fn main() {
    let cases = [
        case("full", 1000, 1, Fit::LeastLoaded, 9),
        case("full", 1000, 1, Fit::FirstFit, 9),
        case("10x smaller", 100, 1, Fit::LeastLoaded, 31),
        case("10x smaller", 100, 1, Fit::FirstFit, 31),
        case("full, 1/3 memory", 1000, 3, Fit::LeastLoaded, 3),
        case("full, 1/3 memory", 1000, 3, Fit::FirstFit, 3),
    ];
    println!("| scenario | fit | hosts | modules | outcome | backtracks | median | min | max |");
    println!("| --- | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |");
    for case in &cases {
        run(case);
    }
}

fn run(case: &Case) {
    let mut s = scenario::cluster(case.apps, MODULES_PER_APP, case.hosts, SEED);
    for h in &mut s.hosts {
        h.memory_bytes /= case.memory_divisor;
        h.used_memory_bytes /= case.memory_divisor;
    }
    let mut placer = Backtracking::new();
    placer.strategy(case.fit);
    let mut times = Vec::with_capacity(case.runs);
    let mut last = None;
    for _ in 0..case.runs {
        let start = Instant::now();
        let result = placer.place(&s.hosts, &s.demands);
        times.push(start.elapsed());
        last = Some(result);
    }
    let (outcome, backtracks) = match last.expect("at least one run") {
        Ok(p) => (
            format!("{} replicas placed", p.assignments.len()),
            p.backtracks.to_string(),
        ),
        Err(e) => {
            let n = e.unplaced.len() + e.more_unplaced;
            (format!("failed, {n} unplaced"), "budget".into())
        }
    };
    times.sort();
    println!(
        "| {} | {:?} | {} | {} | {outcome} | {backtracks} | {} | {} | {} |",
        case.name,
        case.fit,
        s.hosts.len(),
        s.demands.len(),
        ms(times[times.len() / 2]),
        ms(times[0]),
        ms(times[times.len() - 1]),
    );
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}
