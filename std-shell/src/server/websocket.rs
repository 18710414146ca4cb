//! A WebSocket client as a stream of frames (`docs/PROTOCOL.md` section 12):
//! each text message it sends is one token, read as the token and a line
//! feed; each frame or notice for it goes out as one text message without
//! its line feed. The room never sees the difference.

use super::stream::Stream;
use fernchat_core::frame::MAX_FRAME;
use fernchat_core::room::Notice;
use std::io::{self, Read, Write};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tungstenite::{Message, WebSocket};

/// Frames handed to the WebSocket in one write: less than its write
/// buffer, so that it never writes in the middle of a batch.
const WRITE_BATCH: usize = 64 * 1024;

/// One WebSocket connection, past its upgrade.
pub struct WebSocketLink {
    ws: WebSocket<Stream>,
    /// Frames read from messages, line feeds added, not taken yet.
    inbound: Vec<u8>,
    /// How much of `inbound` was taken.
    taken: usize,
    /// The close code for a peer that broke the mapping.
    broken: Option<CloseCode>,
}

impl WebSocketLink {
    /// Starts the WebSocket on `stream` once the `101` has been written;
    /// `early` holds bytes the client sent after its request.
    pub fn new(stream: Stream, early: Vec<u8>) -> WebSocketLink {
        let config = WebSocketConfig::default()
            .read_buffer_size(16 * 1024)
            .max_message_size(Some(MAX_FRAME))
            .max_frame_size(Some(MAX_FRAME));
        WebSocketLink {
            ws: WebSocket::from_partially_read(stream, early, Role::Server, Some(config)),
            inbound: Vec::new(),
            taken: 0,
            broken: None,
        }
    }

    /// The stream under the WebSocket.
    pub fn stream(&mut self) -> &mut Stream {
        self.ws.get_mut()
    }

    /// Sends what `last` holds (frames or a notice, one message a line),
    /// then a close frame whose code says why; best effort, the socket is
    /// not waited for.
    pub fn close(&mut self, last: &[u8], notice: Option<Notice>) {
        for line in last.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let text = String::from_utf8_lossy(line).into_owned();
            let _ = self.ws.write(Message::text(text));
        }
        let code = self.broken.unwrap_or(match notice {
            Some(Notice::Full | Notice::Busy) => CloseCode::Again,
            Some(_) => CloseCode::Policy,
            None => CloseCode::Normal,
        });
        let reason = notice.map_or("", |n| {
            let word = n.line().strip_prefix(b"!").unwrap_or_default();
            std::str::from_utf8(word).unwrap_or_default().trim_end()
        });
        let _ = self.ws.close(Some(CloseFrame {
            code,
            reason: reason.into(),
        }));
        let _ = self.ws.flush();
        self.ws.get_mut().close_notify();
    }

    /// Reads one message into `inbound`; `false` once the peer has closed.
    fn next_message(&mut self) -> io::Result<bool> {
        loop {
            let broken = match self.ws.read() {
                Ok(Message::Text(text)) if !text.as_bytes().contains(&b'\n') => {
                    self.inbound.extend_from_slice(text.as_bytes());
                    self.inbound.push(b'\n');
                    return Ok(true);
                }
                // One message is one token: a line feed in it would make
                // two frames of one message.
                Ok(Message::Text(_)) => CloseCode::Invalid,
                Ok(Message::Binary(_)) => CloseCode::Unsupported,
                Ok(Message::Close(_)) => return Ok(false),
                Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => continue,
                Err(tungstenite::Error::Io(e)) => return Err(e),
                Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                    return Ok(false);
                }
                Err(tungstenite::Error::Capacity(_)) => CloseCode::Size,
                Err(tungstenite::Error::Utf8(_)) => CloseCode::Invalid,
                Err(_) => CloseCode::Protocol,
            };
            self.broken = Some(broken);
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("websocket peer broke the mapping ({broken})"),
            ));
        }
    }
}

impl Read for WebSocketLink {
    /// Gives frames as a TCP client would send them: tokens and line feeds.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.inbound.len() - self.taken < buf.len() {
            match self.next_message() {
                Ok(true) => {}
                Ok(false) => break,
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock && self.taken < self.inbound.len() =>
                {
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        let waiting = &self.inbound[self.taken..];
        let n = waiting.len().min(buf.len());
        buf[..n].copy_from_slice(&waiting[..n]);
        self.taken += n;
        if self.taken == self.inbound.len() {
            self.inbound.clear();
            self.taken = 0;
        }
        Ok(n)
    }
}

impl Write for WebSocketLink {
    /// Takes whole lines (frames or notices), each sent as one message;
    /// takes nothing while earlier messages wait for the socket, so that
    /// bytes wait in the relay's own queue, where back-pressure counts them.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.flush()?;
        let mut taken = 0;
        for line in buf.split_inclusive(|&b| b == b'\n') {
            let Some(frame) = line.strip_suffix(b"\n") else {
                break;
            };
            if taken > 0 && taken + line.len() > WRITE_BATCH {
                break;
            }
            let text = String::from_utf8_lossy(frame).into_owned();
            match self.ws.write(Message::text(text)) {
                // Queued either way; `WouldBlock` only says it was not all
                // written yet.
                Ok(()) => {}
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(into_io(e)),
            }
            taken += line.len();
        }
        if taken == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "no whole line to send",
            ));
        }
        match self.flush() {
            Err(e) if e.kind() != io::ErrorKind::WouldBlock => Err(e),
            _ => Ok(taken),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.ws.flush().map_err(into_io)
    }
}

fn into_io(error: tungstenite::Error) -> io::Error {
    match error {
        tungstenite::Error::Io(e) => e,
        other => io::Error::other(other),
    }
}
