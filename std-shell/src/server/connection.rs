//! One connected client as the relay sees it.

use super::outbound::Outbound;
use super::transport::Transport;
use fernchat_core::room::Member;
use std::net::SocketAddr;

/// A client's transport, the room's state for it and its outbound queue.
pub struct Connection {
    /// Its frames' way in and out (non-blocking, the socket registered
    /// for reads and writes).
    pub transport: Transport,
    /// The peer's address, for logs and the per-address limit.
    pub peer: SocketAddr,
    /// The room's state for this client; lent out (`None`) while its bytes
    /// go through the room, so that the other clients' queues can be
    /// reached meanwhile.
    pub member: Option<Box<Member>>,
    /// Frames waiting to be written to this client.
    pub outbound: Outbound,
    /// Bytes read from the socket that the room has not taken yet: the
    /// rest of a read that stopped at a held frame.
    pub unread: Vec<u8>,
    /// The socket may hold more to read than the last turn took.
    pub read_pending: bool,
    /// Already listed for a flush this turn.
    pub flush_listed: bool,
}
