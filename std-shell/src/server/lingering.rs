//! Connections the relay has turned away or closed: the notice is written
//! and the write side shut, and what the peer still sends is read and
//! dropped until it closes or a deadline passes. Closing at once with
//! unread input would make the kernel send a reset, which can destroy the
//! notice before the peer reads it.

use mio::net::TcpStream;
use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::time::{Duration, Instant};

/// How long a closed connection may linger.
const LINGER: Duration = Duration::from_secs(2);

/// Sockets on their way out.
#[derive(Default)]
pub struct Lingering {
    sockets: Vec<(TcpStream, Instant)>,
}

impl Lingering {
    /// Writes what `last` holds (best effort: the socket is not waited
    /// for), shuts the write side and keeps the socket until the peer
    /// closes or [`LINGER`] passes.
    pub fn close(&mut self, mut stream: TcpStream, last: &[u8]) {
        let _ = stream.write_all(last);
        let _ = stream.shutdown(Shutdown::Write);
        self.sockets.push((stream, Instant::now() + LINGER));
    }

    /// Drops the sockets whose peer has closed or whose time is up.
    pub fn sweep(&mut self) {
        let now = Instant::now();
        let mut scratch = [0u8; 4096];
        self.sockets.retain_mut(|(stream, deadline)| {
            if now >= *deadline {
                return false;
            }
            loop {
                match stream.read(&mut scratch) {
                    Ok(0) => return false,
                    Ok(_) => {}
                    Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(_) => return false,
                }
            }
        });
    }

    /// True when no socket lingers.
    pub fn is_empty(&self) -> bool {
        self.sockets.is_empty()
    }
}
