//! Connections on their way into the room: each handshake (TLS, HTTP and
//! the WebSocket upgrade) is moved on as its socket allows, bounded in
//! number and in time, and ends in the room or closed.

use super::handshake::{Handshake, Port, Progress};
use super::{HANDSHAKES, Relay};
use mio::net::TcpStream;
use mio::{Interest, Token};
use std::net::SocketAddr;

/// Handshakes allowed at once, in all and from one address, whatever the
/// room's limits: a browser fetches a page's files over up to 6
/// connections at once.
const HANDSHAKE_FLOOR: usize = 8;

impl Relay {
    /// Starts the handshake of a connection accepted on `port`; beyond as
    /// many handshakes as the room has slots (or, from one address, as the
    /// per-address limit), [`HANDSHAKE_FLOOR`] at least, the newest is
    /// closed at once. A trusted proxy carries many clients: only the
    /// limit in all holds for it.
    pub(super) fn start_handshake(&mut self, mut tcp: TcpStream, peer: SocketAddr, port: Port) {
        let limits = self.room.limits();
        let from_proxy = self.trusted_proxies.contains(peer.ip());
        let same_ip = self
            .handshakes
            .iter()
            .filter(|(_, h)| h.peer.ip() == peer.ip())
            .count();
        if self.handshakes.len() >= limits.max_clients.max(HANDSHAKE_FLOOR)
            || (limits.max_per_ip > 0
                && !from_proxy
                && same_ip >= limits.max_per_ip.max(HANDSHAKE_FLOOR))
        {
            tracing::info!("{peer} refused: too many handshakes under way");
            return;
        }
        let id = self.handshakes.vacant_entry().key();
        let interest = Interest::READABLE | Interest::WRITABLE;
        if let Err(e) = self
            .poll
            .registry()
            .register(&mut tcp, Token(HANDSHAKES + id), interest)
        {
            tracing::warn!("{peer} dropped: cannot register: {e}");
            return;
        }
        self.handshakes.insert(Handshake::new(
            tcp,
            peer,
            port,
            self.tls.clone(),
            from_proxy,
        ));
        self.advance_handshake(id);
    }

    /// Moves handshake `id` on; a finished one joins the room or is closed.
    pub(super) fn advance_handshake(&mut self, id: usize) {
        let Some(handshake) = self.handshakes.get_mut(id) else {
            return;
        };
        let progress = handshake.advance();
        if matches!(progress, Progress::Waiting) {
            return;
        }
        let handshake = self.handshakes.remove(id);
        let peer = handshake.peer;
        let Some(mut transport) = handshake.into_transport() else {
            return;
        };
        match progress {
            Progress::Waiting => {}
            Progress::Ready => self.join(transport, peer, true),
            Progress::Close { last, notice } => {
                let _ = self.poll.registry().deregister(transport.tcp());
                self.lingering.close(transport, &last, notice);
            }
            Progress::Failed(e) => {
                tracing::info!("{peer} handshake failed: {e}");
                let _ = self.poll.registry().deregister(transport.tcp());
            }
        }
    }

    /// Closes the handshakes older than the hello timeout.
    pub(super) fn expire_handshakes(&mut self) {
        let late: Vec<usize> = self
            .handshakes
            .iter()
            .filter(|(_, h)| h.started.elapsed() >= self.hello_timeout)
            .map(|(id, _)| id)
            .collect();
        for id in late {
            let handshake = self.handshakes.remove(id);
            tracing::info!("{} handshake timed out", handshake.peer);
            if let Some(mut transport) = handshake.into_transport() {
                let _ = self.poll.registry().deregister(transport.tcp());
            }
        }
    }
}
