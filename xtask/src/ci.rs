//! `cargo xtask ci`: everything CI checks, installing what it can.

use crate::shell::{cmd, exec};
use anyhow::Result;

/// The target the core must build for (QEMU's mps2-an385 Cortex-M3).
const EMBEDDED_TARGET: &str = "thumbv7m-none-eabi";

/// Runs every check in order; stops at the first failure.
pub fn run() -> Result<()> {
    exec(&mut cmd("cargo", &["fmt", "--all", "--check"]))?;
    exec(&mut cmd("cargo", &["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]))?;
    let python = crate::python::ensure_venv()?;
    exec(cmd("cargo", &["test", "--workspace"]).env("FERNCHAT_PYTHON", &python))?;
    exec(&mut cmd("rustup", &["target", "add", EMBEDDED_TARGET]))?;
    exec(&mut cmd(
        "cargo",
        &["build", "-p", "fernchat-core", "--target", EMBEDDED_TARGET, "--release"],
    ))?;
    crate::fuzz::smoke()?;
    eprintln!("xtask: ci passed");
    Ok(())
}
