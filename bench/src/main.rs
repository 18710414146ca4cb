//! fernchat-bench: the relay benchmark. Our relay (`fernchat server`, blind
//! mode) against `ncat --broker` and against itself with `--web` on
//! (scenarios A, B, C of issue 3), our relay keyed against itself blind
//! (scenario K), over TLS against plain TCP (scenario T), with `--metrics`
//! (scraped twice a second) against without (scenario M), and 10,000
//! clients on our relay alone (scenario D), driven by one load generator on
//! 127.0.0.1, one server at a time.
//!
//! Every client reads everything. Each sender's frames are real Fernet
//! tokens with the sender and sequence number in the IV: made before the run
//! (A, B, C), or by the sender as it sends them, under a fresh key and
//! stamped with the current time (K), so a receiver tells intact, corrupted
//! and lost frames apart exactly. It times each delivery from the frame's
//! scheduled send instant (paced senders) or from the write that carried it
//! (unpaced ones).
//!
//! `cargo xtask bench relay [-- --seconds 5 --only A,K --repeat 3 --fernchat PATH]`
//! runs `fernchat-bench relay [OPTIONS]` from a release build; the servers'
//! logs and K's key go to target/relay-bench/.
//!
//! `cargo xtask bench cluster [-- --seconds 5 --repeat 3 --rate 100 --fernchat PATH]`
//! (`fernchat-bench cluster [OPTIONS]`) runs scenario N: four of our relays
//! bridged over one `nats-server` against one relay, under scenario C's
//! load (or another rate).

mod clients;
mod cluster;
mod frame_book;
mod frame_id;
mod frames;
mod key_file;
mod lines;
mod link;
mod live_frames;
mod ncat;
mod procfs;
mod receiver;
mod relaunch;
mod report;
mod scenario;
mod scraper;
mod send_times;
mod sender;
mod server;
mod shell;
mod summary;
mod tally;
mod tls_pair;
mod trial;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use frame_book::FrameBook;
use frames::Frames;
use live_frames::LiveFrames;
use rustix::process::{Resource, getrlimit, setrlimit};
use scenario::{Scenario, Tokens};
use server::ServerKind;
use shell::{cmd, exec};
use std::path::PathBuf;

/// Options after `cargo xtask bench relay --`.
#[derive(Parser)]
#[command(name = "cargo xtask bench relay --")]
struct RelayOptions {
    #[command(flatten)]
    run: RunOptions,
    /// Scenario A: frames made for each unpaced sender (it stops at these or
    /// at --seconds, whichever comes first).
    #[arg(long, default_value_t = 20_000)]
    unpaced_frames: usize,
    /// Run only these scenarios; all by default.
    #[arg(long, value_delimiter = ',', value_parser = ["A", "B", "C", "K", "T", "M", "D"])]
    only: Vec<String>,
}

/// Options after `cargo xtask bench cluster --`.
#[derive(Parser)]
#[command(name = "cargo xtask bench cluster --")]
struct ClusterOptions {
    #[command(flatten)]
    run: RunOptions,
    /// Frames a second each of the 5 senders sends. The goal is set at
    /// 100; other rates show how the figures move with the machine's load
    /// (their goal line says NOT MET).
    #[arg(long, default_value_t = scenario::CLUSTER_GOAL_RATE,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    rate: u32,
}

/// Options for how every scenario runs.
#[derive(Args)]
struct RunOptions {
    /// Seconds each run's senders send for.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Run each scenario this many times, its relays taking turns; ratios
    /// and goals then take each relay's median figures (and its losses over
    /// every run), so that one noisy run neither makes nor breaks a goal.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    repeat: u32,
    /// Test this fernchat binary (a patched server, say) instead of
    /// building target/release/fernchat.
    #[arg(long, value_name = "PATH")]
    fernchat: Option<PathBuf>,
}

/// `fernchat-bench`: which benchmark, and its options.
#[derive(Parser)]
#[command(name = "fernchat-bench", about = "fernchat's relay benchmark")]
struct Cli {
    #[command(subcommand)]
    bench: Bench,
}

