//! The relay's long-lived buffers, in one struct the caller places (a
//! `static` on a microcontroller).

use core::mem::MaybeUninit;
use fernchat_core::room::Member;
use smoltcp::iface::SocketStorage;

/// Buffers for a [`crate::Relay`] with `N` sockets: per socket a TCP receive
/// and transmit buffer of `BUF` bytes each and a place for the core's
/// [`Member`] (its 4096-byte frame buffer); and one [`crate::FanoutLog`] of
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
    /// Set up by `split`, one by one: `None` is not all zeros either, and
    /// an array of them would be copied in from flash.
    members: [MaybeUninit<Option<Member>>; N],
    rx: [[u8; BUF]; N],
    tx: [[u8; BUF]; N],
    log: [u8; LOG],
}

/// The parts [`RelayStorage::split`] lends out.
pub(crate) struct Parts<'a, const N: usize, const LOG: usize> {
    pub(crate) sockets: &'a mut [SocketStorage<'a>; N],
    pub(crate) buffers: [(&'a mut [u8], &'a mut [u8]); N],
    pub(crate) members: [&'a mut Option<Member>; N],
    pub(crate) log: &'a mut [u8; LOG],
}

impl<'a, const N: usize, const BUF: usize, const LOG: usize> RelayStorage<'a, N, BUF, LOG> {
    /// Zeroed buffers; `const`, so it can initialise a `static`.
    pub const fn new() -> Self {
        RelayStorage {
            sockets: MaybeUninit::uninit(),
            members: [const { MaybeUninit::uninit() }; N],
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
            members: self.members.each_mut().map(|member| member.write(None)),
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
