//! `cargo xtask`: the one way to run fernchat's chores.

mod bench;
mod ci;
mod debian;
mod deploy;
mod firmware;
mod fuzz;
mod python;
mod qemu;
mod shell;
mod size;

use clap::{Parser, Subcommand};

/// fernchat's project tasks.
#[derive(Parser)]
#[command(name = "cargo xtask", about = "fernchat's project tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Everything CI checks: fmt, clippy, tests (with Python interop), the
    /// deploy checks, the microcontroller builds of Fernet and the core,
    /// and a short run of every fuzz target.
    Ci,
    /// Check deploy/: `systemd-analyze verify` on the service unit and
    /// hadolint on the Containerfile.
    Deploy,
    /// Run the fuzz targets (nightly, cargo-fuzz).
    Fuzz(fuzz::FuzzArgs),
    /// Run a benchmark and print ratios against the alternatives.
    Bench(bench::BenchArgs),
    /// Build the mps2-an385 firmware images (relay, client, and the test
    /// image that overflows its stack).
    Firmware,
    /// Boot a firmware image on QEMU's mps2-an385 (installs qemu-system-arm
    /// if missing): `cargo xtask qemu server` serves 127.0.0.1:10101.
    Qemu(qemu::QemuArgs),
    /// Print each firmware image's flash and RAM against the goals, and
    /// where the bytes go.
    Size,
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().task {
        Task::Ci => ci::run(),
        Task::Deploy => crate::python::ensure_venv().and_then(|python| deploy::check(&python)),
        Task::Fuzz(args) => fuzz::run(&args),
        Task::Bench(args) => bench::run(&args),
        Task::Firmware => firmware::build(),
        Task::Qemu(args) => qemu::run(&args),
        Task::Size => size::run(),
    }
}
