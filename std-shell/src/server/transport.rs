//! How a client's frames travel: bytes on a stream (TCP, or TLS), or
//! messages on a WebSocket over either. Both are written as a stream of
//! frames, so the queues are the same for every client; a stream's bytes
//! reach the room as bytes, a WebSocket's messages as messages.

use super::stream::Stream;
use super::websocket::WebSocketLink;
use fernchat_core::room::Notice;
use mio::net::TcpStream;
use std::io::{self, Write};
use std::net::Shutdown;

/// A client's transport.
pub enum Transport {
    /// Frames as bytes, one line each (`docs/PROTOCOL.md` section 2).
    Stream(Stream),
    /// One text message a frame (`docs/PROTOCOL.md` section 13).
    WebSocket(Box<WebSocketLink>),
}

impl Transport {
    /// The socket, to register it and to shut it down.
    pub fn tcp(&mut self) -> &mut TcpStream {
        match self {
            Transport::Stream(stream) => stream.tcp(),
            Transport::WebSocket(ws) => ws.stream().tcp(),
        }
    }

    /// True when bytes wait inside the transport for the socket to take
    /// them (TLS records; a WebSocket's frames, pongs or close frame).
    pub fn wants_write(&self) -> bool {
        match self {
            Transport::Stream(stream) => stream.wants_write(),
            Transport::WebSocket(ws) => ws.wants_write(),
        }
    }

    /// Sends `last` (frames, then the notice if any) and ends the session
    /// as the transport says (WebSocket close frame, TLS `close_notify`),
    /// then shuts the write side; best effort, the socket is not waited for.
    pub fn close(&mut self, last: &[u8], notice: Option<Notice>) {
        match self {
            Transport::Stream(stream) => {
                let _ = stream.write_all(last);
                stream.close_notify();
            }
            Transport::WebSocket(ws) => ws.close(last, notice),
        }
        let _ = self.tcp().shutdown(Shutdown::Write);
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Stream(stream) => stream.write(buf),
            Transport::WebSocket(ws) => ws.write(buf),
        }
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Transport::Stream(stream) => stream.write_vectored(bufs),
            Transport::WebSocket(ws) => ws.write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Stream(stream) => stream.flush(),
            Transport::WebSocket(ws) => ws.flush(),
        }
    }
}
