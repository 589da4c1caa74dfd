//! The project's automation, run as `cargo xtask <command>`.
//!
//! - `cargo xtask ci`: the one gate (see `ci.rs` for the steps).
//! - `cargo xtask perf`: the workloads of PERF.md (see `perf.rs`).
//! - `cargo xtask fuzz`: the cargo-fuzz targets (see `fuzz.rs`).

use std::process::ExitCode;

mod ci;
mod command;
mod fuzz;
mod measure;
mod perf;
mod workloads;
mod workloads_guest;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  ci      run the whole check: fmt, clippy, tests, docs, no_std build,
          cargo package, Miri (64- and 32-bit), a benchmark smoke run
  perf    run the workloads of PERF.md against memcpy/memset [--quick] [--reps N]
  fuzz    run every cargo-fuzz target of fuzz/ [--seconds N] (nightly)
";

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let result = match arguments.first().map(String::as_str) {
        Some("ci") => ci::main(&arguments[1..]),
        Some("perf") => perf::main(&arguments[1..]),
        Some("fuzz") => fuzz::main(&arguments[1..]),
        // The release process `perf` starts.
        Some("perf-run") => perf::run(&arguments[1..]),
        Some("help" | "--help" | "-h") | None => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(other) => Err(format!("unknown command `{other}`\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}
