//! The relay server over smoltcp TCP sockets (`docs/PROTOCOL.md` section 6).
//! Every rule (admission, the verdict on each frame, back-pressure,
//! deadlines, departures and their notices) is the core [`Room`]'s; this
//! shell accepts connections, moves bytes between the sockets and the
//! [`FanoutLog`], tells the room the time and each reader's progress, and
//! closes the sockets of the members the room says have left.

mod storage;

pub use storage::RelayStorage;

use crate::fanout::FanoutLog;
use crate::net::NetConfig;
use crate::now::Now;
use fernchat_core::replay::ReplayStore;
use fernchat_core::room::{Departure, Event, FrameEvent, Member, MemberId, Notice, Room, peer_ip};
use fernchat_core::tally::{Refusal, Summary};

/// The room a relay with `N` sockets drives: its members in `N` seats lent
/// for the relay's lifetime ([`fernchat_core::room::SeatMemory`]).
pub type RelayRoom<'a, const N: usize, const K: usize, S> = Room<K, S, [&'a mut Option<Member>; N]>;
use rand_core::{CryptoRng, RngCore};
use smoltcp::iface::{Interface, SocketHandle, SocketSet};
use smoltcp::phy::Device;
use smoltcp::socket::tcp;
use smoltcp::time::Duration;
use smoltcp::wire::IpEndpoint;

/// How long a connection the relay closed may take to finish closing before
/// its socket is reset and listens again.
const LINGER_MS: u64 = 2_000;

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
    /// A connection was turned away: told `notice` and closed.
    Refused {
        /// The refused client's address.
        peer: Option<IpEndpoint>,
        /// What it was told.
        notice: Notice,
    },
    /// A frame from `slot` was queued to every other client.
    Forwarded {
        /// The sender's socket.
        slot: usize,
        /// The frame's length in bytes, line feed included.
        len: usize,
    },
    /// A frame from `slot` was dropped.
    Dropped {
        /// The sender's socket.
        slot: usize,
        /// Why.
        refusal: Refusal,
        /// The first of its kind from this client: worth a line now; the
        /// rest come as a [`RelayEvent::Summary`].
        first: bool,
    },
    /// The frames dropped from `slot` since its last summary: one every
    /// few seconds while it sends bad frames, and one when it leaves.
    Summary {
        /// The sender's socket.
        slot: usize,
        /// The counts by reason.
        summary: Summary,
    },
    /// The client on `slot` is gone, told why if the relay closed it
    /// ([`Departure::notice`]); in keyed mode its `/leave` is sent for it.
    Left {
        /// The socket's index.
        slot: usize,
        /// Why it left.
        why: Departure,
    },
}

impl RelayEvent {
    /// The event for what became of a frame from `slot`.
    fn frame(slot: usize, event: FrameEvent) -> RelayEvent {
        match event {
            FrameEvent::Forwarded { len } => RelayEvent::Forwarded { slot, len },
            FrameEvent::Refused { refusal, first } => RelayEvent::Dropped {
                slot,
                refusal,
                first,
            },
        }
    }
}

/// What a socket is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    /// Waiting for a connection.
    Listening,
    /// Serving the room's member `id`.
    Client(MemberId),
    /// Closing, since the given millisecond: a refused connection or a
    /// departed client.
    Closing(u64),
}

/// A fernchat relay with `N` TCP sockets on one port, over any smoltcp
/// [`Device`], driving a [`Room`], with IVs (keyed mode's `/leave` frames)
/// from a cryptographic RNG.
///
/// It serves up to `N - 1` clients (fewer if the room's limits say so): one
/// socket always listens, so that a connection past the limit is accepted,
/// told `!full` and closed (`docs/PROTOCOL.md` section 6) rather than
/// refused with a reset.
pub struct Relay<
    'a,
    D: Device,
    G: RngCore + CryptoRng,
    const N: usize,
    const K: usize,
    S: ReplayStore,
> {
    device: D,
    rng: G,
    iface: Interface,
    sockets: SocketSet<'a>,
    handles: [SocketHandle; N],
    slots: [Slot; N],
    log: FanoutLog<'a, N>,
    room: &'a mut RelayRoom<'a, N, K, S>,
    port: u16,
    /// The socket served first on the next poll: each in turn.
    first: usize,
}

