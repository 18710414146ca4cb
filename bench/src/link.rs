//! A generator client's connection: a socket, plain or inside TLS
//! (scenario T). The receiving thread reads and a sender writes on two
//! handles of one connection; with TLS both share the session under a lock
//! that is never held while waiting for the socket.

use anyhow::{Context, Result};
use rustls::ClientConnection;
use rustls::pki_types::ServerName;
use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex, MutexGuard};

/// A connected client, before its handles go to their threads.
pub struct Client {
    tcp: std::net::TcpStream,
    tls: Option<Arc<Mutex<ClientConnection>>>,
}

impl Client {
    /// A plain client on `tcp` (blocking until it is split).
    pub fn plain(tcp: std::net::TcpStream) -> Client {
        Client { tcp, tls: None }
    }

    /// A TLS client on `tcp`, after a blocking handshake with a relay whose
    /// certificate is for `localhost`.
    pub fn tls(mut tcp: std::net::TcpStream, config: &Arc<rustls::ClientConfig>) -> Result<Client> {
        let name = ServerName::try_from("localhost")?;
        let mut session = ClientConnection::new(Arc::clone(config), name)?;
        while session.is_handshaking() {
            session.complete_io(&mut tcp).context("TLS handshake")?;
        }
        Ok(Client {
            tcp,
            tls: Some(Arc::new(Mutex::new(session))),
        })
    }

    /// A second handle to the same connection.
    pub fn try_clone(&self) -> io::Result<Client> {
        Ok(Client {
            tcp: self.tcp.try_clone()?,
            tls: self.tls.clone(),
        })
    }

    /// The handle for a mio loop: non-blocking, no Nagle delay.
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
    /// The socket, to register it.
    pub tcp: mio::net::TcpStream,
    tls: Option<Arc<Mutex<ClientConnection>>>,
}

fn lock(session: &Mutex<ClientConnection>) -> io::Result<MutexGuard<'_, ClientConnection>> {
    session
        .lock()
        .map_err(|_| io::Error::other("a TLS session failed in another thread"))
}

/// Writes what records the session has ready, until the socket would block.
fn push(session: &mut ClientConnection, tcp: &mut mio::net::TcpStream) -> io::Result<()> {
    while session.wants_write() {
        match session.write_tls(tcp) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) => return Err(e),
            Ok(_) => {}
        }
    }
    Ok(())
}

impl Read for Link {
    /// Opens records until `buf` is full or the socket is dry: a short
    /// read says the socket is dry, as on plain TCP. rustls reads the
    /// socket itself, at most 4 KiB a call, and only once the plaintext of
    /// the last call is taken, so its 16 KiB of unread plaintext never
    /// overflows.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(tls) = &self.tls else {
            return self.tcp.read(buf);
        };
        let mut filled = 0;
        loop {
            let mut session = lock(tls)?;
            match session.reader().read(&mut buf[filled..]) {
                Ok(0) if filled < buf.len() => return Ok(filled),
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(filled),
                Err(e) => return Err(e),
            }
            if filled == buf.len() {
                return Ok(filled);
            }
            match session.read_tls(&mut self.tcp) {
                Ok(0) => return Ok(filled),
                Ok(_) => {}
                Err(e) if filled > 0 && e.kind() == io::ErrorKind::WouldBlock => return Ok(filled),
                Err(e) => return Err(e),
            }
            session
                .process_new_packets()
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        }
    }
}

impl Write for Link {
    /// Takes bytes only once earlier records have left, so that a sender
    /// feels the socket's back-pressure as it would on plain TCP.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let Some(tls) = &self.tls else {
            return self.tcp.write(buf);
        };
        let mut session = lock(tls)?;
        push(&mut session, &mut self.tcp)?;
        if session.wants_write() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = session.writer().write(buf)?;
        push(&mut session, &mut self.tcp)?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        let Some(tls) = &self.tls else {
            return Ok(());
        };
        let mut session = lock(tls)?;
        push(&mut session, &mut self.tcp)?;
        if session.wants_write() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(())
    }
}
