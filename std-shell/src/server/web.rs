//! The web port's HTTP (`docs/PROTOCOL.md` section 12): the page embedded
//! from `std-shell/web/` at `/` and `/NAME`, and the WebSocket upgrade at
//! `/ws`. A request is logged by its path only: never its query string
//! (nor a fragment, which browsers never send), where a key could hide.

use std::net::SocketAddr;
use tungstenite::handshake::server::{create_response, write_response};
use tungstenite::http;

/// The page's files, by name.
const ASSETS: &[(&str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// The longest request head the relay reads.
pub const MAX_HEAD: usize = 8 * 1024;

/// Where the WebSocket is.
const WS_PATH: &str = "/ws";

/// What to do with the bytes of a request read so far.
pub enum Answer {
    /// The head is not whole yet.
    Incomplete,
    /// Write the `101` reply, then speak WebSocket; `early` holds what the
    /// client sent after its head.
    Upgrade {
        /// The `101 Switching Protocols` reply.
        reply: Vec<u8>,
        /// Bytes after the head.
        early: Vec<u8>,
    },
    /// Write this reply, then close.
    Reply(Vec<u8>),
}

/// Answers the request whose bytes so far are `head`.
pub fn answer(head: &[u8], peer: SocketAddr) -> Answer {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut request = httparse::Request::new(&mut headers);
    let head_len = match request.parse(head) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if head.len() < MAX_HEAD => return Answer::Incomplete,
        Ok(httparse::Status::Partial) => {
            tracing::info!("{peer} request head over {MAX_HEAD} bytes");
            return Answer::Reply(plain(
                "431 Request Header Fields Too Large",
                "request too large\n",
            ));
        }
        Err(e) => {
            tracing::info!("{peer} bad request: {e}");
            return Answer::Reply(plain("400 Bad Request", "bad request\n"));
        }
    };
    let method = request.method.unwrap_or_default();
    let target = request.path.unwrap_or_default();
    let path = target.split(['?', '#']).next().unwrap_or_default();
    let (answer, status) = if path == WS_PATH {
        upgrade(&request, target, &head[head_len..])
    } else if method == "GET" || method == "HEAD" {
        page(path, method == "HEAD")
    } else {
        let reply = plain("405 Method Not Allowed", "only GET\n");
        (Answer::Reply(reply), 405)
    };
    tracing::info!("{peer} {method} {path} {status}");
    answer
}

/// The answer to a plain HTTP request on a TLS port.
pub fn https_only() -> Vec<u8> {
    plain(
        "400 Bad Request",
        "this port speaks HTTPS: open it with https:// (and wss:// for /ws)\n",
    )
}

/// The `101` for a valid WebSocket upgrade, else a `400`.
fn upgrade(request: &httparse::Request<'_, '_>, target: &str, early: &[u8]) -> (Answer, u16) {
    let mut builder = http::Request::builder()
        .method(request.method.unwrap_or_default())
        .uri(target)
        .version(http::Version::HTTP_11);
    for header in request.headers.iter() {
        builder = builder.header(header.name, header.value);
    }
    let response = builder
        .body(())
        .map_err(tungstenite::Error::from)
        .and_then(|request| create_response(&request));
    let mut reply = Vec::new();
    match response.and_then(|response| write_response(&mut reply, &response)) {
        Ok(()) => {
            let early = early.to_vec();
            (Answer::Upgrade { reply, early }, 101)
        }
        Err(e) => {
            let reply = plain(
                "400 Bad Request",
                &format!("not a WebSocket upgrade: {e}\n"),
            );
            (Answer::Reply(reply), 400)
        }
    }
}

/// One of the page's files, or a `404`.
fn page(path: &str, head_only: bool) -> (Answer, u16) {
    let name = match path.trim_start_matches('/') {
        "" => "index.html",
        name => name,
    };
    let Some((_, body)) = ASSETS.iter().find(|(asset, _)| *asset == name) else {
        return (Answer::Reply(plain("404 Not Found", "not found\n")), 404);
    };
    let mut reply = format!(
        "HTTP/1.1 200 OK\r\n\
         Content-Type: {}\r\n\
         Content-Length: {}\r\n\
         Cache-Control: no-cache\r\n\
         X-Content-Type-Options: nosniff\r\n\
         Referrer-Policy: no-referrer\r\n\
         Content-Security-Policy: frame-ancestors 'none'\r\n\
         Connection: close\r\n\r\n",
        content_type(name),
        body.len()
    )
    .into_bytes();
    if !head_only {
        reply.extend_from_slice(body);
    }
    (Answer::Reply(reply), 200)
}

/// A short plain-text reply.
fn plain(status: &str, text: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\n\
         Connection: close\r\n\r\n{text}",
        text.len()
    )
    .into_bytes()
}

/// The media type of a file, by its extension.
fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("txt" | "md") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}
