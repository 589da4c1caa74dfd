//! `cargo xtask perf`: every workload of PERF.md in one release process,
//! with its baseline measured alongside; the peers (`examples/peers.rs`,
//! which may use xtask's dev-dependencies) in another; one table on stderr
//! and `target/perf/perf.json` with both; then, when `../shared/perfref/run`
//! exists next to the workspace, the C reference run right after and every
//! target of PERF.md checked against it.

use std::fs;
use std::path::{Path, PathBuf};

use crate::command::{self, cargo, workspace_root};
use crate::measure::{Row, json, table};
use crate::workloads::{self, Sizes};

const USAGE: &str = "\
usage: cargo xtask perf [--quick] [--reps N] [--only NAME]... [--no-c]

Runs every workload of PERF.md with its baseline in one release process,
and the peers (hand loops, std::io vectored I/O, vm-memory, per-segment
memcpy) in another, and writes target/perf/perf.json. --quick uses small
sizes (a smoke test of a few seconds); --reps sets the repetitions per
figure (7 to 255, default 11); --only runs the named workloads (and their
baselines) alone, for profiling (peer workloads match by part of a name,
e.g. `--only copy_in_2x256`). Unless --quick or --no-c, the C reference
(../shared/perfref/run, when it exists) runs right after and the targets
are checked against it.
";

/// Parsed options, passed on unchanged to the release process.
struct Options {
    quick: bool,
    reps: usize,
    only: Vec<String>,
    no_c: bool,
    /// The rows the peers process printed (passed by `main` to `run`).
    peer_rows: Option<PathBuf>,
}

