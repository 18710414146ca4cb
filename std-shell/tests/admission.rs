//! Admission and deadlines: no one address can take every slot, a silent
//! connection is told `!timeout` and closed, a flood is rate limited, and
//! flags that make no sense are refused.

use fernchat_core::fernet::Key;
use fernchat_tests::peer::{Peer, connect_from, read_until_closed};
use fernchat_tests::process::start_relay;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_fernchat");
const WAIT: Duration = Duration::from_secs(10);
const OTHER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

#[test]
fn idle_sockets_from_one_address_do_not_lock_out_others() {
    let key = Key::from_bytes(rand::random());
    let relay = start_relay(BIN, &["--hello-timeout", "3"]);
    let idle: Vec<TcpStream> = (0..300)
        .map(|_| TcpStream::connect(relay.addr).unwrap())
        .collect();
    relay.wait_for_log("connected (64 clients)", WAIT);
    relay.wait_for_log("refused: too many connections from this address", WAIT);
    let mut ann = Peer::connect_from(OTHER, relay.addr, &key, "ann");
    let mut bob = Peer::connect_from(OTHER, relay.addr, &key, "bob");
    relay.wait_for_log("connected (66 clients)", WAIT);
    // Every client says something on joining (`/join` for ours).
    bob.say("hello");
    assert_eq!(ann.receive(1, WAIT), ["<bob> hello"]);
    ann.say("through the crowd");
    assert_eq!(bob.receive(1, WAIT), ["<ann> through the crowd"]);

    // The 236 past the per-address limit were told so at once; the 64
    // admitted ones heard the room, then, having never sent a frame, are
    // told `!timeout` and closed.
    let (mut busy, mut timeout) = (0, 0);
    for mut socket in idle {
        let told = read_until_closed(&mut socket, WAIT);
        if told == b"!busy\n" {
            busy += 1;
        } else if told.ends_with(b"\n!timeout\n") || told == b"!timeout\n" {
            timeout += 1;
        }
    }
    assert_eq!((busy, timeout), (236, 64));
    // The talkers sent frames in time: they stay.
    ann.say("still here");
    assert_eq!(bob.receive(1, WAIT), ["<ann> still here"]);
}

#[test]
fn keep_alives_do_not_count_as_a_hello() {
    let relay = start_relay(BIN, &["--hello-timeout", "1"]);
    let mut silent = connect_from(OTHER, relay.addr);
    let started = Instant::now();
    for _ in 0..5 {
        if silent.write_all(b"\n").is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(read_until_closed(&mut silent, WAIT), b"!timeout\n");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900),
        "closed after {waited:?}"
    );
    relay.wait_for_log("left: no valid frame in time", WAIT);
}

#[test]
fn a_flood_past_the_rate_limit_is_dropped_and_counted() {
    let key = Key::from_bytes(rand::random());
    let relay = start_relay(BIN, &["--max-rate", "5"]);
    let mut ann = Peer::connect(relay.addr, &key, "ann");
    let mut bob = Peer::connect_from(OTHER, relay.addr, &key, "bob");
    relay.wait_for_log("connected (2 clients)", WAIT);
    for i in 0..40 {
        ann.say(&format!("flood {i}"));
    }
    // A burst of one second's worth goes through at once; the rest of the
    // flood, sent within far less than a second, is dropped.
    let got = bob.receive(40, Duration::from_secs(2));
    assert!((5..=8).contains(&got.len()), "{} got through", got.len());
    assert_eq!(got[0], "<ann> flood 0");
    std::thread::sleep(Duration::from_millis(1200));
    ann.say("after a pause");
    assert_eq!(bob.receive(1, WAIT), ["<ann> after a pause"]);
}

#[test]
fn nonsense_flags_are_refused_and_host_names_accepted() {
    for flags in [
        ["--max-clients", "0"],
        ["--max-outbound", "0"],
        ["--max-outbound", "4095"],
        ["--hello-timeout", "0"],
        ["--slow-timeout", "0"],
        ["--max-rate", "0"],
        ["--ttl", "0"],
    ] {
        let out = Command::new(BIN)
            .arg("server")
            .args(flags)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{flags:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.starts_with("error: invalid value"), "{stderr}");
    }
    let out = Command::new(BIN)
        .args(["server", "--listen", "no-such-host.invalid:1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let mut relay = Command::new(BIN)
        .args(["server", "--listen", "localhost:0"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = String::new();
    let mut stderr = relay.stderr.take().unwrap();
    let mut buf = [0u8; 1024];
    let deadline = Instant::now() + WAIT;
    while !log.contains("relay listening on") && Instant::now() < deadline {
        match stderr.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => log.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    let _ = relay.kill();
    let _ = relay.wait();
    assert!(log.contains("relay listening on"), "{log}");
}
