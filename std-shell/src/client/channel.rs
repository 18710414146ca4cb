//! The client's connection to the relay: plain TCP, or TLS over it
//! (`--tls`, `docs/PROTOCOL.md` section 12). The main thread writes and the
//! reader thread reads, each on its own handle; with TLS both handles share
//! one session under a lock that no blocking read ever holds.

use crate::error::Error;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConnection, RootCertStore};
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// How long the TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// Bytes read from the socket at a time, under what one TLS session holds
/// of unread plaintext.
const RAW_CHUNK: usize = 8 * 1024;

/// What a TLS client trusts: the public roots, or exactly the
/// certificates in `ca` (PEM).
pub fn tls_config(ca: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, Error> {
    let mut roots = RootCertStore::empty();
    match ca {
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(path) => {
            let tls_file = |why: String| Error::TlsFile {
                path: path.to_owned(),
                why,
            };
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(Iterator::collect::<Result<Vec<_>, _>>)
                .map_err(|e| tls_file(e.to_string()))?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(tls_file("no usable certificate in it".to_owned()));
            }
        }
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A connection to the relay.
pub enum Channel {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(TlsChannel),
}

/// One handle to a TLS connection.
pub struct TlsChannel {
    tcp: TcpStream,
    session: Arc<Mutex<ClientConnection>>,
}

impl Channel {
    /// Connects to `addr` (host:port), over TLS with `tls`.
    pub fn connect(addr: &str, tls: Option<&Arc<rustls::ClientConfig>>) -> Result<Channel, Error> {
        let tcp = TcpStream::connect(addr).map_err(|source| Error::Connect {
            addr: addr.to_owned(),
            source,
        })?;
        let Some(config) = tls else {
            return Ok(Channel::Plain(tcp));
        };
        let tls_error = |source| Error::Tls {
            addr: addr.to_owned(),
            source,
        };
        let host = addr.rsplit_once(':').map_or(addr, |(host, _)| host);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(host.to_owned())
            .map_err(|e| tls_error(io::Error::new(io::ErrorKind::InvalidInput, e)))?;
        let mut session = ClientConnection::new(Arc::clone(config), name)
            .map_err(|e| tls_error(io::Error::other(e)))?;
        let mut handshake = || {
            tcp.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
            let mut socket = &tcp;
            while session.is_handshaking() {
                session.complete_io(&mut socket)?;
            }
            tcp.set_read_timeout(None)
        };
        handshake().map_err(|e| match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => tls_error(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no TLS answer within {} s", HANDSHAKE_TIMEOUT.as_secs()),
            )),
            _ => tls_error(e),
        })?;
        Ok(Channel::Tls(TlsChannel {
            tcp,
            session: Arc::new(Mutex::new(session)),
        }))
    }

    /// A second handle to the same connection, for the reader thread.
    pub fn try_clone(&self) -> io::Result<Channel> {
        Ok(match self {
            Channel::Plain(tcp) => Channel::Plain(tcp.try_clone()?),
            Channel::Tls(tls) => Channel::Tls(TlsChannel {
                tcp: tls.tcp.try_clone()?,
                session: Arc::clone(&tls.session),
            }),
        })
    }

    /// Bounds how long one read waits.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.tcp().set_read_timeout(timeout)
    }

    /// Closes both directions, for every handle.
    pub fn shutdown(&self) {
        let _ = self.tcp().shutdown(Shutdown::Both);
    }

    fn tcp(&self) -> &TcpStream {
        match self {
            Channel::Plain(tcp) => tcp,
            Channel::Tls(tls) => &tls.tcp,
        }
    }
}

impl TlsChannel {
    fn session(&self) -> io::Result<MutexGuard<'_, ClientConnection>> {
        self.session
            .lock()
            .map_err(|_| io::Error::other("the TLS session failed in another thread"))
    }

    /// Writes the records the session has ready.
    fn push_records(&self, session: &mut ClientConnection) -> io::Result<()> {
        let mut socket = &self.tcp;
        while session.wants_write() {
            session.write_tls(&mut socket)?;
        }
        Ok(())
    }
}

impl Read for Channel {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Channel::Tls(tls) = self else {
            return match self {
                Channel::Plain(tcp) => tcp.read(buf),
                Channel::Tls(_) => Ok(0),
            };
        };
        let mut raw = [0u8; RAW_CHUNK];
        loop {
            match tls.session()?.reader().read(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // Closed without `close_notify`: closed all the same; the
                // frames carry their own integrity.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                other => return other,
            }
            // Blocks (up to the read timeout) without the lock.
            let n = (&tls.tcp).read(&mut raw)?;
            let mut session = tls.session()?;
            let mut rest = &raw[..n];
            loop {
                session.read_tls(&mut rest)?;
                session
                    .process_new_packets()
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                if rest.is_empty() {
                    break;
                }
            }
            tls.push_records(&mut session)?;
        }
    }
}

impl Write for Channel {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Channel::Plain(tcp) => tcp.write(buf),
            Channel::Tls(tls) => {
                let mut session = tls.session()?;
                let n = session.writer().write(buf)?;
                tls.push_records(&mut session)?;
                Ok(n)
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Channel::Plain(tcp) => tcp.flush(),
            Channel::Tls(tls) => {
                let mut session = tls.session()?;
                tls.push_records(&mut session)
            }
        }
    }
}
