//! HAProxy in front of a relay, for the `--trusted-proxy` tests: Debian's
//! `haproxy`, run in the foreground on a config written to a temporary
//! directory, killed (and the directory removed) when dropped.

use crate::process::{Guard, lines};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long HAProxy gets to listen on every frontend.
const READY: Duration = Duration::from_secs(10);

/// The `haproxy` to run: `$FERNCHAT_HAPROXY`, on PATH, or Debian's. Panics
/// with how to install it when there is none: the proxy tests never pass
/// without running.
pub fn haproxy() -> PathBuf {
    let named = std::env::var_os("FERNCHAT_HAPROXY").map(PathBuf::from);
    let candidates = named.into_iter().chain(
        ["haproxy", "/usr/sbin/haproxy", "/usr/bin/haproxy"]
            .into_iter()
            .map(PathBuf::from),
    );
    for candidate in candidates {
        let ok = Command::new(&candidate)
            .arg("-v")
            .output()
            .is_ok_and(|out| out.status.success());
        if ok {
            return candidate;
        }
    }
    let ci = std::env::var("CI").is_ok_and(|ci| ci == "true");
    panic!(
        "{}no haproxy: the --trusted-proxy tests need it; install it (Debian: \
         `apt-get install haproxy`; .ci/run and `cargo xtask ci` do), or name one \
         with FERNCHAT_HAPROXY",
        if ci { "CI=true and " } else { "" }
    );
}

/// One running HAProxy.
pub struct Haproxy {
    /// The process.
    pub guard: Guard,
    /// What it logs (stderr), as it comes.
    pub log: mpsc::Receiver<String>,
    dir: PathBuf,
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.guard.0.kill();
        let _ = self.guard.0.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The `defaults` section every config starts with: timeouts (HAProxy
/// warns without them) long enough for any test.
pub const DEFAULTS: &str = "\
defaults
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout tunnel 60s
";

/// Starts HAProxy on `config` (the sections after [`DEFAULTS`], which
/// comes first) and waits until it listens on each of `frontends`.
pub fn start(name: &str, config: &str, frontends: &[SocketAddr]) -> Haproxy {
    let dir = std::env::temp_dir().join(format!("fernchat-haproxy-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let file = dir.join("haproxy.cfg");
    std::fs::write(&file, format!("{DEFAULTS}{config}")).expect("write the config");
    let mut child = Command::new(haproxy())
        .arg("-db")
        .arg("-f")
        .arg(&file)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start haproxy");
    let log = lines(child.stderr.take().expect("stderr"));
    let mut proxy = Haproxy {
        guard: Guard(child),
        log,
        dir,
    };
    let deadline = Instant::now() + READY;
    while !frontends.iter().all(|addr| listening(*addr)) {
        if let Some(status) = proxy.guard.0.try_wait().expect("wait for haproxy") {
            let said: Vec<String> = proxy.log.try_iter().collect();
            panic!("haproxy exited ({status}): {}", said.join("\n"));
        }
        assert!(
            Instant::now() < deadline,
            "haproxy does not listen on {frontends:?} within {READY:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    proxy
}

/// True when some socket listens on `addr` (an IPv4 address), as the
/// kernel's table says: looking does not touch the port.
fn listening(addr: SocketAddr) -> bool {
    let SocketAddr::V4(v4) = addr else {
        return false;
    };
    // /proc/net/tcp writes an address as the hex of its bytes in host
    // order, then the port; state 0A is LISTEN.
    let wanted = format!(
        "{:08X}:{:04X}",
        u32::from_ne_bytes(v4.ip().octets()),
        v4.port()
    );
    std::fs::read_to_string("/proc/net/tcp").is_ok_and(|table| {
        table.lines().skip(1).any(|line| {
            let mut fields = line.split_whitespace().skip(1);
            let local = fields.next();
            let state = fields.nth(1);
            local == Some(wanted.as_str()) && state == Some("0A")
        })
    })
}
