//! The web port: WebSocket clients chat with TCP clients in one room, are
//! held to the same admission limits, the page is served, and no request
//! is ever logged with its query string or fragment.

use fernchat_core::fernet::{Key, KeySet};
use fernchat_core::session::Session;
use fernchat_tests::peer::{Peer, now, seal_text};
use fernchat_tests::process::start_relay;
use fernchat_tests::prometheus::{dropped_frames, metrics_addr, scrape};
use fernchat_tests::std_client::self_signed_cert;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};
use tls_client::tls_to;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::{Message, WebSocket};

#[path = "support/tls_client.rs"]
mod tls_client;

const BIN: &str = env!("CARGO_BIN_EXE_fernchat");
const WAIT: Duration = Duration::from_secs(10);

/// A chat peer on a WebSocket: one text message a token.
struct WsPeer<S: Read + Write> {
    ws: WebSocket<S>,
    session: Box<Session>,
}

impl WsPeer<TcpStream> {
    fn connect(web: SocketAddr, key: &Key, nick: &str) -> WsPeer<TcpStream> {
        let stream = TcpStream::connect(web).expect("connect to the web port");
        stream.set_read_timeout(Some(WAIT)).unwrap();
        WsPeer::over(stream, &format!("ws://{web}/ws"), key, nick)
    }
}

impl<S: Read + Write> WsPeer<S> {
    fn over(stream: S, url: &str, key: &Key, nick: &str) -> WsPeer<S> {
        let (ws, response) = tungstenite::client(url, stream).expect("upgrade");
        assert_eq!(response.status(), 101);
        let session = Session::new(KeySet::single(key.clone()), nick, Some(300)).expect("nick");
        WsPeer {
            ws,
            session: Box::new(session),
        }
    }

    fn say(&mut self, text: &str) {
        let frame = seal_text(&self.session, text);
        let token = frame.strip_suffix(b"\n").expect("a frame ends with LF");
        let token = String::from_utf8(token.to_vec()).unwrap();
        self.ws.send(Message::text(token)).expect("send");
    }

    /// The next `count` messages shown as the client shows them.
    fn receive(&mut self, count: usize) -> Vec<String> {
        let deadline = Instant::now() + WAIT;
        let mut shown = Vec::new();
        while shown.len() < count && Instant::now() < deadline {
            let text = match self.ws.read().expect("a message") {
                Message::Text(text) => text,
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("not a text message: {other:?}"),
            };
            assert!(!text.contains('\n'), "a message holds a token without LF");
            let frame = format!("{text}\n");
            let step = self.session.opener.receive(frame.as_bytes(), now());
            assert_eq!(step.consumed, frame.len());
            shown.extend(step.message.map(|m| m.payload.to_string()));
        }
        shown
    }
}

#[test]
fn websocket_and_tcp_clients_chat_in_one_room() {
    let key = Key::from_bytes(rand::random());
    let relay = start_relay(BIN, &["--web", "127.0.0.1:0"]);
    let web = relay.web_addr();
    let mut tcp = Peer::connect(relay.addr, &key, "ann");
    relay.wait_for_log("connected (1 clients)", WAIT);
    let mut ws = WsPeer::connect(web, &key, "wes");
    relay.wait_for_log("connected (2 clients)", WAIT);

    ws.say("hello from a browser");
    assert_eq!(tcp.receive(1, WAIT), ["<wes> hello from a browser"]);
    tcp.say("hello from a terminal");
    assert_eq!(ws.receive(1), ["<ann> hello from a terminal"]);

    // A second WebSocket client: both directions among three.
    let mut wyn = WsPeer::connect(web, &key, "wyn");
    relay.wait_for_log("connected (3 clients)", WAIT);
    wyn.say("third");
    assert_eq!(tcp.receive(1, WAIT), ["<wyn> third"]);
    assert_eq!(ws.receive(1), ["<wyn> third"]);

    // A WebSocket client that leaves is a departure like any other.
    ws.ws.close(None).unwrap();
    relay.wait_for_log("left: closed", WAIT);
}

#[test]
fn a_websocket_past_the_limit_is_told_full_and_closed() {
    let key = Key::from_bytes(rand::random());
    let relay = start_relay(BIN, &["--web", "127.0.0.1:0", "--max-clients", "1"]);
    let web = relay.web_addr();
    let _ann = Peer::connect(relay.addr, &key, "ann");
    relay.wait_for_log("connected (1 clients)", WAIT);
    let mut late = WsPeer::connect(web, &key, "late");
    assert_eq!(late.ws.read().unwrap(), Message::text("!full"));
    match late.ws.read().unwrap() {
        Message::Close(Some(frame)) => {
            assert_eq!(frame.code, CloseCode::Again);
            assert_eq!(frame.reason.as_str(), "full");
        }
        other => panic!("expected a close frame, got {other:?}"),
    }
    relay.wait_for_log("refused: the relay is full", WAIT);
}