fn parse(arguments: &[String]) -> Result<Option<Options>, String> {
    let mut options = Options {
        quick: false,
        reps: 11,
        only: Vec::new(),
        no_c: false,
        peer_rows: None,
    };
    let mut arguments = arguments.iter();
    while let Some(argument) = arguments.next() {
        match argument.as_str() {
            "--quick" => options.quick = true,
            "--no-c" => options.no_c = true,
            "--peer-rows" => {
                options.peer_rows =
                    Some(arguments.next().ok_or("--peer-rows needs a file")?.into());
            }
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

/// `cargo xtask perf`: builds xtask and its peers example in release, runs
/// the peers, then the workloads (which merge the peers' rows), then the C
/// reference when it is there.
pub fn main(arguments: &[String]) -> Result<(), String> {
    let Some(options) = parse(arguments)? else {
        return Ok(());
    };
    let directory = perf_directory()?;
    let mut peers = cargo(None);
    peers.args([
        "run",
        "--release",
        "--quiet",
        "--package",
        "xtask",
        "--example",
        "peers",
        "--",
    ]);
    peers.args(arguments.iter().filter(|argument| *argument != "--no-c"));
    let peer_rows = command::output(&mut peers)?;
    let peer_file = directory.join("peers.tsv");
    fs::write(&peer_file, peer_rows)
        .map_err(|error| format!("writing {}: {error}", peer_file.display()))?;
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
    command.arg("--peer-rows").arg(&peer_file);
    command::run(&mut command)?;
    let reference = workspace_root().join("../shared/perfref/run");
    if options.quick || options.no_c || !reference.exists() {
        return Ok(());
    }
    eprintln!(
        "\nperf: the C reference, right after: {}",
        reference.display()
    );
    let mut c = std::process::Command::new(&reference);
    if options.reps != 11 {
        c.args(["--reps", &options.reps.to_string()]);
    }
    let c_json = command::output(&mut c)?;
    fs::write(directory.join("perfref.json"), &c_json)
        .map_err(|error| format!("writing perfref.json: {error}"))?;
    let ours = fs::read_to_string(directory.join("perf.json"))
        .map_err(|error| format!("reading perf.json: {error}"))?;
    report_targets(&parse_json(&ours), &parse_json(&c_json));
    Ok(())
}

/// `target/perf`, created.
fn perf_directory() -> Result<PathBuf, String> {
    let directory = workspace_root().join("target").join("perf");
    fs::create_dir_all(&directory)
        .map_err(|error| format!("creating {}: {error}", directory.display()))?;
    Ok(directory)
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
    let mut rows = workloads::run(&sizes, &options.only);
    if let Some(file) = &options.peer_rows {
        rows.extend(peer_rows(file)?);
    }
    eprint!("{}", table(&rows));
    let figures: Vec<Figure> = rows
        .iter()
        .map(|row| Figure {
            name: row.name.to_owned(),
            value: row.value,
            ratio: row.ratio(),
        })
        .collect();
    report_targets(&figures, &[]);
    let path = perf_directory()?.join("perf.json");
    fs::write(&path, json(&rows))
        .map_err(|error| format!("writing {}: {error}", path.display()))?;
    eprintln!("perf: wrote {}", path.display());
    Ok(())
}

/// The rows the peers process printed, one per line.
fn peer_rows(file: &Path) -> Result<Vec<Row>, String> {
    let text =
        fs::read_to_string(file).map_err(|error| format!("reading {}: {error}", file.display()))?;
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| Row::from_line(line).ok_or_else(|| format!("bad peer row `{line}`")))
        .collect()
}

/// One figure of a JSON report (ours or the C reference's).
struct Figure {
    name: String,
    value: f64,
    ratio: Option<f64>,
}

/// The figures of a JSON report as `measure::json` and perfref write it:
/// one flat object per line.
fn parse_json(text: &str) -> Vec<Figure> {
    let field = |line: &str, key: &str| -> Option<String> {
        let start = line.find(&format!("\"{key}\":"))? + key.len() + 3;
        let rest = line[start..].trim_start();
        let rest = rest.strip_prefix('"').unwrap_or(rest);
        let end = rest.find(['"', ',', '}']).unwrap_or(rest.len());
        Some(rest[..end].trim().to_owned())
    };
    text.lines()
        .filter_map(|line| {
            Some(Figure {
                name: field(line, "name")?,
                value: field(line, "value")?.parse().ok()?,
                ratio: field(line, "ratio").and_then(|ratio| ratio.parse().ok()),
            })
        })
        .collect()
}

/// One target of PERF.md. Every target is a ratio measured in one run:
/// to the row's baseline (memcpy, memset, a bare read or allocation, a
/// peer), or to the C reference's figure of the same name from the run
/// right after.
#[derive(Clone, Copy)]
enum Target {
    /// ratio >= x.
    RatioAtLeast(f64),
    /// ratio <= x (rows in time units: ours over the baseline's).
    RatioAtMost(f64),
    /// ratio >= C's ratio.
    RatioAtLeastC,
    /// value <= x times C's value (time units).
    AtMostTimesC(f64),
    /// value <= x (a size).
    AtMost(f64),
}

fn targets(name: &str) -> Vec<Target> {
    use Target::*;
    match name {
        "copy_from_buf_4k" | "copy_to_buf_4k" | "copy_to_buf_merged" => {
            vec![RatioAtLeast(0.98), RatioAtLeastC]
        }
        "copy_to_buf_shuffled" | "pcopy_to_buf_skip" => vec![RatioAtLeastC],
        "zero_4k" => vec![RatioAtLeast(0.85), RatioAtLeastC],
        "copy_small_512"
        | "alloc_free_4096"
        | "from_pages_contig"
        | "from_pages_scattered"
        | "from_pages_runs8" => vec![AtMostTimesC(0.9)],
        "alloc_free_1m" => vec![AtMostTimesC(1.0)],
        "walk_1m" => vec![AtMostTimesC(1.0), RatioAtMost(1.0)],
        "entry_bytes" => vec![AtMost(32.0)],
        "prp_1m" | "prp_1m_iova" => vec![AtMost(2.0)],
        // Ours over virtio-queue's Reader/Writer (`guest_queue_*`) and over
        // vm-memory's bare read_slice/write_slice, which checks no chain
        // (`guest_*`), and over one pwrite/pread of a contiguous buffer
        // (GB/s).
        name if name.starts_with("guest_") => vec![RatioAtLeast(1.0)],
        name if name.starts_with("io_") => vec![RatioAtLeast(1.0)],
        // Peers: the peer's time over sg's.
        name if name.starts_with("peer_copy_in_2x256") => vec![RatioAtLeast(0.77)],
        name if name.starts_with("peer_build") => vec![RatioAtLeast(0.5)],
        name if name.starts_with("peer_") => vec![RatioAtLeast(1.0)],
        // sg over the per-segment memcpy of the same pieces (a few-entry
        // copy is all call overhead, which the hand-loop peer judges).
        name if name.starts_with("floor_copy_in_2x256") => vec![],
        name if name.starts_with("floor_") => vec![RatioAtLeast(0.95)],
        _ => vec![],
    }
}

/// Prints, for each target, whether this run meets it; targets against
/// the C reference need `c` (empty: not checked yet). Figures from a
/// shared machine are noisy: compare ratios from one run.
fn report_targets(ours: &[Figure], c: &[Figure]) {
    eprintln!(
        "\n{:<38} {:>22} {:>10} {:>10}  verdict",
        "name", "target", "this run", "C"
    );
    let mut missed = 0;
    for figure in ours {
        let c_figure = c.iter().find(|other| other.name == figure.name);
        for target in targets(&figure.name) {
            let ratio = figure.ratio.unwrap_or(f64::NAN);
            let (wanted, got, reference, met) = match target {
                Target::RatioAtLeast(minimum) => (
                    format!("ratio >= {minimum}"),
                    ratio,
                    None,
                    Some(ratio >= minimum),
                ),
                Target::RatioAtMost(maximum) => (
                    format!("ratio <= {maximum}"),
                    ratio,
                    None,
                    Some(ratio <= maximum),
                ),
                Target::AtMost(maximum) => (
                    format!("<= {maximum}"),
                    figure.value,
                    None,
                    Some(figure.value <= maximum),
                ),
                Target::RatioAtLeastC => {
                    let theirs = c_figure.and_then(|c| c.ratio);
                    (
                        "ratio >= C's".to_owned(),
                        ratio,
                        theirs,
                        theirs.map(|c| ratio >= c),
                    )
                }
                Target::AtMostTimesC(factor) => {
                    let theirs = c_figure.map(|c| c.value);
                    (
                        format!("<= {factor} x C"),
                        figure.value,
                        theirs,
                        theirs.map(|c| figure.value <= factor * c),
                    )
                }
            };
            let reference = reference.map_or_else(|| "-".to_owned(), |c| format!("{c:.3}"));
            let verdict = match met {
                Some(true) => "meets",
                Some(false) => {
                    missed += 1;
                    "MISSES"
                }
                None => "(needs C)",
            };
            eprintln!(
                "{:<38} {:>22} {:>10.3} {:>10}  {verdict}",
                figure.name, wanted, got, reference
            );
        }
    }
    eprintln!("perf: {missed} target(s) missed in this run");
}
