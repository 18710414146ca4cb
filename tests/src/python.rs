//! Running Python's `cryptography` as the outside implementation.

use crate::process::{Guard, expect_line, lines};
use crate::std_client::WAIT;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::mpsc;

/// The Python to run: `$FERNCHAT_PYTHON` (set by `cargo xtask ci`) or `python3`.
/// Panics with how to install it when `cryptography` cannot be imported.
pub fn python() -> PathBuf {
    checked_python(
        "FERNCHAT_PYTHON",
        "import cryptography.fernet",
        "run `cargo xtask ci` (it makes target/python-venv), or `pip install cryptography` and \
         set FERNCHAT_PYTHON to that python",
    )
}

/// The Python of the original Python chat's users: `$FERNCHAT_OLD_CHAT_PYTHON`
/// (set by `cargo xtask ci`) or `python3`, with a `cryptography` before 51,
/// whose `Fernet` is a Python class that pickles (51 made it a type that
/// neither pickles nor unpickles). Panics with how to install it otherwise.
pub fn old_chat_python() -> PathBuf {
    checked_python(
        "FERNCHAT_OLD_CHAT_PYTHON",
        "import pickle; from cryptography.fernet import Fernet; \
         pickle.dumps(Fernet(Fernet.generate_key()))",
        "run `cargo xtask ci` (it makes target/python-venv-old-chat), or \
         `pip install 'cryptography<51'` into a venv and set FERNCHAT_OLD_CHAT_PYTHON to its python",
    )
}

/// [`python`], which must also import `nats` (`nats-py`); panics with how
/// to install it otherwise.
pub fn python_with_nats() -> PathBuf {
    let python = python();
    assert!(
        runs(&python, "import nats"),
        "{} cannot import nats: run `cargo xtask ci` (its venv has nats-py), or \
         `pip install nats-py` into the python FERNCHAT_PYTHON names",
        python.display()
    );
    python
}

/// The Python `$VAR` names (`python3` if unset), which must run `program`;
/// panics saying which program failed and `how` to get what it needs.
pub fn checked_python(var: &str, program: &str, how: &str) -> PathBuf {
    let python = std::env::var_os(var).map_or_else(|| PathBuf::from("python3"), PathBuf::from);
    assert!(
        runs(&python, program),
        "{} cannot run `{program}`: {how}",
        python.display()
    );
    python
}

/// True when `python -c program` exits 0.
pub fn runs(python: &Path, program: &str) -> bool {
    Command::new(python)
        .args(["-c", program])
        .output()
        .is_ok_and(|out| out.status.success())
}

/// Path of a script under tests/python.
pub fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("python")
        .join(name)
}

/// Runs `tests/python/fernet_peer.py MODE` on `lines`, one answer a line.
pub fn fernet_peer(mode: &str, lines: &[String]) -> Vec<String> {
    let mut child = Command::new(python())
        .arg(script("fernet_peer.py"))
        .arg(mode)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start python");
    let mut input = lines.join("\n");
    input.push('\n');
    let mut stdin = child.stdin.take().expect("stdin");
    // Write from a thread so that a full stdout pipe cannot deadlock us.
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().expect("python output");
    writer
        .join()
        .expect("writer thread")
        .expect("write to python");
    assert!(out.status.success(), "fernet_peer.py {mode} failed");
    let text = String::from_utf8(out.stdout).expect("utf-8 from python");
    let answers: Vec<String> = text.lines().map(str::to_owned).collect();
    assert_eq!(answers.len(), lines.len(), "one answer per line");
    answers
}

/// A Python chat script (`tests/python/NAME`) driven through its stdin,
/// with what it prints on a channel.
pub struct PythonChat {
    /// The process.
    pub guard: Guard,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
}

impl PythonChat {
    /// Starts `tests/python/NAME ARGS` with [`python`].
    pub fn start(name: &str, args: &[&str]) -> PythonChat {
        PythonChat::start_with(&python(), name, args)
    }

    /// Starts `tests/python/NAME ARGS` with the Python `interpreter`.
    pub fn start_with(interpreter: &Path, name: &str, args: &[&str]) -> PythonChat {
        let mut child = Command::new(interpreter)
            .arg("-u")
            .arg(script(name))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start python");
        let stdin = child.stdin.take();
        let lines = lines(child.stdout.take().expect("python stdout"));
        PythonChat {
            guard: Guard(child),
            stdin,
            lines,
        }
    }

    /// Types a line, as a person would.
    pub fn type_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{line}").expect("type into the python client");
        stdin.flush().expect("flush the python client's stdin");
    }

    /// Waits for a printed line containing `text`.
    pub fn expect(&self, text: &str) -> String {
        expect_line(&self.lines, "python", text, WAIT)
    }

    /// Ends input and waits for the script to exit; true when it exits 0.
    pub fn quit(mut self) -> bool {
        self.stdin.take();
        self.guard
            .wait_exit(WAIT)
            .is_some_and(|status| status.success())
    }
}
