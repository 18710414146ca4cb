//! `cargo xtask bench`: benchmarks that compare side by side in one run.

use crate::shell::{cmd, exec, run_status};
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

/// The benchmarks; each is a binary that prints its own table of figures,
/// ratios and goals.
#[derive(Clone, Copy, clap::ValueEnum)]
enum Bench {
    /// Fernet encrypt/decrypt: fernchat-core against the `fernet` crate and
    /// the bare primitives (core/benches/fernet.rs).
    Core,
    /// Our relay against `ncat --broker` under the same load, and keyed
    /// against blind (the `fernchat-bench` crate, bench/).
    Relay,
    /// Four relays bridged over NATS against one relay under the same load
    /// (scenario N; bench/src/cluster.rs).
    Cluster,
}

/// Runs a benchmark: `cargo bench` of a `harness = false` bench target, or
/// a release build of `fernchat-bench` with the benchmark's name.
pub fn run(args: &BenchArgs) -> Result<()> {
    let mut command = match args.name {
        Bench::Core => cmd(
            "cargo",
            &["bench", "-p", "fernchat-core", "--bench", "fernet"],
        ),
        Bench::Relay => cmd(
            "cargo",
            &["run", "--release", "-p", "fernchat-bench", "--", "relay"],
        ),
        Bench::Cluster => cmd(
            "cargo",
            &["run", "--release", "-p", "fernchat-bench", "--", "cluster"],
        ),
    };
    match args.name {
        Bench::Core if !args.extra.is_empty() => {
            command.arg("--").args(&args.extra);
        }
        Bench::Core => {}
        // Everything after `relay` or `cluster` goes to that benchmark's
        // own options, `--help` included; its exit status is ours (2 for a
        // bad option, as clap gives), its errors already printed.
        Bench::Relay | Bench::Cluster => {
            command.args(&args.extra);
            let status = run_status(&mut command)?;
            if !status.success() {
                std::process::exit(status.code().unwrap_or(1));
            }
            return Ok(());
        }
    }
    exec(&mut command)
}
