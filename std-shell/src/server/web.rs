//! The web port's HTTP (`docs/PROTOCOL.md` section 13): the page embedded
//! from `std-shell/web/` at `/` and `/NAME`, and the WebSocket upgrade at
//! `/ws`. A request is logged by its path only: never its query string
//! (nor a fragment, which browsers never send), where a key could hide.
//! From a trusted proxy, the client's address is the last one in
//! `X-Forwarded-For` (`docs/PROTOCOL.md` section 14).

use std::net::{IpAddr, SocketAddr};
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
        /// The client's address: the peer's, or from a trusted proxy the
        /// last `X-Forwarded-For` address (with port 0: it gives none).
        client: SocketAddr,
    },
    /// Write this reply, then close.
    Reply(Vec<u8>),
}

/// Answers the request whose bytes so far are `head`, from `peer`, which
/// is a trusted proxy when `from_proxy`.
pub fn answer(head: &[u8], peer: SocketAddr, from_proxy: bool) -> Answer {
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
    let forwarded = forwarded_for(request.headers);
    let peer = match (from_proxy, forwarded) {
        (true, Some(Ok(ip))) => SocketAddr::new(ip, 0),
        (true, forwarded) => {
            let what = if forwarded.is_some() {
                "an X-Forwarded-For without a valid last address"
            } else {
                "no X-Forwarded-For"
            };
            tracing::info!("{peer} is a trusted proxy and sent {what}: {method} {path} 400");
            let text = "a trusted proxy must send X-Forwarded-For\n";
            return Answer::Reply(plain("400 Bad Request", text));
        }
        (false, Some(_)) => {
            tracing::debug!("{peer} is no trusted proxy: its X-Forwarded-For is ignored");
            peer
        }
        (false, None) => peer,
    };
    let (answer, status) = if path == WS_PATH {
        upgrade(&request, target, &head[head_len..], peer)
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

/// The last address of the last `X-Forwarded-For` header among `headers`
/// (the one the nearest proxy added), if there is such a header; an
/// address may carry a port (`192.0.2.7:4000`, `[2001:db8::1]:4000`),
/// which is dropped.
fn forwarded_for(headers: &[httparse::Header<'_>]) -> Option<Result<IpAddr, ()>> {
    let header = headers
        .iter()
        .rev()
        .find(|h| h.name.eq_ignore_ascii_case("x-forwarded-for"))?;
    let last = std::str::from_utf8(header.value)
        .ok()
        .and_then(|value| value.rsplit(',').next())
        .map(str::trim)
        .unwrap_or_default();
    let ip = last
        .parse::<IpAddr>()
        .or_else(|_| last.parse::<SocketAddr>().map(|a| a.ip()))
        .or_else(|_| last.trim_start_matches('[').trim_end_matches(']').parse());
    Some(ip.map(|ip| ip.to_canonical()).map_err(|_| ()))
}

/// The `101` for a valid WebSocket upgrade from `client`, else a `400`.
fn upgrade(
    request: &httparse::Request<'_, '_>,
    target: &str,
    early: &[u8],
    client: SocketAddr,
) -> (Answer, u16) {
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
            (
                Answer::Upgrade {
                    reply,
                    early,
                    client,
                },
                101,
            )
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

#[cfg(test)]
mod tests {
    use super::*;

    const PEER: SocketAddr =
        SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 1);

    fn reply(request: &[u8]) -> String {
        match answer(request, PEER, false) {
            Answer::Reply(reply) => String::from_utf8_lossy(&reply).into_owned(),
            Answer::Upgrade { reply, .. } => String::from_utf8_lossy(&reply).into_owned(),
            Answer::Incomplete => "incomplete".to_owned(),
        }
    }

    #[test]
    fn test_routes() {
        assert!(reply(b"GET / HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(reply(b"GET /?k=x HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 200 OK\r\n"));
        let head = reply(b"HEAD / HTTP/1.1\r\n\r\n");
        assert!(head.ends_with("\r\n\r\n"), "no body for HEAD: {head}");
        assert!(reply(b"GET /../etc/passwd HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404 "));
        assert!(reply(b"DELETE / HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 405 "));
        assert!(reply(b"GET /ws HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 400 "));
        assert!(reply(b"\x01\x02 nonsense\r\n\r\n").starts_with("HTTP/1.1 400 "));
        assert_eq!(reply(b"GET / HTTP/1.1\r\nHost: x"), "incomplete");
        let long = [b"GET / HTTP/1.1\r\nX: ".as_slice(), &[b'a'; MAX_HEAD]].concat();
        assert!(reply(&long).starts_with("HTTP/1.1 431 "));
    }

    #[test]
    fn test_upgrade_keeps_what_follows_the_head() {
        let request = b"GET /ws?k=x HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\n\
            Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
            Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\nEARLY";
        let Answer::Upgrade { reply, early, .. } = answer(request, PEER, false) else {
            panic!("not an upgrade");
        };
        let reply = String::from_utf8(reply).unwrap();
        assert!(reply.starts_with("HTTP/1.1 101 "), "{reply}");
        // RFC 6455's example key and its answer.
        assert!(reply.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "{reply}");
        assert_eq!(early, b"EARLY");
    }

    const UPGRADE: &str = "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\n\
        Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

    /// The client address an upgrade with `headers` gets, `None` when it
    /// is refused.
    fn client(headers: &str, from_proxy: bool) -> Option<SocketAddr> {
        let request = format!("{UPGRADE}{headers}\r\n");
        match answer(request.as_bytes(), PEER, from_proxy) {
            Answer::Upgrade { client, .. } => Some(client),
            _ => None,
        }
    }

    #[test]
    fn test_forwarded_for_from_a_trusted_proxy() {
        let at = |ip: &str| Some(SocketAddr::new(ip.parse().unwrap(), 0));
        assert_eq!(
            client("X-Forwarded-For: 192.0.2.7\r\n", true),
            at("192.0.2.7")
        );
        // The last address is the one the proxy added; earlier ones are
        // the client's to make up.
        let chain = "X-Forwarded-For: 10.0.0.1, 198.51.100.9\r\n";
        assert_eq!(client(chain, true), at("198.51.100.9"));
        let two = "X-Forwarded-For: 10.0.0.1\r\nx-forwarded-for: 2001:db8::5\r\n";
        assert_eq!(client(two, true), at("2001:db8::5"));
        assert_eq!(
            client("X-Forwarded-For: [2001:db8::5]:99\r\n", true),
            at("2001:db8::5")
        );
        assert_eq!(
            client("X-Forwarded-For: 192.0.2.7:4000\r\n", true),
            at("192.0.2.7")
        );
        assert_eq!(
            client("X-Forwarded-For: ::ffff:192.0.2.7\r\n", true),
            at("192.0.2.7")
        );
        // A trusted proxy must say: no header, or junk, is a 400.
        assert_eq!(client("", true), None);
        assert_eq!(client("X-Forwarded-For: unknown\r\n", true), None);
        assert!(reply(b"GET / HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 200 "));
        let Answer::Reply(refused) = answer(b"GET / HTTP/1.1\r\n\r\n", PEER, true) else {
            panic!("not a reply");
        };
        assert!(refused.starts_with(b"HTTP/1.1 400 "));
    }

    #[test]
    fn test_forwarded_for_from_others_is_ignored() {
        assert_eq!(client("X-Forwarded-For: 192.0.2.7\r\n", false), Some(PEER));
        assert_eq!(client("", false), Some(PEER));
    }

    #[test]
    fn test_content_types() {
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("chat.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("style.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("README"), "application/octet-stream");
    }

    /// The page's tables of notices and drop reasons say what core's
    /// vocabulary says, in the order of core's drop report: until the page
    /// runs the core itself, this keeps the copies from drifting.
    #[test]
    fn the_pages_reasons_and_notices_are_cores() {
        use fernchat_core::fernet::TokenError;
        use fernchat_core::reason::Reason;
        use fernchat_core::room::Notice;
        use fernchat_core::session::DropReason;
        let chat = include_str!("../../web/chat.js");
        let fernet = include_str!("../../web/fernet.js");
        for notice in Notice::ALL {
            let line = String::from_utf8_lossy(notice.line());
            let entry = format!("[\"{}\", \"{notice}\"]", line.trim_end());
            assert!(chat.contains(&entry), "chat.js lacks {entry}");
        }
        let token_name = |e: TokenError| format!("{e:?}");
        let mut listed = String::new();
        for reason in DropReason::ALL {
            let item = match reason {
                DropReason::Token(e) => {
                    let entry = format!("{}: \"{}\",", token_name(e), Reason::from(e));
                    assert!(fernet.contains(&entry), "fernet.js lacks {entry}");
                    format!("TokenError.{}", token_name(e))
                }
                other => format!("\"{}\"", Reason::from(other)),
            };
            listed.push_str(&format!("    {item},\n"));
        }
        let table = format!("const REASONS = [\n{listed}  ];");
        assert!(chat.contains(&table), "chat.js's REASONS is not\n{table}");
    }
}
