//! `cargo xtask bench`: benchmarks that compare side by side in one run.

use crate::shell::{cmd, exec};
use anyhow::Result;

/// Options of `cargo xtask bench`.
#[derive(clap::Args)]
pub struct BenchArgs {
    /// Which benchmark to run.
    #[arg(value_enum)]
    name: Bench,
    /// Passed on to the benchmark binary (e.g. `-- --rounds 11 --batch-ms 2`).
    #[arg(last = true)]
    extra: Vec<String>,
}

/// The benchmarks; each is a `harness = false` bench target that prints its
/// own table of figures, ratios and goals.
#[derive(Clone, Copy, clap::ValueEnum)]
enum Bench {
    /// Fernet encrypt/decrypt: fernchat-core against the `fernet` crate and
    /// the bare primitives (core/benches/fernet.rs).
    Core,
}

impl Bench {
    /// The package and bench target that hold this benchmark.
    fn target(self) -> (&'static str, &'static str) {
        match self {
            Bench::Core => ("fernchat-core", "fernet"),
        }
    }
}

/// Runs a benchmark.
pub fn run(args: &BenchArgs) -> Result<()> {
    let (package, bench) = args.name.target();
    let mut command = cmd("cargo", &["bench", "-p", package, "--bench", bench]);
    if !args.extra.is_empty() {
        command.arg("--").args(&args.extra);
    }
    exec(&mut command)
}
