//! The client's long-lived buffers, in one struct the caller places (a
//! `static` on a microcontroller).

use core::mem::MaybeUninit;
use smoltcp::iface::SocketStorage;
use smoltcp::socket::tcp;

/// Buffers for a [`crate::Client`]: its TCP socket's receive and transmit
/// buffers of `BUF` bytes each.
///
/// `BUF` may be much smaller than a frame: frames are streamed through
/// (sealed straight into the transmit buffer, taken from the receive buffer
/// into the session's frame buffer), at the cost of a TCP window of `BUF`
/// bytes. All of it starts as zeros, so a `static` of it takes no flash
/// (`.bss`).
pub struct ClientStorage<'a, const BUF: usize = 1024> {
    /// Set up by `split`: an empty `SocketStorage` is not all zeros.
    sockets: MaybeUninit<[SocketStorage<'a>; 1]>,
    rx: [u8; BUF],
    tx: [u8; BUF],
}

impl<'a, const BUF: usize> ClientStorage<'a, BUF> {
    /// Zeroed buffers; `const`, so it can initialise a `static`.
    pub const fn new() -> Self {
        ClientStorage {
            sockets: MaybeUninit::uninit(),
            rx: [0; BUF],
            tx: [0; BUF],
        }
    }

    /// Lends the parts out: the socket set's storage and a TCP socket over
    /// the two buffers.
    pub(crate) fn split(&'a mut self) -> (&'a mut [SocketStorage<'a>], tcp::Socket<'a>) {
        let socket = tcp::Socket::new(
            tcp::SocketBuffer::new(&mut self.rx[..]),
            tcp::SocketBuffer::new(&mut self.tx[..]),
        );
        (self.sockets.write([SocketStorage::EMPTY]), socket)
    }
}

impl<const BUF: usize> Default for ClientStorage<'_, BUF> {
    fn default() -> Self {
        Self::new()
    }
}
