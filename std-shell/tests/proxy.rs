//! Behind a proxy (`--trusted-proxy`, `docs/PROTOCOL.md` section 14): a
//! real HAProxy in front of the relay, its clients on other loopback
//! addresses (127.0.0.2, 127.0.0.3...), tells the relay each client's
//! address, with a PROXY v2 header on the chat port and X-Forwarded-For on
//! the web port, so that `--max-per-ip` counts clients, not the proxy; and
//! no one else can pass for another address. Needs Debian's `haproxy`
//! (`.ci/run` installs it): without it these tests fail, saying how to get it.

use fernchat_core::fernet::{Key, KeySet};
use fernchat_core::session::Session;
use fernchat_tests::haproxy;
use fernchat_tests::nats::free_port;
use fernchat_tests::peer::{Peer, connect_from, read_until_closed, seal_text};
use fernchat_tests::process::{Relay, start_relay};
use fernchat_tests::std_client::self_signed_cert;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tungstenite::{Message, WebSocket};

const BIN: &str = env!("CARGO_BIN_EXE_fernchat");
const WAIT: Duration = Duration::from_secs(10);

/// A client address on the loopback network, `127.0.0.N`.
fn lo(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, n))
}

/// A frontend address for HAProxy: 127.0.0.1, a port free a moment ago.
fn frontend() -> SocketAddr {
    SocketAddr::new(lo(1), free_port())
}

/// A PROXY v2 header: `command` 0x20 (LOCAL) or 0x21 (PROXY), `family`
/// 0x11 (TCP4) or 0x21 (TCP6), then `block` (addresses and ports).
fn proxy_header(command: u8, family: u8, block: &[u8]) -> Vec<u8> {
    let mut bytes = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    bytes.extend_from_slice(&[command, family]);
    bytes.extend_from_slice(&u16::try_from(block.len()).unwrap().to_be_bytes());
    bytes.extend_from_slice(block);
    bytes
}

/// A `PROXY TCP4` header saying the connection is 192.0.2.7:4000's.
fn header_for_192_0_2_7() -> Vec<u8> {
    proxy_header(
        0x21,
        0x11,
        &[192, 0, 2, 7, 127, 0, 0, 1, 0x0f, 0xa0, 0x27, 0x75],
    )
}

/// Waits for the relay to log `who connected`.
fn connected(relay: &Relay, who: impl std::fmt::Display) -> String {
    relay.wait_for_log(&format!("{who} connected"), WAIT)
}

/// A chat peer on a WebSocket through `web` from `from`.
fn ws_from(from: IpAddr, web: SocketAddr) -> WebSocket<TcpStream> {
    let stream = connect_from(from, web);
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let (ws, response) = tungstenite::client(format!("ws://{web}/ws"), stream).expect("upgrade");
    assert_eq!(response.status(), 101);
    ws
}

/// A session as `nick`, boxed: its replay cache is too large for a test
/// thread's stack.
fn session(key: &Key, nick: &str) -> Box<Session> {
    let session = Session::new(KeySet::single(key.clone()), nick, Some(300)).expect("nick");
    Box::new(session)
}

/// The next text message on `ws`.
fn next_text(ws: &mut WebSocket<TcpStream>) -> String {
    loop {
        match ws.read().expect("a message") {
            Message::Text(text) => return text.to_string(),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("not a text message: {other:?}"),
        }
    }
}

