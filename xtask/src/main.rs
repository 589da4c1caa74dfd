//! The project's automation, run as `cargo xtask <command>`.
//!
//! - `cargo xtask ci`: the one gate (see `ci.rs` for the steps).

use std::process::ExitCode;

mod ci;
mod command;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  ci      run the whole check: fmt, clippy, tests, docs, no_std build, Miri
";

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let result = match arguments.first().map(String::as_str) {
        Some("ci") => ci::main(&arguments[1..]),
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
