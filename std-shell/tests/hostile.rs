//! Hostile peers: long lines, junk, invalid floods, a client that never
//! reads, one killed mid-frame, too many clients. The relay keeps serving
//! and no healthy client loses a frame.

use fernchat_core::fernet::Key;
use fernchat_core::frame::MAX_FRAME;
use fernchat_core::message::Body;
use fernchat_tests::peer::{Peer, now, read_until_closed};
use fernchat_tests::process::start_relay;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_fernchat");
const WAIT: Duration = Duration::from_secs(10);

#[test]
fn junk_long_lines_and_invalid_floods() {
    let key = Key::from_bytes(rand::random());
    let relay = start_relay(BIN, &[]);
    let mut ann = Peer::connect(relay.addr, &key, "ann");
    let mut bob = Peer::connect(relay.addr, &key, "bob");
    relay.wait_for_log("connected (2 clients)", WAIT);

    // A line over 4096 bytes, then a good frame right after it.
    let mut long = vec![b'A'; 5000];
    long.push(b'\n');
    ann.send_raw(&long);
    ann.say("after the long line");
    assert_eq!(bob.receive(1, WAIT), ["<ann> after the long line"]);
    relay.wait_for_log("frame longer than 4096 bytes", WAIT);

    // Random bytes (one line of them): nothing arrives; the next frame does.
    let junk: Vec<u8> = (0..3000)
        .map(|_| rand::random::<u8>())
        .filter(|&b| b != b'\n')
        .collect();
    ann.send_raw(&junk);
    ann.send_raw(b"\n");
    ann.say("after the junk");
    assert_eq!(bob.receive(1, WAIT), ["<ann> after the junk"]);

    // 16 invalid frames in a row: disconnected.
    let mut eve = Peer::connect(relay.addr, &key, "eve");
    relay.wait_for_log("connected (3 clients)", WAIT);
    for _ in 0..16 {
        eve.send_raw(b"not+base64\n");
    }
    assert!(eve.closed_by_relay(WAIT));
    relay.wait_for_log("too many invalid frames", WAIT);

    // Killed in the middle of a frame: the half frame is never forwarded.
    let mut half = Peer::connect(relay.addr, &key, "half");
    relay.wait_for_log("connected (3 clients)", WAIT);
    let frame = half.say("whole");
    assert_eq!(bob.receive(1, WAIT), ["<ann> whole".replace("ann", "half")]);
    half.send_raw(&frame[..frame.len() / 2]);
    drop(half);
    relay.wait_for_log("left: closed", WAIT);
    ann.say("still serving");
    assert_eq!(bob.receive(1, WAIT), ["<ann> still serving"]);
    assert!(bob.receive(1, Duration::from_millis(300)).is_empty());
}

#[test]
fn a_client_that_never_reads_is_dropped_and_nobody_else_loses_a_frame() {
    let key = Key::from_bytes(rand::random());
    // bob only reads: a hello timeout longer than the test, however slow
    // the machine, so that only the slow timeout can end anyone.
    let relay = start_relay(
        BIN,
        &[
            "--max-outbound",
            "262144",
            "--slow-timeout",
            "2",
            "--hello-timeout",
            "120",
        ],
    );
    let mut ann = Peer::connect(relay.addr, &key, "ann");
    let mut bob = TcpStream::connect(relay.addr).unwrap();
    let sleeper = TcpStream::connect(relay.addr).unwrap();
    relay.wait_for_log("connected (3 clients)", WAIT);

    // Enough to fill the sleeper's kernel buffers and then the relay's queue.
    let count = 6000;
    let text = "x".repeat(2900);
    let reader = std::thread::spawn(move || {
        bob.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 65536];
        let mut frames = 0;
        while frames < count {
            match bob.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    frames += buf[..n].iter().filter(|&&b| b == b'\n').count();
                    got.extend_from_slice(&buf[..n]);
                }
            }
        }
        got
    });
    let mut sent = Vec::new();
    for i in 0..count {
        sent.extend_from_slice(&ann.say(&format!("{i} {text}")));
    }
    relay.wait_for_log("not reading", Duration::from_secs(30));
    let got = reader.join().unwrap();
    assert_eq!(got.len(), sent.len(), "bob got every byte");
    assert!(got == sent, "byte for byte, in order");
    // The one dropped was the sleeper: it finds the end of its stream.
    let mut sleeper = sleeper;
    sleeper.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match sleeper.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => panic!("the sleeper was not disconnected: {e}"),
        }
    }
}

#[test]
fn connections_past_max_clients_are_closed_at_once() {
    let key = Key::from_bytes(rand::random());
    let relay = start_relay(BIN, &["--max-clients", "2"]);
    let mut ann = Peer::connect(relay.addr, &key, "ann");
    let mut bob = Peer::connect(relay.addr, &key, "bob");
    relay.wait_for_log("connected (2 clients)", WAIT);
    let mut third = Peer::connect(relay.addr, &key, "third");
    // Told why before the close, even though it had already sent a frame.
    third.say("let me in");
    assert_eq!(read_until_closed(&mut third.stream, WAIT), b"!full\n");
    relay.wait_for_log("refused: the relay is full", WAIT);
    ann.say("two is company");
    assert_eq!(bob.receive(1, WAIT), ["<ann> two is company"]);
    // A valid frame written to the closed connection reaches no one (the
    // write itself may fail or not: the relay has closed its end).
    let mut out = [0u8; MAX_FRAME];
    let sneaked = third
        .session
        .sealer
        .seal(Body::Text(b"sneaked in"), now(), &mut rand::rng(), &mut out)
        .unwrap();
    let _ = third.stream.write_all(sneaked);
    assert!(bob.receive(1, Duration::from_millis(500)).is_empty());
}
