//! `--metrics ADDR`: a minimal HTTP/1.1 server on a thread of its own. It
//! answers `GET /metrics` (Prometheus text format 0.0.4) and `GET
//! /healthz`, 404 for any other path, one connection at a time, each
//! closed after its answer; a client gets [`IO_TIMEOUT`] to send its
//! request and take the answer. It only reads the counters and the
//! heartbeat the event loop keeps; it never touches the loop.

use super::health::Health;
use prometheus_client::encoding::prometheus_text;
use prometheus_client::registry::Registry;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

/// How long one client has to send its request, and to take the answer.
const IO_TIMEOUT: Duration = Duration::from_secs(2);
/// The longest request head (request line and headers) read.
const MAX_HEAD: usize = 8 * 1024;
/// The content type of the Prometheus text format.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Serves `registry` and `health` on `listener` from a new thread, for as
/// long as the process runs.
pub fn spawn(listener: TcpListener, registry: Registry, health: Arc<Health>) -> io::Result<()> {
    std::thread::Builder::new()
        .name("metrics".to_owned())
        .spawn(move || serve(&listener, &registry, &health))
        .map(drop)
}

fn serve(listener: &TcpListener, registry: &Registry, health: &Health) {
    loop {
        match listener.accept() {
            Ok((mut stream, peer)) => {
                if let Err(e) = answer(&mut stream, registry, health) {
                    tracing::debug!("metrics: {peer}: {e}");
                }
            }
            Err(e) => {
                // Out of descriptors and the like: try again shortly.
                tracing::warn!("metrics: accept failed: {e}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// Reads one request from `stream` and writes its answer.
fn answer(stream: &mut TcpStream, registry: &Registry, health: &Health) -> io::Result<()> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let head = read_head(stream)?;
    let reply = match parse_request_line(&head) {
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
    stream.write_all(&reply.to_bytes())?;
    stream.flush()
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

/// Reads up to the blank line that ends the request head, at most
/// [`MAX_HEAD`] bytes.
fn read_head(stream: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && !head.windows(2).any(|w| w == b"\n\n") {
        if head.len() >= MAX_HEAD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "request head too long",
            ));
        }
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    Ok(head)
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
        let err = read_head(&mut endless).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }
}
