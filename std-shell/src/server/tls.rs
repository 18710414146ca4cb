//! TLS on the relay's ports: the certificate and key from PEM files, and a
//! non-blocking server session over a mio socket. rustls never touches
//! the socket itself: `read_tls` and `write_tls` move its records, so that
//! `WouldBlock` comes back to the event loop like on a plain socket.

use crate::error::Error;
use mio::net::TcpStream;
use rustls::ServerConnection;
use rustls::pki_types::PrivateKeyDer;
use rustls::pki_types::pem::PemObject;
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::Arc;

/// The first byte of every TLS connection: a handshake record.
pub const HANDSHAKE_RECORD: u8 = 0x16;

/// The relay's TLS settings from a certificate chain and its private key,
/// both PEM.
pub fn load_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, Error> {
    let tls_file = |path: &Path, why: String| Error::TlsFile {
        path: path.to_owned(),
        why,
    };
    let chain = crate::pem_text::certificates(cert).map_err(|why| tls_file(cert, why))?;
    if chain.is_empty() {
        return Err(tls_file(cert, "no certificate in it".to_owned()));
    }
    let private = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| tls_file(key, crate::pem_text::describe(&e)))?;
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| tls_file(key, format!("does not match the certificate: {e}")))?;
    Ok(Arc::new(config))
}

/// A server-side TLS session over a non-blocking socket.
pub struct TlsStream {
    conn: ServerConnection,
    tcp: TcpStream,
}

impl TlsStream {
    /// Starts the server side of a handshake on `tcp`.
    pub fn new(config: Arc<rustls::ServerConfig>, tcp: TcpStream) -> io::Result<TlsStream> {
        let conn = ServerConnection::new(config).map_err(io::Error::other)?;
        Ok(TlsStream { conn, tcp })
    }

    /// The socket under the session.
    pub fn tcp(&mut self) -> &mut TcpStream {
        &mut self.tcp
    }

    /// True while records wait to be written to the socket.
    pub fn wants_write(&self) -> bool {
        self.conn.wants_write()
    }

    /// Moves the handshake on as far as the socket allows; `WouldBlock`
    /// while it waits for the peer or the socket.
    pub fn handshake(&mut self) -> io::Result<()> {
        while self.conn.is_handshaking() {
            self.push_records()?;
            if self.conn.wants_write() {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            if self.pull_records()? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        self.push_records()
    }

    /// Queues a `close_notify` alert and writes what the socket takes.
    pub fn close_notify(&mut self) {
        self.conn.send_close_notify();
        let _ = self.push_records();
    }

    /// Writes waiting records until the socket would block.
    fn push_records(&mut self) -> io::Result<()> {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut self.tcp) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Reads records from the socket and opens them; gives the bytes read
    /// (0: the peer closed). A bad record sends the peer its alert.
    fn pull_records(&mut self) -> io::Result<usize> {
        let n = loop {
            match self.conn.read_tls(&mut self.tcp) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => break other?,
            }
        };
        if let Err(e) = self.conn.process_new_packets() {
            let _ = self.push_records();
            return Err(io::Error::new(io::ErrorKind::InvalidData, e));
        }
        // Handshake answers and alerts go out as soon as they are made.
        self.push_records()?;
        Ok(n)
    }
}

impl Read for TlsStream {
    /// Opens records until `buf` is full or the socket is dry, so that one
    /// read takes as much as on a plain socket (rustls reads 4 KiB a time).
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        loop {
            match self.conn.reader().read(&mut buf[filled..]) {
                Ok(0) if filled < buf.len() => return Ok(filled),
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // A peer that closes without `close_notify` has closed all
                // the same: the relay's frames carry their own integrity.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(filled),
                Err(e) => return Err(e),
            }
            if filled == buf.len() {
                return Ok(filled);
            }
            match self.pull_records() {
                Ok(0) => return Ok(filled),
                Ok(_) => {}
                Err(e) if filled > 0 && e.kind() == io::ErrorKind::WouldBlock => return Ok(filled),
                Err(e) => return Err(e),
            }
        }
    }
}

impl Write for TlsStream {
    /// Takes plaintext only once earlier records have left, so that bytes
    /// wait in the relay's own queue, where back-pressure counts them.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.push_records()?;
        if self.conn.wants_write() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = self.conn.writer().write(buf)?;
        self.push_records()?;
        Ok(n)
    }

    /// Queued frames go into records together, as many as a record holds,
    /// not one record each.
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.push_records()?;
        if self.conn.wants_write() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = self.conn.writer().write_vectored(bufs)?;
        self.push_records()?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.push_records()?;
        if self.conn.wants_write() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(())
    }
}