/// The benchmarks; the words after the name are parsed by the benchmark's
/// own options, as `cargo xtask bench NAME -- OPTIONS` shows them.
#[derive(Subcommand)]
enum Bench {
    /// Scenarios A, B, C, K, T, M and D (`cargo xtask bench relay`).
    #[command(disable_help_flag = true)]
    Relay {
        /// The options of `cargo xtask bench relay --` (`--help` lists them).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        options: Vec<String>,
    },
    /// Scenario N, four relays on NATS (`cargo xtask bench cluster`).
    #[command(disable_help_flag = true)]
    Cluster {
        /// The options of `cargo xtask bench cluster --` (`--help` lists them).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        options: Vec<String>,
    },
}

fn main() -> Result<()> {
    match Cli::parse().bench {
        Bench::Relay { options } => run(&options),
        Bench::Cluster { options } => run_cluster(&options),
    }
}

/// Runs the benchmark; `extra` holds the words after `--`.
fn run(extra: &[String]) -> Result<()> {
    let options: RelayOptions = parse("cargo xtask bench relay --", extra);
    if relaunch::needed() {
        return relaunch::in_release();
    }
    let scenarios: Vec<Scenario> = Scenario::all(options.run.seconds, options.unpaced_frames)
        .into_iter()
        .filter(|s| options.only.is_empty() || options.only.iter().any(|o| o == s.name))
        .collect();
    run_scenarios(&options.run, &scenarios)
}

/// Runs scenario N (`cargo xtask bench cluster`); `extra` holds the words
/// after `--`.
fn run_cluster(extra: &[String]) -> Result<()> {
    let options: ClusterOptions = parse("cargo xtask bench cluster --", extra);
    if relaunch::needed() {
        return relaunch::in_release();
    }
    cluster::ensure_nats_server()?;
    let scenario = Scenario::cluster(options.run.seconds, options.rate);
    run_scenarios(&options.run, &[scenario])
}

/// Parses the words after `--` of the command `usage` names; `--help` and
/// bad options end the process the way clap does (help on stdout, exit 0;
/// an error on stderr, exit 2).
fn parse<O: Parser>(usage: &str, extra: &[String]) -> O {
    O::parse_from(std::iter::once(usage).chain(extra.iter().map(String::as_str)))
}

/// Runs `scenarios`, each on its two servers, and prints the report.
fn run_scenarios(options: &RunOptions, scenarios: &[Scenario]) -> Result<()> {
    let fernchat = match &options.fernchat {
        Some(path) => path.clone(),
        None => {
            exec(&mut cmd("cargo", &["build", "--release", "-p", "fernchat"]))?;
            relaunch::release_binary("fernchat")
        }
    };
    if scenarios
        .iter()
        .any(|s| s.relays.contains(&ServerKind::Ncat))
    {
        ncat::ensure()?;
    }
    raise_open_files_limit()?;
    let premade = || scenarios.iter().filter(|s| s.tokens == Tokens::Premade);
    let book = FrameBook::generate(
        premade().map(|s| s.senders).max().unwrap_or(0),
        premade()
            .map(Scenario::frames_per_sender)
            .max()
            .unwrap_or(0),
    )?;
    let tls = if scenarios
        .iter()
        .any(|s| s.relays.contains(&ServerKind::Tls))
    {
        Some(tls_pair::make(&fernchat)?)
    } else {
        None
    };
    let key = if scenarios.iter().any(|s| s.tokens == Tokens::AtSend) {
        Some(key_file::write_fresh(&fernchat)?)
    } else {
        None
    };
    eprintln!(
        "relay bench: machine load before: {}",
        procfs::load_average()?
    );
    let mut outcomes = Vec::new();
    let rounds = (1..=options.repeat).flat_map(|round| scenarios.iter().map(move |s| (round, s)));
    for (round, scenario) in rounds {
        for &kind in scenario.relays {
            eprintln!(
                "relay bench: scenario {} on {} (run {round} of {})",
                scenario.name,
                kind.name(),
                options.repeat
            );
            let live = key
                .as_ref()
                .filter(|_| scenario.tokens == Tokens::AtSend)
                .map(|key| LiveFrames::new(key, scenario.senders, scenario.frames_per_sender()));
            let frames = live.as_ref().map_or(Frames::Book(&book), Frames::Live);
            let outcome = trial::run(kind, &fernchat, scenario, frames, tls.as_ref())
                .with_context(|| format!("scenario {} on {}", scenario.name, kind.name()))?;
            eprintln!("{}", outcome.summary());
            outcomes.push(outcome);
        }
    }
    report::print(scenarios, &outcomes, options.repeat);
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
