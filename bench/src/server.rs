//! The relays under test, started fresh for each run on a free loopback
//! port, and stopped by their process id.

use super::cluster;
use super::scraper::Scraper;
use super::{key_file, tls_pair};
use crate::shell::root;
use anyhow::{Context, Result, bail};
use rustix::process::{Pid, Signal, kill_process};
use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server has to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a server has to stop after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(3);

/// Which relay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerKind {
    /// `fernchat server`, blind mode.
    Ours,
    /// `fernchat server --metrics`, blind mode, scraped while it runs.
    Metered,
    /// `fernchat server --key-file`, keyed mode (scenario K's key).
    Keyed,
    /// `ncat --broker`.
    Ncat,
    /// Four of our relays (blind) bridged over one `nats-server`.
    Cluster,
    /// `fernchat server --web`, blind: the web port open, unused.
    Web,
    /// `fernchat server --tls-cert`, blind: the clients speak TLS.
    Tls,
}

impl ServerKind {
    /// The name the report uses.
    pub fn name(self) -> &'static str {
        match self {
            ServerKind::Ours => "ours",
            ServerKind::Metered => "metrics",
            ServerKind::Keyed => "keyed",
            ServerKind::Ncat => "ncat",
            ServerKind::Cluster => "4xnats",
            ServerKind::Web => "web",
            ServerKind::Tls => "tls",
        }
    }

    /// The command that serves `clients` clients on `addr` (and metrics
    /// on `metrics`, if a metered relay); `fernchat` is our binary.
    pub(super) fn command(
        self,
        fernchat: &Path,
        addr: SocketAddr,
        metrics: Option<SocketAddr>,
        clients: usize,
    ) -> Command {
        let (listen, port) = (addr.ip().to_string(), addr.port().to_string());
        match self {
            // One relay of a cluster is ours; `cluster::start` adds `--nats`.
            ServerKind::Ours
            | ServerKind::Keyed
            | ServerKind::Metered
            | ServerKind::Cluster
            | ServerKind::Web
            | ServerKind::Tls => {
                let mut command = Command::new(fernchat);
                command.args(["server", "--listen", &addr.to_string()]);
                command.args(["--max-clients", &(clients * 2).max(2000).to_string()]);
                // Every client connects from 127.0.0.1, and most only
                // listen: the load generator's clients send no hello.
                command.args(["--max-per-ip", "0", "--hello-timeout", "86400"]);
                match self {
                    ServerKind::Keyed => {
                        command.arg("--key-file").arg(key_file::path());
                    }
                    ServerKind::Web => {
                        command.args(["--web", "127.0.0.1:0"]);
                    }
                    ServerKind::Tls => {
                        command.arg("--tls-cert").arg(tls_pair::cert_path());
                        command.arg("--tls-key").arg(tls_pair::key_path());
                    }
                    ServerKind::Ours
                    | ServerKind::Metered
                    | ServerKind::Cluster
                    | ServerKind::Ncat => {}
                }
                if let Some(metrics) = metrics {
                    command.args(["--metrics", &metrics.to_string()]);
                }
                command
            }
            ServerKind::Ncat => {
                let mut command = Command::new("ncat");
                command.args(["--listen", "--broker", &listen, &port]);
                command.args(["--max-conns", &(clients + 100).to_string()]);
                command
            }
        }
    }
}

/// A running relay, or a cluster of them.
pub struct Server {
    /// The relay, or a cluster's relays.
    relays: Vec<Child>,
    /// A cluster's NATS server.
    broker: Option<Child>,
    /// Where each relay listens; clients are spread over them in turn.
    addrs: Vec<SocketAddr>,
    /// Scrapes `/metrics` while a metered relay runs.
    scraper: Option<Scraper>,
}

impl Server {
    /// Starts `kind` for `clients` clients, its log in
    /// target/relay-bench/KIND-LABEL.log, and waits until it accepts.
    pub fn start(kind: ServerKind, fernchat: &Path, clients: usize, label: &str) -> Result<Server> {
        if kind == ServerKind::Cluster {
            let started = cluster::start(fernchat, clients, label)?;
            let addrs = started.relays.iter().map(|(_, addr)| *addr).collect();
            return Ok(Server {
                relays: started.relays.into_iter().map(|(child, _)| child).collect(),
                broker: Some(started.nats),
                addrs,
                scraper: None,
            });
        }
        let addr = free_port()?;
        let metrics = free_port()?;
        let log_dir = output_dir();
        std::fs::create_dir_all(&log_dir)?;
        let log_path = log_dir.join(format!("{}-{label}.log", kind.name()));
        let log = File::create(&log_path)?;
        let child = kind
            .command(
                fernchat,
                addr,
                (kind == ServerKind::Metered).then_some(metrics),
                clients,
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {}", kind.name()))?;
        let mut server = Server {
            relays: vec![child],
            broker: None,
            addrs: vec![addr],
            scraper: None,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        while TcpStream::connect(addr).is_err() {
            if let Some(status) = server.relays[0].try_wait()? {
                bail!(
                    "{} exited ({status}); see {}",
                    kind.name(),
                    log_path.display()
                );
            }
            if Instant::now() >= deadline {
                server.stop()?;
                bail!("{} did not listen within {START_TIMEOUT:?}", kind.name());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if kind == ServerKind::Metered {
            server.scraper = Some(Scraper::start(metrics));
        }
        Ok(server)
    }

    /// Where its relays listen.
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// The ids of every process that carries the room, whose CPU and memory
    /// are measured together: the relay, or a cluster's relays and NATS.
    pub fn pids(&self) -> Vec<u32> {
        self.relays
            .iter()
            .chain(&self.broker)
            .map(Child::id)
            .collect()
    }

    /// Stops it, relays before NATS: SIGTERM, then SIGKILL if one lingers.
    /// A metered relay must have answered a scrape.
    pub fn stop(mut self) -> Result<()> {
        let scrapes = self.scraper.take().map(Scraper::stop).transpose();
        for child in self.relays.iter_mut().chain(&mut self.broker) {
            stop(child)?;
        }
        if let Some(answered) = scrapes? {
            eprintln!("relay bench: the metered relay answered {answered} scrapes of /metrics");
        }
        Ok(())
    }
}

/// Stops one process: SIGTERM, then SIGKILL if it lingers.
fn stop(child: &mut Child) -> Result<()> {
    let _ = kill_process(Pid::from_child(child), Signal::TERM);
    let deadline = Instant::now() + STOP_TIMEOUT;
    while child.try_wait()?.is_none() {
        if Instant::now() >= deadline {
            child.kill()?;
            child.wait()?;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// target/relay-bench/: the servers' logs and scenario K's key.
pub fn output_dir() -> PathBuf {
    root().join("target").join("relay-bench")
}

/// A loopback address with a port nothing listens on right now.
pub fn free_port() -> Result<SocketAddr> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?)
}
