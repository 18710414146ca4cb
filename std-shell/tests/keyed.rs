//! Keyed mode: the relay drops forged, foreign-key and replayed frames, and
//! says `/leave` for a client that vanished.

use fernchat_core::fernet::Key;
use fernchat_tests::peer::Peer;
use fernchat_tests::process::start_relay;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_fernchat");
const WAIT: Duration = Duration::from_secs(10);
const QUIET: Duration = Duration::from_millis(500);

#[test]
fn keyed_relay_drops_forged_foreign_and_replayed_frames() {
    let key = Key::from_bytes(rand::random());
    let dir = std::env::temp_dir().join(format!("fernchat-keyed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key_file = dir.join("relay.key");
    let mut text = key.encode().to_vec();
    text.push(b'\n');
    std::fs::write(&key_file, text).unwrap();
    let relay = start_relay(BIN, &["--key-file", &key_file.to_string_lossy()]);

    let mut ann = Peer::connect(relay.addr, &key, "ann");
    let mut bob = Peer::connect(relay.addr, &key, "bob");
    relay.wait_for_log("connected (2 clients)", WAIT);
    let hello = ann.say("hello");
    assert_eq!(bob.receive(1, WAIT), ["<ann> hello"]);

    // A forged frame: a valid token with one ciphertext bit flipped.
    let mut forged = hello.clone();
    forged[60] = if forged[60] == b'A' { b'B' } else { b'A' };
    ann.send_raw(&forged);
    relay.wait_for_log("bad MAC", WAIT);
    // A frame under another key.
    let mut eve = Peer::connect(relay.addr, &Key::from_bytes(rand::random()), "eve");
    eve.say("let me in");
    relay.wait_for_log("bad MAC", WAIT);
    // The same token again.
    ann.send_raw(&hello);
    relay.wait_for_log("replayed", WAIT);
    ann.say("after");
    // Only the genuine new message arrives.
    assert_eq!(bob.receive(1, WAIT), ["<ann> after"]);
    assert!(bob.receive(1, QUIET).is_empty());

    // ann vanishes without /leave: the relay says it for her.
    drop(ann);
    relay.wait_for_log("sent it on its behalf", WAIT);
    assert_eq!(bob.receive(1, WAIT), ["ann left"]);
}
