//! One WebSocket client cannot stall the relay or grow its memory
//! (`docs/PROTOCOL.md` section 13): during a 10 s flood of pings or of
//! empty continuation frames, an unrelated TCP pair's p99 stays under
//! 50 ms; a client that floods pings and never reads is cut as a slow
//! reader while the relay's RSS stays under 64 MiB. The same flood as
//! keep-alive lines on the TCP port is the control.

use fernchat_core::fernet::Key;
use fernchat_tests::peer::Peer;
use fernchat_tests::process::{Relay, start_relay};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_fernchat");
const WAIT: Duration = Duration::from_secs(10);
/// How long each flood lasts.
const FLOOD: Duration = Duration::from_secs(10);
/// The unrelated pair's p99 must stay under this.
const P99_GOAL: Duration = Duration::from_millis(50);
/// The relay's resident memory must stay under this (KiB).
const RSS_GOAL_KIB: u64 = 64 * 1024;

/// A WebSocket client frame (masked, as a client's must be; the mask
/// is zero, so the payload goes as it is) with `opcode` and `fin`.
fn client_frame(opcode: u8, fin: bool, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() <= 125, "a short frame");
    let first = opcode | if fin { 0x80 } else { 0 };
    let len = u8::try_from(payload.len()).unwrap();
    [&[first, 0x80 | len, 0, 0, 0, 0][..], payload].concat()
}

/// A raw connection to `/ws`, upgraded by hand.
fn upgraded(web: SocketAddr) -> TcpStream {
    let mut ws = TcpStream::connect(web).expect("connect to the web port");
    ws.write_all(
        b"GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
          Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
          Sec-WebSocket-Version: 13\r\n\r\n",
    )
    .expect("send the upgrade");
    ws.set_read_timeout(Some(WAIT)).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        ws.read_exact(&mut byte).expect("the upgrade's answer");
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101 "), "{head:?}");
    ws
}

/// Writes `pattern` over and over on `stream` for [`FLOOD`], or until the
/// relay closes it; gives how many bytes went. A write that times out (the
/// relay is not reading just then) is tried again where it stopped, so
/// frames stay whole.
fn flood(mut stream: TcpStream, pattern: &[u8]) -> u64 {
    stream
        .set_write_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let burst = pattern.repeat((64 * 1024) / pattern.len());
    let started = Instant::now();
    let (mut sent, mut at) = (0, 0);
    while started.elapsed() < FLOOD {
        match stream.write(&burst[at..]) {
            Ok(n) => {
                sent += n as u64;
                at = (at + n) % burst.len();
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    sent
}

/// While `flooder` runs, ann says a line every 20 ms to bob on the chat
/// port; gives each line's time from sending to bob showing it, sorted.
fn pair_latencies(relay: &Relay, flooder: std::thread::JoinHandle<u64>) -> Vec<Duration> {
    let key = Key::from_bytes(rand::random());
    let mut ann = Peer::connect(relay.addr, &key, "ann");
    let mut bob = Peer::connect(relay.addr, &key, "bob");
    // A frame from bob too, or the hello timeout (10 s) ends the silent
    // reader as the flood ends.
    bob.say("here");
    assert_eq!(ann.receive(1, WAIT), ["<bob> here"]);
    let mut latencies = Vec::new();
    while !flooder.is_finished() {
        let sent = Instant::now();
        let text = format!("line {}", latencies.len());
        ann.say(&text);
        assert_eq!(bob.receive(1, WAIT), [format!("<ann> {text}")]);
        latencies.push(sent.elapsed());
        std::thread::sleep(Duration::from_millis(20));
    }
    let bytes = flooder.join().expect("the flooder");
    eprintln!("flooded {bytes} bytes; {} lines", latencies.len());
    latencies.sort();
    latencies
}

/// The 99th percentile of `sorted`.
fn p99(sorted: &[Duration]) -> Duration {
    assert!(
        sorted.len() >= 100,
        "enough lines for a p99: {}",
        sorted.len()
    );
    sorted[sorted.len() * 99 / 100]
}

/// Floods the relay with `pattern` on `stream` from a thread, draining
/// what comes back when `drain` (so that only fairness is tested), and
/// checks the unrelated pair's p99.
fn pair_keeps_up_during(relay: &Relay, stream: TcpStream, pattern: Vec<u8>, drain: bool) {
    if drain {
        let mut reader = stream.try_clone().unwrap();
        std::thread::spawn(move || {
            let mut sink = [0u8; 64 * 1024];
            while reader.read(&mut sink).is_ok_and(|n| n > 0) {}
        });
    }
    let flooder = std::thread::spawn(move || flood(stream, &pattern));
    let latencies = pair_latencies(relay, flooder);
    let p99 = p99(&latencies);
    eprintln!("p99 {p99:?}, max {:?}", latencies.last().unwrap());
    assert!(p99 < P99_GOAL, "p99 {p99:?} during the flood");
}

#[test]
fn a_ping_flood_does_not_stall_an_unrelated_pair() {
    let relay = start_relay(BIN, &["--web", "127.0.0.1:0"]);
    let ws = upgraded(relay.web_addr());
    pair_keeps_up_during(&relay, ws, client_frame(0x9, true, b""), true);
}

#[test]
fn an_empty_continuation_flood_does_not_stall_an_unrelated_pair() {
    let relay = start_relay(BIN, &["--web", "127.0.0.1:0"]);
    let mut ws = upgraded(relay.web_addr());
    // A text message begun and never finished: empty continuations only.
    ws.write_all(&client_frame(0x1, false, b"")).unwrap();
    pair_keeps_up_during(&relay, ws, client_frame(0x0, false, b""), false);
}

#[test]
fn a_keepalive_flood_on_tcp_does_not_stall_an_unrelated_pair() {
    let relay = start_relay(BIN, &[]);
    let tcp = TcpStream::connect(relay.addr).expect("connect");
    pair_keeps_up_during(&relay, tcp, b"\n".to_vec(), false);
}

#[test]
fn a_ping_flood_that_never_reads_is_cut_and_memory_stays_bounded() {
    let relay = start_relay(BIN, &["--web", "127.0.0.1:0", "--slow-timeout", "2"]);
    let ws = upgraded(relay.web_addr());
    let mut probe = ws.try_clone().unwrap();
    let ping = client_frame(0x9, true, &[b'p'; 125]);
    let flooder = std::thread::spawn(move || flood(ws, &ping));
    let mut max_rss = 0;
    while !flooder.is_finished() {
        max_rss = max_rss.max(relay.rss_kib());
        std::thread::sleep(Duration::from_millis(50));
    }
    let bytes = flooder.join().expect("the flooder");
    eprintln!("flooded {bytes} bytes; relay RSS at most {max_rss} KiB");
    assert!(max_rss < RSS_GOAL_KIB, "RSS {max_rss} KiB");
    relay.wait_for_log("left: not reading", WAIT);
    // The relay closed it: what it still sends ends.
    probe
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut sink = [0u8; 64 * 1024];
    let deadline = Instant::now() + WAIT;
    let closed = loop {
        let read = probe.read(&mut sink);
        let waiting = read
            .as_ref()
            .is_err_and(|e| matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut));
        match read {
            Ok(0) => break true,
            Err(_) if !waiting => break true,
            _ if Instant::now() > deadline => break false,
            _ => {}
        }
    };
    assert!(closed, "the relay never closed the flooder");
}
