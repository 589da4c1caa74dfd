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
