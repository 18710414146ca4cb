//! Unframed senders against a running relay (`docs/PROTOCOL.md` section 2,
//! Unframed senders): tokens written back to back in one write are split
//! by their shape and reach the others as frames; junk, endless tokens and
//! silence from such a sender are cut off as they are from a framed one.

use fernchat_core::fernet::{Key, KeySet};
use fernchat_core::frame::{MAX_FRAME, TOKEN_HEAD};
use fernchat_core::message::{Body, Payload};
use fernchat_core::seal::seal_frame;
use fernchat_tests::peer::{Peer, now, read_until_closed};
use fernchat_tests::process::start_relay;
use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_fernchat");
const WAIT: Duration = Duration::from_secs(10);

/// The tokens of the original Python chat: unnamed payloads, no line feed.
fn tokens(key: &Key, texts: &[&str]) -> Vec<u8> {
    let keys: KeySet<1> = KeySet::single(key.clone());
    let mut wire = Vec::new();
    for text in texts {
        let payload = Payload {
            nick: None,
            body: Body::Text(text.as_bytes()),
        };
        let mut out = [0u8; MAX_FRAME];
        let frame = seal_frame(&keys, &payload, now(), &mut rand::rng(), &mut out).expect("seal");
        wire.extend_from_slice(frame.strip_suffix(b"\n").expect("a frame"));
    }
    wire
}

#[test]
fn tokens_written_back_to_back_are_heard_as_frames() {
    let key = Key::from_bytes(rand::random());
    let relay = start_relay(BIN, &[]);
    let mut bob = Peer::connect(relay.addr, &key, "bob");
    let mut old = TcpStream::connect(relay.addr).unwrap();
    relay.wait_for_log("connected (2 clients)", WAIT);
    // Padded and unpadded (40 bytes: three blocks) tokens in one write: the
    // last, unpadded, ends at the pause.
    let (short, unpadded, long) = ("short", "u".repeat(40), "l".repeat(2000));
    let texts = [short, &unpadded, &long, &unpadded, short, &unpadded];
    old.write_all(&tokens(&key, &texts)).unwrap();
    let expected: Vec<String> = texts.iter().map(|text| format!("<?> {text}")).collect();
    assert_eq!(bob.receive(texts.len(), WAIT), expected);
    relay.wait_for_log("sends tokens without line feeds", WAIT);

    // And the other way: it hears framed senders as any client does.
    bob.say("to the old client");
    let mut buf = [0u8; 4096];
    old.set_read_timeout(Some(WAIT)).unwrap();
    let n = std::io::Read::read(&mut old, &mut buf).unwrap();
    assert!(buf[..n].starts_with(TOKEN_HEAD) && buf[..n].ends_with(b"\n"));
}

/// Connects a client that is taken for unframed (a whole token, then the
/// next token's head), sends it `rest`, and gives what the relay sent it
/// up to closing.
fn unframed_then(relay_addr: std::net::SocketAddr, key: &Key, rest: &[u8]) -> Vec<u8> {
    let mut eve = TcpStream::connect(relay_addr).unwrap();
    eve.write_all(&tokens(key, &["hello"])).unwrap();
    // The relay may close before everything is written.
    let _ = eve.write_all(rest);
    read_until_closed(&mut eve, WAIT)
}

#[test]
fn unframed_hostility_is_cut_off() {
    let key = Key::from_bytes(rand::random());
    let relay = start_relay(BIN, &[]);

    // Invalid tokens in a row: disconnected with !invalid.
    let junk = [&TOKEN_HEAD[..], b"!"].concat().repeat(20);
    let seen = unframed_then(relay.addr, &key, &junk);
    assert!(seen.ends_with(b"!invalid\n"), "{seen:?}");
    relay.wait_for_log("too many invalid frames", WAIT);

    // Tokens that never end: each too long at 4096 bytes, however much
    // follows; then disconnected.
    let endless = [&TOKEN_HEAD[..], &[b'A'; 4200]].concat().repeat(16);
    let seen = unframed_then(relay.addr, &key, &endless);
    assert!(seen.ends_with(b"!invalid\n"), "{seen:?}");
    relay.wait_for_log("frame longer than 4096 bytes", WAIT);

    // The relay still serves.
    let mut ann = Peer::connect(relay.addr, &key, "ann");
    let mut bob = Peer::connect(relay.addr, &key, "bob");
    relay.wait_for_log("connected (2 clients)", WAIT);
    ann.say("still serving");
    assert_eq!(bob.receive(1, WAIT), ["<ann> still serving"]);
}

#[test]
fn half_a_token_never_greets() {
    let key = Key::from_bytes(rand::random());
    let relay = start_relay(BIN, &["--hello-timeout", "1"]);
    let mut eve = TcpStream::connect(relay.addr).unwrap();
    let token = tokens(&key, &["hello"]);
    // Half a token, then silence: no pause makes it whole.
    eve.write_all(&token[..token.len() / 2]).unwrap();
    let seen = read_until_closed(&mut eve, WAIT);
    assert_eq!(seen, b"!timeout\n");
}
