//! `cargo xtask ci`: everything CI checks, installing what it can.

use crate::shell::{cmd, exec};
use anyhow::Result;

/// The target the core must build for (QEMU's mps2-an385 Cortex-M3).
const EMBEDDED_TARGET: &str = "thumbv7m-none-eabi";

/// Runs every check in order; stops at the first failure.
pub fn run() -> Result<()> {
    exec(&mut cmd("cargo", &["fmt", "--all", "--check"]))?;
    exec(&mut cmd(
        "cargo",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    ))?;
    // Every public item documented and every doc link resolving.
    exec(cmd("cargo", &["doc", "--no-deps", "--workspace"]).env("RUSTDOCFLAGS", "-D warnings"))?;
    let python = crate::python::ensure_venv()?;
    // QEMU and the firmware images, for the QEMU tests in tests/.
    let qemu = crate::qemu::test_env()?;
    exec(
        cmd("cargo", &["test", "--workspace"])
            .env("FERNCHAT_PYTHON", &python)
            .envs(qemu),
    )?;
    crate::deploy::check(&python)?;
    exec(&mut cmd("rustup", &["target", "add", EMBEDDED_TARGET]))?;
    exec(&mut cmd(
        "cargo",
        &[
            "build",
            "-p",
            "fernchat-core",
            "--target",
            EMBEDDED_TARGET,
            "--release",
        ],
    ))?;
    crate::firmware::lint()?;
    crate::size::run()?;
    crate::fuzz::smoke()?;
    eprintln!("xtask: ci passed");
    Ok(())
}
