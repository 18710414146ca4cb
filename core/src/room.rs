//! The relay's whole life per connection (`docs/PROTOCOL.md` section 6):
//! admission, the inbound frame and its verdict, back-pressure, deadlines,
//! rate limits, departures and the notices that say why. Both relays (std
//! sockets on mio, smoltcp on a board) and any transport to come drive
//! this one type; they only move bytes and report time and progress.
//!
//! A shell keeps one [`Member`] per connection wherever it likes and lends
//! the [`Room`] its fan-out (how frames reach the other members) through
//! the [`Fanout`] trait. The room never drops a member for falling behind
//! in a buffer: a frame that cannot be queued for everyone is *held*, and
//! its sender is not read until it goes; a member that takes nothing for
//! [`Limits::slow_timeout_ms`] while frames wait for it is the one that
//! leaves.

use crate::fernet::DEFAULT_MAX_KEYS;
use crate::frame::Framing;
use crate::relay::{Inbound, RejectReason, RelayPolicy, RelayReplay, Verdict};
use crate::replay::ReplayStore;
use crate::tally::{Refusal, RefusalTally, Summary};
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
/// feed counts as whole (`docs/PROTOCOL.md` section 2, Unframed senders):
/// call [`Room::pause`] a few times a second.
pub const UNFRAMED_PAUSE_MS: u64 = 100;

/// An unauthenticated line from the relay, sent before it closes a
/// connection: `!` and a word, outside the base64url alphabet, so never a
/// token (`docs/PROTOCOL.md` section 6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notice {
    /// Every slot is taken.
    Full,
    /// Too many connections from this address.
    Busy,
    /// No valid frame came in time.
    Timeout,
    /// Frames waited for this connection and it took none in time.
    Slow,
    /// Too many invalid frames in a row.
    Invalid,
    /// A plain client on a port that speaks TLS (sent in the clear).
    Tls,
}

impl Notice {
    /// The notice as it goes on the wire, line feed included.
    pub const fn line(self) -> &'static [u8] {
        match self {
            Notice::Full => b"!full\n",
            Notice::Busy => b"!busy\n",
            Notice::Timeout => b"!timeout\n",
            Notice::Slow => b"!slow\n",
            Notice::Invalid => b"!invalid\n",
            Notice::Tls => b"!tls\n",
        }
    }

    /// Reads a notice line (without its line ending); `None` for anything
    /// else.
    pub fn parse(line: &[u8]) -> Option<Notice> {
        [
            Notice::Full,
            Notice::Busy,
            Notice::Timeout,
            Notice::Slow,
            Notice::Invalid,
            Notice::Tls,
        ]
        .into_iter()
        .find(|notice| notice.line().strip_suffix(b"\n") == Some(line))
    }
}

impl core::fmt::Display for Notice {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Notice::Full => "the relay is full",
            Notice::Busy => "too many connections from this address",
            Notice::Timeout => "no valid frame in time",
            Notice::Slow => "frames waited too long for this connection",
            Notice::Invalid => "too many invalid frames",
            Notice::Tls => "this port speaks TLS: connect with --tls",
        })
    }
}

/// Why a member left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Departure {
    /// It closed its side.
    Closed,
    /// The connection was reset, timed out or failed.
    Reset,
    /// Too many invalid frames in a row; the last one's reason.
    TooManyInvalid(RejectReason),
    /// No valid frame within the hello timeout.
    HelloTimeout,
    /// Frames waited for it and it took none within the slow timeout.
    NotReading,
}

impl Departure {
    /// The notice to send before closing, if the relay is the one closing.
    pub fn notice(self) -> Option<Notice> {
        match self {
            Departure::Closed | Departure::Reset => None,
            Departure::TooManyInvalid(_) => Some(Notice::Invalid),
            Departure::HelloTimeout => Some(Notice::Timeout),
            Departure::NotReading => Some(Notice::Slow),
        }
    }
}

impl core::fmt::Display for Departure {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Departure::Closed => f.write_str("closed"),
            Departure::Reset => f.write_str("reset or failed"),
            Departure::TooManyInvalid(reason) => {
                write!(f, "too many invalid frames ({reason})")
            }
            Departure::HelloTimeout => f.write_str("no valid frame in time"),
            Departure::NotReading => f.write_str("not reading"),
        }
    }
}

