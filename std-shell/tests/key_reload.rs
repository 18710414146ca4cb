//! SIGHUP reloads a keyed relay's key file: given a new first key it
//! relays tokens under both keys and still refuses what it forwarded
//! before; a broken file leaves the keys as they were and says why; a
//! blind relay says there is nothing to reload and carries on.

use fernchat_core::fernet::Key;
use fernchat_tests::peer::Peer;
use fernchat_tests::process::{Relay, start_relay};
use fernchat_tests::prometheus::{metrics_addr, scrape};
use fernchat_tests::std_client::keygen;
use rustix::process::{Pid, Signal, kill_process};
use std::path::Path;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_fernchat");
const WAIT: Duration = Duration::from_secs(10);

#[test]
fn sighup_rotates_keys_and_a_broken_file_keeps_the_old_ones() {
    let (file, old) = keygen(Path::new(BIN), "key-reload");
    let key_file = file.to_str().unwrap();
    let args = ["--key-file", key_file, "--hello-timeout", "120"];
    let relay = start_relay(BIN, &[&args[..], &["--metrics", "127.0.0.1:0"]].concat());
    let metrics = metrics_addr(&relay, WAIT);
    let mut ann = Peer::connect(relay.addr, &old, "ann");
    let mut bob = Peer::connect(relay.addr, &old, "bob");
    relay.wait_for_log("connected (2 clients)", WAIT);
    let before = ann.say("before");
    assert_eq!(bob.receive(1, WAIT), ["<ann> before"]);

    // A new key first, the old one still accepted.
    let new = Key::from_bytes(rand::random());
    let text = [new.encode(), old.encode()].join(&b'\n');
    std::fs::write(&file, [&text[..], b"\n"].concat()).unwrap();
    hangup(&relay);
    relay.wait_for_log("SIGHUP: reloaded 2 key(s)", WAIT);
    let mut carol = Peer::connect(relay.addr, &new, "carol");
    let mut dave = Peer::connect(relay.addr, &new, "dave");
    relay.wait_for_log("connected (4 clients)", WAIT);
    ann.say("old key after the rotation");
    assert_eq!(bob.receive(1, WAIT), ["<ann> old key after the rotation"]);
    carol.say("new key");
    assert_eq!(dave.receive(1, WAIT), ["<carol> new key"]);
    // The replay cache outlived the rotation.
    ann.send_raw(&before);
    relay.wait_for_log("replayed", WAIT);

    // A broken file: the relay says why and keeps both keys.
    std::fs::write(&file, b"not a key\n").unwrap();
    hangup(&relay);
    let kept = relay.wait_for_log("SIGHUP: kept the old keys", WAIT);
    assert!(kept.contains(key_file), "the log names the file: {kept}");
    ann.say("old key still");
    assert_eq!(bob.receive(1, WAIT), ["<ann> old key still"]);
    carol.say("new key still");
    assert_eq!(dave.receive(1, WAIT), ["<carol> new key still"]);
    // And a key it never had is still refused.
    let mut eve = Peer::connect(relay.addr, &Key::from_bytes(rand::random()), "eve");
    eve.say("let me in");
    relay.wait_for_log("bad MAC", WAIT);

    let samples = scrape(metrics);
    let reloads = |outcome: &str| {
        let key = format!("fernchat_key_reloads_total{{outcome=\"{outcome}\"}}");
        samples.get(&key).map(|s| s.value)
    };
    assert_eq!(reloads("loaded"), Some(1.0));
    assert_eq!(reloads("failed"), Some(1.0));
}

#[test]
fn sighup_to_a_blind_relay_reloads_nothing_and_it_carries_on() {
    let (_, key) = keygen(Path::new(BIN), "key-reload-blind");
    let relay = start_relay(BIN, &[]);
    hangup(&relay);
    relay.wait_for_log(
        "SIGHUP: a blind relay holds no key; nothing to reload",
        WAIT,
    );
    let mut ann = Peer::connect(relay.addr, &key, "ann");
    let mut bob = Peer::connect(relay.addr, &key, "bob");
    relay.wait_for_log("connected (2 clients)", WAIT);
    ann.say("still here");
    assert_eq!(bob.receive(1, WAIT), ["<ann> still here"]);
}

/// Sends SIGHUP to the relay.
fn hangup(relay: &Relay) {
    let pid = Pid::from_raw(relay.guard.0.id() as i32).expect("a process id");
    kill_process(pid, Signal::HUP).expect("send SIGHUP");
}
