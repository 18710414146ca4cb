//! Headless Chromium driven through WebDriver by Python's `selenium`
//! (`tests/python/chromium.py`), for the tests of the web page.
//!
//! Needs Debian's `chromium` and `chromium-driver` and a Python with
//! `selenium` and `cryptography` (`$FERNCHAT_PYTHON`): `.ci/run` installs the
//! first two and `cargo xtask ci` makes that venv. A test that finds one
//! missing fails and says how to get it; it never passes without a browser.

use crate::process::{Guard, lines};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;

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
    let selenium = Command::new(&python)
        .args(["-c", "import selenium"])
        .output()
        .is_ok_and(|out| out.status.success());
    if !selenium {
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
