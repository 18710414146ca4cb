//! The relay's long-lived buffers, in one struct the caller places (a
//! `static` on a microcontroller).

use core::mem::MaybeUninit;
use smoltcp::iface::SocketStorage;

/// Buffers for a [`crate::Relay`] with `N` sockets: per socket a TCP receive
/// and transmit buffer of `BUF` bytes each (the room's members sit in a
/// [`fernchat_core::room::SeatMemory`] of their own); and one [`crate::FanoutLog`] of
/// `LOG` bytes shared by all of them: a power of two that holds a whole
/// frame besides one `/leave` frame per socket (8192 up to 28 sockets).
///
/// `BUF` may be smaller than a frame: frames are streamed through. `LOG` is
/// how much may wait for the slowest reader before senders are held.
///
/// All of it starts as zeros, so a `static` of it takes no flash (`.bss`).
pub struct RelayStorage<'a, const N: usize, const BUF: usize = 2048, const LOG: usize = 16384> {
    /// Set up by `split`: an empty `SocketStorage` is not all zeros.
    sockets: MaybeUninit<[SocketStorage<'a>; N]>,
    rx: [[u8; BUF]; N],
    tx: [[u8; BUF]; N],
    log: [u8; LOG],
}

/// The parts [`RelayStorage::split`] lends out.
pub(crate) struct Parts<'a, const N: usize, const LOG: usize> {
    pub(crate) sockets: &'a mut [SocketStorage<'a>; N],
    pub(crate) buffers: [(&'a mut [u8], &'a mut [u8]); N],
    pub(crate) log: &'a mut [u8; LOG],
}

impl<'a, const N: usize, const BUF: usize, const LOG: usize> RelayStorage<'a, N, BUF, LOG> {
    /// Zeroed buffers; `const`, so it can initialise a `static`.
    pub const fn new() -> Self {
        RelayStorage {
            sockets: MaybeUninit::uninit(),
            rx: [[0; BUF]; N],
            tx: [[0; BUF]; N],
            log: [0; LOG],
        }
    }

    /// Lends the parts out for the relay's lifetime.
    pub(crate) fn split(&'a mut self) -> Parts<'a, N, LOG> {
        let mut rx = self.rx.iter_mut();
        let mut tx = self.tx.iter_mut();
        let buffers = core::array::from_fn(|_| match (rx.next(), tx.next()) {
            (Some(rx), Some(tx)) => (&mut rx[..], &mut tx[..]),
            // Both iterators yield exactly N buffers.
            _ => (&mut [][..], &mut [][..]),
        });
        Parts {
            sockets: self.sockets.write([SocketStorage::EMPTY; N]),
            buffers,
            log: &mut self.log,
        }
    }
}

impl<const N: usize, const BUF: usize, const LOG: usize> Default for RelayStorage<'_, N, BUF, LOG> {
    fn default() -> Self {
        Self::new()
    }
}