/// How frames reach the members: the shell's queues or buffers.
pub trait Fanout {
    /// True when a frame of `len` bytes can be queued now for every member
    /// but `from` without passing any bound.
    fn has_room(&self, from: usize, len: usize) -> bool;
    /// Queues `frame` for every member but `from` (`None`: for all).
    fn push(&mut self, from: Option<usize>, frame: &[u8]);
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
        /// the others go into [`Member::refusal_summary`].
        first: bool,
    },
}

/// What one [`Room::receive`] step did.
#[must_use = "a departure must be acted on, and `consumed` says how far the input was used"]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoomStep {
    /// Bytes taken from the front of the input. Less than all of it when
    /// the member is held or leaves: keep the rest for later, or drop it.
    pub consumed: usize,
    /// The member must leave, and why.
    pub departure: Option<Departure>,
}

/// The id under which the [`Room::remote`] member's frames go to
/// [`Fanout::push`]: no local member has it, so they reach every local
/// member, and a shell that bridges tells them from local frames by it.
pub const REMOTE: usize = usize::MAX;

/// Milli-frames in a member's rate bucket per frame.
const FRAME_COST: u64 = 1000;

/// One connection as the room sees it.
#[derive(Clone, Debug)]
pub struct Member {
    inbound: Inbound,
    ip: PeerIp,
    joined_ms: u64,
    /// When it last sent bytes.
    last_input_ms: u64,
    /// Since when frames have waited for it without it taking any.
    waiting_since_ms: Option<u64>,
    /// How its frames have fared.
    standing: Standing,
}

/// How a member's frames have fared: kept apart from its [`Inbound`],
/// which holds the frame being judged.
#[derive(Clone, Debug)]
struct Standing {
    /// It has sent a valid frame.
    greeted: bool,
    /// A frame it sent waits in `inbound` for room in the fan-out.
    held: bool,
    /// What its rate limit still allows.
    rate: RateBucket,
    /// Its refused frames, for summaries.
    refusals: RefusalTally,
    /// It stands for other relays ([`Room::remote`]).
    remote: bool,
}

/// A token bucket of milli-frames, filled at the rate limit.
#[derive(Clone, Copy, Debug)]
struct RateBucket {
    credit: u64,
    filled_ms: u64,
}

impl RateBucket {
    /// Takes one frame's credit, filling the bucket first for the time gone
    /// by (up to one second's worth); false when it is empty. Always true
    /// with no limit.
    fn take(&mut self, max_rate: Option<u32>, now_ms: u64) -> bool {
        let Some(rate) = max_rate else {
            return true;
        };
        let elapsed = now_ms.saturating_sub(self.filled_ms);
        self.filled_ms = now_ms.max(self.filled_ms);
        // `rate` frames a second is `rate` milli-frames a millisecond.
        let burst = u64::from(rate) * FRAME_COST;
        self.credit = self
            .credit
            .saturating_add(elapsed.saturating_mul(u64::from(rate)))
            .min(burst);
        if self.credit < FRAME_COST {
            return false;
        }
        self.credit -= FRAME_COST;
        true
    }
}

impl Member {
    /// The peer's address.
    pub fn ip(&self) -> PeerIp {
        self.ip
    }

    /// True while a frame it sent waits for room: read nothing more from
    /// it until [`Room::release`] says the frame went.
    pub fn is_held(&self) -> bool {
        self.standing.held
    }

    /// How it frames its tokens, as far as it is known: the original
    /// Python chat sends them unframed.
    pub fn framing(&self) -> Framing {
        self.inbound.framing()
    }

    /// The nick it has been sending as (keyed relays only).
    pub fn nick(&self) -> Option<&str> {
        self.inbound.nick()
    }

    /// Frames were queued for it: if none were waiting, the slow timeout
    /// starts now.
    pub fn queued(&mut self, now_ms: u64) {
        self.waiting_since_ms.get_or_insert(now_ms);
    }

    /// The summary of its refused frames that is due: one per
    /// [`crate::tally::SUMMARY_INTERVAL_MS`], and the rest when it is
    /// `leaving`.
    pub fn refusal_summary(&mut self, now: Now, leaving: bool) -> Option<Summary> {
        self.standing.refusals.summary(now.millis, leaving)
    }

    /// Its transport took some of what waited for it; `remaining` bytes
    /// still wait. Progress restarts the slow timeout.
    pub fn took(&mut self, remaining: usize, now_ms: u64) {
        self.waiting_since_ms = (remaining > 0).then_some(now_ms);
    }
}

