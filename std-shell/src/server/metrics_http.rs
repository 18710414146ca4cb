//! `--metrics ADDR`: a minimal HTTP/1.1 server on a thread of its own,
//! with a mio event loop of its own. It answers `GET /metrics` (Prometheus
//! text format 0.0.4) and `GET /healthz`, 404 for any other path, each
//! connection closed after its answer. It serves up to
//! [`MAX_CONNECTIONS`] at once, and each has [`DEADLINE`] from accept to
//! send its request and take the answer, in all, so idle or trickling
//! connections cannot keep a scrape from being answered. Per connection it
//! holds the request head read so far (at most [`MAX_HEAD`] bytes) and
//! then the answer while it is written. With every place taken, a new
//! connection takes the oldest one's. It only reads the counters and the
//! heartbeat the relay's loop keeps; it never touches the loop.

use super::health::Health;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use prometheus_client::encoding::prometheus_text;
use prometheus_client::registry::Registry;
use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long one connection has, from accept, to send its request and
/// take the answer.
const DEADLINE: Duration = Duration::from_secs(2);
/// The longest request head (request line and headers) read.
const MAX_HEAD: usize = 8 * 1024;
/// Connections served at once.
const MAX_CONNECTIONS: usize = 1024;
/// The content type of the Prometheus text format.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
/// The listener's token; connections have their serials, which count up from 0.
const LISTENER: Token = Token(usize::MAX);

/// Serves `registry` and `health` on `listener` from a new thread, for as
/// long as the process runs.
pub fn spawn(
    listener: std::net::TcpListener,
    registry: Registry,
    health: Arc<Health>,
) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let mut listener = TcpListener::from_std(listener);
    let poll = Poll::new()?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    let server = Server {
        poll,
        listener,
        connections: BTreeMap::new(),
        accepted: 0,
        registry,
        health,
    };
    std::thread::Builder::new()
        .name("metrics".to_owned())
        .spawn(move || server.serve())
        .map(drop)
}

/// The metrics server's state.
struct Server {
    poll: Poll,
    listener: TcpListener,
    /// By the serial each was accepted under, which is also its token: the
    /// first is the oldest, and the one whose deadline comes next.
    connections: BTreeMap<usize, Connection>,
    /// Connections accepted so far, for the next serial.
    accepted: usize,
    registry: Registry,
    health: Arc<Health>,
}

/// One HTTP connection.
struct Connection {
    stream: TcpStream,
    peer: SocketAddr,
    accepted: Instant,
    /// The request head read so far.
    head: Vec<u8>,
    /// The answer, once the head is read, and how much of it went out.
    answer: Option<(Vec<u8>, usize)>,
}

/// What became of a connection after it was served.
enum Served {
    /// It waits for the peer or the socket.
    Waiting,
    /// It is done with, answered or not.
    Done,
}

impl Server {
    fn serve(mut self) {
        let mut events = Events::with_capacity(256);
        loop {
            let timeout = self
                .connections
                .first_key_value()
                .map(|(_, c)| (c.accepted + DEADLINE).saturating_duration_since(Instant::now()));
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::warn!("metrics: event loop failed: {e}; metrics stop");
                    return;
                }
            }
            for event in &events {
                match event.token() {
                    LISTENER => self.accept(),
                    Token(id) => self.advance(id),
                }
            }
            self.close_overdue();
        }
    }

    /// Takes every waiting connection; with every place taken, the oldest
    /// connection is closed for each new one.
    fn accept(&mut self) {
        loop {
            let (mut stream, peer) = match self.listener.accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // Out of descriptors and the like: the next event retries.
                    tracing::warn!("metrics: accept failed: {e}");
                    std::thread::sleep(Duration::from_millis(100));
                    return;
                }
            };
            if self.connections.len() >= MAX_CONNECTIONS
                && let Some((oldest, _)) = self.connections.first_key_value()
            {
                self.close(*oldest);
            }
            let serial = self.accepted;
            self.accepted += 1;
            let interest = Interest::READABLE | Interest::WRITABLE;
            if let Err(e) = self
                .poll
                .registry()
                .register(&mut stream, Token(serial), interest)
            {
                tracing::debug!("metrics: {peer}: cannot register: {e}");
                continue;
            }
            self.connections.insert(
                serial,
                Connection {
                    stream,
                    peer,
                    accepted: Instant::now(),
                    head: Vec::new(),
                    answer: None,
                },
            );
        }
    }

    /// Reads what connection `id` sent and writes what it can of its answer.
    fn advance(&mut self, id: usize) {
        let Some(connection) = self.connections.get_mut(&id) else {
            return;
        };
        match connection.serve(&self.registry, &self.health) {
            Ok(Served::Waiting) => {}
            Ok(Served::Done) => self.close(id),
            Err(e) => {
                tracing::debug!("metrics: {}: {e}", connection.peer);
                self.close(id);
            }
        }
    }

    /// Closes every connection past its deadline: the oldest ones.
    fn close_overdue(&mut self) {
        let now = Instant::now();
        while let Some((&id, connection)) = self.connections.first_key_value()
            && now.duration_since(connection.accepted) >= DEADLINE
        {
            self.close(id);
        }
    }

    fn close(&mut self, id: usize) {
        if let Some(mut connection) = self.connections.remove(&id) {
            let _ = self.poll.registry().deregister(&mut connection.stream);
        }
    }
}

