//! `cargo xtask fuzz`: every cargo-fuzz target of `fuzz/`, one after the
//! other, each for a given time, with a summary of what libFuzzer reached.
//!
//! Each target starts from its committed corpus (`fuzz/corpus/<target>`,
//! read only) and writes what it finds to a working corpus under the
//! target directory, so a run never changes the repository unless asked
//! (`--save-corpus` merges the finds into the committed corpus and
//! minimises it with `cargo fuzz cmin`, keeping the inputs that reach new
//! edges). A crash leaves its input in
//! `fuzz/artifacts/<target>/` and fails the command.

use std::fs;
use std::path::{Path, PathBuf};

use crate::command::{self, cargo, output, succeeds, workspace_root};

/// cargo-fuzz needs a nightly toolchain (sanitizers, `-Z` flags).
const TOOLCHAIN: &str = "nightly";

/// Seconds per target when `--seconds` is not given.
const DEFAULT_SECONDS: u64 = 60;

const USAGE: &str = "\
usage: cargo xtask fuzz [--seconds N] [--target NAME]... [--save-corpus]

Runs every cargo-fuzz target of fuzz/ (or the ones named) for N seconds
each (default 60), then prints per target the executions per second and
the coverage libFuzzer reached (cov: edges, ft: features).
--save-corpus  merges the new inputs into fuzz/corpus/<target> and
               minimises it with `cargo fuzz cmin` (by edges reached).
Installs cargo-fuzz with `cargo install` when it is missing.
";

/// What libFuzzer said at the end of a run.
#[derive(Debug, Default, PartialEq)]
struct Stats {
    executions: u64,
    per_second: u64,
    coverage: u64,
    features: u64,
    corpus: u64,
}

pub fn main(arguments: &[String]) -> Result<(), String> {
    let mut seconds = DEFAULT_SECONDS;
    let mut chosen: Vec<String> = Vec::new();
    let mut save_corpus = false;
    let mut arguments = arguments.iter();
    while let Some(argument) = arguments.next() {
        match argument.as_str() {
            "--seconds" => {
                let value = arguments
                    .next()
                    .ok_or_else(|| format!("--seconds needs a number\n\n{USAGE}"))?;
                seconds = value
                    .parse()
                    .ok()
                    .filter(|&seconds| seconds > 0)
                    .ok_or_else(|| {
                        format!("--seconds {value}: not a positive number\n\n{USAGE}")
                    })?;
            }
            "--target" => chosen.push(
                arguments
                    .next()
                    .ok_or_else(|| format!("--target needs a name\n\n{USAGE}"))?
                    .clone(),
            ),
            "--save-corpus" => save_corpus = true,
            "--help" | "-h" => {
                print!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument `{other}`\n\n{USAGE}")),
        }
    }

    ensure_cargo_fuzz()?;
    let targets = targets()?;
    for name in &chosen {
        if !targets.contains(name) {
            return Err(format!("no fuzz target `{name}`; there are {targets:?}"));
        }
    }
    let targets = if chosen.is_empty() { targets } else { chosen };

    let work = target_dir().join("fuzz");
    let mut results = Vec::new();
    let mut failures = Vec::new();
    for target in &targets {
        eprintln!("\n==> fuzzing `{target}` for {seconds} s");
        match run(target, seconds, &work) {
            Ok(stats) => {
                eprintln!("==> {target}: {}", describe(&stats, seconds));
                if save_corpus {
                    save(target, &work)?;
                }
                results.push((target.clone(), stats));
            }
            Err(message) => {
                eprintln!("==> {target}: FAILED");
                failures.push(format!("{target}: {message}"));
            }
        }
    }

    eprintln!("\nfuzz summary ({seconds} s per target):");
    for (target, stats) in &results {
        eprintln!("  {target:<12} {}", describe(stats, seconds));
    }
    if failures.is_empty() {
        eprintln!("  no finding");
        Ok(())
    } else {
        Err(format!(
            "{} target(s) found a failure:\n{}",
            failures.len(),
            failures.join("\n")
        ))
    }
}

/// One line of a target's stats.
fn describe(stats: &Stats, seconds: u64) -> String {
    format!(
        "{} executions in {seconds} s ({} exec/s), cov: {}, ft: {}, corpus: {} inputs",
        stats.executions, stats.per_second, stats.coverage, stats.features, stats.corpus
    )
}

/// The target directory cargo builds into (the fuzz runs keep their
/// working corpora and logs there).
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// Installs cargo-fuzz when `cargo fuzz` does not run.
fn ensure_cargo_fuzz() -> Result<(), String> {
    if !succeeds(cargo(Some(TOOLCHAIN)).args(["--version"])) {
        return Err(format!(
            "the {TOOLCHAIN} toolchain is needed to fuzz: install it with \
             `rustup toolchain install {TOOLCHAIN} --profile minimal`"
        ));
    }
    if succeeds(cargo(Some(TOOLCHAIN)).args(["fuzz", "--version"])) {
        return Ok(());
    }
    eprintln!("installing cargo-fuzz with `cargo install cargo-fuzz --locked`");
    command::run(cargo(None).args(["install", "cargo-fuzz", "--locked"])).map_err(|error| {
        format!(
            "{error}\ncould not install cargo-fuzz: install it by hand with \
             `cargo install cargo-fuzz`, then run this again"
        )
    })?;
    if succeeds(cargo(Some(TOOLCHAIN)).args(["fuzz", "--version"])) {
        Ok(())
    } else {
        Err(
            "cargo-fuzz was installed but `cargo fuzz` does not run: is ~/.cargo/bin on the PATH?"
                .to_owned(),
        )
    }
}

/// The fuzz targets, as `cargo fuzz list` names them.
fn targets() -> Result<Vec<String>, String> {
    let listed = output(cargo(Some(TOOLCHAIN)).args(["fuzz", "list"]))?;
    let targets: Vec<String> = listed
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect();
    if targets.is_empty() {
        return Err("`cargo fuzz list` names no target".to_owned());
    }
    Ok(targets)
}

/// The committed corpus of `target`.
fn committed_corpus(target: &str) -> PathBuf {
    workspace_root().join("fuzz").join("corpus").join(target)
}

/// Runs `target` for `seconds`, starting from its committed corpus, and
/// returns libFuzzer's final stats; the whole output goes to a log.
fn run(target: &str, seconds: u64, work: &Path) -> Result<Stats, String> {
    let corpus = work.join("corpus").join(target);
    let committed = committed_corpus(target);
    for directory in [&corpus, &committed] {
        fs::create_dir_all(directory)
            .map_err(|error| format!("cannot create {}: {error}", directory.display()))?;
    }
    let log = work.join(format!("{target}.log"));
    let mut command = cargo(Some(TOOLCHAIN));
    command.args(["fuzz", "run", target]);
    // New inputs go to the first directory; the committed corpus is read.
    command.arg(&corpus).arg(&committed);
    command.args([
        "--".to_owned(),
        format!("-max_total_time={seconds}"),
        "-print_final_stats=1".to_owned(),
        // An input that takes this long is a hang: a finding.
        "-timeout=20".to_owned(),
    ]);
    let shown = format!("cargo +{TOOLCHAIN} fuzz run {target} ...");
    let result = command
        .output()
        .map_err(|error| format!("could not start `{shown}`: {error}"))?;
    let mut text = String::from_utf8_lossy(&result.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&result.stderr));
    fs::write(&log, &text).map_err(|error| format!("cannot write {}: {error}", log.display()))?;
    if !result.status.success() {
        let tail: Vec<&str> = text.lines().rev().take(30).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(format!(
            "`{shown}` failed ({}); the crashing input is in fuzz/artifacts/{target}/, \
             the whole log in {}\n{}",
            result.status,
            log.display(),
            tail.join("\n")
        ));
    }
    parse_stats(&text)
        .ok_or_else(|| format!("libFuzzer printed no final stats (see {})", log.display()))
}

