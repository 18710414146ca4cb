//! The bytes under a client: a TCP socket, plain or inside TLS.

use super::proxy_header;
use super::tls::TlsStream;
use mio::net::TcpStream;
use std::io::{self, Read, Write};
use std::net::SocketAddr;

/// A client's byte stream, non-blocking either way.
pub enum Stream {
    /// Plain TCP.
    Plain(TcpStream),
    /// Plain TCP straight from a client that is no trusted proxy
    /// (`--trusted-proxy`): a first read that starts with a PROXY v2
    /// header fails, so that no one can pass for another address.
    Direct {
        /// The socket.
        tcp: TcpStream,
        /// Its peer, for the log.
        peer: SocketAddr,
        /// Nothing has been read yet.
        first: bool,
    },
    /// TLS over TCP (`--tls-cert`).
    Tls(Box<TlsStream>),
}

impl Stream {
    /// A plain connection from `peer`, which is no trusted proxy.
    pub fn direct(tcp: TcpStream, peer: SocketAddr) -> Stream {
        Stream::Direct {
            tcp,
            peer,
            first: true,
        }
    }

    /// The socket, to register it and to shut it down.
    pub fn tcp(&mut self) -> &mut TcpStream {
        match self {
            Stream::Plain(tcp) | Stream::Direct { tcp, .. } => tcp,
            Stream::Tls(tls) => tls.tcp(),
        }
    }

    /// True while bytes wait in the stream itself (TLS records) for the
    /// socket to take them.
    pub fn wants_write(&self) -> bool {
        match self {
            Stream::Plain(_) | Stream::Direct { .. } => false,
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
            Stream::Direct { tcp, peer, first } => {
                let n = tcp.read(buf)?;
                if n > 0 && std::mem::take(first) && proxy_header::starts_with_signature(&buf[..n])
                {
                    tracing::info!(
                        "{peer} refused: PROXY header from untrusted address \
                         (is it a proxy? see --trusted-proxy)"
                    );
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "PROXY header from untrusted address",
                    ));
                }
                Ok(n)
            }
            Stream::Tls(tls) => tls.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(tcp) | Stream::Direct { tcp, .. } => tcp.write(buf),
            Stream::Tls(tls) => tls.write(buf),
        }
    }

    /// Plain TCP hands every queued frame to one `writev`.
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Stream::Plain(tcp) | Stream::Direct { tcp, .. } => tcp.write_vectored(bufs),
            Stream::Tls(tls) => tls.write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(tcp) | Stream::Direct { tcp, .. } => tcp.flush(),
            Stream::Tls(tls) => tls.flush(),
        }
    }
}
