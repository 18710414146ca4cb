//! The browser page (`std-shell/web/`) in headless Chromium: its Fernet
//! against the official vectors and Python's `cryptography`; then served
//! by the relay (`--web`), in one room with a `fernchat client` and a
//! Python client.

use fernchat_tests::browser;
use fernchat_tests::process::{Relay, start_relay, start_relay_on};
use fernchat_tests::std_client::{StdClient, keygen, self_signed_cert};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_fernchat");
const WAIT: Duration = Duration::from_secs(10);
/// How long one driver script may run.
const DRIVER_TIMEOUT: Duration = Duration::from_secs(180);

#[test]
fn page_fernet_matches_the_vectors_and_python_in_chromium() {
    let page = browser::page_dir();
    let vectors = page.join("..").join("..").join("fernet/tests/data");
    let driver = browser::start(
        "web_vectors.py",
        &[&page.to_string_lossy(), &vectors.to_string_lossy()],
    );
    let asked = |request: &str| panic!("web_vectors.py asked for {request:?}");
    let printed = driver.run(asked, "web vectors: all checks passed", DRIVER_TIMEOUT);
    let checks = printed.iter().filter(|l| l.starts_with("ok ")).count();
    assert!(checks >= 30, "only {checks} checks ran");
}

/// The page's address, from the relay's log.
fn page_url(relay: &Relay) -> String {
    let line = relay.wait_for_log("web client at ", WAIT);
    let rest = line.split("web client at ").nth(1).unwrap_or_default();
    rest.split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// Every line the relay logged until now and until it stops.
fn stop_and_read_log(mut relay: Relay) -> Vec<String> {
    relay.guard.0.kill().expect("stop the relay");
    let mut log = Vec::new();
    while let Ok(line) = relay.log.recv_timeout(WAIT) {
        log.push(line);
    }
    log
}

fn key_text(path: &Path) -> String {
    std::fs::read_to_string(path)
        .expect("read the key file")
        .trim()
        .to_owned()
}

/// Where the test run leaves its screenshot (under target/).
fn screenshot(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(name)
}

/// A browser, a `fernchat client` and a Python client chat through a relay
/// with `--web` (over TLS with `pair`); see tests/python/web_chat.py. The
/// key shows in no request the relay logs.
fn chat_through_the_web_port(pair: Option<(PathBuf, PathBuf)>, shot_name: &str) {
    let (key_file, _) = keygen(Path::new(BIN), &format!("{shot_name}-chat"));
    let (wrong_file, _) = keygen(Path::new(BIN), &format!("{shot_name}-wrong"));
    let (key, wrong) = (key_text(&key_file), key_text(&wrong_file));
    let mut relay_args = vec!["--web".to_owned(), "127.0.0.1:0".to_owned()];
    let mut client_args = Vec::new();
    if let Some((cert, cert_key)) = &pair {
        let (cert, cert_key) = (cert.to_string_lossy(), cert_key.to_string_lossy());
        relay_args.extend([
            "--tls-cert".into(),
            cert.to_string(),
            "--tls-key".into(),
            cert_key.to_string(),
        ]);
        client_args.extend(["--tls".to_owned(), "--ca".to_owned(), cert.to_string()]);
    }
    let relay = start_relay(
        BIN,
        &relay_args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let page = page_url(&relay);
    let tcp = relay.addr.to_string();
    let client_args: Vec<&str> = client_args.iter().map(String::as_str).collect();
    let ann = StdClient::start_with(Path::new(BIN), &tcp, "ann", &key_file, &client_args);
    relay.wait_for_log("connected (1 clients)", WAIT);

    let shot = screenshot(&format!("{shot_name}.png"));
    let _ = std::fs::remove_file(&shot);
    let page_dir = browser::page_dir();
    let mut args = vec![
        page.clone(),
        page_dir.to_string_lossy().into_owned(),
        key.clone(),
        wrong.clone(),
        tcp,
        shot.to_string_lossy().into_owned(),
    ];
    if let Some((cert, _)) = &pair {
        assert!(page.starts_with("https://"), "the page over TLS: {page}");
        args.push(cert.to_string_lossy().into_owned());
    }
    let driver = browser::start(
        "web_chat.py",
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let mut ann = Some(ann);
    let act = |request: &str| browser::act_for_ann(&mut ann, request);
    driver.run(act, "web chat: all checks passed", DRIVER_TIMEOUT);
    assert!(shot.is_file(), "no screenshot at {}", shot.display());
    // Past the test harness's capture, so that every run shows where it is.
    let _ = writeln!(
        std::io::stderr(),
        "screenshot of the page mid-chat: {}",
        shot.display()
    );

    // The key never reached the relay: none of its log lines, which name
    // every request, holds it.
    let log = stop_and_read_log(relay);
    assert!(
        log.iter().any(|l| l.contains("GET / 200")) && log.iter().any(|l| l.contains("/ws 101")),
        "the relay logged the page and WebSocket requests: {log:#?}"
    );
    for secret in [&key, &wrong] {
        assert!(
            !log.iter().any(|l| l.contains(secret.as_str())),
            "a key in the relay's log"
        );
    }
}

#[test]
fn browser_cli_and_python_chat_through_the_web_port() {
    chat_through_the_web_port(None, "web-chat");
}

#[test]
fn browser_cli_and_python_chat_over_tls_with_a_self_signed_pair() {
    chat_through_the_web_port(
        Some(self_signed_cert(Path::new(BIN), "web-tls")),
        "web-chat-tls",
    );
}

#[test]
fn page_shows_the_relay_full_and_gets_in_when_a_slot_frees() {
    let (key_file, _) = keygen(Path::new(BIN), "web-full");
    let relay = start_relay(BIN, &["--web", "127.0.0.1:0", "--max-clients", "1"]);
    let ws = format!("{}ws", page_url(&relay).replacen("http", "ws", 1));
    let ann = StdClient::start(Path::new(BIN), &relay.addr.to_string(), "ann", &key_file);
    relay.wait_for_log("connected (1 clients)", WAIT);
    let page_dir = browser::page_dir();
    let driver = browser::start(
        "web_notice.py",
        &[&page_dir.to_string_lossy(), &ws, &key_text(&key_file)],
    );
    let mut ann = Some(ann);
    let act = |request: &str| browser::act_for_ann(&mut ann, request);
    driver.run(act, "web notice: all checks passed", DRIVER_TIMEOUT);
}

#[test]
fn page_reconnects_when_the_relay_comes_back_and_sends_what_waited() {
    let (key_file, _) = keygen(Path::new(BIN), "web-back");
    let relay = start_relay(BIN, &["--web", "127.0.0.1:0"]);
    let page = page_url(&relay);
    let web = page
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let tcp = relay.addr.to_string();
    let mut relay = Some(relay);
    let driver = browser::start("web_reconnect.py", &[&page, &key_text(&key_file), &tcp]);
    let act = |request: &str| match request {
        "RELAY-STOP" => drop(relay.take()),
        "RELAY-START" => relay = Some(start_relay_on(BIN, &tcp, &["--web", &web])),
        _ => panic!("web_reconnect.py asked for {request:?}"),
    };
    driver.run(act, "web reconnect: all checks passed", DRIVER_TIMEOUT);
}
