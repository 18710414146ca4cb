//! The relay server over smoltcp TCP sockets (`docs/PROTOCOL.md` section 6). What to
//! forward, reject or disconnect is the core [`RelayPolicy`]'s decision;
//! this shell accepts connections, moves bytes and fans frames out.

mod storage;

pub use storage::RelayStorage;

use crate::fanout::FanoutLog;
use crate::net::NetConfig;
use crate::now::Now;
use fernchat_core::relay::{Inbound, MAX_LEAVE_FRAME, RejectReason, RelayPolicy, Verdict};
use rand_core::{CryptoRng, RngCore};
use smoltcp::iface::{Interface, SocketHandle, SocketSet};
use smoltcp::phy::Device;
use smoltcp::socket::tcp;
use smoltcp::time::Duration;
use smoltcp::wire::IpEndpoint;

/// Why a client's connection ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Departure {
    /// The client closed its side.
    Closed,
    /// The connection was reset or timed out.
    Reset,
    /// It sent too many invalid frames in a row; the last one's reason.
    TooManyInvalid(RejectReason),
    /// It did not read: it fell a whole [`crate::FanoutLog`] behind.
    NotReading,
}

impl core::fmt::Display for Departure {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Departure::Closed => f.write_str("closed"),
            Departure::Reset => f.write_str("reset or timed out"),
            Departure::TooManyInvalid(reason) => write!(f, "too many invalid frames ({reason})"),
            Departure::NotReading => f.write_str("not reading"),
        }
    }
}

/// What happened during a [`Relay::poll`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RelayEvent {
    /// A client connected on socket `slot`.
    Joined {
        /// The socket's index.
        slot: usize,
        /// The client's address.
        peer: Option<IpEndpoint>,
    },
    /// A connection past the client limit was accepted and closed.
    Refused {
        /// The refused client's address.
        peer: Option<IpEndpoint>,
    },
    /// A frame from `slot` was queued to every other client.
    Forwarded {
        /// The sender's socket.
        slot: usize,
        /// The frame's length in bytes, line feed included.
        len: usize,
    },
    /// A frame from `slot` was dropped.
    Rejected {
        /// The sender's socket.
        slot: usize,
        /// Why.
        reason: RejectReason,
    },
    /// The client on `slot` is gone (keyed mode: its `/leave` is sent for it).
    Left {
        /// The socket's index.
        slot: usize,
        /// Why it left.
        why: Departure,
    },
}

/// What a socket is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    /// Waiting for a connection.
    Listening,
    /// Serving a client.
    Client,
    /// Closing: a refused connection or a departed client.
    Closing,
}

/// A fernchat relay with `N` TCP sockets on one port, over any smoltcp
/// [`Device`], with IVs (keyed mode's `/leave` frames) from a cryptographic RNG.
///
/// It serves up to `N - 1` clients: one socket always listens, so that a
/// connection past the limit is accepted and closed at once (`docs/PROTOCOL.md`
/// section 6) rather than refused with a reset.
pub struct Relay<
    'a,
    D: Device,
    G: RngCore + CryptoRng,
    const N: usize,
    const K: usize,
    const R: usize,
> {
    device: D,
    rng: G,
    iface: Interface,
    sockets: SocketSet<'a>,
    handles: [SocketHandle; N],
    slots: [Slot; N],
    inbound: &'a mut [Inbound; N],
    log: FanoutLog<'a, N>,
    policy: &'a mut RelayPolicy<K, R>,
    port: u16,
}

