//! Child processes that cannot outlive the test that started them.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A child process, killed when dropped (pass or fail).
pub struct Guard(pub Child);

impl Guard {
    /// Waits at most `timeout` for the process to exit; gives its status, or
    /// `None` if it is still running.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.0.try_wait().expect("wait for a child process") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A running `fernchat server` and the lines it logs.
pub struct Relay {
    /// The process.
    pub guard: Guard,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its log lines, as they come.
    pub log: mpsc::Receiver<String>,
}

/// Starts `fernchat server --listen 127.0.0.1:0 ARGS` and waits (at most 10 s)
/// for the address it logs.
pub fn start_relay(bin: &str, args: &[&str]) -> Relay {
    start_relay_on(bin, "127.0.0.1:0", args)
}

/// Starts `fernchat server --listen LISTEN ARGS` (a relay restarted on the
/// port it had) and waits (at most 10 s) for the address it logs.
pub fn start_relay_on(bin: &str, listen: &str, args: &[&str]) -> Relay {
    spawn_relay(bin, listen, args, &[])
}

/// Starts `fernchat server --listen 127.0.0.1:0 ARGS` with `env` added to
/// its environment (secrets it reads from there), and waits (at most
/// 10 s) for the address it logs.
pub fn start_relay_with_env(bin: &str, args: &[&str], env: &[(&str, &str)]) -> Relay {
    spawn_relay(bin, "127.0.0.1:0", args, env)
}

fn spawn_relay(bin: &str, listen: &str, args: &[&str], env: &[(&str, &str)]) -> Relay {
    let mut child = Command::new(bin)
        .args(["server", "--listen", listen])
        .args(args)
        .env("RUST_LOG", "info")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start fernchat server");
    let log = lines(child.stderr.take().expect("stderr"));
    let guard = Guard(child);
    let addr = loop {
        let line = log
            .recv_timeout(Duration::from_secs(10))
            .expect("the relay logs its address within 10 s");
        if let Some(rest) = line.split("relay listening on ").nth(1) {
            let addr = rest.split_whitespace().next().unwrap_or_default();
            break addr.parse().expect("a socket address in the log");
        }
    };
    Relay { guard, addr, log }
}

impl Relay {
    /// Waits (at most `timeout`) for a log line containing `needle`.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> String {
        expect_line(&self.log, "relay", needle, timeout)
    }

    /// The web port (`--web`) the relay logs, waiting at most 10 s.
    pub fn web_addr(&self) -> SocketAddr {
        let line = self.wait_for_log("web client at ", Duration::from_secs(10));
        let rest = line.split("://").nth(1).expect("a URL in the log");
        let host_port = rest.split('/').next().unwrap_or_default();
        host_port.parse().expect("host:port")
    }

    /// The relay's resident memory now, in KiB (`VmRSS`).
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.guard.0.id()))
            .expect("the relay's /proc status");
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
            .expect("VmRSS in /proc status")
    }
}

/// The lines of `out` on a channel, read by a thread of their own.
pub fn lines(out: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits for a line containing `needle` on `lines`, echoing the others with
/// `who` in front; fails after `timeout`.
pub fn expect_line(
    lines: &mpsc::Receiver<String>,
    who: &str,
    needle: &str,
    timeout: Duration,
) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.contains(needle) => return line,
            Ok(line) => eprintln!("{who}: {line}"),
            Err(_) => panic!("{who} printed no line with {needle:?} within {timeout:?}"),
        }
    }
}
