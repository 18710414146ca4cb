//! NATS servers for the bridge tests: Debian's `nats-server`, on
//! 127.0.0.1 random ports, alone or two nodes clustered over routes, with
//! JetStream in a temporary store; each killed (and its store removed)
//! when dropped.

use crate::process::{Guard, expect_line, lines};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

/// How long a server gets to say it is ready.
const READY: Duration = Duration::from_secs(15);

/// The `nats-server` to run: on PATH, or Debian's. Panics with how to
/// install it when there is none.
pub fn nats_server() -> PathBuf {
    for candidate in [
        "nats-server",
        "/usr/sbin/nats-server",
        "/usr/bin/nats-server",
    ] {
        let ok = Command::new(candidate)
            .arg("--version")
            .output()
            .is_ok_and(|out| out.status.success());
        if ok {
            return PathBuf::from(candidate);
        }
    }
    panic!("no nats-server: install it (Debian: apt-get install nats-server; .ci/run does)");
}

/// A port free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// One running `nats-server`.
pub struct NatsNode {
    /// The process.
    pub guard: Guard,
    /// Its client port.
    pub port: u16,
    /// Its log lines, as they come.
    pub log: mpsc::Receiver<String>,
    store: PathBuf,
}

impl NatsNode {
    /// Its client URL.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Waits (at most `timeout`) for a log line containing `needle`.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> String {
        expect_line(&self.log, "nats-server", needle, timeout)
    }

    /// Kills it now.
    pub fn kill(&mut self) {
        let _ = self.guard.0.kill();
        let _ = self.guard.0.wait();
    }
}

impl Drop for NatsNode {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.store);
    }
}

/// Where a server of the cluster listens for routes.
#[derive(Clone, Copy, Debug)]
pub struct Ports {
    /// Clients.
    pub client: u16,
    /// Routes from the other nodes.
    pub cluster: u16,
}

impl Ports {
    /// Two free ports.
    pub fn free() -> Ports {
        Ports {
            client: free_port(),
            cluster: free_port(),
        }
    }
}

/// Starts one node named `name` on `ports.client` with JetStream, routed
/// to the nodes at `routes` (cluster ports; none: a single server), and
/// waits until it is ready.
pub fn start_node(name: &str, ports: Ports, routes: &[u16]) -> NatsNode {
    start_node_with(name, ports, routes, &[])
}

/// [`start_node`] with `extra` arguments for `nats-server` (its
/// authentication flags, say).
pub fn start_node_with(name: &str, ports: Ports, routes: &[u16], extra: &[&str]) -> NatsNode {
    static STORES: AtomicUsize = AtomicUsize::new(0);
    let store = std::env::temp_dir().join(format!(
        "fernchat-nats-{}-{}",
        std::process::id(),
        STORES.fetch_add(1, Ordering::Relaxed)
    ));
    let mut command = Command::new(nats_server());
    command
        .args(["-a", "127.0.0.1", "-p", &ports.client.to_string()])
        .args(["-n", name, "-js", "-sd"])
        .arg(&store)
        .args(extra);
    if !routes.is_empty() {
        let routes: Vec<String> = routes
            .iter()
            .map(|port| format!("nats://127.0.0.1:{port}"))
            .collect();
        command
            .args(["--cluster_name", "fernchat-test"])
            .args(["--cluster", &format!("nats://127.0.0.1:{}", ports.cluster)])
            .args(["--routes", &routes.join(",")]);
    }
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start nats-server");
    let log = lines(child.stderr.take().expect("stderr"));
    let node = NatsNode {
        guard: Guard(child),
        port: ports.client,
        log,
        store,
    };
    node.wait_for_log("Server is ready", READY);
    node
}

/// A single server with JetStream.
pub fn single() -> NatsNode {
    start_node("solo", Ports::free(), &[])
}

/// Two nodes routed to each other, with JetStream; returns once the route
/// is up both ways.
pub fn cluster() -> [NatsNode; 2] {
    let (a, b) = (Ports::free(), Ports::free());
    let first = start_node("n1", a, &[b.cluster]);
    let second = start_node("n2", b, &[a.cluster]);
    first.wait_for_log("Route connection created", READY);
    second.wait_for_log("Route connection created", READY);
    [first, second]
}
