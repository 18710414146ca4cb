//! A generator client's connection: a socket, plain or inside TLS
//! (scenario T). The receiving thread reads and a sender writes on two
//! handles of one connection; with TLS both share one rustls
//! [`StreamOwned`] under a lock, which does the socket I/O for the
//! session, and which no one holds while waiting for the socket.

use anyhow::{Context, Result};
use rustls::pki_types::ServerName;
use rustls::{ClientConnection, StreamOwned};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex, MutexGuard};

/// A TLS session and its socket (one more handle of the connection's).
type TlsStream = StreamOwned<ClientConnection, TcpStream>;

/// A connected client, before its handles go to their threads.
pub struct Client {
    tcp: TcpStream,
    tls: Option<Arc<Mutex<TlsStream>>>,
}

impl Client {
    /// A plain client on `tcp` (blocking until it is split).
    pub fn plain(tcp: TcpStream) -> Client {
        Client { tcp, tls: None }
    }

    /// A TLS client on `tcp`, after a blocking handshake with a relay whose
    /// certificate is for `localhost`.
    pub fn tls(tcp: TcpStream, config: &Arc<rustls::ClientConfig>) -> Result<Client> {
        let name = ServerName::try_from("localhost")?;
        let session = ClientConnection::new(Arc::clone(config), name)?;
        let mut stream = StreamOwned::new(session, tcp.try_clone()?);
        while stream.conn.is_handshaking() {
            stream
                .conn
                .complete_io(&mut stream.sock)
                .context("TLS handshake")?;
        }
        Ok(Client {
            tcp,
            tls: Some(Arc::new(Mutex::new(stream))),
        })
    }

    /// A second handle to the same connection.
    pub fn try_clone(&self) -> io::Result<Client> {
        Ok(Client {
            tcp: self.tcp.try_clone()?,
            tls: self.tls.clone(),
        })
    }

    /// The handle for a mio loop: non-blocking (every handle of the
    /// socket, the TLS stream's too), no Nagle delay.
    pub fn into_link(self) -> io::Result<Link> {
        self.tcp.set_nodelay(true)?;
        self.tcp.set_nonblocking(true)?;
        Ok(Link {
            tcp: mio::net::TcpStream::from_std(self.tcp),
            tls: self.tls,
        })
    }
}

/// One handle, on a non-blocking socket.
pub struct Link {
    /// The socket, to register it (and to use it, without TLS).
    pub tcp: mio::net::TcpStream,
    tls: Option<Arc<Mutex<TlsStream>>>,
}

fn lock(stream: &Mutex<TlsStream>) -> io::Result<MutexGuard<'_, TlsStream>> {
    stream
        .lock()
        .map_err(|_| io::Error::other("a TLS session failed in another thread"))
}

impl Read for Link {
    /// Reads until `buf` is full or the socket is dry: a short read says
    /// the socket is dry, as on plain TCP (the receiver's loop is
    /// edge-triggered). rustls reads the socket only once the plaintext of
    /// its last read is taken, at most 4 KiB a time, so its unread
    /// plaintext stays small.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(tls) = &self.tls else {
            return self.tcp.read(buf);
        };
        let mut filled = 0;
        while filled < buf.len() {
            match lock(tls)?.read(&mut buf[filled..]) {
                // The relay's `close_notify`.
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && filled > 0 => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // Closed without `close_notify`: closed all the same.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
                Err(e) => return Err(e),
            }
        }
        Ok(filled)
    }
}

impl Write for Link {
    /// Takes bytes only once earlier records have left, so that a sender
    /// feels the socket's back-pressure as it would on plain TCP (rustls
    /// would otherwise take up to 64 KiB more, then nothing, as `Ok(0)`).
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let Some(tls) = &self.tls else {
            return self.tcp.write(buf);
        };
        let mut stream = lock(tls)?;
        stream.flush()?;
        stream.write(buf)
    }

    /// Writes every record the session holds, or fails with `WouldBlock`.
    fn flush(&mut self) -> io::Result<()> {
        match &self.tls {
            Some(tls) => lock(tls)?.flush(),
            None => Ok(()),
        }
    }
}