impl<'a, D: Device, G: RngCore + CryptoRng, const N: usize, const K: usize, S: ReplayStore>
    Relay<'a, D, G, N, K, S>
{
    /// The most clients served at once, whatever the room's limits.
    pub const MAX_CLIENTS: usize = N - 1;

    /// A relay listening on `port`, its rules, limits and members those of
    /// `room`.
    pub fn new<const BUF: usize, const LOG: usize>(
        storage: &'a mut RelayStorage<'a, N, BUF, LOG>,
        room: &'a mut RelayRoom<'a, N, K, S>,
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
            add_listener(&mut sockets, rx, tx, port)
        });
        Relay {
            device,
            rng,
            iface,
            sockets,
            handles,
            slots: [Slot::Listening; N],
            log: FanoutLog::new(parts.log),
            room,
            port,
            first: 0,
        }
    }

    /// Clients connected now.
    pub fn clients(&self) -> usize {
        self.room.members()
    }

    /// The room: its rules, limits and members.
    pub fn room(&self) -> &RelayRoom<'a, N, K, S> {
        self.room
    }

    /// Accepts and serves connections, moves and fans out frames, lets the
    /// room do what is due and sees off those it says have left; reports
    /// what happened to `on_event`. Call it often (every few milliseconds).
    pub fn poll(&mut self, now: Now, mut on_event: impl FnMut(RelayEvent)) {
        self.iface
            .poll(now.instant, &mut self.device, &mut self.sockets);
        {
            let Relay {
                room, log, slots, ..
            } = self;
            room.release(log, |id, event| {
                on_event(RelayEvent::frame(slot_of(slots, id), event));
            });
        }
        // Each socket is served first in turn, so that no sender always
        // gets to the room in the log before the others.
        let first = self.first;
        self.first = (first + 1) % N;
        for slot in (first..N).chain(0..first) {
            match self.slots[slot] {
                Slot::Listening => self.accept(slot, now, &mut on_event),
                Slot::Client(id) => self.serve(slot, id, now, &mut on_event),
                Slot::Closing(since) => self.reopen(slot, since, now),
            }
        }
        for slot in 0..N {
            if let Slot::Client(id) = self.slots[slot] {
                self.flush(slot, id, now);
            }
        }
        {
            let Relay {
                room, log, slots, ..
            } = self;
            room.handle_timeout(now.into(), log, |id, event| {
                on_event(RelayEvent::frame(slot_of(slots, id), event));
            });
        }
        self.take_events(now, &mut on_event);
        self.iface
            .poll(now.instant, &mut self.device, &mut self.sockets);
    }

    /// Takes a new connection on `slot` into the room, or tells it why not
    /// and closes it.
    fn accept(&mut self, slot: usize, now: Now, on_event: &mut impl FnMut(RelayEvent)) {
        let socket = self.sockets.get_mut::<tcp::Socket>(self.handles[slot]);
        match socket.state() {
            tcp::State::Established | tcp::State::CloseWait => {}
            tcp::State::Closed => return listen(socket, self.port),
            _ => return,
        }
        let peer = socket.remote_endpoint();
        let ip = peer.map_or([0; 16], |peer| peer_ip(peer.addr.into()));
        // The spare socket must stay free to turn the next one away.
        let admitted = if self.clients() >= Self::MAX_CLIENTS {
            Err(Notice::Full)
        } else {
            self.room.admit(ip, now.into())
        };
        match admitted {
            Ok(id) => {
                self.log.join(id.index());
                self.slots[slot] = Slot::Client(id);
                on_event(RelayEvent::Joined { slot, peer });
            }
            Err(notice) => {
                let socket = self.sockets.get_mut::<tcp::Socket>(self.handles[slot]);
                // A new socket's transmit buffer holds the line; the FIN follows it.
                let _ = socket.send_slice(notice.line());
                socket.close();
                self.slots[slot] = Slot::Closing(millis(now));
                on_event(RelayEvent::Refused { peer, notice });
            }
        }
    }

    /// Reads what member `id` on `slot` sent into the room, which forwards
    /// it through the log. While the room holds one of its frames for want
    /// of room in the log, the rest stays in the socket's receive buffer
    /// (and TCP's window closes on the client). Tells the room when the
    /// connection has ended.
    fn serve(
        &mut self,
        slot: usize,
        id: MemberId,
        now: Now,
        on_event: &mut impl FnMut(RelayEvent),
    ) {
        let Relay {
            sockets,
            handles,
            log,
            room,
            ..
        } = self;
        let socket = sockets.get_mut::<tcp::Socket>(handles[slot]);
        let mut report = |_, event| on_event(RelayEvent::frame(slot, event));
        let takes_input = |room: &RelayRoom<'a, N, K, S>| {
            room.member(id)
                .is_some_and(|m| !m.is_held() && m.leaving().is_none())
        };
        while takes_input(room) && socket.can_recv() {
            let read = socket.recv(|data| {
                let step = room.receive(id, data, now.into(), log, &mut report);
                (step.consumed, step.consumed)
            });
            if read.is_err() || read == Ok(0) {
                break;
            }
        }
        if !takes_input(room) {
            return;
        }
        let ended = match socket.state() {
            // Closed its side, and everything it sent has been read.
            tcp::State::CloseWait if !socket.can_recv() => Some(Departure::Closed),
            tcp::State::Closed | tcp::State::TimeWait => Some(Departure::Reset),
            _ => None,
        };
        if let Some(why) = ended {
            room.leave(id, why);
        }
    }

    /// Acts on what the room has to tell: closes the sockets of members
    /// that left, and reports summaries and departures.
    fn take_events(&mut self, now: Now, on_event: &mut impl FnMut(RelayEvent)) {
        while let Some(event) = self
            .room
            .poll_event(now.into(), &mut self.rng, &mut self.log)
        {
            match event {
                Event::Left {
                    id, why, summary, ..
                } => {
                    let slot = slot_of(&self.slots, id);
                    if let Some(summary) = summary {
                        on_event(RelayEvent::Summary { slot, summary });
                    }
                    self.see_off(slot, id, why, now);
                    on_event(RelayEvent::Left { slot, why });
                }
                Event::Summary { id, summary } => {
                    let slot = slot_of(&self.slots, id);
                    on_event(RelayEvent::Summary { slot, summary });
                }
                // A released member is read on its socket's next turn.
                Event::Released { .. } | Event::Unframed { .. } => {}
            }
        }
    }

    /// Closes the socket on `slot` of member `id`, who left: with the notice
    /// its departure calls for, after the rest of the frame it is in the
    /// middle of, if that fits its transmit buffer, and if the notice then
    /// fits too.
    fn see_off(&mut self, slot: usize, id: MemberId, why: Departure, now: Now) {
        let Some(handle) = self.handles.get(slot) else {
            self.log.leave(id.index());
            return;
        };
        let socket = self.sockets.get_mut::<tcp::Socket>(*handle);
        match why.notice() {
            Some(notice) => {
                let reader = id.index();
                while self.log.is_mid_frame(reader) {
                    match socket.send_slice(self.log.pending(reader)) {
                        Ok(n) if n > 0 => self.log.consume(reader, n),
                        _ => break,
                    }
                }
                let free = socket.send_capacity() - socket.send_queue();
                if !self.log.is_mid_frame(reader) && free >= notice.line().len() {
                    let _ = socket.send_slice(notice.line());
                }
                socket.close();
            }
            None if why == Departure::Closed => socket.close(),
            None => socket.abort(),
        }
        self.log.leave(id.index());
        self.slots[slot] = Slot::Closing(millis(now));
    }

    /// Listens again on `slot` once its old connection is done with, or
    /// has lingered long enough.
    fn reopen(&mut self, slot: usize, since: u64, now: Now) {
        let socket = self.sockets.get_mut::<tcp::Socket>(self.handles[slot]);
        let done = match socket.state() {
            tcp::State::Closed | tcp::State::TimeWait => true,
            // Our FIN was acknowledged: the peer has everything we sent.
            tcp::State::FinWait2 => true,
            _ => millis(now).saturating_sub(since) >= LINGER_MS,
        };
        if done {
            socket.abort();
            listen(socket, self.port);
            self.slots[slot] = Slot::Listening;
        }
    }

    /// Copies what the log holds for member `id` into its socket on `slot`,
    /// and tells the room how that went: progress, or frames waiting.
    fn flush(&mut self, slot: usize, id: MemberId, now: Now) {
        let socket = self.sockets.get_mut::<tcp::Socket>(self.handles[slot]);
        let reader = id.index();
        let mut sent = 0;
        while socket.can_send() {
            match socket.send_slice(self.log.pending(reader)) {
                Ok(n) if n > 0 => {
                    self.log.consume(reader, n);
                    sent += n;
                }
                _ => break,
            }
        }
        let backlog = self.log.backlog(reader);
        if sent > 0 {
            self.room.took(id, backlog, millis(now));
        } else if backlog > 0 {
            self.room.queued(id, millis(now));
        }
    }
}

