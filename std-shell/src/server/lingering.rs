//! Connections the relay has turned away or closed: the notice is written
//! and the write side shut, and what the peer still sends is read and
//! dropped until it closes or a deadline passes. Closing at once with
//! unread input would make the kernel send a reset, which can destroy the
//! notice before the peer reads it.

use super::transport::Transport;
use fernchat_core::room::Notice;
use std::io::{ErrorKind, Read};
use std::time::{Duration, Instant};

/// How long a closed connection may linger.
const LINGER: Duration = Duration::from_secs(2);

/// Sockets on their way out.
#[derive(Default)]
pub struct Lingering {
    sockets: Vec<(Transport, Instant)>,
}

impl Lingering {
    /// Writes what `last` holds and the transport's goodbye (best effort:
    /// the socket is not waited for), shuts the write side and keeps the
    /// socket until the peer closes or [`LINGER`] passes.
    pub fn close(&mut self, mut transport: Transport, last: &[u8], notice: Option<Notice>) {
        transport.close(last, notice);
        self.sockets.push((transport, Instant::now() + LINGER));
    }

    /// Drops the sockets whose peer has closed or whose time is up.
    pub fn sweep(&mut self) {
        let now = Instant::now();
        let mut scratch = [0u8; 4096];
        self.sockets.retain_mut(|(transport, deadline)| {
            if now >= *deadline {
                return false;
            }
            // The raw socket: what comes now is not for any session.
            let stream = transport.tcp();
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