#[test]
fn a_silent_websocket_is_told_timeout() {
    let key = Key::from_bytes(rand::random());
    let relay = start_relay(BIN, &["--web", "127.0.0.1:0", "--hello-timeout", "1"]);
    let web = relay.web_addr();
    let mut silent = WsPeer::connect(web, &key, "mute");
    assert_eq!(silent.ws.read().unwrap(), Message::text("!timeout"));
    match silent.ws.read().unwrap() {
        Message::Close(Some(frame)) => assert_eq!(frame.code, CloseCode::Policy),
        other => panic!("expected a close frame, got {other:?}"),
    }
}

#[test]
fn a_websocket_that_never_reads_is_dropped_and_the_room_goes_on() {
    let key = Key::from_bytes(rand::random());
    let args = [
        "--web",
        "127.0.0.1:0",
        "--max-outbound",
        "65536",
        "--slow-timeout",
        "1",
    ];
    let relay = start_relay(BIN, &args);
    let web = relay.web_addr();
    let mut ann = Peer::connect(relay.addr, &key, "ann");
    let mut bob = Peer::connect(relay.addr, &key, "bob");
    let sleeper = WsPeer::connect(web, &key, "zzz");
    relay.wait_for_log("connected (3 clients)", WAIT);

    // More than the sleeper's socket buffers and its queue hold: ann is held
    // (back-pressure) until the sleeper is dropped, then goes on.
    let count = 3000;
    let text = "x".repeat(2900);
    let reader = std::thread::spawn(move || bob.receive(count, Duration::from_secs(60)).len());
    for i in 0..count {
        ann.say(&format!("{i} {text}"));
    }
    relay.wait_for_log("left: not reading", Duration::from_secs(30));
    assert_eq!(reader.join().unwrap(), count, "bob got every frame");
    drop(sleeper);
}

/// Sends `request` on a new connection; gives the whole response.
fn http(web: SocketAddr, request: &str) -> Vec<u8> {
    let mut stream = TcpStream::connect(web).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .expect("the relay closes after replying");
    response
}

