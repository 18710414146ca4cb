//! `cargo xtask ci`: everything CI checks, installing what it can.

use crate::shell::{cmd, exec};
use anyhow::Result;

/// The microcontroller cores `fernchat-fernet`, `fernchat-core` and
/// `fernchat-embedded` must build for, with no alloc: Cortex-M0+ (no atomic
/// compare-and-swap), Cortex-M3 (QEMU's mps2-an385), Cortex-M4F, and the
/// ESP32-C3's RISC-V (no atomic compare-and-swap either). `.ci/run`
/// installs them.
const EMBEDDED_TARGETS: [&str; 4] = [
    "thumbv6m-none-eabi",
    "thumbv7m-none-eabi",
    "thumbv7em-none-eabihf",
    "riscv32imc-unknown-none-elf",
];

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
    let old_chat_python = crate::python::ensure_old_chat_venv()?;
    // QEMU and the firmware images, for the QEMU tests in tests/.
    let qemu = crate::qemu::test_env()?;
    // nats-server, HAProxy and headless Chromium for the bridge, proxy and
    // browser tests.
    crate::debian::ensure(&[
        crate::debian::NATS_SERVER,
        crate::debian::HAPROXY,
        crate::debian::CHROMIUM,
        crate::debian::CHROMEDRIVER,
    ])?;
    exec(
        cmd("cargo", &["test", "--workspace"])
            .env("FERNCHAT_PYTHON", &python)
            .env("FERNCHAT_OLD_CHAT_PYTHON", &old_chat_python)
            .envs(qemu),
    )?;
    crate::deploy::check(&python)?;
    for target in EMBEDDED_TARGETS {
        exec(&mut cmd("rustup", &["target", "add", target]))?;
        // Fernet on its own first: a board may take it without the chat,
        // so it must build without the features core's build unifies in.
        exec(&mut cmd(
            "cargo",
            &[
                "build",
                "-p",
                "fernchat-fernet",
                "--target",
                target,
                "--release",
            ],
        ))?;
        exec(&mut cmd(
            "cargo",
            &[
                "build",
                "-p",
                "fernchat-core",
                "-p",
                "fernchat-embedded",
                "--target",
                target,
                "--release",
            ],
        ))?;
    }
    crate::firmware::lint()?;
    crate::size::run()?;
    crate::fuzz::smoke()?;
    eprintln!("xtask: ci passed");
    Ok(())
}