#[test]
fn haproxy_clients_are_counted_by_their_own_addresses() {
    let key = Key::from_bytes(rand::random());
    let relay = start_relay(
        BIN,
        &[
            "--max-per-ip",
            "1",
            "--trusted-proxy",
            "127.0.0.1",
            "--web",
            "127.0.0.1:0",
        ],
    );
    let web = relay.web_addr();
    let (chat_front, web_front) = (frontend(), frontend());
    let config = format!(
        "frontend chat
    mode tcp
    bind {chat_front}
    default_backend relay
backend relay
    mode tcp
    server relay {} send-proxy-v2
frontend web
    mode http
    bind {web_front}
    option forwardfor
    default_backend relay_web
backend relay_web
    mode http
    server relay_web {web}
",
        relay.addr
    );
    let _haproxy = haproxy::start("trusted", &config, &[chat_front, web_front]);

    // Two users behind the proxy: two addresses, one slot each.
    let mut ann = Peer::connect_from(lo(2), chat_front, &key, "ann");
    connected(&relay, ann.stream.local_addr().unwrap());
    let mut bob = Peer::connect_from(lo(3), chat_front, &key, "bob");
    connected(&relay, bob.stream.local_addr().unwrap());
    bob.say("hello through the proxy");
    assert_eq!(ann.receive(1, WAIT), ["<bob> hello through the proxy"]);
    ann.say("and back");
    assert_eq!(bob.receive(1, WAIT), ["<ann> and back"]);

    // The per-address limit still holds, for each client's own address.
    let mut again = connect_from(lo(2), chat_front);
    assert_eq!(read_until_closed(&mut again, WAIT), b"!busy\n");
    let refused = relay.wait_for_log("refused: too many connections from this address", WAIT);
    assert!(refused.contains("127.0.0.2:"), "{refused}");

    // The web port, through HAProxy's HTTP mode: X-Forwarded-For.
    let mut wes = ws_from(lo(4), web_front);
    connected(&relay, "127.0.0.4:0");
    let frame = seal_text(&session(&key, "wes"), "from a browser behind the proxy");
    let token = String::from_utf8(frame.strip_suffix(b"\n").unwrap().to_vec()).unwrap();
    wes.send(Message::text(token)).unwrap();
    assert_eq!(
        ann.receive(1, WAIT),
        ["<wes> from a browser behind the proxy"]
    );
    // One address, one slot, whatever the port: 127.0.0.3 has bob.
    let mut busy = ws_from(lo(3), web_front);
    assert_eq!(next_text(&mut busy), "!busy");
}

#[test]
fn without_trust_a_proxy_is_one_address_and_its_header_is_refused() {
    let key = Key::from_bytes(rand::random());
    let relay = start_relay(BIN, &["--max-per-ip", "1"]);
    let (plain_front, v2_front) = (frontend(), frontend());
    let config = format!(
        "frontend plain
    mode tcp
    bind {plain_front}
    default_backend plain
backend plain
    mode tcp
    server relay {relay}
frontend v2
    mode tcp
    bind {v2_front}
    default_backend v2
backend v2
    mode tcp
    server relay {relay} send-proxy-v2
",
        relay = relay.addr
    );
    let _haproxy = haproxy::start("untrusted", &config, &[plain_front, v2_front]);

    // A PROXY header from an address that is no trusted proxy passes for
    // no one: the connection is closed.
    let mut spoof = Peer::connect_from(lo(2), v2_front, &key, "spoof");
    spoof.say("who am I?");
    relay.wait_for_log("refused: PROXY header from untrusted address", WAIT);
    assert!(spoof.closed_by_relay(WAIT), "the header was taken");
    relay.wait_for_log("left:", WAIT);

    // Without the header every client is the proxy's address: the second
    // is refused as the same address.
    let mut ann = Peer::connect_from(lo(2), plain_front, &key, "ann");
    let joined = relay.wait_for_log("connected (1 clients)", WAIT);
    assert!(joined.contains("127.0.0.1:"), "{joined}");
    ann.say("hello");
    let mut bob = connect_from(lo(3), plain_front);
    assert_eq!(read_until_closed(&mut bob, WAIT), b"!busy\n");
    relay.wait_for_log("refused: too many connections from this address", WAIT);
}