#[test]
fn the_page_is_served_with_its_type() {
    let relay = start_relay(BIN, &["--web", "127.0.0.1:0"]);
    let web = relay.web_addr();
    let response = http(web, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(
        head.contains("\r\nContent-Type: text/html; charset=utf-8\r\n"),
        "{head}"
    );
    let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/web/index.html"));
    assert_eq!(body, page.unwrap(), "the embedded page, whole");

    let missing = http(web, "GET /nothing.js HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(missing.starts_with(b"HTTP/1.1 404 "));
    let posted = http(
        web,
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    );
    assert!(posted.starts_with(b"HTTP/1.1 405 "));
    let plain = http(web, "GET /ws HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(plain.starts_with(b"HTTP/1.1 400 "), "/ws needs an upgrade");
}

#[test]
fn requests_are_logged_without_query_or_fragment() {
    let relay = start_relay(BIN, &["--web", "127.0.0.1:0"]);
    let mut logged = Vec::new();
    let web = loop {
        let line = relay
            .log
            .recv_timeout(WAIT)
            .expect("the relay logs its web port");
        if let Some(rest) = line.split("web client at http://").nth(1) {
            break rest.split('/').next().unwrap().parse().expect("host:port");
        }
        logged.push(line);
    };
    http(web, "GET /?k=SECRETQUERY HTTP/1.1\r\nHost: x\r\n\r\n");
    http(
        web,
        "GET /index.html#k=SECRETFRAGMENT HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    let stream = TcpStream::connect(web).unwrap();
    let (_ws, _) = tungstenite::client(format!("ws://{web}/ws?k=SECRETWS"), stream).unwrap();

    // Everything logged: each request by its path alone.
    let deadline = Instant::now() + WAIT;
    while !logged.iter().any(|l| l.contains("GET /ws 101")) {
        let left = deadline.saturating_duration_since(Instant::now());
        logged.push(relay.log.recv_timeout(left).expect("the upgrade is logged"));
    }
    let all = logged.join("\n");
    assert!(all.contains("GET / 200"), "{all}");
    assert!(all.contains("GET /index.html 200"), "{all}");
    assert!(!all.contains("SECRET"), "a secret in the log:\n{all}");
    assert!(!all.contains('?') && !all.contains('#'), "{all}");
}

#[test]
fn the_page_and_the_websocket_work_over_tls() {
    let (cert, tls_key) = self_signed_cert(Path::new(BIN), "wss");
    let (c, k) = (cert.to_str().unwrap(), tls_key.to_str().unwrap());
    let relay = start_relay(
        BIN,
        &["--web", "127.0.0.1:0", "--tls-cert", c, "--tls-key", k],
    );
    let web = relay.web_addr();

    let mut page = tls_to(web.port(), &cert);
    page.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut response = Vec::new();
    let _ = page.read_to_end(&mut response);
    assert!(
        response.starts_with(b"HTTP/1.1 200 OK\r\n"),
        "{}",
        String::from_utf8_lossy(&response)
    );

    // A plain request on the https port is told to use https.
    let plain = http(web, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(String::from_utf8_lossy(&plain).contains("https://"));

    let key = Key::from_bytes(rand::random());
    let url = format!("wss://localhost:{}/ws", web.port());
    let mut ann = WsPeer::over(tls_to(web.port(), &cert), &url, &key, "ann");
    let mut bob = WsPeer::over(tls_to(web.port(), &cert), &url, &key, "bob");
    relay.wait_for_log("connected (2 clients)", WAIT);
    ann.say("over wss");
    assert_eq!(bob.receive(1), ["<ann> over wss"]);
    bob.say("both ways");
    assert_eq!(ann.receive(1), ["<bob> both ways"]);
}

/// Reads until the relay's close frame; gives its code and the text
/// messages before it.
fn read_until_close<S: Read + Write>(ws: &mut WebSocket<S>) -> (CloseCode, Vec<String>) {
    let mut texts = Vec::new();
    loop {
        match ws.read().expect("the relay closes with a close frame") {
            Message::Text(text) => texts.push(text.to_string()),
            Message::Close(Some(frame)) => return (frame.code, texts),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn a_websocket_that_breaks_the_mapping_is_closed_and_nothing_reaches_the_room() {
    let key = Key::from_bytes(rand::random());
    let relay = start_relay(BIN, &["--web", "127.0.0.1:0", "--metrics", "127.0.0.1:0"]);
    // The relay logs its metrics address before its web address.
    let metrics = metrics_addr(&relay, WAIT);
    let web = relay.web_addr();
    let mut bob = Peer::connect(relay.addr, &key, "bob");
    let mut ann = WsPeer::connect(web, &key, "ann");
    relay.wait_for_log("connected (2 clients)", WAIT);

    // One message is one token: two real tokens in one message, with a
    // line feed between them or none, and a token behind a line feed, are
    // each dropped whole and counted; the sender stays.
    let mut mallory = WsPeer::connect(web, &key, "mallory");
    let one = seal_text(&mallory.session, "one");
    let two = seal_text(&mallory.session, "two");
    let hidden = seal_text(&mallory.session, "hidden");
    let token = |frame: &[u8]| String::from_utf8(frame.trim_ascii_end().to_vec()).unwrap();
    let messages = [
        format!("{}\n{}", token(&one), token(&two)),
        format!("{}{}", token(&one), token(&two)),
        format!("AAAA\n{}", token(&hidden)),
    ];
    for message in messages {
        mallory.ws.send(Message::text(message)).unwrap();
    }
    mallory.say("after the junk");
    assert_eq!(bob.receive(1, WAIT), ["<mallory> after the junk"]);
    let dropped = dropped_frames(&scrape(metrics));
    let count = |reason: &str| dropped.get(reason).copied().unwrap_or(0.0);
    assert_eq!((count("not_base64url"), count("malformed")), (2.0, 1.0));

    // A binary message, and a text message longer than any frame.
    let mut binary = WsPeer::connect(web, &key, "bin");
    binary.ws.send(Message::binary(vec![b'g'; 100])).unwrap();
    assert_eq!(read_until_close(&mut binary.ws).0, CloseCode::Unsupported);
    let mut long = WsPeer::connect(web, &key, "long");
    long.ws.send(Message::text("g".repeat(5000))).unwrap();
    assert_eq!(read_until_close(&mut long.ws).0, CloseCode::Size);

    // Messages that are no tokens: the invalid-frame rule, as over TCP.
    let mut junk = WsPeer::connect(web, &key, "junk");
    for _ in 0..40 {
        if junk.ws.send(Message::text("<b>not a token</b>")).is_err() {
            break;
        }
    }
    let (code, texts) = read_until_close(&mut junk.ws);
    assert_eq!(
        (code, texts),
        (CloseCode::Policy, vec!["!invalid".to_owned()])
    );

    // None of it reached the room, which goes on.
    ann.say("still here");
    assert_eq!(bob.receive(1, WAIT), ["<ann> still here"]);
    assert!(bob.receive(1, Duration::from_millis(300)).is_empty());
}
