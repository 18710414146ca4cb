//! A Python virtual environment with `cryptography` and `nats-py`, for the
//! interop tests.

use crate::shell::{exec, root};
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::process::Command;

/// Makes (once) `target/python-venv` with `cryptography` and `nats-py` in it and gives
/// the path of its `python`.
pub fn ensure_venv() -> Result<PathBuf> {
    let venv = root().join("target").join("python-venv");
    let python = venv.join("bin").join("python");
    if !has_packages(&python) {
        exec(Command::new("python3").args(["-m", "venv"]).arg(&venv)).context(
            "cannot make a Python venv: install python3 and python3-venv (Debian: apt-get install python3-venv)",
        )?;
        exec(Command::new(&python).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "cryptography",
            "nats-py",
        ]))
        .context("cannot install Python's cryptography and nats-py from PyPI")?;
    }
    Ok(python)
}

fn has_packages(python: &PathBuf) -> bool {
    Command::new(python)
        .args(["-c", "import cryptography.fernet, nats"])
        .output()
        .is_ok_and(|out| out.status.success())
}
