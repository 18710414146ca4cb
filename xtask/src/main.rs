//! `cargo xtask`: the one way to run fernchat's chores.

mod bench;
mod ci;
mod fuzz;
mod python;
mod shell;

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
    /// thumbv7m build of the core, and a short run of every fuzz target.
    Ci,
    /// Run the fuzz targets (nightly, cargo-fuzz).
    Fuzz(fuzz::FuzzArgs),
    /// Run a benchmark and print ratios against the alternatives.
    Bench(bench::BenchArgs),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().task {
        Task::Ci => ci::run(),
        Task::Fuzz(args) => fuzz::run(&args),
        Task::Bench(args) => bench::run(&args),
    }
}
