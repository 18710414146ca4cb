//! One connected client as the relay sees it.

use super::outbound::Outbound;
use fernchat_core::relay::Inbound;
use mio::net::TcpStream;
use std::net::SocketAddr;

/// A client's socket, its inbound frame state and its outbound queue.
pub struct Connection {
    /// The socket (non-blocking, registered for reads and writes).
    pub stream: TcpStream,
    /// The peer's address, for logs.
    pub peer: SocketAddr,
    /// The core's per-connection relay state.
    pub inbound: Inbound,
    /// Frames waiting to be written to this client.
    pub outbound: Outbound,
    /// The socket may hold more to read than the last turn took.
    pub read_pending: bool,
    /// Already listed for a flush this turn.
    pub flush_listed: bool,
}
