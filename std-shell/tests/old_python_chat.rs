//! The original Python chat joins a fernchat room (`docs/PROTOCOL.md`
//! section 2, Unframed senders): its client, as written (key from a pickled
//! `Fernet` in `chave.key`, tokens sent with no line feed, `recv(4096)`
//! then `decrypt`), a `fernchat client` and a framed Python client all hear
//! each other, through a blind relay and through a keyed one.

use fernchat_tests::process::start_relay;
use fernchat_tests::python::{PythonChat, old_chat_python, script};
use fernchat_tests::std_client::StdClient;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_fernchat");
const WAIT: Duration = Duration::from_secs(10);

/// The old user's `chave.key`, pickled by Python, and the key file
/// `fernchat key import` makes of it, in a directory named after `name`.
fn old_users_keys(name: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("fernchat-old-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let chave = dir.join("chave.key");
    let made = Command::new(old_chat_python())
        .arg(script("make_chave.py"))
        .arg("fernet-4")
        .arg(&chave)
        .output()
        .expect("run make_chave.py");
    assert!(made.status.success());
    let key_file = dir.join("chat.key");
    let status = Command::new(BIN)
        .args(["key", "import"])
        .arg(&chave)
        .arg("-o")
        .arg(&key_file)
        .status()
        .expect("run fernchat key import");
    assert!(status.success());
    (chave, key_file)
}

/// Waits for `client` to show a line ending with `text`.
fn shown(client: &StdClient, text: &str) {
    let line = client.expect(text);
    assert!(line.starts_with('[') && line.ends_with(text), "{line}");
}

fn old_client_chats_in_a_mixed_room(name: &str, keyed: bool) {
    let (chave, key_file) = old_users_keys(name);
    let key_arg = key_file.to_str().expect("a UTF-8 path");
    let relay_args: &[&str] = if keyed { &["--key-file", key_arg] } else { &[] };
    let relay = start_relay(BIN, relay_args);
    let addr = relay.addr.to_string();
    let port = relay.addr.port().to_string();

    let mut old = PythonChat::start_with(
        &old_chat_python(),
        "old_chat_client.py",
        &[chave.to_str().unwrap(), "127.0.0.1", &port],
    );
    relay.wait_for_log("connected (1 clients)", WAIT);
    let mut ann = StdClient::start(Path::new(BIN), &addr, "ann", &key_file);
    // The old client decrypts ann's `/join` and prints its payload.
    old.expect("/join");
    let mut py = PythonChat::start(
        "framed_chat_client.py",
        &[key_arg, "127.0.0.1", &port, "py"],
    );
    shown(&ann, "py joined");
    old.expect("/join");

    // The old client to the others: a padded token, then three typed at
    // once so that they reach the relay back to back, among them an
    // unpadded one (40 bytes: three blocks) and one of 100 bytes.
    old.type_line("ola from the old client");
    shown(&ann, "<?> ola from the old client");
    py.expect("<?> ola from the old client");
    relay.wait_for_log("sends tokens without line feeds", WAIT);
    let unpadded = "x".repeat(40);
    let long = "y".repeat(100);
    old.type_line("one");
    old.type_line(&unpadded);
    old.type_line(&long);
    for text in ["one", unpadded.as_str(), long.as_str()] {
        shown(&ann, &format!("<?> {text}"));
        py.expect(&format!("<?> {text}"));
    }

    // The others to the old client, one at a time (it decrypts what each
    // recv gives).
    ann.type_line("hi from ann");
    py.expect("<ann> hi from ann");
    old.expect("hi from ann");
    py.type_line("hi from py");
    shown(&ann, "<py> hi from py");
    old.expect("hi from py");

    assert!(py.quit(), "the framed python client exits 0");
    shown(&ann, "py left");
    old.expect("/leave");
    assert!(old.quit(), "the old client exits 0");
    assert!(ann.quit(), "ann exits 0");
    relay.wait_for_log("left: closed (0 clients)", WAIT);
}

#[test]
fn the_old_python_chat_joins_a_blind_room() {
    old_client_chats_in_a_mixed_room("blind", false);
}

#[test]
fn the_old_python_chat_joins_a_keyed_room() {
    old_client_chats_in_a_mixed_room("keyed", true);
}