/// The final stats of a libFuzzer log: the executions and their rate from
/// `-print_final_stats`, coverage and corpus size from the last status
/// line (`#N DONE cov: C ft: F corp: U/...`).
fn parse_stats(log: &str) -> Option<Stats> {
    let stat = |name: &str| {
        log.lines()
            .rev()
            .find_map(|line| line.strip_prefix(name)?.trim().parse::<u64>().ok())
    };
    let status = log.lines().rev().find(|line| line.contains(" cov: "))?;
    let field = |name: &str| {
        let mut words = status.split_whitespace();
        words.find(|word| *word == name)?;
        let value = words.next()?;
        value.split('/').next()?.parse::<u64>().ok()
    };
    Some(Stats {
        executions: stat("stat::number_of_executed_units:")?,
        per_second: stat("stat::average_exec_per_sec:")?,
        coverage: field("cov:")?,
        features: field("ft:")?,
        corpus: field("corp:")?,
    })
}

/// Merges the working corpus of `target` into the committed one and
/// minimises it.
fn save(target: &str, work: &Path) -> Result<(), String> {
    let corpus = work.join("corpus").join(target);
    let committed = committed_corpus(target);
    let entries = fs::read_dir(&corpus)
        .map_err(|error| format!("cannot read {}: {error}", corpus.display()))?;
    for entry in entries {
        let entry = entry.map_err(|error| format!("cannot read {}: {error}", corpus.display()))?;
        let to = committed.join(entry.file_name());
        fs::copy(entry.path(), &to)
            .map_err(|error| format!("cannot copy to {}: {error}", to.display()))?;
    }
    eprintln!("==> minimising fuzz/corpus/{target}");
    // Keep the inputs that reach new edges, not every new feature (hit
    // counts, compared values): the same coverage in a small corpus.
    command::run(cargo(Some(TOOLCHAIN)).args([
        "fuzz",
        "cmin",
        target,
        "--",
        "-use_counters=0",
        "-use_value_profile=0",
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_stats_are_read_from_a_libfuzzer_log() {
        let log = "\
#138736\tNEW    cov: 2786 ft: 11594 corp: 1330/36Kb lim: 86 exec/s: 4624 rss: 511Mb L: 72/86
#138806\tDONE   cov: 2790 ft: 11600 corp: 1331/36Kb lim: 86 exec/s: 4477 rss: 511Mb
###### Recommended dictionary. ######
\"\\377\\377\" # Uses: 141
###### End of recommended dictionary. ######
Done 138806 runs in 31 second(s)
stat::number_of_executed_units: 138806
stat::average_exec_per_sec:     4477
stat::new_units_added:          1496
";
        assert_eq!(
            parse_stats(log),
            Some(Stats {
                executions: 138_806,
                per_second: 4477,
                coverage: 2790,
                features: 11_600,
                corpus: 1331,
            })
        );
        assert_eq!(parse_stats("no stats here"), None);
    }
}
