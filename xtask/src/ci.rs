//! `cargo xtask ci`: the one gate, in order, stopping at the first failure.

use std::process::Command;

use crate::command::{self, Steps, cargo, output, succeeds};

/// The library crates: built for a target without std.
const LIBRARY_CRATES: &[&str] = &["sg-core", "sg-alloc", "sg-iter", "sg-copy", "sg-dev"];

/// A target without std, to prove the library crates are `no_std`.
const NO_STD_TARGET: &str = "thumbv7em-none-eabihf";

/// The toolchain that has Miri.
const MIRI_TOOLCHAIN: &str = "nightly";

/// Miri's flags: strict provenance catches integer-to-pointer casts, which
/// the library does not need.
const MIRI_FLAGS: &str = "-Zmiri-strict-provenance";

/// A 32-bit target: Miri interprets the library crates' unit tests and the
/// tests of lengths near `u32::MAX` on it, with no cross linker needed.
const MIRI32_TARGET: &str = "i686-unknown-linux-gnu";

/// The integration tests run on the 32-bit target: lengths past
/// `u32::MAX` and a 32-bit `usize` (huge_lengths), entry sizes and
/// chunks, walks and slices, page iteration, and page lists of 4 GiB.
const MIRI32_TESTS: &[&str] = &["huge_lengths", "virt", "list", "page_iter", "page_list"];

/// The body of one step of the gate.
type Step = fn() -> Result<(), String>;

const USAGE: &str = "\
usage: cargo xtask ci [--skip STEP]...

Runs, in order: fmt, clippy, test, doc, no_std, package, miri, miri32, bench.
--skip STEP leaves a step out (for local iteration only: CI runs them all).
";

pub fn main(arguments: &[String]) -> Result<(), String> {
    let mut skipped: Vec<&str> = Vec::new();
    let mut arguments = arguments.iter();
    while let Some(argument) = arguments.next() {
        match argument.as_str() {
            "--skip" => skipped.push(
                arguments
                    .next()
                    .ok_or_else(|| format!("--skip needs a step name\n\n{USAGE}"))?,
            ),
            "--help" | "-h" => {
                print!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument `{other}`\n\n{USAGE}")),
        }
    }

    let steps: [(&str, Step); 9] = [
        ("fmt", fmt),
        ("clippy", clippy),
        ("test", test),
        ("doc", doc),
        ("no_std", no_std),
        ("package", package),
        ("miri", miri),
        ("miri32", miri32),
        ("bench", bench),
    ];
    for name in &skipped {
        if !steps.iter().any(|(step, _)| step == name) {
            return Err(format!("no step named `{name}`\n\n{USAGE}"));
        }
    }
    let mut gate = Steps::new();
    for (name, body) in steps {
        if skipped.contains(&name) {
            eprintln!("\n==> {name}: SKIPPED (--skip)");
            continue;
        }
        gate.step(name, body)?;
    }
    gate.summary();
    if skipped.is_empty() {
        eprintln!("\nci: every step passed");
    } else {
        eprintln!("\nci: passed, but skipped {skipped:?}: not a full gate");
    }
    Ok(())
}

/// `words` split at spaces, as the arguments of a command (no argument of
/// the gate has a space in it).
fn words(words: &str) -> std::str::SplitWhitespace<'_> {
    words.split_whitespace()
}

fn fmt() -> Result<(), String> {
    command::run(cargo(None).args(words("fmt --all --check")))
}

fn clippy() -> Result<(), String> {
    let arguments = "clippy --workspace --all-targets --all-features -- -D warnings";
    command::run(cargo(None).args(words(arguments)))
}

fn test() -> Result<(), String> {
    // Unit, integration and doc tests of every crate; examples are built.
    command::run(cargo(None).args(words("test --workspace --all-features")))
}

fn doc() -> Result<(), String> {
    let arguments = "doc --workspace --no-deps --all-features";
    command::run(
        cargo(None)
            .env("RUSTDOCFLAGS", "-D warnings")
            .args(words(arguments)),
    )
}

