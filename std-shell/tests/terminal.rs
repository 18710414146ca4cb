//! The interactive client under a pseudo-terminal (util-linux `script`):
//! hostile messages that arrive while a line is being typed reach the
//! terminal harmless, and the line being typed survives them and a relay
//! restart.

use fernchat_core::fernet::Key;
use fernchat_tests::peer::{Peer, now};
use fernchat_tests::process::{Guard, start_relay, start_relay_on};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ChildStdin;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_fernchat");
const WAIT: Duration = Duration::from_secs(10);

/// Bodies that would take over a terminal if written raw.
const HOSTILE: &[&[u8]] = &[
    b"eve\n\x1b]0;pwned title\x07",
    b"eve\n\x1b]52;c;ZXZpbA==\x07",
    b"eve\n\x1b[2J\x1b[Hwiped",
    b"eve\n\x1b[8mhidden\x1b[0m",
    b"eve\nover\rwrite\x08\x08",
    b"eve\nhi\n[12:00:00] <bob> forged",
    "eve\n\u{202E}reversed\u{2067}isolated\u{2069}\u{200B}".as_bytes(),
    "eve\n\u{9b}2J".as_bytes(),
    b"e\x1b[31mve\nnick with an escape",
];

/// Waits until `out` holds `needle`.
fn wait_for(out: &Mutex<Vec<u8>>, needle: &str) {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if String::from_utf8_lossy(&out.lock().unwrap()).contains(needle) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let shown = String::from_utf8_lossy(&out.lock().unwrap()).into_owned();
    panic!("no {needle:?} on the terminal within {WAIT:?}: {shown:?}");
}

/// A new key file in a fresh directory, and its key.
fn write_key(name: &str) -> (PathBuf, Key) {
    let dir = std::env::temp_dir().join(format!("fernchat-pty-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let key_file = dir.join("chat.key");
    assert!(
        Command::new(BIN)
            .args(["keygen", "-o"])
            .arg(&key_file)
            .status()
            .unwrap()
            .success()
    );
    let key_text = std::fs::read_to_string(&key_file).unwrap();
    (
        key_file.clone(),
        Key::parse(key_text.trim().as_bytes()).unwrap(),
    )
}

/// `fernchat client --name bob` on a pseudo-terminal: its keyboard, what
/// it wrote to the terminal so far, and the process.
fn start_bob(addr: &str, key_file: &Path) -> (ChildStdin, Arc<Mutex<Vec<u8>>>, Guard) {
    let client = format!(
        "{BIN} client --connect {addr} --name bob --key-file {}",
        key_file.display()
    );
    let mut child = Command::new("script")
        .args(["-q", "-e", "-c", &client, "/dev/null"])
        .env("TERM", "xterm")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("util-linux `script` (Debian's bsdutils) for a pseudo-terminal");
    let keyboard = child.stdin.take().unwrap();
    let mut screen = child.stdout.take().unwrap();
    let out = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&out);
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = screen.read(&mut buf) {
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    wait_for(&out, "bob> ");
    (keyboard, out, Guard(child))
}

#[test]
fn hostile_messages_while_typing_reach_the_terminal_harmless() {
    let (key_file, key) = write_key("hostile");
    let relay = start_relay(BIN, &[]);
    let (mut keyboard, out, mut bob) = start_bob(&relay.addr.to_string(), &key_file);
    let mut eve = Peer::connect(relay.addr, &key, "eve");
    relay.wait_for_log("connected (2 clients)", WAIT);

    keyboard.write_all(b"half a li").unwrap();
    wait_for(&out, "half a li");
    for plaintext in HOSTILE {
        eve.send_plaintext(plaintext, now());
    }
    eve.send_plaintext(b"eve\nthe end", now());
    wait_for(&out, "<eve> the end");
    keyboard.write_all(b"ne\r").unwrap();
    assert_eq!(eve.receive(1, WAIT), ["<bob> half a line"]);
    keyboard.write_all(b"/quit\r").unwrap();
    assert!(bob.wait_exit(WAIT).is_some_and(|s| s.success()));

    let raw = out.lock().unwrap().clone();
    let text = String::from_utf8(raw).expect("UTF-8 on the terminal");
    // The line editor writes its own escapes (clearing and redrawing the
    // prompt); none of the peer's may appear.
    for forbidden in [
        "\x1b]", "\x07", "\x08", "\x1b[2J", "\x1b[H", "\x1b[8m", "\x1b[31m", "\u{9b}", "\u{202E}",
        "\u{2067}", "\u{200B}",
    ] {
        assert!(!text.contains(forbidden), "{forbidden:?} in {text:?}");
    }
    for shown in [
        "<eve> ^[]0;pwned title^G",
        "<eve> ^[[2J^[[Hwiped",
        "<eve> ^[[8mhidden^[[0m",
        "<eve> over^Mwrite^H^H",
        "  | [12:00:00] <bob> forged",
        "\\u{202e}reversed\\u{2067}isolated\\u{2069}\\u{200b}",
        "<eve> \\u{9b}2J",
        "<?> e^[[31mve",
    ] {
        assert_eq!(text.matches(shown).count(), 1, "{shown:?} in {text:?}");
    }
    // One message line for each message: the editor clears the prompt's
    // line (`CR ESC [K`) and writes the message there, then redraws the
    // prompt with the half-typed line below it.
    let messages = text.matches("\r\x1b[K[").count();
    assert_eq!(messages, HOSTILE.len() + 1, "{text:?}");
    assert_eq!(text.matches("bob> half a li").count(), messages, "{text:?}");
}

#[test]
fn the_line_being_typed_survives_a_relay_restart() {
    let (key_file, key) = write_key("restart");
    let relay = start_relay(BIN, &[]);
    let addr = relay.addr.to_string();
    let (mut keyboard, out, mut bob) = start_bob(&addr, &key_file);
    relay.wait_for_log("connected (1 clients)", WAIT);

    keyboard.write_all(b"typed across a rest").unwrap();
    wait_for(&out, "typed across a rest");
    drop(relay);
    wait_for(&out, "reconnecting");
    let relay = start_relay_on(BIN, &addr, &[]);
    wait_for(&out, "back in the room");
    let mut eve = Peer::connect(relay.addr, &key, "eve");
    relay.wait_for_log("connected (2 clients)", WAIT);
    keyboard.write_all(b"art\r").unwrap();
    assert_eq!(eve.receive(1, WAIT), ["<bob> typed across a restart"]);
    keyboard.write_all(b"/quit\r").unwrap();
    assert!(bob.wait_exit(WAIT).is_some_and(|s| s.success()));
    let text = String::from_utf8_lossy(&out.lock().unwrap()).into_owned();
    assert_eq!(
        text.matches("reconnecting").count(),
        1,
        "said once: {text:?}"
    );
}
