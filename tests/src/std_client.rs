//! A `fernchat client` process driven through its stdin, as a script or a
//! person would, with what it shows on a channel.

use crate::process::{Guard, expect_line, lines};
use fernchat_core::fernet::Key;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long one expected line or exit may take.
pub const WAIT: Duration = Duration::from_secs(30);

/// A fresh key made by `bin keygen` in a directory of its own (named after
/// `name`); gives the key file and the key.
pub fn keygen(bin: &Path, name: &str) -> (PathBuf, Key) {
    let dir = std::env::temp_dir().join(format!("fernchat-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let path = dir.join("chat.key");
    let status = Command::new(bin)
        .args(["keygen", "-o"])
        .arg(&path)
        .status()
        .expect("run fernchat keygen");
    assert!(status.success(), "fernchat keygen failed");
    let text = std::fs::read_to_string(&path).expect("read the key file");
    let key = Key::parse(text.trim().as_bytes()).expect("a key");
    (path, key)
}

/// A fresh self-signed TLS pair made by `bin cert` (for localhost and
/// 127.0.0.1) in a directory of its own (named after `name`): the
/// certificate and the key.
pub fn self_signed_cert(bin: &Path, name: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("fernchat-cert-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let status = Command::new(bin)
        .args(["cert", "--out-cert"])
        .arg(&cert)
        .arg("--out-key")
        .arg(&key)
        .status()
        .expect("run fernchat cert");
    assert!(status.success(), "fernchat cert failed");
    (cert, key)
}

/// A `fernchat client` with piped stdin, its shown lines (stdout) and its
/// notes (stderr) on channels.
pub struct StdClient {
    /// The process.
    pub guard: Guard,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    notes: mpsc::Receiver<String>,
}

impl StdClient {
    /// Joins the relay at `addr` as `nick`.
    pub fn start(bin: &Path, addr: &str, nick: &str, key_file: &Path) -> StdClient {
        StdClient::start_with(bin, addr, nick, key_file, &[])
    }

    /// Joins the relay at `addr` as `nick`, with more options.
    pub fn start_with(
        bin: &Path,
        addr: &str,
        nick: &str,
        key_file: &Path,
        options: &[&str],
    ) -> StdClient {
        let mut child = Command::new(bin)
            .args(["client", "--connect", addr, "--name", nick, "--key-file"])
            .arg(key_file)
            .args(options)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start fernchat client");
        let stdin = child.stdin.take();
        let notes = lines(child.stderr.take().expect("client stderr"));
        let lines = lines(child.stdout.take().expect("client stdout"));
        StdClient {
            guard: Guard(child),
            stdin,
            lines,
            notes,
        }
    }

    /// Waits for a note on stderr containing `text`.
    pub fn expect_note(&self, text: &str) -> String {
        expect_line(&self.notes, "std client stderr", text, WAIT)
    }

    /// Every shown line up to and including the first that contains `text`.
    pub fn lines_until(&self, text: &str) -> Vec<String> {
        let mut shown = Vec::new();
        loop {
            match self.lines.recv_timeout(WAIT) {
                Ok(line) => {
                    let found = line.contains(text);
                    shown.push(line);
                    if found {
                        return shown;
                    }
                }
                Err(_) => panic!("no line with {text:?} within {WAIT:?}; shown: {shown:?}"),
            }
        }
    }

    /// The notes printed so far.
    pub fn notes_so_far(&self) -> Vec<String> {
        self.notes.try_iter().collect()
    }

    /// The lines shown so far, without waiting.
    pub fn lines_so_far(&self) -> Vec<String> {
        self.lines.try_iter().collect()
    }

    /// Ends input without waiting for the client to exit.
    pub fn close_input(&mut self) {
        self.stdin.take();
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
