//! A Python virtual environment with `cryptography`, for the interop tests,
//! and `selenium`, for the browser tests (`tests/python/chromium.py`).

use crate::shell::{exec, root};
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::process::Command;

/// Makes (once) `target/python-venv` with `cryptography` and `selenium` in
/// it and gives the path of its `python`.
pub fn ensure_venv() -> Result<PathBuf> {
    let venv = root().join("target").join("python-venv");
    let python = venv.join("bin").join("python");
    if !has_packages(&python) {
        exec(Command::new("python3").args(["-m", "venv"]).arg(&venv)).context(
            "cannot make a Python venv: install python3 and python3-venv (Debian: apt-get install python3-venv)",
        )?;
        exec(Command::new(&python).args(PIP_INSTALL).args(PACKAGES))
            .context("cannot install Python's cryptography and selenium from PyPI")?;
    }
    Ok(python)
}

/// The packages the tests import.
const PACKAGES: [&str; 2] = ["cryptography", "selenium"];
const PIP_INSTALL: [&str; 4] = ["-m", "pip", "install", "--quiet"];

fn has_packages(python: &PathBuf) -> bool {
    Command::new(python)
        .args(["-c", "import cryptography.fernet, selenium"])
        .output()
        .is_ok_and(|out| out.status.success())
}