#[test]
fn headers_sent_directly_are_checked() {
    let key = Key::from_bytes(rand::random());
    let relay = start_relay(
        BIN,
        &["--trusted-proxy", "127.0.0.5", "--hello-timeout", "2"],
    );

    // From an address that is no trusted proxy: refused.
    let mut spoof = connect_from(lo(2), relay.addr);
    spoof.write_all(&header_for_192_0_2_7()).unwrap();
    spoof.write_all(b"junk\n").unwrap();
    read_until_closed(&mut spoof, WAIT);
    relay.wait_for_log("refused: PROXY header from untrusted address", WAIT);

    // From the trusted proxy: TCP4, TCP6 and LOCAL are read; the first
    // two name the client, LOCAL keeps the proxy's own address.
    let mut v4 = connect_from(lo(5), relay.addr);
    v4.write_all(&header_for_192_0_2_7()).unwrap();
    let mut v4 = Peer::over(v4, &key, "ann");
    v4.say("hello");
    connected(&relay, "192.0.2.7:4000");

    // A header that arrives in pieces is read as it comes.
    let mut pieces = connect_from(lo(5), relay.addr);
    let header = header_for_192_0_2_7();
    for piece in [&header[..10], &header[10..20], &header[20..]] {
        pieces.write_all(piece).unwrap();
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut pieces = Peer::over(pieces, &key, "pat");
    pieces.say("in pieces");
    connected(&relay, "192.0.2.7:4000");
    assert_eq!(v4.receive(1, WAIT), ["<pat> in pieces"]);

    let mut block = Vec::new();
    block.extend_from_slice(
        &"2001:db8::7"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets(),
    );
    block.extend_from_slice(&[0; 16]);
    block.extend_from_slice(&[0x04, 0xd2, 0x27, 0x75]);
    let mut v6 = connect_from(lo(5), relay.addr);
    v6.write_all(&proxy_header(0x21, 0x21, &block)).unwrap();
    let mut v6 = Peer::over(v6, &key, "bob");
    connected(&relay, "[2001:db8::7]:1234");
    v6.say("hello from v6");
    assert_eq!(v4.receive(1, WAIT), ["<bob> hello from v6"]);

    let mut local = connect_from(lo(5), relay.addr);
    local.write_all(&proxy_header(0x20, 0x00, &[])).unwrap();
    let local_addr = local.local_addr().unwrap();
    let mut local = Peer::over(local, &key, "cy");
    local.say("a health check");
    connected(&relay, local_addr);

    // From the trusted proxy without a header, or a broken one: refused.
    let mut bare = Peer::connect_from(lo(5), relay.addr, &key, "dee");
    bare.say("no header");
    relay.wait_for_log("no valid PROXY header from a trusted proxy", WAIT);
    assert!(bare.closed_by_relay(WAIT));
    let mut v1 = connect_from(lo(5), relay.addr);
    v1.write_all(&proxy_header(0x11, 0x11, &[0; 12])).unwrap();
    read_until_closed(&mut v1, WAIT);
    relay.wait_for_log("PROXY version 1, not 2", WAIT);

    // A header that stops halfway is waited for only the hello timeout.
    let mut half = connect_from(lo(5), relay.addr);
    half.write_all(&header_for_192_0_2_7()[..20]).unwrap();
    relay.wait_for_log("handshake timed out", WAIT);
    assert_eq!(read_until_closed(&mut half, WAIT), b"");
}

#[test]
fn on_a_tls_port_the_header_comes_before_tls() {
    let (cert, key) = self_signed_cert(Path::new(BIN), "proxy");
    let cert_arg = cert.to_str().unwrap();
    let key_arg = key.to_str().unwrap();
    let relay = start_relay(
        BIN,
        &[
            "--tls-cert",
            cert_arg,
            "--tls-key",
            key_arg,
            "--trusted-proxy",
            "127.0.0.5",
        ],
    );

    // From the trusted proxy: header, then TLS.
    let mut tcp = connect_from(lo(5), relay.addr);
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    tcp.write_all(&header_for_192_0_2_7()).unwrap();
    let mut tls = tls_over(tcp, &cert);
    tls.write_all(b"\n").unwrap();
    tls.flush().unwrap();
    connected(&relay, "192.0.2.7:4000");
    drop(tls);

    // From anyone else, a header on the TLS port is refused too.
    let mut spoof = connect_from(lo(2), relay.addr);
    spoof.write_all(&header_for_192_0_2_7()).unwrap();
    assert_eq!(read_until_closed(&mut spoof, WAIT), b"");
    relay.wait_for_log("refused: PROXY header from untrusted address", WAIT);
    let _ = std::fs::remove_dir_all(cert.parent().unwrap());
}

/// A TLS client on `tcp` that trusts exactly the certificate in `ca`.
fn tls_over(tcp: TcpStream, ca: &Path) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let session = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let mut stream = rustls::StreamOwned::new(session, tcp);
    // Finish the handshake now, so that a refusal shows here.
    while stream.conn.is_handshaking() {
        stream
            .conn
            .complete_io(&mut stream.sock)
            .expect("TLS handshake");
    }
    stream
}

#[test]
fn a_trusted_proxy_must_be_an_address_or_a_network() {
    for bad in ["localhost", "10.0.0.0/33", "::/129", "10.0.0.0/"] {
        let out = std::process::Command::new(BIN)
            .args(["server", "--trusted-proxy", bad])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.starts_with("error: invalid value"), "{stderr}");
    }
}
