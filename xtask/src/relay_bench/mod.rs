//! `cargo xtask bench relay`: our relay (`fernchat server`, blind mode)
//! against `ncat --broker`, driven by one load generator on 127.0.0.1, one
//! server at a time, through the same scenarios (issue 3).
//!
//! Every client reads everything. Each sender's frames are real Fernet tokens
//! made before the run, with the sender and sequence number in the IV, so a
//! receiver tells intact, corrupted and lost frames apart exactly, and times
//! each delivery from the frame's scheduled send instant (paced senders) or
//! from the write that carried it (unpaced ones).
//!
//! `cargo xtask bench relay [-- --seconds 5 --only A,C --fernchat PATH]`;
//! the servers' logs go to target/relay-bench/.

mod clients;
mod frame_book;
mod lines;
mod ncat;
mod procfs;
mod receiver;
mod relaunch;
mod report;
mod scenario;
mod send_times;
mod sender;
mod server;
mod tally;
mod trial;

use crate::shell::{cmd, exec};
use anyhow::{Context, Result};
use clap::Parser;
use frame_book::FrameBook;
use rustix::process::{Resource, getrlimit, setrlimit};
use scenario::Scenario;
use server::ServerKind;
use std::path::PathBuf;

/// Options after `cargo xtask bench relay --`.
#[derive(Parser)]
#[command(name = "cargo xtask bench relay --")]
struct Options {
    /// Seconds each run's senders send for.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Scenario A: frames made for each unpaced sender (it stops at these or
    /// at --seconds, whichever comes first).
    #[arg(long, default_value_t = 20_000)]
    unpaced_frames: usize,
    /// Run only these scenarios (A, B, C); all by default.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Test this fernchat binary (a patched server, say) instead of
    /// building target/release/fernchat.
    #[arg(long, value_name = "PATH")]
    fernchat: Option<PathBuf>,
}

/// Runs the benchmark; `extra` holds the words after `--`.
pub fn run(extra: &[String]) -> Result<()> {
    let args = std::iter::once("relay".to_owned()).chain(extra.iter().cloned());
    let options = Options::try_parse_from(args)?;
    if relaunch::needed() {
        return relaunch::in_release();
    }
    let scenarios: Vec<Scenario> = Scenario::all(options.seconds, options.unpaced_frames)
        .into_iter()
        .filter(|s| options.only.is_empty() || options.only.iter().any(|o| o == s.name))
        .collect();
    anyhow::ensure!(
        !scenarios.is_empty(),
        "no scenario named {:?}",
        options.only
    );
    let fernchat = match options.fernchat {
        Some(path) => path,
        None => {
            exec(&mut cmd("cargo", &["build", "--release", "-p", "fernchat"]))?;
            relaunch::release_binary("fernchat")
        }
    };
    ncat::ensure()?;
    raise_open_files_limit()?;
    let book = FrameBook::generate(
        scenarios.iter().map(|s| s.senders).max().unwrap_or(1),
        scenarios
            .iter()
            .map(Scenario::frames_per_sender)
            .max()
            .unwrap_or(1),
    )?;
    eprintln!(
        "relay bench: machine load before: {}",
        procfs::load_average()?
    );
    let mut outcomes = Vec::new();
    for scenario in &scenarios {
        for kind in [ServerKind::Ours, ServerKind::Ncat] {
            eprintln!("relay bench: scenario {} on {}", scenario.name, kind.name());
            let outcome = trial::run(kind, &fernchat, scenario, &book)
                .with_context(|| format!("scenario {} on {}", scenario.name, kind.name()))?;
            eprintln!("{}", outcome.summary());
            outcomes.push(outcome);
        }
    }
    report::print(&scenarios, &outcomes);
    Ok(())
}

/// Lifts the soft limit on open files to the hard one, for this process and
/// the servers it starts: 1,000 clients need 1,000 descriptors on each side.
fn raise_open_files_limit() -> Result<()> {
    let mut limit = getrlimit(Resource::Nofile);
    limit.current = limit.maximum;
    setrlimit(Resource::Nofile, limit).context("cannot raise the open-files limit")?;
    Ok(())
}
