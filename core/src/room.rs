//! The relay engine (`docs/PROTOCOL.md` section 6): one [`Room`] owns its
//! members, their deadlines and the verdict on every frame, sans-IO in
//! the manner of quinn-proto's `Connection`. Both relays (std sockets on
//! mio, smoltcp on a board) drive this one type; they move bytes, report
//! time and progress, and act on its events.
//!
//! A shell lends the room its storage ([`Seats`], as a
//! [`crate::replay::ReplayStore`] is lent) and, for each call, its
//! fan-out (how frames reach the other members, [`Fanout`]). The calls:
//!
//! - [`Room::admit`] a connection: a [`MemberId`], or the notice that
//!   turns it away; [`Room::receive`] its bytes (or
//!   [`Room::receive_message`] a carrier's message, one token);
//! - [`Room::queued`] and [`Room::took`] as its transport makes progress,
//!   [`Room::leave`] when its connection ends;
//! - [`Room::release`] when queues may have room again, and
//!   [`Room::handle_timeout`] once [`Room::poll_timeout`] has come;
//! - then [`Room::poll_event`] until it gives `None`: who left (close
//!   them), who was released (read them again), summaries to log.
//!
//! The room never drops a member for falling behind in a buffer: a frame
//! that cannot be queued for everyone is *held*, its sender is not read
//! until it goes, and the first sender held is next in line: no other
//! frame takes the room it waits for. A member that takes nothing for
//! [`Limits::slow_timeout_ms`] while frames wait for it is the one that
//! leaves.

mod event;
mod line;
mod member;
mod notice;
mod seats;

pub use event::Event;
pub use member::Member;
pub use notice::{Departure, Notice};
pub use seats::{MemberId, SeatMemory, Seats};

use crate::fernet::DEFAULT_MAX_KEYS;
use crate::frame::Framing;
use crate::relay::{MAX_LEAVE_FRAME, RejectReason, RelayPolicy, RelayReplay, Verdict};
use crate::replay::ReplayStore;
use crate::tally::Refusal;
use line::{Line, Link};
use member::News;
use rand_core::CryptoRng;

/// A peer's address as the room counts it for `--max-per-ip`: an IPv4
/// address in its IPv4-mapped IPv6 form, or an IPv6 address's /64 (the
/// rest zero), since one host is routinely given a whole /64. Made by
/// [`peer_ip`].
pub type PeerIp = [u8; 16];

/// The [`PeerIp`] that `ip` counts under: IPv4 (and IPv4-mapped IPv6) as
/// the one address, IPv6 by its /64.
pub fn peer_ip(ip: core::net::IpAddr) -> PeerIp {
    let v6 = match ip {
        core::net::IpAddr::V4(v4) => return v4.to_ipv6_mapped().octets(),
        core::net::IpAddr::V6(v6) => v6,
    };
    if let Some(v4) = v6.to_ipv4_mapped() {
        return v4.to_ipv6_mapped().octets();
    }
    let mut prefix = [0; 16];
    prefix[..8].copy_from_slice(&v6.octets()[..8]);
    prefix
}

/// The time as a relay sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Now {
    /// Unix seconds, for tokens.
    pub unix: u64,
    /// Milliseconds of a monotonic clock, for deadlines and rates.
    pub millis: u64,
}

/// The rules of admission, deadlines and rates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Members at most; a connection past it is refused with `!full`.
    pub max_clients: usize,
    /// Members from one address at most (0: no limit); past it `!busy`.
    pub max_per_ip: usize,
    /// A member that sends no valid frame this long is closed with
    /// `!timeout` (keep-alives do not count).
    pub hello_timeout_ms: u64,
    /// A member that takes none of the frames waiting for it this long is
    /// closed with `!slow`.
    pub slow_timeout_ms: u64,
    /// Frames a second a member may have forwarded (a burst of one second
    /// is allowed); the rest are dropped and counted. `None`: no limit.
    pub max_rate: Option<u32>,
}

/// The std relay's defaults.
pub const DEFAULT_LIMITS: Limits = Limits {
    max_clients: 16_384,
    max_per_ip: 64,
    hello_timeout_ms: 10_000,
    slow_timeout_ms: 10_000,
    max_rate: None,
};

/// How long a member sends nothing before a token it left without line
/// feed counts as whole (`docs/PROTOCOL.md` section 2, Unframed senders).
pub const UNFRAMED_PAUSE_MS: u64 = 100;

/// The room looks over its members for deadlines at most this often: a
/// deadline is met within this much of its time.
pub const DEADLINE_GRAIN_MS: u64 = 100;

/// How frames reach the members: the shell's queues or buffers.
pub trait Fanout {
    /// True when a frame of `len` bytes can be queued now for every member
    /// but `from` without passing any bound.
    fn has_room(&self, from: MemberId, len: usize) -> bool;
    /// Queues `frame` for every member but `from` (`None`: for all).
    fn push(&mut self, from: Option<MemberId>, frame: &[u8]);
}

/// What happened to one frame, for logs and counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameEvent {
    /// Queued for every other member.
    Forwarded {
        /// Its length, line feed included.
        len: usize,
    },
    /// Dropped; the connection carries on (unless a departure follows).
    Refused {
        /// Why.
        refusal: Refusal,
        /// The first refusal of its kind on this connection: log it now;
        /// the others come in an [`Event::Summary`].
        first: bool,
    },
}

/// What one [`Room::receive`] step did.
#[must_use = "`consumed` says how far the input was used"]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoomStep {
    /// Bytes taken from the front of the input. Less than all of it when
    /// the member is held (keep the rest for its [`Event::Released`]) or
    /// leaves (drop it).
    pub consumed: usize,
    /// The member is leaving, and why: read nothing more from it; its
    /// [`Event::Left`] follows.
    pub departure: Option<Departure>,
}

impl RoomStep {
    const NOTHING: RoomStep = RoomStep {
        consumed: 0,
        departure: None,
    };
}

/// The link of the line of held senders.
const HELD: Link = |m| &mut m.next_held;
/// The link of the line of members with news.
const NEWS: Link = |m| &mut m.next_news;

