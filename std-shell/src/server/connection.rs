//! One connected client as the relay sees it.

use super::outbound::Outbound;
use super::transport::Transport;
use std::net::SocketAddr;

/// A client's transport and its outbound queue; the room keeps its member.
pub struct Connection {
    /// Its frames' way in and out (non-blocking, the socket registered
    /// for reads and writes).
    pub transport: Transport,
    /// The peer's address, for logs and the per-address limit.
    pub peer: SocketAddr,
    /// Frames waiting to be written to this client.
    pub outbound: Outbound,
    /// Bytes read from the socket that the room has not taken yet: the
    /// rest of a read that stopped at a held frame.
    pub unread: Vec<u8>,
    /// Listed to be read: the socket may hold more than the last turn took.
    pub read_pending: bool,
    /// Already listed for a flush this turn.
    pub flush_listed: bool,
}
