//! `cargo xtask bench`: benchmarks that compare side by side in one run.

use anyhow::Result;

/// Options of `cargo xtask bench`.
#[derive(clap::Args)]
pub struct BenchArgs {}

/// Runs a benchmark.
pub fn run(_args: &BenchArgs) -> Result<()> {
    anyhow::bail!("benchmarks are not written yet")
}
