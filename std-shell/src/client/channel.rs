//! The client's connection to the relay: plain TCP, or TLS over it
//! (`--tls`, `docs/PROTOCOL.md` section 13). The main thread writes and the
//! reader thread reads, each on its own handle; with TLS both handles share
//! one session under a lock that no blocking read ever holds.

use crate::error::Error;
use rustls::ClientConnection;
use rustls::pki_types::ServerName;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// How long the TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// Socket bytes read at a time by the reader thread.
const RAW_CHUNK: usize = 16 * 1024;

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
    /// Bytes read from the socket that rustls has not taken yet.
    unfed: Vec<u8>,
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
            unfed: Vec::new(),
        }))
    }

    /// A second handle to the same connection, for the reader thread.
    pub fn try_clone(&self) -> io::Result<Channel> {
        Ok(match self {
            Channel::Plain(tcp) => Channel::Plain(tcp.try_clone()?),
            Channel::Tls(tls) => Channel::Tls(TlsChannel {
                tcp: tls.tcp.try_clone()?,
                session: Arc::clone(&tls.session),
                unfed: Vec::new(),
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

/// The session, once no other handle uses it.
fn lock(session: &Mutex<ClientConnection>) -> io::Result<MutexGuard<'_, ClientConnection>> {
    session
        .lock()
        .map_err(|_| io::Error::other("the TLS session failed in another thread"))
}

/// Writes the records the session has ready.
fn push_records(session: &mut ClientConnection, mut tcp: &TcpStream) -> io::Result<()> {
    while session.wants_write() {
        session.write_tls(&mut tcp)?;
    }
    Ok(())
}

impl Read for Channel {
    /// Gives what plaintext the session holds, or feeds it the socket's
    /// bytes until it holds some. rustls takes at most 4 KiB a call, and
    /// is fed only once the plaintext of the last call is taken, so its
    /// 16 KiB of unread plaintext never overflows.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Channel::Tls(tls) = self else {
            return match self {
                Channel::Plain(tcp) => tcp.read(buf),
                Channel::Tls(_) => Ok(0),
            };
        };
        loop {
            match lock(&tls.session)?.reader().read(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // Closed without `close_notify`: closed all the same; the
                // frames carry their own integrity.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                other => return other,
            }
            if tls.unfed.is_empty() {
                // Blocks (up to the read timeout) without the lock.
                let mut raw = [0u8; RAW_CHUNK];
                let n = (&tls.tcp).read(&mut raw)?;
                if n == 0 {
                    return Ok(0);
                }
                tls.unfed.extend_from_slice(&raw[..n]);
            }
            let mut session = lock(&tls.session)?;
            let mut rest = &tls.unfed[..];
            session.read_tls(&mut rest)?;
            let taken = tls.unfed.len() - rest.len();
            tls.unfed.drain(..taken);
            session
                .process_new_packets()
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            push_records(&mut session, &tls.tcp)?;
        }
    }
}

impl Write for Channel {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Channel::Plain(tcp) => tcp.write(buf),
            Channel::Tls(tls) => {
                let mut session = lock(&tls.session)?;
                let n = session.writer().write(buf)?;
                push_records(&mut session, &tls.tcp)?;
                Ok(n)
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Channel::Plain(tcp) => tcp.flush(),
            Channel::Tls(tls) => {
                let mut session = lock(&tls.session)?;
                push_records(&mut session, &tls.tcp)
            }
        }
    }
}