impl Connection {
    /// Reads the request head, builds the answer once it is whole, and
    /// writes as much of it as the socket takes.
    fn serve(&mut self, registry: &Registry, health: &Health) -> io::Result<Served> {
        if self.answer.is_none() && !read_head(&mut self.stream, &mut self.head)? {
            return Ok(Served::Waiting);
        }
        let head = &self.head;
        let (answer, written) = self
            .answer
            .get_or_insert_with(|| (answer(head, registry, health), 0));
        while *written < answer.len() {
            match self.stream.write(&answer[*written..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => *written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Served::Waiting),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Served::Done)
    }
}

/// Reads into `head` what `stream` has, up to the blank line that ends the
/// request head; true once it has ended (or the peer stopped sending). An
/// error for a head over [`MAX_HEAD`] bytes.
fn read_head(stream: &mut impl Read, head: &mut Vec<u8>) -> io::Result<bool> {
    let mut buf = [0u8; 1024];
    loop {
        if head.windows(4).any(|w| w == b"\r\n\r\n") || head.windows(2).any(|w| w == b"\n\n") {
            return Ok(true);
        }
        if head.len() >= MAX_HEAD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "request head too long",
            ));
        }
        match stream.read(&mut buf) {
            Ok(0) => return Ok(true),
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// The answer's bytes to the request whose head is `head`.
fn answer(head: &[u8], registry: &Registry, health: &Health) -> Vec<u8> {
    let reply = match parse_request_line(head) {
        None => Reply::text(400, "Bad Request", "bad request\n"),
        Some((method, _)) if method != "GET" && method != "HEAD" => {
            Reply::text(405, "Method Not Allowed", "only GET and HEAD\n")
        }
        Some((method, path)) => {
            let mut reply = route(path, registry, health);
            if method == "HEAD" {
                reply.body.clear();
            }
            reply
        }
    };
    reply.to_bytes()
}

/// The answer to a GET of `path`.
fn route(path: &str, registry: &Registry, health: &Health) -> Reply {
    match path {
        "/metrics" => {
            let mut body = String::new();
            match prometheus_text::encode(&mut body, registry) {
                Ok(()) => Reply {
                    status: 200,
                    reason: "OK",
                    content_type: PROMETHEUS_TEXT,
                    body: body.into_bytes(),
                },
                Err(_) => Reply::text(500, "Internal Server Error", "cannot encode metrics\n"),
            }
        }
        "/healthz" => match health.check() {
            Ok(()) => Reply::text(200, "OK", "ok\n"),
            Err(why) => Reply::text(503, "Service Unavailable", &format!("{why}\n")),
        },
        _ => Reply::text(404, "Not Found", "not found: try /metrics or /healthz\n"),
    }
}

/// The method and the path (without its query) of `METHOD TARGET HTTP/x`.
fn parse_request_line(head: &[u8]) -> Option<(&str, &str)> {
    let line = head.split(|&b| b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?.trim_end_matches('\r');
    let mut words = line.split(' ');
    let (method, target, version) = (words.next()?, words.next()?, words.next()?);
    if words.next().is_some() || !version.starts_with("HTTP/1.") || !target.starts_with('/') {
        return None;
    }
    let path = target.split('?').next().unwrap_or(target);
    Some((method, path))
}

/// One HTTP answer.
struct Reply {
    status: u16,
    reason: &'static str,
    content_type: &'static str,
    body: Vec<u8>,
}

impl Reply {
    fn text(status: u16, reason: &'static str, body: &str) -> Reply {
        Reply {
            status,
            reason,
            content_type: "text/plain; charset=utf-8",
            body: body.as_bytes().to_vec(),
        }
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.status,
            self.reason,
            self.content_type,
            self.body.len()
        )
        .into_bytes();
        out.extend_from_slice(&self.body);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::metrics::counter::Counter;
    use std::net::{TcpListener, TcpStream};

    /// Sends `request` to a server on 127.0.0.1 and gives its whole answer.
    fn exchange(request: &[u8]) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut registry = Registry::with_prefix("t");
        let counter = Counter::<u64>::default();
        counter.inc_by(3);
        registry.register("things", "Things", counter);
        let health = Arc::new(Health::default());
        health.beat();
        spawn(listener, registry, health).unwrap();
        let mut client = TcpStream::connect(addr).unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        client.write_all(request).unwrap();
        let mut answer = String::new();
        client.read_to_string(&mut answer).unwrap();
        answer
    }

    /// The numbers the README's "Metrics and health" and `--help` state.
    #[test]
    fn test_bounds_pinned() {
        assert_eq!(DEADLINE, Duration::from_secs(2));
        assert_eq!(MAX_CONNECTIONS, 1024);
    }

    #[test]
    fn test_routes_and_status_lines() {
        let metrics = exchange(b"GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\n");
        assert!(metrics.starts_with("HTTP/1.1 200 OK\r\n"), "{metrics}");
        assert!(metrics.contains(PROMETHEUS_TEXT));
        assert!(metrics.ends_with("\r\n\r\n# HELP t_things_total Things.\n# TYPE t_things_total counter\nt_things_total 3\n"), "{metrics}");
        let health = exchange(b"GET /healthz HTTP/1.0\n\n");
        assert!(health.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(health.ends_with("\r\n\r\nok\n"));
        let head = exchange(b"HEAD /healthz HTTP/1.1\r\n\r\n");
        assert!(head.ends_with("Content-Length: 0\r\nConnection: close\r\n\r\n"));
        let missing = exchange(b"GET /metrics/x HTTP/1.1\r\n\r\n");
        assert!(missing.starts_with("HTTP/1.1 404 Not Found\r\n"));
        let post = exchange(b"POST /metrics HTTP/1.1\r\n\r\n");
        assert!(post.starts_with("HTTP/1.1 405 "));
        let junk = exchange(b"\x16\x03\x01 hello\r\n\r\n");
        assert!(junk.starts_with("HTTP/1.1 400 Bad Request\r\n"));
    }

    #[test]
    fn test_a_head_that_never_ends_is_cut_off() {
        let mut endless = io::repeat(b'a');
        let err = read_head(&mut endless, &mut Vec::new()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }
}