impl<'a, D: Device, G: RngCore + CryptoRng, const N: usize, const K: usize, const R: usize>
    Relay<'a, D, G, N, K, R>
{
    /// The most clients served at once.
    pub const MAX_CLIENTS: usize = N - 1;

    /// A relay listening on `port`, deciding with `policy` (blind or keyed).
    pub fn new<const BUF: usize, const LOG: usize>(
        storage: &'a mut RelayStorage<'a, N, BUF, LOG>,
        policy: &'a mut RelayPolicy<K, R>,
        mut device: D,
        mut rng: G,
        net: &NetConfig,
        port: u16,
        now: Now,
    ) -> Self {
        const { assert!(N >= 2, "a relay needs a spare socket besides its clients") };
        let iface = net.interface(&mut device, rng.next_u64(), now.instant);
        let parts = storage.split();
        let mut sockets = SocketSet::new(&mut parts.sockets[..]);
        let mut buffers = parts.buffers.into_iter();
        let handles = core::array::from_fn(|_| {
            let (rx, tx) = buffers.next().unwrap_or((&mut [], &mut []));
            let mut socket =
                tcp::Socket::new(tcp::SocketBuffer::new(rx), tcp::SocketBuffer::new(tx));
            listen(&mut socket, port);
            sockets.add(socket)
        });
        Relay {
            device,
            rng,
            iface,
            sockets,
            handles,
            slots: [Slot::Listening; N],
            inbound: parts.inbound,
            log: FanoutLog::new(parts.log),
            policy,
            port,
        }
    }

    /// Clients connected now.
    pub fn clients(&self) -> usize {
        self.slots.iter().filter(|&&s| s == Slot::Client).count()
    }

    /// Accepts and serves connections, moves and fans out frames; reports
    /// what happened to `on_event`. Call it often (every few milliseconds).
    pub fn poll(&mut self, now: Now, mut on_event: impl FnMut(RelayEvent)) {
        self.iface
            .poll(now.instant, &mut self.device, &mut self.sockets);
        for slot in 0..N {
            match self.slots[slot] {
                Slot::Listening => self.accept(slot, &mut on_event),
                Slot::Client => self.serve(slot, now, &mut on_event),
                Slot::Closing => self.reopen(slot),
            }
        }
        for slot in 0..N {
            self.flush(slot);
        }
        self.iface
            .poll(now.instant, &mut self.device, &mut self.sockets);
    }

    /// Takes a new connection on `slot` as a client, or closes it when full.
    fn accept(&mut self, slot: usize, on_event: &mut impl FnMut(RelayEvent)) {
        let full = self.clients() >= Self::MAX_CLIENTS;
        let socket = self.sockets.get_mut::<tcp::Socket>(self.handles[slot]);
        let peer = socket.remote_endpoint();
        match socket.state() {
            tcp::State::Closed => listen(socket, self.port),
            tcp::State::Established | tcp::State::CloseWait if full => {
                socket.close();
                self.slots[slot] = Slot::Closing;
                on_event(RelayEvent::Refused { peer });
            }
            tcp::State::Established | tcp::State::CloseWait => {
                self.inbound[slot] = Inbound::new();
                self.log.join(slot);
                self.slots[slot] = Slot::Client;
                on_event(RelayEvent::Joined { slot, peer });
            }
            _ => {}
        }
    }

    /// Reads what the client on `slot` sent, through the policy into the
    /// log; sees it off if it must go.
    fn serve(&mut self, slot: usize, now: Now, on_event: &mut impl FnMut(RelayEvent)) {
        let socket = self.sockets.get_mut::<tcp::Socket>(self.handles[slot]);
        let (policy, inbound, log) = (&mut *self.policy, &mut self.inbound[slot], &mut self.log);
        let mut departure = None;
        while departure.is_none() && socket.can_recv() {
            let read = socket.recv(|data| {
                let mut used = 0;
                while used < data.len() {
                    let step = policy.receive(inbound, &data[used..], now.unix);
                    used += step.consumed;
                    match step.verdict {
                        None => break,
                        Some(Verdict::Forward(frame)) => {
                            log.append(Some(slot), frame);
                            on_event(RelayEvent::Forwarded {
                                slot,
                                len: frame.len(),
                            });
                        }
                        Some(Verdict::Reject(reason)) => {
                            on_event(RelayEvent::Rejected { slot, reason })
                        }
                        Some(Verdict::Disconnect(reason)) => {
                            departure = Some(Departure::TooManyInvalid(reason));
                            break;
                        }
                    }
                }
                (used, ())
            });
            if read.is_err() {
                break;
            }
        }
        let departure = departure.or_else(|| match socket.state() {
            _ if log.is_overrun(slot) => Some(Departure::NotReading),
            tcp::State::CloseWait if !socket.can_recv() => Some(Departure::Closed),
            tcp::State::Closed | tcp::State::TimeWait => Some(Departure::Reset),
            _ => None,
        });
        if let Some(why) = departure {
            if why == Departure::Closed {
                socket.close();
            } else {
                socket.abort();
            }
            self.depart(slot, why, now, on_event);
        }
    }

    /// Forgets the client on `slot`; in keyed mode, says `/leave` for it.
    fn depart(
        &mut self,
        slot: usize,
        why: Departure,
        now: Now,
        on_event: &mut impl FnMut(RelayEvent),
    ) {
        self.log.leave(slot);
        self.slots[slot] = Slot::Closing;
        let mut out = [0u8; MAX_LEAVE_FRAME];
        if let Some(frame) =
            self.policy
                .leave_on_behalf(&self.inbound[slot], now.unix, &mut self.rng, &mut out)
        {
            self.log.append(None, frame);
        }
        on_event(RelayEvent::Left { slot, why });
    }

    /// Listens again on `slot` once its old connection is done with.
    fn reopen(&mut self, slot: usize) {
        let socket = self.sockets.get_mut::<tcp::Socket>(self.handles[slot]);
        let done = match socket.state() {
            tcp::State::Closed | tcp::State::TimeWait => true,
            // Our FIN was acknowledged; the peer has seen the close.
            tcp::State::FinWait2 => true,
            _ => false,
        };
        if done {
            socket.abort();
            listen(socket, self.port);
            self.slots[slot] = Slot::Listening;
        }
    }

    /// Copies what the log holds for the client on `slot` into its socket.
    fn flush(&mut self, slot: usize) {
        if self.slots[slot] != Slot::Client {
            return;
        }
        let socket = self.sockets.get_mut::<tcp::Socket>(self.handles[slot]);
        while socket.can_send() {
            let chunk = self.log.pending(slot);
            match socket.send_slice(chunk) {
                Ok(n) if n > 0 => self.log.consume(slot, n),
                _ => break,
            }
        }
    }
}

/// Puts `socket` in the listening state on `port`, with the timers a relay wants.
fn listen(socket: &mut tcp::Socket<'_>, port: u16) {
    socket.set_nagle_enabled(false);
    socket.set_keep_alive(Some(Duration::from_secs(20)));
    socket.set_timeout(Some(Duration::from_secs(60)));
    // Only fails for port 0 or a socket that is not closed; ours is closed.
    let _ = socket.listen(port);
}
