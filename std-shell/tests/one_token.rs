//! One token a frame on the stream carriers (`docs/PROTOCOL.md` section 2):
//! on plain TCP and inside TLS, a line that holds two tokens glued
//! together, or a token behind junk, is one invalid frame, dropped whole
//! and counted; neither token in it reaches anyone. The WebSocket's case
//! is in `websocket.rs`, NATS's and history's in `nats.rs`.

use fernchat_core::fernet::{Key, KeySet};
use fernchat_core::session::Session;
use fernchat_tests::peer::seal_text;
use fernchat_tests::process::{Relay, start_relay};
use fernchat_tests::prometheus::{dropped_frames, metrics_addr, scrape};
use fernchat_tests::std_client::self_signed_cert;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

#[path = "support/tls_client.rs"]
mod tls_client;

const BIN: &str = env!("CARGO_BIN_EXE_fernchat");
const WAIT: Duration = Duration::from_secs(10);

/// `ann` sends, on `sender`, a frame, two lines that each hide tokens
/// (two glued, one behind `AAAA`), and a last frame: `receiver` gets the
/// first and the last frame only, in that order, and the relay counts two
/// dropped frames.
fn hidden_tokens_are_dropped_whole(relay: &Relay, sender: &mut impl Write, receiver: impl Read) {
    let metrics = metrics_addr(relay, WAIT);
    relay.wait_for_log("connected (2 clients)", WAIT);
    let ann = session(&Key::from_bytes(rand::random()), "ann");
    let first = seal_text(&ann, "first");
    let last = seal_text(&ann, "last");
    let token = |text| seal_text(&ann, text).trim_ascii_end().to_vec();
    let glued = [token("glued 1"), token("glued 2"), b"\n".to_vec()].concat();
    let behind = [b"AAAA".to_vec(), token("behind"), b"\n".to_vec()].concat();
    for bytes in [&first, &glued, &behind, &last] {
        sender
            .write_all(bytes)
            .and_then(|()| sender.flush())
            .expect("send");
    }
    let got: Vec<Vec<u8>> = BufReader::new(receiver)
        .split(b'\n')
        .take(2)
        .map(|line| [line.expect("a frame"), b"\n".to_vec()].concat())
        .collect();
    assert_eq!(got, [first, last], "no hidden token was forwarded");
    let dropped: f64 = dropped_frames(&scrape(metrics)).values().sum();
    assert_eq!(dropped, 2.0);
}

/// A session for `nick`, built in a frame of its own and boxed: its
/// replay cache is too large for a test thread's stack.
#[inline(never)]
fn session(key: &Key, nick: &str) -> Box<Session> {
    Box::new(Session::new(KeySet::single(key.clone()), nick, Some(300)).expect("nick"))
}

#[test]
fn hidden_tokens_on_tcp_are_dropped_whole() {
    let relay = start_relay(BIN, &["--metrics", "127.0.0.1:0"]);
    let mut ann = TcpStream::connect(relay.addr).expect("connect");
    let bob = TcpStream::connect(relay.addr).expect("connect");
    bob.set_read_timeout(Some(WAIT)).unwrap();
    hidden_tokens_are_dropped_whole(&relay, &mut ann, bob);
}

#[test]
fn hidden_tokens_inside_tls_are_dropped_whole() {
    let (cert, tls_key) = self_signed_cert(Path::new(BIN), "one-token");
    let (c, k) = (cert.to_str().unwrap(), tls_key.to_str().unwrap());
    let relay = start_relay(
        BIN,
        &["--tls-cert", c, "--tls-key", k, "--metrics", "127.0.0.1:0"],
    );
    let mut ann = tls_client::tls_to(relay.addr.port(), &cert);
    let mut bob = tls_client::tls_to(relay.addr.port(), &cert);
    for tls in [&mut ann, &mut bob] {
        tls.conn.complete_io(&mut tls.sock).expect("TLS handshake");
    }
    hidden_tokens_are_dropped_whole(&relay, &mut ann, bob);
}
