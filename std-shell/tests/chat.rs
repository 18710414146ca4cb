//! End to end on 127.0.0.1: a relay, two `fernchat client`s and a Python
//! `cryptography` client chat; blind mode forwards without a key.

use fernchat_tests::peer::Peer;
use fernchat_tests::process::start_relay;
use fernchat_tests::python::{python, script};
use fernchat_tests::std_client::{StdClient, keygen};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_fernchat");
const WAIT: Duration = Duration::from_secs(10);

/// Waits for `client` to show a line ending with `text`, with its time first.
fn expect(client: &StdClient, text: &str) {
    let line = client.expect(text);
    assert!(line.starts_with('['), "shown with its time: {line}");
    assert!(line.ends_with(text), "{line}");
}

#[test]
fn two_clients_and_python_chat_through_a_blind_relay() {
    let (key_file, key) = keygen(Path::new(BIN), "chat");
    let relay = start_relay(BIN, &[]);
    let addr = relay.addr.to_string();

    let mut ann = StdClient::start(Path::new(BIN), &addr, "ann", &key_file);
    relay.wait_for_log("connected (1 clients)", WAIT);
    let mut bob = StdClient::start(Path::new(BIN), &addr, "bob", &key_file);
    expect(&ann, "bob joined");

    // The Python client of `docs/PROTOCOL.md` section 8: sends one message, prints
    // the next frame it receives, decrypted.
    let python = Command::new(python())
        .arg(script("chat_peer.py"))
        .args([
            &key_file.to_string_lossy(),
            "127.0.0.1",
            &relay.addr.port().to_string(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start python");
    expect(&ann, "<py> hello from python");
    expect(&bob, "<py> hello from python");

    ann.type_line("hi all");
    expect(&bob, "<ann> hi all");
    bob.type_line("/me waves");
    expect(&ann, "* bob waves");
    bob.type_line("//slash");
    expect(&ann, "<bob> /slash");

    let out = python.wait_with_output().unwrap();
    let seen = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(seen.contains("ann\nhi all"), "python decrypted: {seen}");

    // End of input: bob leaves and exits 0.
    assert!(bob.quit(), "bob exits 0 at the end of input");
    expect(&ann, "bob left");

    // A raw peer with the key reads what ann sends: the relay forwarded it
    // without holding the key.
    let mut raw = Peer::connect(relay.addr, &key, "raw");
    relay.wait_for_log("connected (2 clients)", WAIT);
    ann.type_line("still here");
    assert_eq!(raw.receive(1, WAIT), ["<ann> still here"]);
}

#[test]
fn client_without_reconnect_exits_nonzero_when_the_server_goes_away() {
    let (key_file, _) = keygen(Path::new(BIN), "gone");
    let mut relay = start_relay(BIN, &[]);
    let addr = relay.addr.to_string();
    let options = ["--no-reconnect"];
    let mut ann = StdClient::start_with(Path::new(BIN), &addr, "ann", &key_file, &options);
    relay.wait_for_log("connected (1 clients)", WAIT);
    relay.guard.0.kill().unwrap();
    let status = ann.guard.0.wait().unwrap();
    assert_eq!(status.code(), Some(1));
}

#[test]
fn sigterm_stops_the_relay_cleanly_with_a_summary() {
    let mut relay = start_relay(BIN, &[]);
    let pid = relay.guard.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    relay.wait_for_log("relay stopped: 0 connections", WAIT);
    assert!(relay.guard.0.wait().unwrap().success());
}
