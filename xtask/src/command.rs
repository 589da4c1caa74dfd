//! Running commands and timed steps.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// The workspace root (the parent of the xtask crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// A `cargo` command run at the workspace root with the given toolchain
/// (`None` for the one running xtask).
pub fn cargo(toolchain: Option<&str>) -> Command {
    let mut command = match toolchain {
        // `+toolchain` is understood by rustup's `cargo` proxy on the PATH.
        Some(name) => {
            let mut command = Command::new("cargo");
            command.arg(format!("+{name}"));
            command.env_remove("RUSTUP_TOOLCHAIN");
            command
        }
        None => Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())),
    };
    command.current_dir(workspace_root());
    command
}

/// Runs `command`, inheriting the terminal; an error names it on failure.
pub fn run(command: &mut Command) -> Result<(), String> {
    let shown = show(command);
    let status = command
        .status()
        .map_err(|error| format!("could not start `{shown}`: {error}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{shown}` failed ({status})"))
    }
}

/// Runs `first` and `second` at once: `first` on the terminal, `second`
/// into the file `log_path`, whose contents follow once both are done (so
/// that the two outputs do not interleave). Fails if either fails.
pub fn run_beside(
    first: &mut Command,
    second: &mut Command,
    log_path: &Path,
) -> Result<(), String> {
    let shown = show(second);
    if let Some(directory) = log_path.parent() {
        std::fs::create_dir_all(directory)
            .map_err(|error| format!("creating {}: {error}", directory.display()))?;
    }
    let log = std::fs::File::create(log_path)
        .map_err(|error| format!("creating {}: {error}", log_path.display()))?;
    let log_too = log
        .try_clone()
        .map_err(|error| format!("opening {} twice: {error}", log_path.display()))?;
    let mut child = second
        .stdout(log)
        .stderr(log_too)
        .spawn()
        .map_err(|error| format!("could not start `{shown}`: {error}"))?;
    eprintln!("(and at once, its output shown when done: {shown})");
    let first_result = run(first);
    let status = child
        .wait()
        .map_err(|error| format!("waiting for `{shown}`: {error}"));
    eprintln!("\n--- output of `{shown}` ---");
    match std::fs::read_to_string(log_path) {
        Ok(text) => eprint!("{text}"),
        Err(error) => eprintln!("(could not read {}: {error})", log_path.display()),
    }
    eprintln!("--- end of its output ---");
    let second_result = match status {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(format!("`{shown}` failed ({status})")),
        Err(message) => Err(message),
    };
    match (first_result, second_result) {
        (Ok(()), Ok(())) => Ok(()),
        (Err(message), Ok(())) | (Ok(()), Err(message)) => Err(message),
        (Err(first), Err(second)) => Err(format!("{first}; {second}")),
    }
}

/// Runs `command` quietly and tells whether it succeeded.
pub fn succeeds(command: &mut Command) -> bool {
    command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Runs `command` and returns its standard output.
pub fn output(command: &mut Command) -> Result<String, String> {
    let shown = show(command);
    let output = command
        .stderr(Stdio::inherit())
        .output()
        .map_err(|error| format!("could not start `{shown}`: {error}"))?;
    if !output.status.success() {
        return Err(format!("`{shown}` failed ({})", output.status));
    }
    String::from_utf8(output.stdout).map_err(|_| format!("`{shown}` printed non-UTF-8"))
}

fn show(command: &Command) -> String {
    let mut shown = command.get_program().to_string_lossy().into_owned();
    for argument in command.get_args() {
        shown.push(' ');
        shown.push_str(&argument.to_string_lossy());
    }
    shown
}

/// Steps of a gate, each timed and announced; the first failure stops it.
pub struct Steps {
    started: Instant,
    done: Vec<(String, f64)>,
}

impl Steps {
    pub fn new() -> Self {
        Steps {
            started: Instant::now(),
            done: Vec::new(),
        }
    }

    /// Runs one step, printing its name before and its time after.
    pub fn step(
        &mut self,
        name: &str,
        body: impl FnOnce() -> Result<(), String>,
    ) -> Result<(), String> {
        eprintln!("\n==> {name}");
        let started = Instant::now();
        let result = body();
        let seconds = started.elapsed().as_secs_f64();
        match result {
            Ok(()) => {
                eprintln!("==> {name}: ok in {seconds:.1} s");
                self.done.push((name.to_owned(), seconds));
                Ok(())
            }
            Err(message) => {
                eprintln!("==> {name}: FAILED after {seconds:.1} s");
                Err(format!("step `{name}` failed: {message}"))
            }
        }
    }

    /// Prints every step's time and the total.
    pub fn summary(&self) {
        eprintln!("\nsummary:");
        for (name, seconds) in &self.done {
            eprintln!("  {seconds:>7.1} s  {name}");
        }
        eprintln!("  {:>7.1} s  total", self.started.elapsed().as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shell(script: &str) -> Command {
        let mut command = Command::new("sh");
        command.args(["-c", script]);
        command
    }

    #[test]
    fn commands_run_beside_each_other_and_either_failure_fails_both() {
        let directory = std::env::temp_dir().join(format!("xtask-beside-{}", std::process::id()));
        let log = directory.join("second.log");
        let ok = "echo from the second";
        run_beside(&mut shell("true"), &mut shell(ok), &log).unwrap();
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "from the second\n");
        // Both run at once: the first finds the file the second makes at
        // its start, and the second waits (10 s at most) for the file the
        // first makes.
        let first = format!(
            "sleep 0.5; test -e {0}/began && touch {0}/first",
            directory.display()
        );
        let second = format!(
            "touch {0}/began; i=0; while ! test -e {0}/first; do \
             i=$((i + 1)); test $i -lt 200 || exit 9; sleep 0.05; done",
            directory.display()
        );
        run_beside(&mut shell(&first), &mut shell(&second), &log).unwrap();
        let second_fails = run_beside(&mut shell("true"), &mut shell("exit 3"), &log);
        assert!(second_fails.unwrap_err().contains("exit 3"));
        let first_fails = run_beside(&mut shell("exit 4"), &mut shell("true"), &log);
        assert!(first_fails.unwrap_err().contains("exit 4"));
        let both_fail = run_beside(&mut shell("exit 4"), &mut shell("exit 3"), &log).unwrap_err();
        assert!(
            both_fail.contains("exit 4") && both_fail.contains("exit 3"),
            "{both_fail}"
        );
        std::fs::remove_dir_all(&directory).unwrap();
    }
}
