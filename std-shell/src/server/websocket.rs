//! A WebSocket client (`docs/PROTOCOL.md` section 13): each text message it
//! sends is one token, handed to the room as a message; each frame or
//! notice for it goes out as one text message without its line feed.
//! Reads are metered (a byte budget and a count of frames a turn, control
//! frames included) and what waits for the socket is bounded, pongs
//! included, so that no peer can stall the relay or grow its memory.

use super::stream::Stream;
use fernchat_core::frame::{MAX_FRAME, token_of};
use fernchat_core::room::Notice;
use std::io::{self, Read, Write};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tungstenite::{Message, Utf8Bytes, WebSocket};

/// Frames handed to the WebSocket in one write: less than its write
/// buffer, so that it never writes in the middle of a batch.
const WRITE_BATCH: usize = 64 * 1024;
/// Bytes tungstenite gathers before it writes to the socket.
const WRITE_BUFFER: usize = 128 * 1024;
/// The most bytes the WebSocket holds for the socket: a batch of frames,
/// one more frame, and a pong or close frame (tungstenite keeps the latest
/// pong waiting in a slot of its own when they do not fit). This is all a
/// peer that sends pings and never reads can make it hold.
const MAX_WRITE_BUFFER: usize = WRITE_BUFFER + 2 * MAX_FRAME;
/// Bytes read from the socket for one client in one turn of the relay's
/// loop, whatever they hold (messages, pings, empty continuation frames).
pub const READ_BUDGET: usize = 32 * 1024;
/// WebSocket frames (messages and control frames) taken from one client in
/// one turn of the relay's loop.
pub const FRAMES_PER_TURN: usize = 64;

/// What one [`WebSocketLink::read_input`] gave.
pub enum Input {
    /// A text message: one token, for the room to judge.
    Message(Utf8Bytes),
    /// A ping or pong, answered as the protocol says: nothing for the room.
    Control,
    /// Nothing more now: the socket is drained (`more` false) or this turn's
    /// [`READ_BUDGET`] is spent (`more` true: read it again next turn).
    Paused {
        /// Bytes may be waiting.
        more: bool,
    },
    /// The peer closed the WebSocket or the connection.
    Closed,
}

/// The socket under the WebSocket, metered: reads stop at the turn's
/// budget, and a write the socket refused says that bytes wait.
struct Metered {
    stream: Stream,
    /// Bytes still to be read this turn.
    budget: usize,
    /// The last write found the socket full, and no flush has emptied
    /// the WebSocket's buffer since.
    blocked: bool,
}

impl Read for Metered {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.budget == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let limit = buf.len().min(self.budget);
        let n = self.stream.read(&mut buf[..limit])?;
        self.budget -= n;
        Ok(n)
    }
}

impl Write for Metered {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.stream.write(buf);
        if written
            .as_ref()
            .is_err_and(|e| e.kind() == io::ErrorKind::WouldBlock)
        {
            self.blocked = true;
        }
        written
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

/// One WebSocket connection, past its upgrade.
pub struct WebSocketLink {
    ws: WebSocket<Metered>,
    /// The close code for a peer that broke the mapping.
    broken: Option<CloseCode>,
}

impl WebSocketLink {
    /// Starts the WebSocket on `stream` once the `101` has been written;
    /// `early` holds bytes the client sent after its request.
    pub fn new(stream: Stream, early: Vec<u8>) -> WebSocketLink {
        let config = WebSocketConfig::default()
            .read_buffer_size(16 * 1024)
            .write_buffer_size(WRITE_BUFFER)
            .max_write_buffer_size(MAX_WRITE_BUFFER)
            .max_message_size(Some(MAX_FRAME))
            .max_frame_size(Some(MAX_FRAME));
        let metered = Metered {
            stream,
            budget: READ_BUDGET,
            blocked: false,
        };
        WebSocketLink {
            ws: WebSocket::from_partially_read(metered, early, Role::Server, Some(config)),
            broken: None,
        }
    }

    /// The stream under the WebSocket.
    pub fn stream(&mut self) -> &mut Stream {
        &mut self.ws.get_mut().stream
    }

    /// True while bytes (frames, pongs, a close frame) wait in the
    /// WebSocket for the socket to take them.
    pub fn wants_write(&self) -> bool {
        self.ws.get_ref().blocked
    }

    /// Starts a turn: [`READ_BUDGET`] more bytes may be read.
    pub fn new_turn(&mut self) {
        self.ws.get_mut().budget = READ_BUDGET;
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
        self.stream().close_notify();
    }

    /// Reads the next WebSocket frame, within this turn's budget. A text
    /// message is handed on whatever it holds (one message is one token,
    /// and the room drops anything else whole); a binary message, one too
    /// big or broken framing breaks the mapping: an error, after which
    /// [`WebSocketLink::close`] sends the close code that says why.
    pub fn read_input(&mut self) -> io::Result<Input> {
        let broken = match self.ws.read() {
            Ok(Message::Text(text)) => return Ok(Input::Message(text)),
            Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => {
                return Ok(Input::Control);
            }
            Ok(Message::Close(_)) => return Ok(Input::Closed),
            Ok(Message::Binary(_)) => CloseCode::Unsupported,
            Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                let more = self.ws.get_ref().budget == 0;
                return Ok(Input::Paused { more });
            }
            Err(tungstenite::Error::Io(e)) => return Err(e),
            Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                return Ok(Input::Closed);
            }
            Err(tungstenite::Error::Capacity(_)) => CloseCode::Size,
            Err(tungstenite::Error::Utf8(_)) => CloseCode::Invalid,
            Err(_) => CloseCode::Protocol,
        };
        self.broken = Some(broken);
        Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("websocket peer broke the mapping ({broken})"),
        ))
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
            if !line.ends_with(b"\n") {
                break;
            }
            let frame = token_of(line);
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
        self.ws.flush().map_err(into_io)?;
        self.ws.get_mut().blocked = false;
        Ok(())
    }
}

fn into_io(error: tungstenite::Error) -> io::Error {
    match error {
        tungstenite::Error::Io(e) => e,
        other => io::Error::other(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The numbers `docs/PROTOCOL.md` section 13 states.
    #[test]
    fn test_bounds_pinned() {
        assert_eq!(READ_BUDGET, 32 * 1024);
        assert_eq!(FRAMES_PER_TURN, 64);
        assert_eq!(MAX_WRITE_BUFFER, 136 * 1024);
    }
}
