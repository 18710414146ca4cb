//! Keyed mode: the relay drops forged, foreign-key and replayed frames,
//! says `/leave` for a client that vanished, carries a busy room without
//! refusing an honest token, and cannot be silenced by future-dated tokens
//! or fooled by a restart.

use fernchat_core::fernet::Key;
use fernchat_core::frame::MAX_FRAME;
use fernchat_core::message::Body;
use fernchat_tests::peer::{Peer, now};
use fernchat_tests::process::{Relay, start_relay};
use fernchat_tests::std_client::keygen;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_fernchat");
const WAIT: Duration = Duration::from_secs(10);
const QUIET: Duration = Duration::from_millis(500);

#[test]
fn keyed_relay_drops_forged_foreign_and_replayed_frames() {
    let (file, key) = keygen(Path::new(BIN), "keyed-drops");
    let relay = start_keyed(&file, &[]);

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

fn start_keyed(key_file: &Path, args: &[&str]) -> Relay {
    let mut all = vec!["--key-file", key_file.to_str().unwrap()];
    all.extend_from_slice(args);
    start_relay(BIN, &all)
}

#[test]
fn a_busy_keyed_room_loses_nothing_and_drops_no_sender() {
    const SENDERS: usize = 10;
    const READERS: usize = 5;
    const RATE: u64 = 1000;
    const SECONDS: u64 = 3;
    let (file, key) = keygen(Path::new(BIN), "keyed-busy");
    let relay = start_keyed(&file, &[]);
    let readers: Vec<_> = (0..READERS)
        .map(|i| {
            let mut reader = Peer::connect(relay.addr, &key, &format!("r{i}"));
            reader.say("listening");
            reader
        })
        .collect();
    let total = (SENDERS as u64 * RATE * SECONDS) as usize;
    // Each reader counts the frames it gets, byte for byte.
    let reading: Vec<_> = readers
        .into_iter()
        .map(|reader| std::thread::spawn(move || count_lines(reader.stream, total + READERS - 1)))
        .collect();
    relay.wait_for_log(&format!("connected ({READERS} clients)"), WAIT);
    let sending: Vec<_> = (0..SENDERS)
        .map(|i| {
            let mut sender = Peer::connect(relay.addr, &key, &format!("s{i}"));
            // A sender reads too, as every client does.
            let drain = sender.stream.try_clone().unwrap();
            std::thread::spawn(move || count_lines(drain, usize::MAX));
            std::thread::spawn(move || {
                let started = Instant::now();
                let mut sent = Vec::new();
                // Tokens made at send time, 10 every 10 ms.
                for n in 0..RATE * SECONDS {
                    let due = started + Duration::from_micros(n / 10 * 10_000);
                    std::thread::sleep(due.saturating_duration_since(Instant::now()));
                    sent.push(sender.say(&format!("{i}:{n}")));
                }
                (sent, sender)
            })
        })
        .collect();
    let mut expected: HashMap<Vec<u8>, usize> = HashMap::new();
    let mut senders = Vec::new();
    for handle in sending {
        let (sent, sender) = handle.join().unwrap();
        for frame in sent {
            *expected.entry(frame).or_default() += 1;
        }
        // Kept connected until the readers are done.
        senders.push(sender);
    }
    for handle in reading {
        let mut got = handle.join().unwrap();
        // The other readers' "listening".
        got.retain(|line, _| expected.contains_key(line));
        assert_eq!(got.len(), total, "frames a reader got, once each");
        assert!(got.values().all(|&n| n == 1), "a frame delivered twice");
    }
    drop(senders);
    // Clients only closed (or reset) on their own; the relay sent nobody
    // away (no invalid frames, no hello timeout, nobody not reading).
    let sent_away: Vec<String> = relay
        .log
        .try_iter()
        .filter(|l| {
            [
                "left: too many",
                "left: no valid frame",
                "left: not reading",
            ]
            .iter()
            .any(|why| l.contains(why))
        })
        .collect();
    assert!(sent_away.is_empty(), "{sent_away:?}");
}

/// Reads `stream` until `count` lines came or 30 s passed; gives how often
/// each line (LF included) came.
fn count_lines(mut stream: TcpStream, count: usize) -> HashMap<Vec<u8>, usize> {
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut lines: HashMap<Vec<u8>, usize> = HashMap::new();
    let (mut pending, mut buf, mut n) = (Vec::new(), vec![0u8; 1 << 16], 0);
    while n < count {
        let Ok(read @ 1..) = stream.read(&mut buf) else {
            break;
        };
        pending.extend_from_slice(&buf[..read]);
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            *lines.entry(line).or_default() += 1;
            n += 1;
        }
    }
    lines
}

#[test]
fn future_dated_tokens_do_not_block_honest_ones() {
    let (file, key) = keygen(Path::new(BIN), "keyed-future");
    let relay = start_keyed(&file, &[]);
    let mut eve = Peer::connect(relay.addr, &key, "eve");
    let mut ann = Peer::connect(relay.addr, &key, "ann");
    let mut bob = Peer::connect(relay.addr, &key, "bob");
    bob.say("here");
    relay.wait_for_log("connected (3 clients)", WAIT);
    // More tokens dated 59 s ahead than the old cache (4,096) held.
    let mut out = [0u8; MAX_FRAME];
    let mut flood = Vec::new();
    for n in 0..6000 {
        let text = format!("from the future {n}");
        let frame = eve
            .session
            .sealer
            .seal(
                Body::Text(text.as_bytes()),
                now() + 59,
                &mut rand::rng(),
                &mut out,
            )
            .unwrap();
        flood.extend_from_slice(frame);
    }
    eve.stream.write_all(&flood).unwrap();
    ann.say("honest and on time");
    let got = bob.receive(6002, WAIT);
    assert!(
        got.contains(&"<ann> honest and on time".to_owned()),
        "{}",
        got.len()
    );
}

#[test]
fn a_restarted_relay_does_not_let_recorded_tokens_through() {
    let (file, key) = keygen(Path::new(BIN), "keyed-restart");
    let relay = start_keyed(&file, &[]);
    let mut ann = Peer::connect(relay.addr, &key, "ann");
    let mut bob = Peer::connect(relay.addr, &key, "bob");
    bob.say("here");
    relay.wait_for_log("connected (2 clients)", WAIT);
    let recorded = ann.say("said once");
    assert_eq!(bob.receive(1, WAIT), ["<ann> said once"]);
    drop(relay);
    std::thread::sleep(Duration::from_millis(1100));
    let relay = start_keyed(&file, &[]);
    let mut eve = Peer::connect(relay.addr, &key, "eve");
    let mut bob = Peer::connect(relay.addr, &key, "bob");
    bob.say("back");
    relay.wait_for_log("connected (2 clients)", WAIT);
    eve.send_raw(&recorded);
    relay.wait_for_log("too old for the replay cache", WAIT);
    eve.say("fresh");
    assert_eq!(bob.receive(2, WAIT), ["<eve> fresh"]);
}
