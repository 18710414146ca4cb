//! Headless Chromium driven through WebDriver by Python's `selenium`
//! (`tests/python/chromium.py`), for the tests of the web page.
//!
//! Needs Debian's `chromium` and `chromium-driver` and a Python with
//! `selenium` and `cryptography` (`$FERNCHAT_PYTHON`): `.ci/run` installs the
//! first two and `cargo xtask ci` makes that venv. A test that finds one
//! missing fails and says how to get it; it never passes without a browser.

use crate::process::{Guard, lines};
use crate::std_client::StdClient;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The Chromium binary: `$FERNCHAT_CHROMIUM` or Debian's.
pub fn chromium() -> PathBuf {
    std::env::var_os("FERNCHAT_CHROMIUM").map_or_else(|| "/usr/bin/chromium".into(), PathBuf::from)
}

/// The WebDriver server: `$FERNCHAT_CHROMEDRIVER` or Debian's.
pub fn chromedriver() -> PathBuf {
    std::env::var_os("FERNCHAT_CHROMEDRIVER")
        .map_or_else(|| "/usr/bin/chromedriver".into(), PathBuf::from)
}

/// The Python to drive the browser with, once everything the browser tests
/// need is there; panics naming what is missing and how to install it.
pub fn require() -> PathBuf {
    let python = crate::python::python();
    let mut missing = Vec::new();
    for tool in [chromium(), chromedriver()] {
        if !tool.is_file() {
            missing.push(format!("{} (not found)", tool.display()));
        }
    }
    if !crate::python::runs(&python, "import selenium") {
        missing.push(format!("selenium for {}", python.display()));
    }
    let how = "to get them: `apt-get install chromium chromium-driver` (.ci/run does) and \
               `cargo xtask ci` (its target/python-venv has selenium), or a venv with \
               `pip install cryptography selenium` named by FERNCHAT_PYTHON \
               (FERNCHAT_CHROMIUM and FERNCHAT_CHROMEDRIVER name other binaries)";
    let ci = std::env::var("CI").is_ok_and(|ci| ci == "true");
    assert!(
        missing.is_empty(),
        "{}the browser tests cannot run: missing {}; {how}",
        if ci { "CI=true and " } else { "" },
        missing.join(", ")
    );
    python
}

/// A Python browser script under `tests/python`, running, with its output
/// lines on a channel (stdout and stderr together) and its stdin piped.
pub struct Driver {
    /// The process.
    pub guard: Guard,
    /// What it prints, line by line.
    pub out: mpsc::Receiver<String>,
}

/// Starts `tests/python/SCRIPT ARGS` with the browser tests' Python.
pub fn start(script: &str, args: &[&str]) -> Driver {
    let python = require();
    let mut child = Command::new(python)
        .arg(crate::python::script(script))
        .args(args)
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the browser driver");
    let out = lines(child.stdout.take().expect("stdout"));
    let errors = lines(child.stderr.take().expect("stderr"));
    // stderr joins stdout, so that a failure's message is in the test output.
    let (tx, merged) = mpsc::channel();
    for rx in [out, errors] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in rx {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
    }
    Driver {
        guard: Guard(child),
        out: merged,
    }
}

/// The directory of the page's files in the source tree.
pub fn page_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("std-shell")
        .join("web")
}

impl Driver {
    /// Runs the script to its end, doing what it asks of the test: each
    /// line starting `ANN-` or `RELAY-` goes to `act`, then the script gets
    /// `ok`. Gives every line it printed. Panics if it fails, does not print
    /// `done`, or takes longer than `timeout`.
    pub fn run(mut self, mut act: impl FnMut(&str), done: &str, timeout: Duration) -> Vec<String> {
        let mut stdin = self.guard.0.stdin.take().expect("the driver's stdin");
        let deadline = Instant::now() + timeout;
        let mut printed = Vec::new();
        while let Ok(line) = self
            .out
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            eprintln!("driver: {line}");
            if line.starts_with("ANN-") || line.starts_with("RELAY-") {
                act(&line);
                writeln!(stdin, "ok").expect("answer the driver");
            }
            printed.push(line);
        }
        let status = self.guard.wait_exit(Duration::from_secs(10));
        assert!(
            status.is_some_and(|s| s.success()) && printed.iter().any(|l| l == done),
            "the browser driver failed (status {status:?}, within {timeout:?}; its lines are above)"
        );
        printed
    }
}

/// Does what a driver asked of the CLI client `ann`: `ANN-EXPECT TEXT`
/// (waits for a line ending with TEXT), `ANN-TYPE TEXT` or `ANN-QUIT`.
pub fn act_for_ann(ann: &mut Option<StdClient>, request: &str) {
    if request.trim_end() == "ANN-QUIT" {
        let client = ann.take().expect("ann is in the room");
        assert!(client.quit(), "ann exits 0 at the end of its input");
        return;
    }
    let client = ann.as_mut().expect("ann is in the room");
    if let Some(text) = request.strip_prefix("ANN-EXPECT ") {
        let line = client.expect(text);
        assert!(line.ends_with(text), "ann shows {line:?}");
    } else if let Some(text) = request.strip_prefix("ANN-TYPE ") {
        client.type_line(text);
    } else {
        panic!("the driver asked for {request:?}");
    }
}
