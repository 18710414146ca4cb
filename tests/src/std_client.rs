//! A `fernchat client` process driven through its stdin, as a script or a
//! person would, with what it shows on a channel.

use crate::process::{Guard, expect_line, lines};
use std::io::Write;
use std::path::Path;
use std::process::{ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long one expected line or exit may take.
pub const WAIT: Duration = Duration::from_secs(30);

/// A `fernchat client` with piped stdin and its shown lines on a channel.
pub struct StdClient {
    /// The process.
    pub guard: Guard,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
}

impl StdClient {
    /// Joins the relay at `addr` as `nick`.
    pub fn start(bin: &Path, addr: &str, nick: &str, key_file: &Path) -> StdClient {
        let mut child = Command::new(bin)
            .args(["client", "--connect", addr, "--name", nick, "--key-file"])
            .arg(key_file)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start fernchat client");
        let stdin = child.stdin.take();
        let lines = lines(child.stdout.take().expect("client stdout"));
        StdClient {
            guard: Guard(child),
            stdin,
            lines,
        }
    }

    /// Types a line, as a person would.
    pub fn type_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{line}").expect("type into fernchat client");
    }

    /// Waits for a shown line containing `text`.
    pub fn expect(&self, text: &str) -> String {
        expect_line(&self.lines, "std client", text, WAIT)
    }

    /// Ends input (the client says `/leave`) and waits for it to exit.
    pub fn quit(mut self) -> bool {
        self.stdin.take();
        self.guard
            .wait_exit(WAIT)
            .is_some_and(|status| status.success())
    }
}
