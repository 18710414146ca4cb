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
    /// Our relay against `ncat --broker` under the same load, and keyed
    /// against blind; xtask drives it itself (xtask/src/relay_bench/).
    Relay,
    /// Four relays bridged over NATS against one relay under the same load
    /// (scenario N; xtask/src/relay_bench/cluster.rs).
    Cluster,
}

impl Bench {
    /// The package and bench target that hold this benchmark, if it is one.
    fn target(self) -> Option<(&'static str, &'static str)> {
        match self {
            Bench::Core => Some(("fernchat-core", "fernet")),
            Bench::Relay | Bench::Cluster => None,
        }
    }
}

/// Runs a benchmark.
pub fn run(args: &BenchArgs) -> Result<()> {
    let Some((package, bench)) = args.name.target() else {
        return match args.name {
            Bench::Cluster => crate::relay_bench::run_cluster(&args.extra),
            _ => crate::relay_bench::run(&args.extra),
        };
    };
    let mut command = cmd("cargo", &["bench", "-p", package, "--bench", bench]);
    if !args.extra.is_empty() {
        command.arg("--").args(&args.extra);
    }
    exec(&mut command)
}
