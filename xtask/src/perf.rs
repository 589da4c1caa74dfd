//! `cargo xtask perf`: every workload of PERF.md in one release process,
//! with its baseline measured alongside; a table on stderr and
//! `target/perf/perf.json`.

use std::fs;

use crate::command::{self, cargo, workspace_root};
use crate::measure::{Row, json, table};
use crate::workloads::{self, Sizes};

const USAGE: &str = "\
usage: cargo xtask perf [--quick] [--reps N] [--only NAME]...

Runs every workload of PERF.md with its baseline in one release process and
writes target/perf/perf.json. --quick uses small sizes (a smoke test of a
few seconds); --reps sets the repetitions per figure (7 to 255, default 11);
--only runs the named workloads (and their baselines) alone, for profiling.
";

/// Parsed options, passed on unchanged to the release process.
struct Options {
    quick: bool,
    reps: usize,
    only: Vec<String>,
}

fn parse(arguments: &[String]) -> Result<Option<Options>, String> {
    let mut options = Options {
        quick: false,
        reps: 11,
        only: Vec::new(),
    };
    let mut arguments = arguments.iter();
    while let Some(argument) = arguments.next() {
        match argument.as_str() {
            "--quick" => options.quick = true,
            "--reps" => {
                let value = arguments.next().ok_or("--reps needs a number")?;
                options.reps = value
                    .parse()
                    .ok()
                    .filter(|reps| (7..=255).contains(reps))
                    .ok_or_else(|| {
                        format!("--reps must be a number from 7 to 255, not `{value}`")
                    })?;
            }
            "--only" => options.only.push(
                arguments
                    .next()
                    .ok_or("--only needs a workload name")?
                    .clone(),
            ),
            "--help" | "-h" => {
                print!("{USAGE}");
                return Ok(None);
            }
            other => return Err(format!("unknown argument `{other}`\n\n{USAGE}")),
        }
    }
    Ok(Some(options))
}

/// `cargo xtask perf`: builds xtask in release and runs the workloads there.
pub fn main(arguments: &[String]) -> Result<(), String> {
    if parse(arguments)?.is_none() {
        return Ok(());
    }
    let mut command = cargo(None);
    command.args([
        "run",
        "--release",
        "--quiet",
        "--package",
        "xtask",
        "--",
        "perf-run",
    ]);
    command.args(arguments);
    command::run(&mut command)
}

/// The workloads themselves, in the release process.
pub fn run(arguments: &[String]) -> Result<(), String> {
    let Some(options) = parse(arguments)? else {
        return Ok(());
    };
    if cfg!(debug_assertions) {
        eprintln!("perf: warning: this is a debug build; run `cargo xtask perf` for figures");
    }
    let sizes = if options.quick {
        Sizes::quick()
    } else {
        Sizes::full(options.reps)
    };
    eprintln!(
        "perf: {} run, {} repetitions per figure, {} MiB buffers",
        if options.quick { "quick" } else { "full" },
        sizes.reps,
        sizes.buffer >> 20
    );
    let rows = workloads::run(&sizes, &options.only);
    eprint!("{}", table(&rows));
    report_targets(&rows);
    let directory = workspace_root().join("target").join("perf");
    fs::create_dir_all(&directory)
        .map_err(|error| format!("creating {}: {error}", directory.display()))?;
    let path = directory.join("perf.json");
    fs::write(&path, json(&rows))
        .map_err(|error| format!("writing {}: {error}", path.display()))?;
    eprintln!("perf: wrote {}", path.display());
    Ok(())
}

/// The targets of PERF.md: a minimum ratio to the baseline, or a maximum
/// figure.
enum Target {
    Ratio(f64),
    AtMost(f64),
}

fn target(name: &str) -> Option<Target> {
    Some(match name {
        "copy_from_buf_4k" | "copy_to_buf_4k" | "copy_to_buf_merged" => Target::Ratio(0.98),
        "copy_to_buf_shuffled" => Target::Ratio(0.92),
        "pcopy_to_buf_skip" => Target::Ratio(1.15),
        "zero_4k" => Target::Ratio(0.85),
        "copy_small_512" => Target::AtMost(11.0),
        "alloc_free_4096" => Target::AtMost(0.75),
        "alloc_free_1m" => Target::AtMost(15.0),
        "from_pages_contig" => Target::AtMost(1.3),
        "from_pages_scattered" => Target::AtMost(3.4),
        "from_pages_runs8" => Target::AtMost(1.6),
        "walk_1m" => Target::AtMost(1.5),
        "entry_bytes" => Target::AtMost(32.0),
        "prp_1m" | "prp_1m_iova" => Target::AtMost(2.0),
        _ => return None,
    })
}

/// Prints, for each workload with a target, whether this run meets it.
/// Figures from a shared machine are noisy: compare ratios from one run
/// and the C reference (`../shared/perfref/run`) measured alongside.
fn report_targets(rows: &[Row]) {
    eprintln!(
        "\n{:<22} {:>16} {:>10}  verdict",
        "name", "target", "this run"
    );
    for row in rows {
        let Some(target) = target(row.name) else {
            continue;
        };
        let (wanted, got, met) = match target {
            Target::Ratio(minimum) => {
                let ratio = row.ratio().unwrap_or(0.0);
                (format!("ratio >= {minimum}"), ratio, ratio >= minimum)
            }
            Target::AtMost(maximum) => (
                format!("<= {maximum} {}", row.unit),
                row.value,
                row.value <= maximum,
            ),
        };
        eprintln!(
            "{:<22} {:>16} {:>10.3}  {}",
            row.name,
            wanted,
            got,
            if met { "meets" } else { "MISSES" }
        );
    }
}