/// The relay's rules for every connection: admission, the per-frame
/// policy, back-pressure, deadlines and departures.
pub struct Room<const K: usize = DEFAULT_MAX_KEYS, S = RelayReplay> {
    policy: RelayPolicy<K, S>,
    limits: Limits,
    members: usize,
}

impl<const K: usize, S: ReplayStore> Room<K, S> {
    /// A room deciding frames with `policy` under `limits`.
    pub fn new(policy: RelayPolicy<K, S>, limits: Limits) -> Self {
        Room {
            policy,
            limits,
            members: 0,
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

    /// Members now.
    pub fn members(&self) -> usize {
        self.members
    }

    /// A connection from `ip` arrived; `same_ip` members already come from
    /// that address. Gives its [`Member`], or the notice to send it before
    /// closing.
    pub fn admit(&mut self, ip: PeerIp, same_ip: usize, now: Now) -> Result<Member, Notice> {
        if self.members >= self.limits.max_clients {
            return Err(Notice::Full);
        }
        if self.limits.max_per_ip > 0 && same_ip >= self.limits.max_per_ip {
            return Err(Notice::Busy);
        }
        self.members += 1;
        Ok(self.member(ip, now))
    }

    /// The member that stands for frames from outside this relay (other
    /// relays, over a bridge): its frames go through the same policy as a
    /// local member's (shape; keyed: MAC, freshness, replay) and to every
    /// local member. Feed it to [`Room::receive`] and [`Room::release`]
    /// under the id [`REMOTE`]. It takes no slot, has no rate limit (each
    /// sender is limited by its own relay) and no deadlines, and is never
    /// made to leave: invalid frames are only refused.
    pub fn remote(&self, now: Now) -> Member {
        let mut member = self.member([0; 16], now);
        member.standing.remote = true;
        member
    }

    /// A new member's state.
    fn member(&self, ip: PeerIp, now: Now) -> Member {
        Member {
            inbound: Inbound::new(),
            ip,
            joined_ms: now.millis,
            last_input_ms: now.millis,
            waiting_since_ms: None,
            standing: Standing {
                greeted: false,
                held: false,
                rate: RateBucket {
                    credit: self.rate_burst(),
                    filled_ms: now.millis,
                },
                refusals: RefusalTally::new(now.millis),
                remote: false,
            },
        }
    }

    /// Feeds bytes that member `id` sent through the policy: valid frames
    /// go to `fanout`, and `on_event` hears what became of each frame. Stops
    /// early when a frame has no room in the fan-out (the member is then
    /// held) or the member must leave. Never panics, whatever the input.
    pub fn receive(
        &mut self,
        id: usize,
        member: &mut Member,
        input: &[u8],
        now: Now,
        fanout: &mut impl Fanout,
        mut on_event: impl FnMut(FrameEvent),
    ) -> RoomStep {
        if !input.is_empty() {
            member.last_input_ms = now.millis;
        }
        let mut consumed = 0;
        while !member.standing.held {
            let step = self
                .policy
                .receive(&mut member.inbound, &input[consumed..], now.unix);
            consumed += step.consumed;
            // The input is used up.
            let Some(verdict) = step.verdict else { break };
            let departure = self.act(
                id,
                &mut member.standing,
                verdict,
                now,
                fanout,
                &mut on_event,
            );
            if departure.is_some() {
                return RoomStep {
                    consumed,
                    departure,
                };
            }
        }
        RoomStep {
            consumed,
            departure: None,
        }
    }

    /// Feeds one message that member `id` sent on a carrier whose messages
    /// each hold one token (a WebSocket message, a NATS message): the
    /// token goes through the policy as a frame would, with the same rate
    /// limit and the same count of invalid frames. Anything but exactly one
    /// token (a line feed inside, two tokens, junk) is one invalid frame,
    /// dropped whole; an empty message is a keep-alive. Takes nothing
    /// (`consumed` 0) while the member is held; otherwise all of it, and a
    /// frame with no room in the fan-out holds the member as
    /// [`Room::receive`] does. Never panics, whatever the input.
    pub fn receive_message(
        &mut self,
        id: usize,
        member: &mut Member,
        message: &[u8],
        now: Now,
        fanout: &mut impl Fanout,
        mut on_event: impl FnMut(FrameEvent),
    ) -> RoomStep {
        if member.standing.held {
            return RoomStep {
                consumed: 0,
                departure: None,
            };
        }
        member.last_input_ms = now.millis;
        let departure = self
            .policy
            .receive_message(&mut member.inbound, message, now.unix)
            .and_then(|verdict| {
                self.act(
                    id,
                    &mut member.standing,
                    verdict,
                    now,
                    fanout,
                    &mut on_event,
                )
            });
        RoomStep {
            consumed: message.len(),
            departure,
        }
    }

    /// Acts on the policy's verdict on one of `member`'s frames: forwards
    /// it (rate limit and room allowing; held when there is no room),
    /// counts a refusal, or says it must leave.
    fn act(
        &mut self,
        id: usize,
        member: &mut Standing,
        verdict: Verdict<'_>,
        now: Now,
        fanout: &mut impl Fanout,
        on_event: &mut impl FnMut(FrameEvent),
    ) -> Option<Departure> {
        let reason = match verdict {
            Verdict::Forward(frame) => {
                member.greeted = true;
                if !member.remote && !member.rate.take(self.limits.max_rate, now.millis) {
                    let first = member.refusals.record(Refusal::RateLimited);
                    on_event(FrameEvent::Refused {
                        refusal: Refusal::RateLimited,
                        first,
                    });
                } else if fanout.has_room(id, frame.len()) {
                    fanout.push(Some(id), frame);
                    on_event(FrameEvent::Forwarded { len: frame.len() });
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
        on_event(FrameEvent::Refused { refusal, first });
        match verdict {
            Verdict::Disconnect(reason) if !member.remote => {
                Some(Departure::TooManyInvalid(reason))
            }
            _ => None,
        }
    }

    /// Call every so often (a few times a second) for each member: once it
    /// has sent nothing for [`UNFRAMED_PAUSE_MS`], a whole token it left
    /// without line feed goes through the policy as a frame would, and on
    /// to `fanout` (`docs/PROTOCOL.md` section 2, Unframed senders). A
    /// framed member is never affected.
    pub fn pause(
        &mut self,
        id: usize,
        member: &mut Member,
        now: Now,
        fanout: &mut impl Fanout,
        on_event: impl FnMut(FrameEvent),
    ) -> Option<Departure> {
        let quiet = now.millis.saturating_sub(member.last_input_ms) >= UNFRAMED_PAUSE_MS;
        if member.standing.held || !quiet || !member.inbound.pause() {
            return None;
        }
        self.receive(id, member, &[], now, fanout, on_event)
            .departure
    }

    /// Tries again to forward a held member's frame; true when the member
    /// is no longer held (read from it again).
    pub fn release(
        &mut self,
        id: usize,
        member: &mut Member,
        fanout: &mut impl Fanout,
        mut on_event: impl FnMut(FrameEvent),
    ) -> bool {
        if !member.standing.held {
            return true;
        }
        let Some(frame) = member.inbound.last_frame() else {
            member.standing.held = false;
            return true;
        };
        if !fanout.has_room(id, frame.len()) {
            return false;
        }
        fanout.push(Some(id), frame);
        on_event(FrameEvent::Forwarded { len: frame.len() });
        member.standing.held = false;
        true
    }

    /// The deadline `member` has passed, if any: call it every so often
    /// (a few times a second).
    pub fn overdue(&self, member: &Member, now: Now) -> Option<Departure> {
        if member.standing.remote {
            return None;
        }
        let since = |start: u64| now.millis.saturating_sub(start);
        if !member.standing.greeted && since(member.joined_ms) >= self.limits.hello_timeout_ms {
            return Some(Departure::HelloTimeout);
        }
        match member.waiting_since_ms {
            Some(start) if since(start) >= self.limits.slow_timeout_ms => {
                Some(Departure::NotReading)
            }
            _ => None,
        }
    }

    /// `member` (number `id`) is gone: frees its place and, in keyed mode
    /// for a member that had named itself, sends `nick LF /leave` on its
    /// behalf through `fanout`, with an IV from `rng`.
    pub fn depart(
        &mut self,
        id: usize,
        member: &Member,
        now: Now,
        rng: &mut (impl CryptoRng + ?Sized),
        fanout: &mut impl Fanout,
    ) -> bool {
        self.members = self.members.saturating_sub(1);
        let mut out = [0u8; crate::relay::MAX_LEAVE_FRAME];
        match self
            .policy
            .leave_on_behalf(&member.inbound, now.unix, rng, &mut out)
        {
            Some(leave) => {
                fanout.push(Some(id), leave);
                true
            }
            None => false,
        }
    }

    /// The most milli-frames a bucket holds: one second's worth.
    fn rate_burst(&self) -> u64 {
        self.limits
            .max_rate
            .map_or(0, |rate| u64::from(rate) * FRAME_COST)
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

    /// Per-member queues of at most `bound` bytes.
    struct Queues {
        queues: Vec<Vec<u8>>,
        bound: usize,
    }

    impl Fanout for Queues {
        fn has_room(&self, from: usize, len: usize) -> bool {
            self.queues
                .iter()
                .enumerate()
                .all(|(id, q)| id == from || q.len() + len <= self.bound)
        }

        fn push(&mut self, from: Option<usize>, frame: &[u8]) {
            for (id, q) in self.queues.iter_mut().enumerate() {
                if Some(id) != from {
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
        room: &mut Room<1, Small>,
        id: usize,
        member: &mut Member,
        bytes: &[u8],
        now: Now,
        fanout: &mut Queues,
    ) -> (RoomStep, Vec<FrameEvent>) {
        let mut events = Vec::new();
        let step = room.receive(id, member, bytes, now, fanout, |e| events.push(e));
        (step, events)
    }

    #[test]
    fn test_admission_full_and_per_ip() {
        let mut room = Room::<1, Small>::new(RelayPolicy::blind(), limits());
        assert!(room.admit(IP, 0, at(0)).is_ok());
        assert!(room.admit(IP, 1, at(0)).is_ok());
        assert_eq!(room.admit(IP, 2, at(0)).unwrap_err(), Notice::Busy);
        let other = room.admit([2; 16], 0, at(0)).unwrap();
        assert_eq!(room.admit([3; 16], 0, at(0)).unwrap_err(), Notice::Full);
        let mut queues = Queues {
            queues: Vec::new(),
            bound: 0,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert!(!room.depart(2, &other, at(1), &mut rng, &mut queues));
        assert!(room.admit([3; 16], 0, at(0)).is_ok());
        assert_eq!(Notice::parse(b"!full"), Some(Notice::Full));
        assert_eq!(Notice::parse(b"!tls"), Some(Notice::Tls));
        assert_eq!(Notice::parse(b"!nonsense"), None);
    }

    #[test]
    fn test_frame_held_until_room_then_released() {
        let mut room = Room::<1, Small>::new(RelayPolicy::blind(), limits());
        let mut ann = room.admit(IP, 0, at(0)).unwrap();
        let one = frame("one", 1000);
        let two = frame("two", 1000);
        // Room for one frame only in member 1's queue.
        let mut queues = Queues {
            queues: std::vec![Vec::new(), Vec::new()],
            bound: one.len() + 10,
        };
        let wire = [one.clone(), two.clone()].concat();
        let (step, events) = feed(&mut room, 0, &mut ann, &wire, at(0), &mut queues);
        assert_eq!(step.departure, None);
        assert_eq!(step.consumed, wire.len(), "the second frame was read whole");
        assert_eq!(events, [FrameEvent::Forwarded { len: one.len() }]);
        assert!(ann.is_held());
        assert!(!room.release(0, &mut ann, &mut queues, |_| {}));
        // Member 1 reads: the held frame goes, and in order.
        queues.queues[1].clear();
        assert!(room.release(0, &mut ann, &mut queues, |_| {}));
        assert!(!ann.is_held());
        assert_eq!(queues.queues[1], two);
    }

    #[test]
    fn test_held_member_reads_nothing_more() {
        let mut room = Room::<1, Small>::new(RelayPolicy::blind(), limits());
        let mut ann = room.admit(IP, 0, at(0)).unwrap();
        let one = frame("one", 1000);
        let mut queues = Queues {
            queues: std::vec![Vec::new(), Vec::new()],
            bound: 0,
        };
        let wire = [one.clone(), one.clone()].concat();
        let (step, events) = feed(&mut room, 0, &mut ann, &wire, at(0), &mut queues);
        assert_eq!(step.consumed, one.len());
        assert!(events.is_empty());
        let (step, _) = feed(
            &mut room,
            0,
            &mut ann,
            &wire[one.len()..],
            at(0),
            &mut queues,
        );
        assert_eq!(step.consumed, 0);
    }

    #[test]
    fn test_hello_timeout_and_keepalives() {
        let mut room = Room::<1, Small>::new(RelayPolicy::blind(), limits());
        let mut idle = room.admit(IP, 0, at(0)).unwrap();
        let mut queues = Queues {
            queues: std::vec![Vec::new(), Vec::new()],
            bound: 1 << 20,
        };
        let _ = feed(&mut room, 0, &mut idle, b"\n\r\n\n", at(9_000), &mut queues);
        assert_eq!(room.overdue(&idle, at(9_999)), None);
        assert_eq!(
            room.overdue(&idle, at(10_000)),
            Some(Departure::HelloTimeout)
        );
        assert_eq!(Departure::HelloTimeout.notice(), Some(Notice::Timeout));
        let mut talker = room.admit(IP, 1, at(0)).unwrap();
        let _ = feed(
            &mut room,
            1,
            &mut talker,
            &frame("hi", 1000),
            at(9_000),
            &mut queues,
        );
        assert_eq!(room.overdue(&talker, at(60_000)), None);
    }

    #[test]
    fn test_slow_reader_judged_by_progress_over_time() {
        let mut room = Room::<1, Small>::new(RelayPolicy::blind(), limits());
        let mut bob = room.admit(IP, 0, at(0)).unwrap();
        let mut queues = Queues {
            queues: std::vec![Vec::new(), Vec::new()],
            bound: 1 << 20,
        };
        let _ = feed(
            &mut room,
            1,
            &mut bob,
            &frame("hi", 1000),
            at(0),
            &mut queues,
        );
        bob.queued(1_000);
        bob.queued(3_000);
        assert_eq!(room.overdue(&bob, at(5_999)), None);
        // It took a little at 4 s: the clock restarts.
        bob.took(100, 4_000);
        assert_eq!(room.overdue(&bob, at(8_999)), None);
        assert_eq!(room.overdue(&bob, at(9_000)), Some(Departure::NotReading));
        bob.took(0, 9_500);
        assert_eq!(room.overdue(&bob, at(60_000)), None);
    }

    #[test]
    fn test_rate_limit_drops_excess_and_refills() {
        let mut room = Room::<1, Small>::new(
            RelayPolicy::blind(),
            Limits {
                max_rate: Some(2),
                ..limits()
            },
        );
        let mut ann = room.admit(IP, 0, at(0)).unwrap();
        let mut queues = Queues {
            queues: std::vec![Vec::new(), Vec::new()],
            bound: 1 << 20,
        };
        let wire: Vec<u8> = (0..4)
            .flat_map(|i| frame(&"x".repeat(i + 1), 1000))
            .collect();
        let (_, events) = feed(&mut room, 0, &mut ann, &wire, at(0), &mut queues);
        let limited = events
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
        assert_eq!((events.len(), limited), (4, 2));
        let (_, events) = feed(
            &mut room,
            0,
            &mut ann,
            &frame("later", 1000),
            at(500),
            &mut queues,
        );
        assert!(matches!(events[..], [FrameEvent::Forwarded { .. }]));
    }

    #[test]
    fn test_invalid_run_departs_with_notice() {
        let mut room = Room::<1, Small>::new(RelayPolicy::blind(), limits());
        let mut eve = room.admit(IP, 0, at(0)).unwrap();
        let mut queues = Queues {
            queues: std::vec![Vec::new(), Vec::new()],
            bound: 1 << 20,
        };
        let wire = b"!\n".repeat(20);
        let (step, events) = feed(&mut room, 0, &mut eve, &wire, at(0), &mut queues);
        assert_eq!(events.len(), 16);
        assert_eq!(step.consumed, 32);
        let departure = step.departure.unwrap();
        assert!(matches!(departure, Departure::TooManyInvalid(_)));
        assert_eq!(departure.notice(), Some(Notice::Invalid));
    }

    #[test]
    fn test_remote_frames_reach_every_local_member_under_the_same_policy() {
        let keys = KeySet::single(Key::from_bytes([1; 32]));
        let limits = Limits {
            max_rate: Some(1),
            ..limits()
        };
        let mut room = Room::<1, Small>::new(RelayPolicy::keyed(keys, 300, Small::new()), limits);
        let mut ann = room.admit(IP, 0, at(0)).unwrap();
        let mut remote = room.remote(at(0));
        assert_eq!(room.members(), 1, "the remote member takes no slot");
        let mut queues = Queues {
            queues: std::vec![Vec::new(), Vec::new()],
            bound: 1 << 20,
        };
        // Member 0 sends a frame: it reaches member 1 and is remembered.
        let hi = frame("hi", 1000);
        let (_, events) = feed(&mut room, 0, &mut ann, &hi, at(0), &mut queues);
        assert!(matches!(events[..], [FrameEvent::Forwarded { .. }]));
        // The same frame back over the bridge is a replay.
        queues.queues.iter_mut().for_each(Vec::clear);
        let (_, events) = feed(&mut room, REMOTE, &mut remote, &hi, at(0), &mut queues);
        assert!(matches!(
            events[..],
            [FrameEvent::Refused {
                refusal: Refusal::Rejected(RejectReason::Replayed),
                ..
            }]
        ));
        // New remote frames reach every local member, with no rate limit.
        let wire = [frame("a", 1000), frame("bb", 1000), frame("ccc", 1000)].concat();
        let (step, events) = feed(&mut room, REMOTE, &mut remote, &wire, at(0), &mut queues);
        assert_eq!(
            step,
            RoomStep {
                consumed: wire.len(),
                departure: None
            }
        );
        assert_eq!(events.len(), 3);
        assert!(
            events
                .iter()
                .all(|e| matches!(e, FrameEvent::Forwarded { .. }))
        );
        assert_eq!(queues.queues[0], wire);
        assert_eq!(queues.queues[1], wire);
        // A forged frame is refused; a flood of them never makes it leave,
        // and it has no deadlines.
        let mut forged = frame("x", 1000);
        forged[10] ^= 1;
        let (_, events) = feed(
            &mut room,
            REMOTE,
            &mut remote,
            &forged.repeat(40),
            at(0),
            &mut queues,
        );
        assert_eq!(events.len(), 40);
        assert!(
            !events
                .iter()
                .any(|e| matches!(e, FrameEvent::Forwarded { .. }))
        );
        let (step, _) = feed(
            &mut room,
            REMOTE,
            &mut remote,
            &b"!\n".repeat(40),
            at(0),
            &mut queues,
        );
        assert_eq!(step.departure, None);
        assert_eq!(room.overdue(&remote, at(1_000_000)), None);
    }

    #[test]
    fn test_remote_frame_held_until_room() {
        let mut room = Room::<1, Small>::new(RelayPolicy::blind(), limits());
        let mut remote = room.remote(at(0));
        let one = frame("one", 1000);
        let mut queues = Queues {
            queues: std::vec![Vec::new()],
            bound: 0,
        };
        let (step, events) = feed(&mut room, REMOTE, &mut remote, &one, at(0), &mut queues);
        assert_eq!((step.consumed, events.len()), (one.len(), 0));
        assert!(remote.is_held());
        queues.bound = 1 << 20;
        assert!(room.release(REMOTE, &mut remote, &mut queues, |_| {}));
        assert_eq!(queues.queues[0], one);
    }

    #[test]
    fn test_keyed_departure_says_leave() {
        let keys = KeySet::single(Key::from_bytes([1; 32]));
        let mut room = Room::<1, Small>::new(RelayPolicy::keyed(keys, 300, Small::new()), limits());
        let mut ann = room.admit(IP, 0, at(0)).unwrap();
        let mut queues = Queues {
            queues: std::vec![Vec::new(), Vec::new()],
            bound: 1 << 20,
        };
        let _ = feed(
            &mut room,
            0,
            &mut ann,
            &frame("hi", 1000),
            at(0),
            &mut queues,
        );
        assert_eq!(ann.nick(), Some("ann"));
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        queues.queues[1].clear();
        assert!(room.depart(0, &ann, at(10), &mut rng, &mut queues));
        assert!(queues.queues[0].is_empty());
        assert!(queues.queues[1].ends_with(b"\n"));
        assert_eq!(room.members(), 0);
    }

    #[test]
    fn test_unframed_member_is_heard_as_frames() {
        let mut room = Room::<1, Small>::new(RelayPolicy::blind(), limits());
        let mut old = room.admit(IP, 0, at(0)).unwrap();
        let mut queues = Queues {
            queues: std::vec![Vec::new(), Vec::new()],
            bound: 1 << 20,
        };
        let token = |text: &str| {
            let frame = frame(text, 1000);
            frame[..frame.len() - 1].to_vec()
        };
        // Three tokens with no line feed: the last (3 blocks) has no padding.
        let (one, two, three) = (token("one"), token("two"), token(&"x".repeat(40)));
        let wire = [&one[..], &two, &three].concat();
        let (step, events) = feed(&mut room, 0, &mut old, &wire, at(0), &mut queues);
        assert_eq!(
            step,
            RoomStep {
                consumed: wire.len(),
                departure: None
            }
        );
        assert_eq!(events.len(), 2);
        assert_eq!(queues.queues[1], [&one[..], b"\n", &two, b"\n"].concat());
        // Not quiet long enough yet, then the pause ends the third token.
        let mut events = Vec::new();
        let early = room.pause(0, &mut old, at(UNFRAMED_PAUSE_MS - 1), &mut queues, |e| {
            events.push(e)
        });
        assert_eq!((early, events.len()), (None, 0));
        let due = room.pause(0, &mut old, at(UNFRAMED_PAUSE_MS), &mut queues, |e| {
            events.push(e)
        });
        assert_eq!((due, events.len()), (None, 1));
        assert!(queues.queues[1].ends_with(&[&three[..], b"\n"].concat()));
        assert_eq!(room.overdue(&old, at(60_000)), None, "it has greeted");
        // The slow timeout holds as for framed members.
        old.queued(60_000);
        assert_eq!(room.overdue(&old, at(65_000)), Some(Departure::NotReading));
    }

    #[test]
    fn test_a_message_is_one_token_whole_or_dropped_whole() {
        let mut room = Room::<1, Small>::new(RelayPolicy::blind(), limits());
        let mut ws = room.admit(IP, 0, at(0)).unwrap();
        let mut queues = Queues {
            queues: std::vec![Vec::new(), Vec::new()],
            bound: 1 << 20,
        };
        let hi = frame("hi", 1000);
        let token = &hi[..hi.len() - 1];
        let mut events = Vec::new();
        let mut send =
            |room: &mut Room<1, Small>, ws: &mut Member, message: &[u8], queues: &mut Queues| {
                room.receive_message(0, ws, message, at(0), queues, |e| events.push(e))
            };
        let step = send(&mut room, &mut ws, token, &mut queues);
        assert_eq!((step.consumed, step.departure), (token.len(), None));
        assert_eq!(queues.queues[1], hi);
        // Smuggled behind a line feed, after one, two tokens in one
        // message, a keep-alive: nothing is forwarded.
        let smuggled = [b"AAAA\n", token].concat();
        let trailing = [token, b"\n"].concat();
        let two = [token, token].concat();
        for message in [&smuggled[..], &trailing, &two, b""] {
            let step = send(&mut room, &mut ws, message, &mut queues);
            assert_eq!((step.consumed, step.departure), (message.len(), None));
        }
        assert_eq!(queues.queues[1], hi, "nothing more was forwarded");
        let refused = |e: &FrameEvent| matches!(e, FrameEvent::Refused { .. });
        assert_eq!(events.len(), 4, "{events:?}");
        assert!(events[1..].iter().all(refused));
        // Invalid messages count as invalid frames do: sixteen in a row and
        // it must leave.
        let departures: Vec<_> = (0..13)
            .filter_map(|_| {
                room.receive_message(0, &mut ws, &smuggled, at(0), &mut queues, |_| {})
                    .departure
            })
            .collect();
        assert!(matches!(departures[..], [Departure::TooManyInvalid(_)]));
    }

    #[test]
    fn test_a_message_with_no_room_holds_its_sender() {
        let mut room = Room::<1, Small>::new(RelayPolicy::blind(), limits());
        let mut ws = room.admit(IP, 0, at(0)).unwrap();
        let one = frame("one", 1000);
        let mut queues = Queues {
            queues: std::vec![Vec::new(), Vec::new()],
            bound: 0,
        };
        let token = &one[..one.len() - 1];
        let step = room.receive_message(0, &mut ws, token, at(0), &mut queues, |_| {});
        assert_eq!(step.consumed, token.len());
        assert!(ws.is_held());
        let again = room.receive_message(0, &mut ws, token, at(0), &mut queues, |_| {});
        assert_eq!(again.consumed, 0, "a held member takes no message");
        queues.bound = 1 << 20;
        assert!(room.release(0, &mut ws, &mut queues, |_| {}));
        assert_eq!(queues.queues[1], one);
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
}
