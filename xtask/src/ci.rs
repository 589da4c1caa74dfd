//! `cargo xtask ci`: the one gate, in order, stopping at the first failure.

use std::process::Command;

use crate::command::{self, Steps, cargo, output, succeeds};

/// The library crates: built for a target without std.
const LIBRARY_CRATES: &[&str] = &["sg-core", "sg-alloc", "sg-iter", "sg-copy"];

/// A target without std, to prove the library crates are `no_std`.
const NO_STD_TARGET: &str = "thumbv7em-none-eabihf";

/// The toolchain that has Miri.
const MIRI_TOOLCHAIN: &str = "nightly";

/// Miri's flags: strict provenance catches integer-to-pointer casts, which
/// the library does not need.
const MIRI_FLAGS: &str = "-Zmiri-strict-provenance";

/// The body of one step of the gate.
type Step = fn() -> Result<(), String>;

const USAGE: &str = "\
usage: cargo xtask ci [--skip STEP]...

Runs, in order: fmt, clippy, test, doc, no_std, miri, bench.
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

    let steps: [(&str, Step); 7] = [
        ("fmt", fmt),
        ("clippy", clippy),
        ("test", test),
        ("doc", doc),
        ("no_std", no_std),
        ("miri", miri),
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

fn fmt() -> Result<(), String> {
    command::run(cargo(None).args(["fmt", "--all", "--check"]))
}

fn clippy() -> Result<(), String> {
    command::run(cargo(None).args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--all-features",
        "--",
        "-D",
        "warnings",
    ]))
}

fn test() -> Result<(), String> {
    // Unit, integration and doc tests of every crate; examples are built.
    command::run(cargo(None).args(["test", "--workspace", "--all-features"]))
}

fn doc() -> Result<(), String> {
    command::run(cargo(None).env("RUSTDOCFLAGS", "-D warnings").args([
        "doc",
        "--workspace",
        "--no-deps",
        "--all-features",
    ]))
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

fn miri() -> Result<(), String> {
    ensure_miri()?;
    command::run(cargo(Some(MIRI_TOOLCHAIN)).args(["miri", "setup"]))?;
    // Every crate but xtask: each library crate has unsafe code, and the
    // tests of the others reach it.
    command::run(
        cargo(Some(MIRI_TOOLCHAIN))
            .env("MIRIFLAGS", MIRI_FLAGS)
            .args([
                "miri",
                "test",
                "--workspace",
                "--exclude",
                "xtask",
                "--all-features",
            ]),
    )
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
        command::run(rustup().args([
            "component",
            "add",
            "miri",
            "rust-src",
            "--toolchain",
            MIRI_TOOLCHAIN,
        ]))
    } else {
        eprintln!("installing the {MIRI_TOOLCHAIN} toolchain with miri and rust-src");
        command::run(rustup().args([
            "toolchain",
            "install",
            MIRI_TOOLCHAIN,
            "--profile",
            "minimal",
            "--component",
            "miri,rust-src",
        ]))
    };
    installed.map_err(|error| {
        format!(
            "{error}\ncould not install Miri: run `rustup component add miri rust-src \
             --toolchain {MIRI_TOOLCHAIN}` by hand, or pick a nightly that has Miri"
        )
    })
}