/// The socket serving member `id` (`N`, past every socket, if none does).
fn slot_of<const N: usize>(slots: &[Slot; N], id: MemberId) -> usize {
    slots
        .iter()
        .position(|slot| *slot == Slot::Client(id))
        .unwrap_or(N)
}

/// The room's monotonic milliseconds.
fn millis(now: Now) -> u64 {
    fernchat_core::room::Now::from(now).millis
}
/// Adds a socket over `rx` and `tx` to `sockets`, listening on `port`. Out
/// of line, so that each socket is built in this one small frame instead
/// of the relay's constructor keeping a place on the stack for all of them.
#[inline(never)]
fn add_listener<'a>(
    sockets: &mut SocketSet<'a>,
    rx: &'a mut [u8],
    tx: &'a mut [u8],
    port: u16,
) -> SocketHandle {
    let mut socket = tcp::Socket::new(tcp::SocketBuffer::new(rx), tcp::SocketBuffer::new(tx));
    listen(&mut socket, port);
    sockets.add(socket)
}

/// Puts `socket` in the listening state on `port`, with the timers a relay wants.
fn listen(socket: &mut tcp::Socket<'_>, port: u16) {
    socket.set_nagle_enabled(false);
    socket.set_keep_alive(Some(Duration::from_secs(20)));
    socket.set_timeout(Some(Duration::from_secs(60)));
    // Only fails for port 0 or a socket that is not closed; ours is closed.
    let _ = socket.listen(port);
}