fn no_std() -> Result<(), String> {
    ensure_target(NO_STD_TARGET)?;
    let mut command = cargo(None);
    command.args(["build", "--target", NO_STD_TARGET, "--no-default-features"]);
    for name in LIBRARY_CRATES {
        command.args(["--package", name]);
    }
    command::run(&mut command)
}

/// `cargo package` of every library crate, verified: each `.crate` file
/// builds on its own, from what it would publish (the workspace siblings it
/// depends on are packaged in the same run and stand in for crates.io).
/// `--allow-dirty`: the step checks that the crates can be packaged, not
/// that the work tree is committed (CI's fresh clone is clean anyway).
/// xtask and sg-examples are not published (`publish = false`).
fn package() -> Result<(), String> {
    forget_packaged_sources();
    // Verification builds in a target directory of its own, emptied first:
    // Cargo never rebuilds a registry crate whose name and version it has
    // built before, so an old build of a packaged crate would be used.
    let target = std::path::Path::new("target").join("package-check");
    let _ = std::fs::remove_dir_all(&target);
    let arguments = "package --workspace --exclude xtask --exclude sg-examples --allow-dirty";
    command::run(
        cargo(None)
            .args(words(arguments))
            .arg("--target-dir")
            .arg(&target),
    )
}

/// The library crates this workspace packages, by name.
const PACKAGED: &[&str] = &[
    "sg-core",
    "sg-alloc",
    "sg-iter",
    "sg-copy",
    "sg-dev",
    "sg-guest",
    "sg-testkit",
];

/// Removes the sources Cargo unpacked from earlier runs of `cargo package`.
///
/// `cargo package --workspace` verifies each crate against the others'
/// freshly packaged `.crate` files through a local registry, and Cargo
/// unpacks a registry's crates under `$CARGO_HOME/registry/src/<registry>/`
/// once per name and version: a later run with changed sources but the same
/// version would build against the stale copy. Only local registries'
/// copies of this workspace's crates go (never crates.io's); a failure to
/// remove one is left for the verification to report.
fn forget_packaged_sources() {
    let home = std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|home| std::path::Path::new(&home).join(".cargo"))
        });
    let Some(sources) = home.map(|home| home.join("registry").join("src")) else {
        return;
    };
    let Ok(registries) = std::fs::read_dir(&sources) else {
        return;
    };
    for registry in registries.flatten() {
        if registry
            .file_name()
            .to_string_lossy()
            .starts_with("index.crates.io")
        {
            continue;
        }
        let Ok(crates) = std::fs::read_dir(registry.path()) else {
            continue;
        };
        for unpacked in crates.flatten() {
            let name = unpacked.file_name().to_string_lossy().into_owned();
            let ours = PACKAGED.iter().any(|packaged| {
                name.strip_prefix(packaged)
                    .is_some_and(|rest| rest.starts_with('-'))
            });
            if ours {
                let _ = std::fs::remove_dir_all(unpacked.path());
            }
        }
    }
}

/// The crates whose tests Miri interprets in the gate's second lane (the
/// first takes every other crate but xtask and sg-examples, so a new crate
/// lands there). The two lanes take about as long (7-8 minutes each on a
/// 2-core machine, where one lane after the other took 15-16).
const MIRI_SECOND_LANE: &[&str] = &["sg-copy", "sg-core", "sg-dev"];

