//! A scripted chat peer on a std socket, driving the core's `Session`, for
//! tests that need to send exact frames and check exactly what arrives.

use fernchat_core::fernet::{Key, KeySet};
use fernchat_core::frame::MAX_FRAME;
use fernchat_core::message::{Body, Payload};
use fernchat_core::seal::seal_frame;
use fernchat_core::session::Session;
use socket2::{Domain, Protocol, Socket, Type};
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Unix seconds now.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Everything `stream` receives until the relay closes it (or resets it
/// after closing); fails the test if that takes longer than `wait`.
pub fn read_until_closed(stream: &mut TcpStream, wait: Duration) -> Vec<u8> {
    stream.set_read_timeout(Some(wait)).expect("timeout");
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return received,
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return received,
            Err(e) => panic!(
                "not closed by the relay ({e}) after {} bytes",
                received.len()
            ),
        }
    }
}

/// A TCP connection to `addr` from the local address `from`.
pub fn connect_from(from: IpAddr, addr: SocketAddr) -> TcpStream {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
        .expect("a socket");
    socket
        .bind(&SocketAddr::new(from, 0).into())
        .expect("bind the local address");
    socket.connect(&addr.into()).expect("connect to relay");
    socket.into()
}

/// The frame (token and LF) of a message saying `text`, sealed now by
/// `session` under its nick.
pub fn seal_text(session: &Session, text: &str) -> Vec<u8> {
    let mut out = [0u8; MAX_FRAME];
    session
        .sealer
        .seal(
            Body::Text(text.as_bytes()),
            now(),
            &mut rand::rng(),
            &mut out,
        )
        .expect("seal")
        .to_vec()
}

/// A connected peer with its own session.
pub struct Peer {
    /// The socket.
    pub stream: TcpStream,
    /// The session (keys, nick, replay cache), boxed: its replay cache is
    /// too large for a test thread's stack.
    pub session: Box<Session>,
    keys: KeySet,
    pending: Vec<u8>,
}

impl Peer {
    /// Connects as `nick` with `key` (no `/join` is sent).
    pub fn connect(addr: SocketAddr, key: &Key, nick: &str) -> Peer {
        Peer::with_stream(
            TcpStream::connect(addr).expect("connect to relay"),
            key,
            nick,
        )
    }

    /// Connects from the local address `from` (another loopback address,
    /// so that the relay sees another peer).
    pub fn connect_from(from: IpAddr, addr: SocketAddr, key: &Key, nick: &str) -> Peer {
        Peer::with_stream(connect_from(from, addr), key, nick)
    }

    /// A peer on a connection made already (one that sent a PROXY header
    /// first, say).
    pub fn over(stream: TcpStream, key: &Key, nick: &str) -> Peer {
        Peer::with_stream(stream, key, nick)
    }

    fn with_stream(stream: TcpStream, key: &Key, nick: &str) -> Peer {
        Peer {
            stream,
            session: Box::new(
                Session::new(KeySet::single(key.clone()), nick, Some(300)).expect("nick"),
            ),
            keys: KeySet::single(key.clone()),
            pending: Vec::new(),
        }
    }

    /// Sends `text` as a message.
    pub fn say(&mut self, text: &str) -> Vec<u8> {
        let frame = seal_text(&self.session, text);
        self.send_raw(&frame);
        frame
    }

    /// Sends `plaintext` exactly (any bytes: a hostile nick line, raw
    /// escapes), sealed with the token timestamp `timestamp`.
    pub fn send_plaintext(&mut self, plaintext: &[u8], timestamp: u64) -> Vec<u8> {
        let payload = Payload {
            nick: None,
            body: Body::Text(plaintext),
        };
        assert!(
            !plaintext.starts_with(b"/"),
            "a text that starts with / is escaped"
        );
        let mut out = [0u8; MAX_FRAME];
        let frame = seal_frame(&self.keys, &payload, timestamp, &mut rand::rng(), &mut out)
            .expect("seal")
            .to_vec();
        self.send_raw(&frame);
        frame
    }

    /// Sends bytes as they are.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
    }

    /// Reads until `count` messages arrived (formatted as the client shows
    /// them, without the time) or `timeout` passed; gives what arrived.
    pub fn receive(&mut self, count: usize, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let mut shown = Vec::new();
        let mut buf = [0u8; 65536];
        loop {
            let mut rest = &self.pending[..];
            loop {
                let step = self.session.opener.receive(rest, now());
                rest = &rest[step.consumed..];
                match step.message {
                    Some(message) => shown.push(message.payload.to_string()),
                    None => break,
                }
            }
            self.pending.clear();
            let left = deadline.saturating_duration_since(Instant::now());
            if shown.len() >= count || left.is_zero() {
                return shown;
            }
            self.stream.set_read_timeout(Some(left)).expect("timeout");
            match self.stream.read(&mut buf) {
                Ok(0) | Err(_) => return shown,
                Ok(n) => self.pending.extend_from_slice(&buf[..n]),
            }
        }
    }

    /// True when the relay closed this connection within `timeout`.
    pub fn closed_by_relay(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut buf = [0u8; 65536];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            self.stream.set_read_timeout(Some(left)).expect("timeout");
            match self.stream.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
                Err(_) => return false,
            }
        }
    }
}
