//! The relays under test, started fresh for each run on a free loopback
//! port, and stopped by their process id.

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
    /// `fernchat server --key-file`, keyed mode (scenario K's key).
    Keyed,
    /// `ncat --broker`.
    Ncat,
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
            ServerKind::Keyed => "keyed",
            ServerKind::Ncat => "ncat",
            ServerKind::Web => "web",
            ServerKind::Tls => "tls",
        }
    }

    /// The command that serves `clients` clients on `addr`; `fernchat` is
    /// our binary.
    fn command(self, fernchat: &Path, addr: SocketAddr, clients: usize) -> Command {
        let (listen, port) = (addr.ip().to_string(), addr.port().to_string());
        match self {
            ServerKind::Ours | ServerKind::Keyed | ServerKind::Web | ServerKind::Tls => {
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
                    ServerKind::Ours | ServerKind::Ncat => {}
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

/// A running relay.
pub struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    /// Starts `kind` for `clients` clients, its log in
    /// target/relay-bench/KIND-LABEL.log, and waits until it accepts.
    pub fn start(kind: ServerKind, fernchat: &Path, clients: usize, label: &str) -> Result<Server> {
        let addr = free_port()?;
        let log_dir = output_dir();
        std::fs::create_dir_all(&log_dir)?;
        let log_path = log_dir.join(format!("{}-{label}.log", kind.name()));
        let log = File::create(&log_path)?;
        let child = kind
            .command(fernchat, addr, clients)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {}", kind.name()))?;
        let mut server = Server { child, addr };
        let deadline = Instant::now() + START_TIMEOUT;
        while TcpStream::connect(addr).is_err() {
            if let Some(status) = server.child.try_wait()? {
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
        Ok(server)
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops it: SIGTERM, then SIGKILL if it lingers.
    pub fn stop(mut self) -> Result<()> {
        let _ = kill_process(Pid::from_child(&self.child), Signal::TERM);
        let deadline = Instant::now() + STOP_TIMEOUT;
        while self.child.try_wait()?.is_none() {
            if Instant::now() >= deadline {
                self.child.kill()?;
                self.child.wait()?;
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }
}

/// target/relay-bench/: the servers' logs and scenario K's key.
pub fn output_dir() -> PathBuf {
    root().join("target").join("relay-bench")
}

/// A loopback address with a port nothing listens on right now.
fn free_port() -> Result<SocketAddr> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?)
}