/// The tests of every crate but xtask and sg-examples under Miri, in two
/// `cargo miri test` processes at once: Miri interprets on one thread, and
/// the machine CI runs on has two cores.
fn miri() -> Result<(), String> {
    ensure_miri()?;
    command::run(cargo(Some(MIRI_TOOLCHAIN)).args(["miri", "setup"]))?;
    // sg-examples has no code of its own, and its one test, the root
    // README's sample, writes a real file (which Miri's isolation refuses).
    let lane = || {
        let mut command = cargo(Some(MIRI_TOOLCHAIN));
        command
            .env("MIRIFLAGS", MIRI_FLAGS)
            .args(words("miri test --all-features"));
        command
    };
    let mut first = lane();
    first.args(words("--workspace --exclude xtask --exclude sg-examples"));
    let mut second = lane();
    for name in MIRI_SECOND_LANE {
        first.args(["--exclude", name]);
        second.args(["--package", name]);
    }
    let log = command::workspace_root().join("target/miri-second-lane.log");
    command::run_beside(&mut first, &mut second, &log)
}

/// The library crates' unit tests and the length tests on a 32-bit target,
/// under Miri.
fn miri32() -> Result<(), String> {
    ensure_miri()?;
    command::run(cargo(Some(MIRI_TOOLCHAIN)).args(["miri", "setup", "--target", MIRI32_TARGET]))?;
    let mut command = cargo(Some(MIRI_TOOLCHAIN));
    command.env("MIRIFLAGS", MIRI_FLAGS);
    // criterion, a dev-dependency, builds a small C file with `cc` that
    // needs only `stdint.h`; a 64-bit host compiler has no 32-bit C
    // library headers, but its freestanding ones serve. Nothing is linked:
    // Miri interprets.
    command.env(
        format!("CFLAGS_{}", MIRI32_TARGET.replace('-', "_")),
        "-ffreestanding",
    );
    command.args(["miri", "test", "--target", MIRI32_TARGET, "--lib"]);
    for name in LIBRARY_CRATES {
        command.args(["--package", name]);
    }
    for test in MIRI32_TESTS {
        command.args(["--test", test]);
    }
    command::run(&mut command)
}

/// A smoke run of every benchmark workload: `cargo xtask perf --quick`
/// (a release build and a few seconds of small sizes; it checks that every
/// workload runs and checks its own results, not how fast).
fn bench() -> Result<(), String> {
    crate::perf::main(&["--quick".to_owned()])
}

fn rustup() -> Command {
    Command::new("rustup")
}

fn ensure_target(target: &str) -> Result<(), String> {
    let installed = output(rustup().args(["target", "list", "--installed"])).map_err(|error| {
        format!("{error}\nrustup is needed to install the {target} target for the no_std build")
    })?;
    if installed.lines().any(|line| line.trim() == target) {
        return Ok(());
    }
    eprintln!("installing the {target} target with rustup");
    command::run(rustup().args(["target", "add", target]))
        .map_err(|error| format!("{error}\ncould not install the {target} target with rustup"))
}

fn ensure_miri() -> Result<(), String> {
    if succeeds(cargo(Some(MIRI_TOOLCHAIN)).args(["miri", "--version"])) {
        return Ok(());
    }
    let toolchains = output(rustup().args(["toolchain", "list"]))
        .map_err(|error| format!("{error}\nrustup is needed to install Miri"))?;
    let has_nightly = toolchains
        .lines()
        .any(|line| line.starts_with(&format!("{MIRI_TOOLCHAIN}-")));
    let installed = if has_nightly {
        eprintln!("installing the miri and rust-src components on {MIRI_TOOLCHAIN}");
        let arguments = format!("component add miri rust-src --toolchain {MIRI_TOOLCHAIN}");
        command::run(rustup().args(words(&arguments)))
    } else {
        eprintln!("installing the {MIRI_TOOLCHAIN} toolchain with miri and rust-src");
        let arguments = format!(
            "toolchain install {MIRI_TOOLCHAIN} --profile minimal --component miri,rust-src"
        );
        command::run(rustup().args(words(&arguments)))
    };
    installed.map_err(|error| {
        format!(
            "{error}\ncould not install Miri: run `rustup component add miri rust-src \
             --toolchain {MIRI_TOOLCHAIN}` by hand, or pick a nightly that has Miri"
        )
    })
}
