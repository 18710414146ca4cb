//! The bytes under a client: a TCP socket, plain or inside TLS.

use super::tls::TlsStream;
use mio::net::TcpStream;
use std::io::{self, Read, Write};

/// A client's byte stream, non-blocking either way.
pub enum Stream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP (`--tls-cert`).
    Tls(Box<TlsStream>),
}

impl Stream {
    /// The socket, to register it and to shut it down.
    pub fn tcp(&mut self) -> &mut TcpStream {
        match self {
            Stream::Plain(tcp) => tcp,
            Stream::Tls(tls) => tls.tcp(),
        }
    }

    /// True while bytes wait in the stream itself (TLS records) for the
    /// socket to take them.
    pub fn wants_write(&self) -> bool {
        match self {
            Stream::Plain(_) => false,
            Stream::Tls(tls) => tls.wants_write(),
        }
    }

    /// Ends the session as its protocol says (TLS: `close_notify`), best
    /// effort: the socket is not waited for.
    pub fn close_notify(&mut self) {
        if let Stream::Tls(tls) = self {
            tls.close_notify();
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(tcp) => tcp.read(buf),
            Stream::Tls(tls) => tls.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(tcp) => tcp.write(buf),
            Stream::Tls(tls) => tls.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(tcp) => tcp.flush(),
            Stream::Tls(tls) => tls.flush(),
        }
    }
}
