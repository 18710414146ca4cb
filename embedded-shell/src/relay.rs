//! The relay server over smoltcp TCP sockets (`docs/PROTOCOL.md` section 6).
//! Every rule (admission, the verdict on each frame, back-pressure,
//! deadlines, departures and their notices) is the core [`Room`]'s; this
//! shell accepts connections, moves bytes between the sockets and the
//! [`FanoutLog`], and tells the room the time and each reader's progress.

mod storage;

pub use storage::RelayStorage;

use crate::fanout::FanoutLog;
use crate::net::NetConfig;
use crate::now::Now;
use fernchat_core::replay::ReplayStore;
use fernchat_core::room::{Departure, Fanout, FrameEvent, Member, Notice, Room, peer_ip};
use fernchat_core::tally::{Refusal, Summary};
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
    /// Serving a client: its [`Member`] is in `members`.
    Client,
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
    members: [&'a mut Option<Member>; N],
    log: FanoutLog<'a, N>,
    room: &'a mut Room<K, S>,
    port: u16,
    /// The socket served first on the next poll: each in turn.
    first: usize,
    /// The member whose held frame goes next into the log.
    next: Option<usize>,
}

impl<'a, D: Device, G: RngCore + CryptoRng, const N: usize, const K: usize, S: ReplayStore>
    Relay<'a, D, G, N, K, S>
{
    /// The most clients served at once, whatever the room's limits.
    pub const MAX_CLIENTS: usize = N - 1;

    /// A relay listening on `port`, its rules and limits those of `room`.
    pub fn new<const BUF: usize, const LOG: usize>(
        storage: &'a mut RelayStorage<'a, N, BUF, LOG>,
        room: &'a mut Room<K, S>,
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
            members: parts.members,
            log: FanoutLog::new(parts.log),
            room,
            port,
            first: 0,
            next: None,
        }
    }

    /// Clients connected now.
    pub fn clients(&self) -> usize {
        self.members.iter().filter(|m| m.is_some()).count()
    }

    /// The room: its rules, limits and members.
    pub fn room(&self) -> &Room<K, S> {
        self.room
    }

    /// Accepts and serves connections, moves and fans out frames, sees off
    /// clients past a deadline; reports what happened to `on_event`. Call
    /// it often (every few milliseconds).
    pub fn poll(&mut self, now: Now, mut on_event: impl FnMut(RelayEvent)) {
        self.iface
            .poll(now.instant, &mut self.device, &mut self.sockets);
        // Each socket is served first in turn, so that no sender always
        // gets to the room in the log before the others.
        let first = self.first;
        self.first = (first + 1) % N;
        for slot in (first..N).chain(0..first) {
            match self.slots[slot] {
                Slot::Listening => self.accept(slot, now, &mut on_event),
                Slot::Client => self.serve(slot, now, &mut on_event),
                Slot::Closing(since) => self.reopen(slot, since, now),
            }
        }
        for slot in 0..N {
            self.flush(slot, now);
        }
        for slot in 0..N {
            if let Some(member) = self.members[slot].as_mut()
                && let Some(summary) = member.refusal_summary(now.into(), false)
            {
                on_event(RelayEvent::Summary { slot, summary });
            }
            let overdue = self.members[slot]
                .as_ref()
                .and_then(|member| self.room.overdue(member, now.into()));
            if let Some(why) = overdue {
                self.see_off(slot, why, now, &mut on_event);
            }
        }
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
        let same_ip = self
            .members
            .iter()
            .filter(|m| m.as_ref().is_some_and(|m| m.ip() == ip))
            .count();
        // The spare socket must stay free to turn the next one away.
        let admitted = if self.clients() >= Self::MAX_CLIENTS {
            Err(Notice::Full)
        } else {
            self.room.admit(ip, same_ip, now.into())
        };
        match admitted {
            Ok(member) => {
                *self.members[slot] = Some(member);
                self.log.join(slot);
                self.slots[slot] = Slot::Client;
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

    /// Reads what the client on `slot` sent into the room, which forwards
    /// it through the log. While the room holds one of its frames for want
    /// of room in the log, the rest stays in the socket's receive buffer
    /// (and TCP's window closes on the client); the first member held is
    /// next in line, and no other member's frame takes the room it waits
    /// for. Sees the client off if it must go.
    fn serve(&mut self, slot: usize, now: Now, on_event: &mut impl FnMut(RelayEvent)) {
        let Relay {
            sockets,
            handles,
            members,
            log,
            room,
            next,
            ..
        } = self;
        let Some(member) = members[slot].as_mut() else {
            return;
        };
        let socket = sockets.get_mut::<tcp::Socket>(handles[slot]);
        let mut report = |event| on_event(RelayEvent::frame(slot, event));
        let mut fanout = InLine { log, next: *next };
        if member.is_held() && room.release(slot, member, &mut fanout, &mut report) {
            fanout.next = None;
        }
        let mut departure = None;
        while departure.is_none() && !member.is_held() && socket.can_recv() {
            let read = socket.recv(|data| {
                let step = room.receive(slot, member, data, now.into(), &mut fanout, &mut report);
                (step.consumed, step)
            });
            let Ok(step) = read else {
                break;
            };
            departure = step.departure;
            if step.consumed == 0 {
                break;
            }
        }
        if departure.is_none() && !member.is_held() {
            // A token an unframed client left without line feed.
            departure = room.pause(slot, member, now.into(), &mut fanout, &mut report);
        }
        *next = match fanout.next {
            None if member.is_held() => Some(slot),
            next => next,
        };
        let departure = departure.or_else(|| match socket.state() {
            // Closed its side, and everything it sent has been read.
            tcp::State::CloseWait if !socket.can_recv() && !member.is_held() => {
                Some(Departure::Closed)
            }
            tcp::State::Closed | tcp::State::TimeWait => Some(Departure::Reset),
            _ => None,
        });
        if let Some(why) = departure {
            self.see_off(slot, why, now, on_event);
        }
    }

    /// Closes the client on `slot`, with the notice its departure calls
    /// for: after the rest of the frame it is in the middle of, if that
    /// fits its transmit buffer, and if the notice then fits too. Tells the
    /// room, which frees the place and (keyed mode) says `/leave` for it.
    fn see_off(
        &mut self,
        slot: usize,
        why: Departure,
        now: Now,
        on_event: &mut impl FnMut(RelayEvent),
    ) {
        let socket = self.sockets.get_mut::<tcp::Socket>(self.handles[slot]);
        match why.notice() {
            Some(notice) => {
                while self.log.is_mid_frame(slot) {
                    match socket.send_slice(self.log.pending(slot)) {
                        Ok(n) if n > 0 => self.log.consume(slot, n),
                        _ => break,
                    }
                }
                let free = socket.send_capacity() - socket.send_queue();
                if !self.log.is_mid_frame(slot) && free >= notice.line().len() {
                    let _ = socket.send_slice(notice.line());
                }
                socket.close();
            }
            None if why == Departure::Closed => socket.close(),
            None => socket.abort(),
        }
        self.log.leave(slot);
        if self.next == Some(slot) {
            self.next = None;
        }
        self.slots[slot] = Slot::Closing(millis(now));
        if let Some(member) = self.members[slot].as_mut() {
            if let Some(summary) = member.refusal_summary(now.into(), true) {
                on_event(RelayEvent::Summary { slot, summary });
            }
            let _ = self
                .room
                .depart(slot, member, now.into(), &mut self.rng, &mut self.log);
        }
        *self.members[slot] = None;
        on_event(RelayEvent::Left { slot, why });
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

    /// Copies what the log holds for the client on `slot` into its socket,
    /// and tells its member how that went: progress, or frames waiting.
    fn flush(&mut self, slot: usize, now: Now) {
        let Some(member) = self.members[slot].as_mut() else {
            return;
        };
        let socket = self.sockets.get_mut::<tcp::Socket>(self.handles[slot]);
        let mut sent = 0;
        while socket.can_send() {
            match socket.send_slice(self.log.pending(slot)) {
                Ok(n) if n > 0 => {
                    self.log.consume(slot, n);
                    sent += n;
                }
                _ => break,
            }
        }
        let backlog = self.log.backlog(slot);
        if sent > 0 {
            member.took(backlog, millis(now));
        } else if backlog > 0 {
            member.queued(millis(now));
        }
    }
}

/// The log as the room sees it while member `next` has a frame held: no
/// other member's frame takes the room that one waits for.
struct InLine<'l, 'a, const N: usize> {
    log: &'l mut FanoutLog<'a, N>,
    next: Option<usize>,
}

impl<const N: usize> Fanout for InLine<'_, '_, N> {
    fn has_room(&self, from: usize, len: usize) -> bool {
        self.next.is_none_or(|next| next == from) && self.log.has_room(from, len)
    }

    fn push(&mut self, from: Option<usize>, frame: &[u8]) {
        self.log.push(from, frame);
    }
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
