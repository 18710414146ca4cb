//! TLS on the relay's chat port: a `fernchat client --tls --ca` and a
//! Python `ssl` client chat through it; a plain client on the TLS port,
//! and a TLS client on a plain port, fail fast with a clear message.

use fernchat_tests::peer::{Peer, read_until_closed};
use fernchat_tests::process::start_relay;
use fernchat_tests::python::{python, script};
use fernchat_tests::std_client::{StdClient, keygen, self_signed_cert};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_fernchat");
const WAIT: Duration = Duration::from_secs(10);

/// A fresh self-signed pair from `fernchat cert`: (certificate, key).
fn cert(name: &str) -> (PathBuf, PathBuf) {
    self_signed_cert(Path::new(BIN), name)
}

/// `fernchat server` with TLS on the chat port.
fn tls_relay(cert: &Path, key: &Path) -> fernchat_tests::process::Relay {
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    start_relay(BIN, &["--tls-cert", cert, "--tls-key", key])
}

#[test]
fn cert_makes_a_pem_pair_with_a_private_key() {
    let (cert, key) = cert("pair");
    let cert_text = std::fs::read_to_string(&cert).unwrap();
    assert!(cert_text.starts_with("-----BEGIN CERTIFICATE-----"));
    let key_text = std::fs::read_to_string(&key).unwrap();
    assert!(key_text.starts_with("-----BEGIN PRIVATE KEY-----"));
    let mode = std::fs::metadata(&key).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the key is private");
    let mode = std::fs::metadata(&cert).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o644, "the certificate is public");
    // Not replaced without --force.
    let again = Command::new(BIN)
        .args(["cert", "--out-cert"])
        .arg(&cert)
        .arg("--out-key")
        .arg(&key)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert_eq!(std::fs::read_to_string(&key).unwrap(), key_text);
}

#[test]
fn python_ssl_and_a_tls_client_chat_through_the_relay() {
    let (key_file, _) = keygen(Path::new(BIN), "tls-chat");
    let (cert, key) = cert("chat");
    let relay = tls_relay(&cert, &key);
    let addr = format!("localhost:{}", relay.addr.port());
    let options = ["--tls", "--ca", cert.to_str().unwrap()];
    let mut ann = StdClient::start_with(Path::new(BIN), &addr, "ann", &key_file, &options);
    relay.wait_for_log("connected (1 clients)", WAIT);

    let python = Command::new(python())
        .arg(script("tls_peer.py"))
        .arg(&key_file)
        .arg(&cert)
        .args(["localhost", &relay.addr.port().to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start python");
    ann.expect("<py> hello over TLS");
    relay.wait_for_log("connected (2 clients)", WAIT);
    ann.type_line("hello python");
    let out = python.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ann\nhello python\n");
}

#[test]
fn a_tls_client_takes_a_burst_of_full_records() {
    let (key_file, _) = keygen(Path::new(BIN), "tls-burst");
    let (cert, key) = cert("burst");
    let relay = tls_relay(&cert, &key);
    let addr = format!("localhost:{}", relay.addr.port());
    let options = ["--tls", "--ca", cert.to_str().unwrap()];
    let mut bob = StdClient::start_with(Path::new(BIN), &addr, "bob", &key_file, &options);
    relay.wait_for_log("connected (1 clients)", WAIT);
    let mut ann = StdClient::start_with(Path::new(BIN), &addr, "ann", &key_file, &options);
    relay.wait_for_log("connected (2 clients)", WAIT);
    bob.expect("ann joined");
    // A message shown tells ann it is in the room: its lines go at once.
    bob.type_line("go ahead");
    ann.expect("<bob> go ahead");
    // Frames of nearly 4 KiB, sent as fast as they are typed: the relay's
    // writes fill whole 16 KiB records.
    let text = "y".repeat(2900);
    for i in 0..200 {
        ann.type_line(&format!("{i:03} {text}"));
    }
    let shown = bob.lines_until("199 y");
    let got = shown.iter().filter(|l| l.contains(&text)).count();
    assert_eq!(got, 200, "every message, none lost to the session's buffer");
}

#[test]
fn a_plain_client_on_the_tls_port_is_told_at_once() {
    let (key_file, key) = keygen(Path::new(BIN), "tls-plain");
    let (cert, tls_key) = cert("plain");
    let relay = tls_relay(&cert, &tls_key);

    // A raw client that says something: the notice in the clear, then EOF.
    let mut raw = Peer::connect(relay.addr, &key, "raw");
    raw.say("anyone there?");
    let started = Instant::now();
    assert_eq!(read_until_closed(&mut raw.stream, WAIT), b"!tls\n");
    assert!(started.elapsed() < Duration::from_secs(2));

    // Our client without --tls: it says /join first, hears `!tls`, and
    // stops with the hint instead of reconnecting for ever.
    let addr = relay.addr.to_string();
    let mut plain = StdClient::start(Path::new(BIN), &addr, "plain", &key_file);
    plain.expect_note("this port speaks TLS: connect with --tls");
    let status = plain.guard.wait_exit(WAIT).expect("exits within 10 s");
    assert_eq!(status.code(), Some(1));
}

#[test]
fn a_silent_connection_on_the_tls_port_is_closed_at_the_hello_timeout() {
    let (cert, key) = cert("silent");
    let (c, k) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let relay = start_relay(
        BIN,
        &["--tls-cert", c, "--tls-key", k, "--hello-timeout", "1"],
    );
    let mut silent = TcpStream::connect(relay.addr).unwrap();
    let started = Instant::now();
    assert_eq!(read_until_closed(&mut silent, WAIT), b"");
    assert!(started.elapsed() >= Duration::from_millis(900));
    relay.wait_for_log("handshake timed out", WAIT);
}

#[test]
fn a_tls_client_on_a_plain_port_gives_up_with_a_hint() {
    let (key_file, _) = keygen(Path::new(BIN), "tls-on-plain");
    let (cert, _) = cert("on-plain");
    let relay = start_relay(BIN, &[]);
    let addr = format!("localhost:{}", relay.addr.port());
    let started = Instant::now();
    let out = Command::new(BIN)
        .args(["client", "--tls", "--ca", cert.to_str().unwrap()])
        .args(["--connect", &addr, "--name", "ann", "--key-file"])
        .arg(&key_file)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(started.elapsed() < WAIT);
    assert_eq!(out.status.code(), Some(2));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("drop --tls"), "{said}");
}

#[test]
fn a_tls_client_refuses_a_certificate_it_does_not_trust() {
    let (key_file, _) = keygen(Path::new(BIN), "tls-untrusted");
    let (cert, key) = cert("untrusted");
    let relay = tls_relay(&cert, &key);
    let addr = format!("localhost:{}", relay.addr.port());
    // The public roots do not hold a self-signed certificate.
    let out = Command::new(BIN)
        .args([
            "client",
            "--tls",
            "--connect",
            &addr,
            "--name",
            "ann",
            "--key-file",
        ])
        .arg(&key_file)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("UnknownIssuer") && said.contains("--ca"),
        "{said}"
    );
}
