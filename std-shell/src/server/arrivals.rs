//! Connections on their way into the room: each handshake (TLS, HTTP and
//! the WebSocket upgrade) is moved on as its socket allows, bounded in
//! number and in time, and ends in the room or closed.

use super::HANDSHAKES;
use super::handshake::{Handshake, Port, Progress};
use super::transport::Transport;
use super::trusted_proxy::TrustedProxies;
use fernchat_core::room::{Limits, Notice};
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};
use slab::Slab;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Handshakes allowed at once, in all and from one address, whatever the
/// room's limits: a browser fetches a page's files over up to 6
/// connections at once.
const HANDSHAKE_FLOOR: usize = 8;

/// What a finished handshake comes to, for the loop to act on.
pub enum Arrived {
    /// Ready for the room, its socket registered under its handshake's token.
    Ready {
        /// The connection.
        transport: Transport,
        /// The client's address (from a trusted proxy's header, if any).
        peer: SocketAddr,
    },
    /// To close after sending `last` (a notice or an HTTP reply).
    Close {
        /// The connection, deregistered.
        transport: Transport,
        /// What to send before closing.
        last: Vec<u8>,
        /// The notice `last` holds, if any.
        notice: Option<Notice>,
    },
}

/// The handshakes under way, and what they need.
pub struct Arrivals {
    handshakes: Slab<Handshake>,
    /// TLS on both ports (`--tls-cert`), if any.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Proxies whose headers say who their clients are.
    pub trusted_proxies: TrustedProxies,
    /// How long a handshake may take (the hello timeout).
    hello_timeout: Duration,
}

impl Arrivals {
    /// No handshake yet.
    pub fn new(
        tls: Option<Arc<rustls::ServerConfig>>,
        trusted_proxies: TrustedProxies,
        hello_timeout: Duration,
    ) -> Arrivals {
        Arrivals {
            handshakes: Slab::new(),
            tls,
            trusted_proxies,
            hello_timeout,
        }
    }

    /// True with no handshake under way.
    pub fn is_empty(&self) -> bool {
        self.handshakes.is_empty()
    }

    /// Starts the handshake of a connection accepted on `port`; beyond as
    /// many handshakes as the room has slots (or, from one address, as the
    /// per-address limit), [`HANDSHAKE_FLOOR`] at least, the newest is
    /// closed at once. A trusted proxy carries many clients: only the
    /// limit in all holds for it.
    pub fn start(
        &mut self,
        registry: &Registry,
        limits: &Limits,
        mut tcp: TcpStream,
        peer: SocketAddr,
        port: Port,
    ) -> Option<Arrived> {
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
            return None;
        }
        let id = self.handshakes.vacant_entry().key();
        let interest = Interest::READABLE | Interest::WRITABLE;
        if let Err(e) = registry.register(&mut tcp, Token(HANDSHAKES + id), interest) {
            tracing::warn!("{peer} dropped: cannot register: {e}");
            return None;
        }
        self.handshakes.insert(Handshake::new(
            tcp,
            peer,
            port,
            self.tls.clone(),
            from_proxy,
        ));
        self.advance(registry, id)
    }

    /// Moves handshake `id` on: what it came to, once it is finished.
    pub fn advance(&mut self, registry: &Registry, id: usize) -> Option<Arrived> {
        let progress = self.handshakes.get_mut(id)?.advance();
        if matches!(progress, Progress::Waiting) {
            return None;
        }
        let handshake = self.handshakes.remove(id);
        let peer = handshake.peer;
        let mut transport = handshake.into_transport()?;
        match progress {
            Progress::Waiting => None,
            Progress::Ready => Some(Arrived::Ready { transport, peer }),
            Progress::Close { last, notice } => {
                let _ = registry.deregister(transport.tcp());
                Some(Arrived::Close {
                    transport,
                    last,
                    notice,
                })
            }
            Progress::Failed(e) => {
                tracing::info!("{peer} handshake failed: {e}");
                let _ = registry.deregister(transport.tcp());
                None
            }
        }
    }

    /// Closes the handshakes older than the hello timeout.
    pub fn expire(&mut self, registry: &Registry) {
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
                let _ = registry.deregister(transport.tcp());
            }
        }
    }
}
