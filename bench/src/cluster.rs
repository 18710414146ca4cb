//! Scenario N's subject: four of our relays (blind) bridged over one
//! `nats-server` (Debian package `nats-server`), every process on a free
//! loopback port, the clients spread over the relays in turn.

use super::server::{self, ServerKind};
use crate::shell::{cmd, exec, has, in_ci};
use anyhow::{Context, Result, bail};
use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Relays in the cluster.
pub const RELAYS: usize = 4;
/// How long the NATS server and each relay have to come up.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// The started processes: the relays first, then the NATS server.
pub struct Cluster {
    /// Each relay, and where it listens.
    pub relays: Vec<(Child, SocketAddr)>,
    /// The NATS server.
    pub nats: Child,
}

/// Makes sure `nats-server` runs, installing it with apt-get if it does not
/// (under CI a missing one is an error instead).
pub fn ensure_nats_server() -> Result<()> {
    if has("nats-server") {
        return Ok(());
    }
    if in_ci() {
        bail!(
            "nats-server is not installed: the cluster benchmark needs `apt-get install -y nats-server`"
        );
    }
    eprintln!("relay bench: nats-server is missing; installing the Debian package");
    let installed = exec(&mut cmd("apt-get", &["install", "-y", "nats-server"])).or_else(|_| {
        exec(&mut cmd("apt-get", &["update"]))?;
        exec(&mut cmd("apt-get", &["install", "-y", "nats-server"]))
    });
    if installed.is_err() || !has("nats-server") {
        bail!("cannot install nats-server (try `sudo apt-get install -y nats-server`)");
    }
    Ok(())
}

/// Starts the NATS server and [`RELAYS`] relays for `clients` clients in
/// all, logs in target/relay-bench/cluster-LABEL-*.log, and waits until
/// every relay listens and is connected to NATS.
pub fn start(fernchat: &Path, clients: usize, label: &str) -> Result<Cluster> {
    let dir = server::output_dir();
    std::fs::create_dir_all(&dir)?;
    let log = |name: &str| dir.join(format!("cluster-{label}-{name}.log"));
    let nats_addr = server::free_port()?;
    let nats_log = log("nats");
    let nats = Command::new("nats-server")
        .args(["-a", "127.0.0.1", "-p", &nats_addr.port().to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(&nats_log)?)
        .spawn()
        .context("cannot start nats-server")?;
    let mut cluster = Cluster {
        relays: Vec::new(),
        nats,
    };
    wait_for_line(&mut cluster.nats, &nats_log, "Server is ready")?;
    let url = format!("nats://{nats_addr}");
    for n in 0..RELAYS {
        let addr = server::free_port()?;
        let relay_log = log(&format!("relay{n}"));
        let mut command = ServerKind::Ours.command(fernchat, addr, None, clients);
        let child = command
            .args(["--nats", &url])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&relay_log)?)
            .spawn()
            .context("cannot start a relay")?;
        cluster.relays.push((child, addr));
        let (child, _) = cluster.relays.last_mut().expect("just pushed");
        wait_for_line(child, &relay_log, "NATS bridge connected")?;
    }
    Ok(cluster)
}

/// Waits until `log` holds `needle`, failing if `child` exits first.
fn wait_for_line(child: &mut Child, log: &PathBuf, needle: &str) -> Result<()> {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if std::fs::read_to_string(log).is_ok_and(|text| text.contains(needle)) {
            return Ok(());
        }
        if let Some(status) = child.try_wait()? {
            bail!("a cluster process exited ({status}); see {}", log.display());
        }
        if Instant::now() >= deadline {
            bail!(
                "no {needle:?} in {} within {START_TIMEOUT:?}",
                log.display()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