/// The relay's rules for every connection, and its members: admission,
/// the per-frame policy, back-pressure, deadlines and departures.
pub struct Room<
    const K: usize = DEFAULT_MAX_KEYS,
    S = RelayReplay,
    T = [&'static mut Option<Member>; 1],
> {
    policy: RelayPolicy<K, S>,
    limits: Limits,
    seats: T,
    /// Local members seated (the remote member not counted).
    members: usize,
    /// Members whose frame waits for room, first held first.
    held: Line,
    /// Members with news for the shell.
    news: Line,
    /// No member has anything due before this.
    next_due_ms: u64,
    /// When the members were last looked over.
    scanned_ms: u64,
}

impl<const K: usize, S: ReplayStore, T: Seats> Room<K, S, T> {
    /// A room opened at `now`, deciding frames with `policy` under
    /// `limits`, its members in `seats`. A keyed room refuses tokens dated
    /// before it opened: what this relay forwarded before a restart is
    /// not let through again (`docs/PROTOCOL.md` section 6).
    pub fn new(mut policy: RelayPolicy<K, S>, limits: Limits, seats: T, now: Now) -> Self {
        policy.refuse_until(now.unix.saturating_sub(1));
        Room {
            policy,
            limits,
            seats,
            members: 0,
            held: Line::default(),
            news: Line::default(),
            next_due_ms: u64::MAX,
            scanned_ms: now.millis,
        }
    }

    /// The per-frame rules.
    pub fn policy(&self) -> &RelayPolicy<K, S> {
        &self.policy
    }

    /// The per-frame rules, to change (keys rotated, say).
    pub fn policy_mut(&mut self) -> &mut RelayPolicy<K, S> {
        &mut self.policy
    }

    /// Checks a token the relay passes on again (history for a new
    /// client) under the same rules, without the replay cache:
    /// [`RelayPolicy::recheck`].
    pub fn recheck(&self, token: &[u8], now: Now) -> Result<(), RejectReason> {
        self.policy.recheck(token, now.unix)
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Local members now, those leaving included until their
    /// [`Event::Left`].
    pub fn members(&self) -> usize {
        self.members
    }

    /// Member `id`, to read.
    pub fn member(&self, id: MemberId) -> Option<&Member> {
        self.seats.get(id)
    }

    /// The storage the members sit in.
    pub fn seats(&self) -> &T {
        &self.seats
    }

    /// A connection from `ip` arrived: its id, or the notice to send it
    /// before closing (`!full`, `!busy`).
    pub fn admit(&mut self, ip: PeerIp, now: Now) -> Result<MemberId, Notice> {
        if self.members >= self.limits.max_clients {
            return Err(Notice::Full);
        }
        if self.limits.max_per_ip > 0 && self.seats.count_from(ip) >= self.limits.max_per_ip {
            return Err(Notice::Busy);
        }
        let id = self
            .seats
            .insert(Member::new(ip, &self.limits, now, false))
            .ok_or(Notice::Full)?;
        self.members += 1;
        self.schedule(id);
        Ok(id)
    }

    /// Seats the member that stands for frames from outside this relay
    /// (other relays, over a bridge): its frames go through the same
    /// policy as a local member's (shape; keyed: MAC, freshness, replay)
    /// and to every local member; give them to [`Room::receive_message`]
    /// under its id, which [`Fanout::push`] then has as `from`. It takes
    /// no place under the limits, has no rate limit (each sender is
    /// limited by its own relay) and no deadlines, and is never made to
    /// leave: invalid frames are only refused. `None` with no seat free.
    pub fn admit_remote(&mut self, now: Now) -> Option<MemberId> {
        let member = Member::new([0; 16], &self.limits, now, true);
        self.seats.insert(member)
    }

    /// Feeds bytes that member `id` sent through the policy: valid frames
    /// go to `fanout`, and `on_frame` hears what became of each. Stops
    /// early when a frame has no room in the fan-out (the member is then
    /// held) or the member must leave. Never panics, whatever the input.
    pub fn receive(
        &mut self,
        id: MemberId,
        input: &[u8],
        now: Now,
        fanout: &mut impl Fanout,
        mut on_frame: impl FnMut(MemberId, FrameEvent),
    ) -> RoomStep {
        let first_in_line = self.held.head();
        let Some(member) = self.seats.get_mut(id) else {
            return RoomStep::NOTHING;
        };
        if let Some(why) = member.leaving {
            return RoomStep {
                consumed: 0,
                departure: Some(why),
            };
        }
        if !input.is_empty() {
            member.last_input_ms = now.millis;
        }
        let framing = member.framing();
        let was_held = member.standing.held;
        let ruling = Ruling {
            id,
            limits: &self.limits,
            first_in_line,
            now,
        };
        let mut consumed = 0;
        let mut departure = None;
        while !member.standing.held {
            let step = self
                .policy
                .receive(&mut member.inbound, &input[consumed..], now.unix);
            consumed += step.consumed;
            // The input is used up.
            let Some(verdict) = step.verdict else { break };
            departure = ruling.act(&mut member.standing, verdict, fanout, &mut on_frame);
            if departure.is_some() {
                break;
            }
        }
        let unframed = framing != Framing::Unframed && member.framing() == Framing::Unframed;
        self.settle(id, was_held, departure, unframed);
        RoomStep {
            consumed,
            departure,
        }
    }

    /// Feeds one message that member `id` sent on a carrier whose messages
    /// each hold one token (a WebSocket message, a NATS message, a history
    /// entry): the token goes through the policy as a frame would, with
    /// the same rate limit and the same count of invalid frames. Anything
    /// but exactly one token (a line feed inside, two tokens, junk) is one
    /// invalid frame, dropped whole; an empty message is a keep-alive.
    /// Takes nothing (`consumed` 0) while the member is held or leaving;
    /// otherwise all of it, and a frame with no room in the fan-out holds
    /// the member as [`Room::receive`] does. Never panics, whatever the
    /// input.
    pub fn receive_message(
        &mut self,
        id: MemberId,
        message: &[u8],
        now: Now,
        fanout: &mut impl Fanout,
        mut on_frame: impl FnMut(MemberId, FrameEvent),
    ) -> RoomStep {
        let first_in_line = self.held.head();
        let Some(member) = self.seats.get_mut(id) else {
            return RoomStep::NOTHING;
        };
        if member.leaving.is_some() || member.standing.held {
            return RoomStep {
                consumed: 0,
                departure: member.leaving,
            };
        }
        member.last_input_ms = now.millis;
        let ruling = Ruling {
            id,
            limits: &self.limits,
            first_in_line,
            now,
        };
        let departure = self
            .policy
            .receive_message(&mut member.inbound, message, now.unix)
            .and_then(|verdict| ruling.act(&mut member.standing, verdict, fanout, &mut on_frame));
        self.settle(id, false, departure, false);
        RoomStep {
            consumed: message.len(),
            departure,
        }
    }

    /// After member `id`'s input: puts it in line if it became held,
    /// starts its departure, tells of its framing, and schedules what it
    /// has due.
    fn settle(
        &mut self,
        id: MemberId,
        was_held: bool,
        departure: Option<Departure>,
        unframed: bool,
    ) {
        if !was_held && self.seats.get(id).is_some_and(|m| m.standing.held) {
            self.held.push(&mut self.seats, HELD, id);
        }
        if unframed {
            self.tell(id, News::UNFRAMED);
        }
        if let Some(why) = departure {
            self.leave(id, why);
        }
        self.schedule(id);
    }

    /// Tries again to forward the held senders' frames, first held first,
    /// as far as the fan-out has room; each one released is reported
    /// ([`Event::Released`]). Call it when queues may have room again.
    pub fn release(
        &mut self,
        fanout: &mut impl Fanout,
        mut on_frame: impl FnMut(MemberId, FrameEvent),
    ) {
        while let Some(id) = self.held.head() {
            let Some(member) = self.seats.get_mut(id) else {
                self.held.pop(&mut self.seats, HELD);
                continue;
            };
            if member.standing.held
                && member.leaving.is_none()
                && let Some(frame) = member.inbound.last_frame()
            {
                if !fanout.has_room(id, frame.len()) {
                    return;
                }
                fanout.push(Some(id), frame);
                on_frame(id, FrameEvent::Forwarded { len: frame.len() });
            }
            member.standing.held = false;
            self.held.pop(&mut self.seats, HELD);
            self.tell(id, News::RELEASED);
            self.schedule(id);
        }
    }

    /// Frames were queued for member `id` that its transport has not taken:
    /// if none were waiting, its slow timeout starts now.
    pub fn queued(&mut self, id: MemberId, now_ms: u64) {
        if let Some(member) = self.seats.get_mut(id) {
            member.queued(now_ms);
            self.schedule(id);
        }
    }

    /// Member `id`'s transport took some of what waited for it; `remaining`
    /// bytes still wait. Progress restarts the slow timeout.
    pub fn took(&mut self, id: MemberId, remaining: usize, now_ms: u64) {
        if let Some(member) = self.seats.get_mut(id) {
            member.took(remaining, now_ms);
            self.schedule(id);
        }
    }

    /// Member `id` must leave, for `why` (its connection closed or failed):
    /// read nothing more from it; its [`Event::Left`] follows. The first
    /// reason given stands.
    pub fn leave(&mut self, id: MemberId, why: Departure) {
        let Some(member) = self.seats.get_mut(id) else {
            return;
        };
        if member.leaving.is_none() {
            member.leaving = Some(why);
            self.tell(id, News::LEFT);
        }
    }

    /// When [`Room::handle_timeout`] has something to do (monotonic
    /// milliseconds, as [`Now::millis`]); `None`: nothing until the next
    /// input.
    pub fn poll_timeout(&self) -> Option<u64> {
        (self.next_due_ms != u64::MAX).then(|| {
            self.next_due_ms
                .max(self.scanned_ms.saturating_add(DEADLINE_GRAIN_MS))
        })
    }

    /// Does what is due at `now`: ends the tokens of unframed senders that
    /// paused, sees off members past a deadline (no valid frame in time,
    /// not reading), and schedules the summaries of refused frames. Cheap
    /// before [`Room::poll_timeout`]: it then does nothing.
    pub fn handle_timeout(
        &mut self,
        now: Now,
        fanout: &mut impl Fanout,
        mut on_frame: impl FnMut(MemberId, FrameEvent),
    ) {
        if self.poll_timeout().is_none_or(|due| now.millis < due) {
            return;
        }
        self.scanned_ms = now.millis;
        let mut next_due = u64::MAX;
        for index in 0..self.seats.id_bound() {
            let id = MemberId::new(index);
            let Some(member) = self.seats.get_mut(id) else {
                continue;
            };
            if member.is_remote() || member.leaving.is_some() {
                continue;
            }
            let quiet = now.millis.saturating_sub(member.last_input_ms) >= UNFRAMED_PAUSE_MS;
            let framing = member.framing();
            if !member.standing.held && quiet && member.inbound.pause() {
                // A token the sender left without line feed.
                let _ = self.receive(id, &[], now, fanout, &mut on_frame);
                if framing != Framing::Unframed {
                    self.tell(id, News::UNFRAMED);
                }
            }
            let Some(member) = self.seats.get_mut(id) else {
                continue;
            };
            let summary_due = member
                .standing
                .refusals
                .due_ms()
                .is_some_and(|due| due <= now.millis);
            let overdue = member.overdue(&self.limits, now.millis);
            if summary_due {
                self.tell(id, News::SUMMARY);
            }
            if let Some(why) = overdue {
                self.leave(id, why);
            }
            let due = self
                .seats
                .get(id)
                .map_or(u64::MAX, |m| m.next_due_ms(&self.limits));
            next_due = next_due.min(due);
        }
        self.next_due_ms = next_due;
    }

    /// The next thing the shell must hear, oldest first; `None` when all is
    /// told. A member's [`Event::Left`] frees its seat: in keyed mode the
    /// room first sends `nick LF /leave` on its behalf through `fanout`
    /// (an IV from `rng`) if it had named itself.
    pub fn poll_event(
        &mut self,
        now: Now,
        rng: &mut (impl CryptoRng + ?Sized),
        fanout: &mut impl Fanout,
    ) -> Option<Event> {
        loop {
            let id = self.news.head()?;
            let Some(member) = self.seats.get_mut(id) else {
                self.news.pop(&mut self.seats, NEWS);
                continue;
            };
            let Some(news) = member.news.take_first() else {
                self.news.pop(&mut self.seats, NEWS);
                continue;
            };
            let leaving = member.leaving;
            let summary = match (news, leaving) {
                (News::SUMMARY, None) => member.standing.refusals.summary(now.millis, false),
                (News::LEFT, Some(_)) => member.standing.refusals.summary(now.millis, true),
                _ => None,
            };
            if member.news.is_empty() {
                self.news.pop(&mut self.seats, NEWS);
            }
            match (news, leaving) {
                (News::UNFRAMED, _) => return Some(Event::Unframed { id }),
                (News::RELEASED, None) => return Some(Event::Released { id }),
                (News::SUMMARY, None) => {
                    if let Some(summary) = summary {
                        return Some(Event::Summary { id, summary });
                    }
                }
                (News::LEFT, Some(why)) => {
                    let said_leave = self.see_off(id, now, rng, fanout);
                    return Some(Event::Left {
                        id,
                        why,
                        summary,
                        said_leave,
                    });
                }
                _ => {}
            }
        }
    }

    /// Frees member `id`'s seat, after saying `/leave` for it (keyed mode,
    /// a member that named itself): true when it did.
    fn see_off(
        &mut self,
        id: MemberId,
        now: Now,
        rng: &mut (impl CryptoRng + ?Sized),
        fanout: &mut impl Fanout,
    ) -> bool {
        if self.seats.get(id).is_some_and(|m| m.standing.held) {
            self.held.unlink(&mut self.seats, HELD, id);
        }
        let Some(member) = self.seats.get(id) else {
            return false;
        };
        let mut out = [0u8; MAX_LEAVE_FRAME];
        let leave = self
            .policy
            .leave_on_behalf(&member.inbound, now.unix, rng, &mut out);
        let said = leave.is_some();
        if let Some(leave) = leave {
            fanout.push(Some(id), leave);
        }
        if !member.is_remote() {
            self.members = self.members.saturating_sub(1);
        }
        self.seats.remove(id);
        said
    }

    /// Adds `news` to what member `id` has to tell, putting it in the line
    /// of news if it was not. A leaving member has only its departure left
    /// to tell.
    fn tell(&mut self, id: MemberId, news: News) {
        let Some(member) = self.seats.get_mut(id) else {
            return;
        };
        if member.leaving.is_some() && news != News::LEFT {
            return;
        }
        let was_quiet = member.news.is_empty();
        member.news.add(news);
        if was_quiet {
            self.news.push(&mut self.seats, NEWS, id);
        }
    }

    /// Brings the room's next deadline forward to member `id`'s, if sooner.
    fn schedule(&mut self, id: MemberId) {
        if let Some(member) = self.seats.get(id) {
            self.next_due_ms = self.next_due_ms.min(member.next_due_ms(&self.limits));
        }
    }
}

/// What the room needs to rule on one of member `id`'s frames.
struct Ruling<'l> {
    id: MemberId,
    limits: &'l Limits,
    /// The first held sender, whose frame goes before any other.
    first_in_line: Option<MemberId>,
    now: Now,
}

impl Ruling<'_> {
    /// Acts on the policy's verdict: forwards the frame (rate limit and
    /// room allowing; held when there is no room or another sender is in
    /// line first), counts a refusal, or says the member must leave.
    fn act(
        &self,
        member: &mut member::Standing,
        verdict: Verdict<'_>,
        fanout: &mut impl Fanout,
        on_frame: &mut impl FnMut(MemberId, FrameEvent),
    ) -> Option<Departure> {
        let id = self.id;
        let reason = match verdict {
            Verdict::Forward(frame) => {
                member.greeted = true;
                let in_turn = self.first_in_line.is_none_or(|first| first == id);
                if !member.remote && !member.rate.take(self.limits.max_rate, self.now.millis) {
                    let first = member.refusals.record(Refusal::RateLimited);
                    on_frame(
                        id,
                        FrameEvent::Refused {
                            refusal: Refusal::RateLimited,
                            first,
                        },
                    );
                } else if in_turn && fanout.has_room(id, frame.len()) {
                    fanout.push(Some(id), frame);
                    on_frame(id, FrameEvent::Forwarded { len: frame.len() });
                } else {
                    member.held = true;
                }
                return None;
            }
            Verdict::Reject(reason) | Verdict::Disconnect(reason) => reason,
        };
        if reason == RejectReason::Unverifiable {
            // A verified token: the sender holds the key.
            member.greeted = true;
        }
        let refusal = Refusal::Rejected(reason);
        let first = member.refusals.record(refusal);
        on_frame(id, FrameEvent::Refused { refusal, first });
        match verdict {
            Verdict::Disconnect(reason) if !member.remote => {
                Some(Departure::TooManyInvalid(reason))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fernet::{Key, KeySet};
    use crate::frame::MAX_FRAME;
    use crate::message::Body;
    use crate::replay::ArrayStore;
    use crate::session::Session;
    use rand_chacha::ChaCha8Rng;
    use rand_core::SeedableRng;

    extern crate std;
    use std::vec::Vec;

    type Small = ArrayStore<8, 8>;
    /// Four seats.
    type Test<'s> = Room<1, Small, [&'s mut Option<Member>; 4]>;

    /// Per-member queues of at most `bound` bytes, by seat.
    struct Queues {
        queues: Vec<Vec<u8>>,
        bound: usize,
    }

    impl Queues {
        fn new(bound: usize) -> Queues {
            Queues {
                queues: std::vec![Vec::new(); 4],
                bound,
            }
        }
    }

    impl Fanout for Queues {
        fn has_room(&self, from: MemberId, len: usize) -> bool {
            self.queues
                .iter()
                .enumerate()
                .all(|(id, q)| id == from.index() || q.len() + len <= self.bound)
        }

        fn push(&mut self, from: Option<MemberId>, frame: &[u8]) {
            for (id, q) in self.queues.iter_mut().enumerate() {
                if from.map(MemberId::index) != Some(id) {
                    q.extend_from_slice(frame);
                }
            }
        }
    }

    const IP: PeerIp = [1; 16];

    fn at(millis: u64) -> Now {
        Now {
            unix: 1_000 + millis / 1000,
            millis,
        }
    }

    fn limits() -> Limits {
        Limits {
            max_clients: 3,
            max_per_ip: 2,
            hello_timeout_ms: 10_000,
            slow_timeout_ms: 5_000,
            max_rate: None,
        }
    }

    fn open<'s>(
        memory: &'s mut SeatMemory<4>,
        policy: RelayPolicy<1, Small>,
        limits: Limits,
    ) -> Test<'s> {
        Room::new(policy, limits, memory.seats(), at(0))
    }

    fn blind(memory: &mut SeatMemory<4>) -> Test<'_> {
        open(memory, RelayPolicy::blind(), limits())
    }

    fn keyed(memory: &mut SeatMemory<4>, limits: Limits) -> Test<'_> {
        let keys = KeySet::single(Key::from_bytes([1; 32]));
        open(memory, RelayPolicy::keyed(keys, 300, Small::new()), limits)
    }

    fn frame(text: &str, unix: u64) -> Vec<u8> {
        let ann = Session::<1, Small>::new(KeySet::single(Key::from_bytes([1; 32])), "ann", None)
            .unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(unix ^ text.len() as u64);
        let mut out = [0u8; MAX_FRAME];
        let body = Body::Text(text.as_bytes());
        ann.sealer
            .seal(body, unix, &mut rng, &mut out)
            .unwrap()
            .to_vec()
    }

    fn feed(
        room: &mut Test<'_>,
        id: MemberId,
        bytes: &[u8],
        now: Now,
        fanout: &mut Queues,
    ) -> (RoomStep, Vec<FrameEvent>) {
        let mut events = Vec::new();
        let step = room.receive(id, bytes, now, fanout, |_, e| events.push(e));
        (step, events)
    }

    /// Every event the room has at `now`.
    fn events(room: &mut Test<'_>, now: Now, fanout: &mut Queues) -> Vec<Event> {
        let mut rng = ChaCha8Rng::seed_from_u64(now.millis);
        core::iter::from_fn(|| room.poll_event(now, &mut rng, fanout)).collect()
    }

    /// The reasons members left, in the events.
    fn departures(events: &[Event]) -> Vec<(MemberId, Departure)> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::Left { id, why, .. } => Some((*id, *why)),
                _ => None,
            })
            .collect()
    }

    /// Runs the room's timers at `now`, then gives its events.
    fn tick(room: &mut Test<'_>, now: Now, fanout: &mut Queues) -> Vec<Event> {
        room.handle_timeout(now, fanout, |_, _| {});
        events(room, now, fanout)
    }

    #[test]
    fn test_admission_full_and_per_ip_and_seats_freed_after_left() {
        let mut memory = SeatMemory::new();
        let mut room = blind(&mut memory);
        let mut queues = Queues::new(1 << 20);
        let a = room.admit(IP, at(0)).unwrap();
        assert!(room.admit(IP, at(0)).is_ok());
        assert_eq!(room.admit(IP, at(0)), Err(Notice::Busy));
        let other = room.admit([2; 16], at(0)).unwrap();
        assert_eq!(room.admit([3; 16], at(0)), Err(Notice::Full));
        room.leave(other, Departure::Closed);
        assert_eq!(room.admit([3; 16], at(0)), Err(Notice::Full), "until told");
        let told = events(&mut room, at(1), &mut queues);
        assert_eq!(departures(&told), [(other, Departure::Closed)]);
        assert!(room.member(other).is_none(), "its seat is free");
        let again = room.admit([3; 16], at(0)).unwrap();
        assert_eq!(again, other, "the freed seat is given again");
        room.leave(a, Departure::Reset);
        room.leave(a, Departure::Closed);
        let told = events(&mut room, at(1), &mut queues);
        assert_eq!(
            departures(&told),
            [(a, Departure::Reset)],
            "the first reason"
        );
        assert_eq!(Notice::parse(b"!full"), Some(Notice::Full));
        assert_eq!(Notice::parse(b"!tls"), Some(Notice::Tls));
        assert_eq!(Notice::parse(b"!nonsense"), None);
    }

    #[test]
    fn test_frame_held_until_room_then_released() {
        let mut memory = SeatMemory::new();
        let mut room = blind(&mut memory);
        let ann = room.admit(IP, at(0)).unwrap();
        let one = frame("one", 1000);
        let two = frame("two", 1000);
        // Room for one frame only in each queue.
        let mut queues = Queues::new(one.len() + 10);
        let wire = [one.clone(), two.clone()].concat();
        let (step, frames) = feed(&mut room, ann, &wire, at(0), &mut queues);
        assert_eq!(step.departure, None);
        assert_eq!(step.consumed, wire.len(), "the second frame was read whole");
        assert_eq!(frames, [FrameEvent::Forwarded { len: one.len() }]);
        assert!(room.member(ann).unwrap().is_held());
        room.release(&mut queues, |_, _| {});
        assert!(room.member(ann).unwrap().is_held());
        assert!(events(&mut room, at(0), &mut queues).is_empty());
        // The others read: the held frame goes, and in order.
        queues.queues.iter_mut().for_each(Vec::clear);
        room.release(&mut queues, |_, _| {});
        assert!(!room.member(ann).unwrap().is_held());
        assert_eq!(queues.queues[1], two);
        let told = events(&mut room, at(0), &mut queues);
        assert_eq!(told, [Event::Released { id: ann }]);
    }

    #[test]
    fn test_first_held_goes_first() {
        let mut memory = SeatMemory::new();
        let mut room = blind(&mut memory);
        let ann = room.admit(IP, at(0)).unwrap();
        let bob = room.admit([2; 16], at(0)).unwrap();
        let one = frame("one", 1000);
        let mut queues = Queues::new(one.len());
        queues.queues[3].resize(1, b'x');
        // Seat 3 is one byte short of room: ann is held, then bob is too,
        // although bob's frame would fit once ann's is gone.
        let _ = feed(&mut room, ann, &one, at(0), &mut queues);
        assert!(room.member(ann).unwrap().is_held());
        queues.queues[3].clear();
        queues.bound = one.len() * 2;
        queues.queues[3].resize(one.len() + 1, b'x');
        let _ = feed(&mut room, bob, &one, at(0), &mut queues);
        assert!(room.member(bob).unwrap().is_held(), "ann is first in line");
        queues.queues[3].clear();
        let mut order = Vec::new();
        room.release(&mut queues, |id, _| order.push(id));
        assert_eq!(order, [ann, bob]);
        let told = events(&mut room, at(0), &mut queues);
        assert_eq!(
            told,
            [Event::Released { id: ann }, Event::Released { id: bob }]
        );
    }

    #[test]
    fn test_held_member_reads_nothing_more() {
        let mut memory = SeatMemory::new();
        let mut room = blind(&mut memory);
        let ann = room.admit(IP, at(0)).unwrap();
        let one = frame("one", 1000);
        let mut queues = Queues::new(0);
        let wire = [one.clone(), one.clone()].concat();
        let (step, frames) = feed(&mut room, ann, &wire, at(0), &mut queues);
        assert_eq!(step.consumed, one.len());
        assert!(frames.is_empty());
        let (step, _) = feed(&mut room, ann, &wire[one.len()..], at(0), &mut queues);
        assert_eq!(step.consumed, 0);
    }

    #[test]
    fn test_hello_timeout_scheduled_and_keepalives_do_not_count() {
        let mut memory = SeatMemory::new();
        let mut room = blind(&mut memory);
        let mut queues = Queues::new(1 << 20);
        assert_eq!(room.poll_timeout(), None, "nobody, nothing due");
        let idle = room.admit(IP, at(0)).unwrap();
        assert_eq!(room.poll_timeout(), Some(10_000));
        let _ = feed(&mut room, idle, b"\n\r\n\n", at(9_000), &mut queues);
        assert!(tick(&mut room, at(9_999), &mut queues).is_empty());
        let told = tick(&mut room, at(10_000), &mut queues);
        assert_eq!(departures(&told), [(idle, Departure::HelloTimeout)]);
        assert_eq!(Departure::HelloTimeout.notice(), Some(Notice::Timeout));
        let talker = room.admit(IP, at(10_000)).unwrap();
        let _ = feed(
            &mut room,
            talker,
            &frame("hi", 1000),
            at(10_500),
            &mut queues,
        );
        assert!(tick(&mut room, at(60_000), &mut queues).is_empty());
        assert_eq!(
            room.poll_timeout(),
            None,
            "a greeted idle member costs no timer"
        );
    }

    #[test]
    fn test_slow_reader_judged_by_progress_over_time() {
        let mut memory = SeatMemory::new();
        let mut room = blind(&mut memory);
        let mut queues = Queues::new(1 << 20);
        let bob = room.admit(IP, at(0)).unwrap();
        let _ = feed(&mut room, bob, &frame("hi", 1000), at(0), &mut queues);
        room.queued(bob, 1_000);
        room.queued(bob, 3_000);
        assert_eq!(room.poll_timeout(), Some(6_000));
        assert!(tick(&mut room, at(5_999), &mut queues).is_empty());
        // It took a little at 4 s: the clock restarts.
        room.took(bob, 100, 4_000);
        assert!(tick(&mut room, at(8_999), &mut queues).is_empty());
        // Within a grain of the deadline, as the last look was just before.
        assert!(tick(&mut room, at(9_000), &mut queues).is_empty());
        let told = tick(&mut room, at(8_999 + DEADLINE_GRAIN_MS), &mut queues);
        assert_eq!(departures(&told), [(bob, Departure::NotReading)]);
    }

    #[test]
    fn test_rate_limit_drops_excess_and_refills() {
        let mut memory = SeatMemory::new();
        let limits = Limits {
            max_rate: Some(2),
            ..limits()
        };
        let mut room = open(&mut memory, RelayPolicy::blind(), limits);
        let ann = room.admit(IP, at(0)).unwrap();
        let mut queues = Queues::new(1 << 20);
        let wire: Vec<u8> = (0..4)
            .flat_map(|i| frame(&"x".repeat(i + 1), 1000))
            .collect();
        let (_, frames) = feed(&mut room, ann, &wire, at(0), &mut queues);
        let limited = frames
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    FrameEvent::Refused {
                        refusal: Refusal::RateLimited,
                        ..
                    }
                )
            })
            .count();
        assert_eq!((frames.len(), limited), (4, 2));
        let (_, frames) = feed(&mut room, ann, &frame("later", 1000), at(500), &mut queues);
        assert!(matches!(frames[..], [FrameEvent::Forwarded { .. }]));
        // The second refusal of a kind waits for the summary, when due.
        assert!(tick(&mut room, at(9_999), &mut queues).is_empty());
        let told = tick(&mut room, at(10_000), &mut queues);
        assert!(
            matches!(told[..], [Event::Summary { id, summary }] if id == ann && summary.total() == 1),
            "{told:?}"
        );
    }

    #[test]
    fn test_invalid_run_departs_with_notice_and_summary() {
        let mut memory = SeatMemory::new();
        let mut room = blind(&mut memory);
        let eve = room.admit(IP, at(0)).unwrap();
        let mut queues = Queues::new(1 << 20);
        let wire = b"!\n".repeat(20);
        let (step, frames) = feed(&mut room, eve, &wire, at(0), &mut queues);
        assert_eq!(frames.len(), 16);
        assert_eq!(step.consumed, 32);
        let departure = step.departure.unwrap();
        assert!(matches!(departure, Departure::TooManyInvalid(_)));
        assert_eq!(departure.notice(), Some(Notice::Invalid));
        let (step, _) = feed(&mut room, eve, b"more", at(0), &mut queues);
        assert_eq!((step.consumed, step.departure), (0, Some(departure)));
        let told = events(&mut room, at(1), &mut queues);
        assert!(
            matches!(told[..], [Event::Left { id, why, summary: Some(summary), said_leave: false }]
                if id == eve && why == departure && summary.total() == 15),
            "{told:?}"
        );
    }

    #[test]
    fn test_remote_frames_reach_every_local_member_under_the_same_policy() {
        let mut memory = SeatMemory::new();
        let limits = Limits {
            max_rate: Some(1),
            ..limits()
        };
        let mut room = keyed(&mut memory, limits);
        let ann = room.admit(IP, at(0)).unwrap();
        let remote = room.admit_remote(at(0)).unwrap();
        assert_eq!(room.members(), 1, "the remote member takes no place");
        let mut queues = Queues::new(1 << 20);
        let hi = frame("hi", 1000);
        let (_, frames) = feed(&mut room, ann, &hi, at(0), &mut queues);
        assert!(matches!(frames[..], [FrameEvent::Forwarded { .. }]));
        // The same frame back over the bridge is a replay.
        queues.queues.iter_mut().for_each(Vec::clear);
        let mut frames = Vec::new();
        let token = &hi[..hi.len() - 1];
        let _ = room.receive_message(remote, token, at(0), &mut queues, |_, e| frames.push(e));
        assert!(matches!(
            frames[..],
            [FrameEvent::Refused {
                refusal: Refusal::Rejected(RejectReason::Replayed),
                ..
            }]
        ));
        // New remote frames reach every local member, with no rate limit.
        frames.clear();
        let sent = [frame("a", 1000), frame("bb", 1000), frame("ccc", 1000)];
        for frame in &sent {
            let token = &frame[..frame.len() - 1];
            let _ = room.receive_message(remote, token, at(0), &mut queues, |_, e| frames.push(e));
        }
        assert_eq!(frames.len(), 3);
        assert!(
            frames
                .iter()
                .all(|e| matches!(e, FrameEvent::Forwarded { .. }))
        );
        assert_eq!(queues.queues[ann.index()], sent.concat());
        // A flood of forged frames never makes it leave; it has no deadlines.
        let mut forged = frame("x", 1000);
        forged[10] ^= 1;
        for _ in 0..40 {
            let step = room.receive_message(
                remote,
                &forged[..forged.len() - 1],
                at(0),
                &mut queues,
                |_, _| {},
            );
            assert_eq!(step.departure, None);
        }
        // Deadlines: ann (greeted) and the remote member have none.
        assert!(tick(&mut room, at(1_000_000), &mut queues).is_empty());
    }

    #[test]
    fn test_remote_frame_held_until_room() {
        let mut memory = SeatMemory::new();
        let mut room = blind(&mut memory);
        let remote = room.admit_remote(at(0)).unwrap();
        let one = frame("one", 1000);
        let mut queues = Queues::new(0);
        let token = &one[..one.len() - 1];
        let step = room.receive_message(remote, token, at(0), &mut queues, |_, _| {});
        assert_eq!(step.consumed, token.len());
        assert!(room.member(remote).unwrap().is_held());
        queues.bound = 1 << 20;
        room.release(&mut queues, |_, _| {});
        assert_eq!(queues.queues[1], one);
        let told = events(&mut room, at(0), &mut queues);
        assert_eq!(told, [Event::Released { id: remote }]);
    }

    #[test]
    fn test_keyed_departure_says_leave() {
        let mut memory = SeatMemory::new();
        let mut room = keyed(&mut memory, limits());
        let ann = room.admit(IP, at(0)).unwrap();
        let mut queues = Queues::new(1 << 20);
        let _ = feed(&mut room, ann, &frame("hi", 1000), at(0), &mut queues);
        assert_eq!(room.member(ann).unwrap().nick(), Some("ann"));
        queues.queues.iter_mut().for_each(Vec::clear);
        room.leave(ann, Departure::Closed);
        let told = events(&mut room, at(10), &mut queues);
        assert!(matches!(
            told[..],
            [Event::Left {
                said_leave: true,
                ..
            }]
        ));
        assert!(queues.queues[ann.index()].is_empty());
        assert!(queues.queues[1].ends_with(b"\n"));
        assert_eq!(room.members(), 0);
    }

    #[test]
    fn test_keyed_room_refuses_what_is_dated_before_it_opened() {
        let mut memory = SeatMemory::new();
        let mut room = keyed(&mut memory, limits());
        let ann = room.admit(IP, at(0)).unwrap();
        let mut queues = Queues::new(1 << 20);
        let (_, frames) = feed(&mut room, ann, &frame("old", 999), at(0), &mut queues);
        assert!(
            matches!(frames[..], [FrameEvent::Refused { .. }]),
            "{frames:?}"
        );
        let (_, frames) = feed(&mut room, ann, &frame("new", 1000), at(0), &mut queues);
        assert!(
            matches!(frames[..], [FrameEvent::Forwarded { .. }]),
            "{frames:?}"
        );
    }

    #[test]
    fn test_unframed_member_is_heard_as_frames() {
        let mut memory = SeatMemory::new();
        let mut room = blind(&mut memory);
        let old = room.admit(IP, at(0)).unwrap();
        let mut queues = Queues::new(1 << 20);
        let token = |text: &str| {
            let frame = frame(text, 1000);
            frame[..frame.len() - 1].to_vec()
        };
        // Three tokens with no line feed: the last (3 blocks) has no padding.
        let (one, two, three) = (token("one"), token("two"), token(&"x".repeat(40)));
        let wire = [&one[..], &two, &three].concat();
        let (step, frames) = feed(&mut room, old, &wire, at(0), &mut queues);
        assert_eq!(
            step,
            RoomStep {
                consumed: wire.len(),
                departure: None
            }
        );
        assert_eq!(frames.len(), 2);
        assert_eq!(queues.queues[1], [&one[..], b"\n", &two, b"\n"].concat());
        assert_eq!(
            events(&mut room, at(0), &mut queues),
            [Event::Unframed { id: old }]
        );
        // Not quiet long enough yet, then the pause ends the third token.
        assert_eq!(room.poll_timeout(), Some(UNFRAMED_PAUSE_MS));
        let mut frames = Vec::new();
        room.handle_timeout(at(UNFRAMED_PAUSE_MS - 1), &mut queues, |_, e| {
            frames.push(e)
        });
        assert!(frames.is_empty());
        room.handle_timeout(at(UNFRAMED_PAUSE_MS), &mut queues, |_, e| frames.push(e));
        assert_eq!(frames.len(), 1);
        assert!(queues.queues[1].ends_with(&[&three[..], b"\n"].concat()));
        assert_eq!(room.poll_timeout(), None, "it has greeted, nothing waits");
        // The slow timeout holds as for framed members.
        room.queued(old, 60_000);
        let told = tick(&mut room, at(65_000), &mut queues);
        assert_eq!(departures(&told), [(old, Departure::NotReading)]);
    }

    #[test]
    fn test_a_message_is_one_token_whole_or_dropped_whole() {
        let mut memory = SeatMemory::new();
        let mut room = blind(&mut memory);
        let ws = room.admit(IP, at(0)).unwrap();
        let mut queues = Queues::new(1 << 20);
        let hi = frame("hi", 1000);
        let token = &hi[..hi.len() - 1];
        let mut frames = Vec::new();
        let mut send = |room: &mut Test<'_>, message: &[u8], queues: &mut Queues| {
            room.receive_message(ws, message, at(0), queues, |_, e| frames.push(e))
        };
        let step = send(&mut room, token, &mut queues);
        assert_eq!((step.consumed, step.departure), (token.len(), None));
        assert_eq!(queues.queues[1], hi);
        // Smuggled behind a line feed, after one, two tokens in one
        // message, a keep-alive: nothing is forwarded.
        let smuggled = [b"AAAA\n", token].concat();
        let trailing = [token, b"\n"].concat();
        let two = [token, token].concat();
        for message in [&smuggled[..], &trailing, &two, b""] {
            let step = send(&mut room, message, &mut queues);
            assert_eq!((step.consumed, step.departure), (message.len(), None));
        }
        assert_eq!(queues.queues[1], hi, "nothing more was forwarded");
        let refused = |e: &FrameEvent| matches!(e, FrameEvent::Refused { .. });
        assert_eq!(frames.len(), 4, "{frames:?}");
        assert!(frames[1..].iter().all(refused));
        // Invalid messages count as invalid frames do: sixteen in a row and
        // it must leave.
        let departures: Vec<_> = (0..13)
            .filter_map(|_| {
                room.receive_message(ws, &smuggled, at(0), &mut queues, |_, _| {})
                    .departure
            })
            .collect();
        assert!(matches!(departures[..], [Departure::TooManyInvalid(_), ..]));
    }

    #[test]
    fn test_a_message_with_no_room_holds_its_sender() {
        let mut memory = SeatMemory::new();
        let mut room = blind(&mut memory);
        let ws = room.admit(IP, at(0)).unwrap();
        let one = frame("one", 1000);
        let mut queues = Queues::new(0);
        let token = &one[..one.len() - 1];
        let step = room.receive_message(ws, token, at(0), &mut queues, |_, _| {});
        assert_eq!(step.consumed, token.len());
        assert!(room.member(ws).unwrap().is_held());
        let again = room.receive_message(ws, token, at(0), &mut queues, |_, _| {});
        assert_eq!(again.consumed, 0, "a held member takes no message");
        queues.bound = 1 << 20;
        room.release(&mut queues, |_, _| {});
        assert_eq!(queues.queues[1], one);
    }

    #[test]
    fn test_a_held_member_that_leaves_frees_the_line() {
        let mut memory = SeatMemory::new();
        let mut room = blind(&mut memory);
        let ann = room.admit(IP, at(0)).unwrap();
        let bob = room.admit([2; 16], at(0)).unwrap();
        let one = frame("one", 1000);
        let mut queues = Queues::new(0);
        let _ = feed(&mut room, ann, &one, at(0), &mut queues);
        room.leave(ann, Departure::Reset);
        let _ = events(&mut room, at(0), &mut queues);
        queues.bound = 1 << 20;
        let (_, frames) = feed(&mut room, bob, &one, at(0), &mut queues);
        assert_eq!(frames, [FrameEvent::Forwarded { len: one.len() }]);
    }

    #[test]
    fn test_peer_ip_counts_ipv6_by_its_64() {
        use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
        let v4 = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));
        let mapped = IpAddr::V6(Ipv4Addr::new(192, 0, 2, 7).to_ipv6_mapped());
        assert_eq!(peer_ip(v4), peer_ip(mapped));
        assert_ne!(
            peer_ip(v4),
            peer_ip(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 8)))
        );
        let host = |last: u16| IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 0, 0, 0, last));
        assert_eq!(peer_ip(host(1)), peer_ip(host(0xffff)), "one /64");
        let other = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 3, 0, 0, 0, 1));
        assert_ne!(peer_ip(host(1)), peer_ip(other), "another /64");
        assert_eq!(&peer_ip(host(1))[8..], &[0; 8]);
    }

    /// The deadlines PROTOCOL section 9 states are these constants.
    #[test]
    fn test_protocol_states_the_rooms_deadlines() {
        let protocol = include_str!("../../docs/PROTOCOL.md");
        for (what, ms, name) in [
            (
                "unframed sender's pause",
                UNFRAMED_PAUSE_MS,
                "UNFRAMED_PAUSE_MS",
            ),
            (
                "relay deadlines met within (the deadline grain)",
                DEADLINE_GRAIN_MS,
                "DEADLINE_GRAIN_MS",
            ),
        ] {
            let row = std::format!("| {what} | {ms} ms | `{name}` |");
            assert!(protocol.contains(&row), "PROTOCOL.md lacks {row}");
        }
    }
}
