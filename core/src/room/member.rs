//! One member as the room keeps it: its inbound frame, its address, its
//! deadlines, its rate and refusals, and its place in the room's lines.

use super::seats::MemberId;
use super::{Limits, Now, PeerIp, UNFRAMED_PAUSE_MS};
use crate::frame::Framing;
use crate::relay::Inbound;
use crate::room::Departure;
use crate::tally::RefusalTally;

/// Milli-frames in a member's rate bucket per frame.
const FRAME_COST: u64 = 1000;

/// One connection as the room sees it. Kept in the room's [`super::Seats`];
/// a shell reads it through [`super::Room::member`].
#[derive(Clone, Debug)]
pub struct Member {
    pub(super) inbound: Inbound,
    ip: PeerIp,
    joined_ms: u64,
    /// When it last sent bytes.
    pub(super) last_input_ms: u64,
    /// Since when frames have waited for it without it taking any.
    waiting_since_ms: Option<u64>,
    /// Why it must leave, once the room or the shell has decided it.
    pub(super) leaving: Option<Departure>,
    /// How its frames have fared.
    pub(super) standing: Standing,
    /// What the shell has still to hear about it ([`super::Event`]).
    pub(super) news: News,
    /// The next member in the room's line of held senders.
    pub(super) next_held: Option<MemberId>,
    /// The next member in the room's line of news.
    pub(super) next_news: Option<MemberId>,
}

/// How a member's frames have fared: kept apart from its [`Inbound`],
/// which holds the frame being judged.
#[derive(Clone, Debug)]
pub(super) struct Standing {
    /// It has sent a valid frame.
    pub(super) greeted: bool,
    /// A frame it sent waits in `inbound` for room in the fan-out.
    pub(super) held: bool,
    /// What its rate limit still allows.
    pub(super) rate: RateBucket,
    /// Its refused frames, for summaries.
    pub(super) refusals: RefusalTally,
    /// It stands for other relays ([`super::Room::admit_remote`]).
    pub(super) remote: bool,
}

/// What the shell has still to hear about a member, one bit each.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct News(u8);

impl News {
    /// It turned out to send unframed tokens.
    pub(super) const UNFRAMED: News = News(1);
    /// Its held frame went: read from it again.
    pub(super) const RELEASED: News = News(2);
    /// A summary of its refusals is due.
    pub(super) const SUMMARY: News = News(4);
    /// It left: the last news of a member.
    pub(super) const LEFT: News = News(8);

    /// Nothing to say.
    pub(super) fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Adds `other`.
    pub(super) fn add(&mut self, other: News) {
        self.0 |= other.0;
    }

    /// Takes the first piece of news, in the order above (`LEFT` last).
    pub(super) fn take_first(&mut self) -> Option<News> {
        if self.0 == 0 {
            return None;
        }
        let first = News(self.0 & self.0.wrapping_neg());
        self.0 &= !first.0;
        Some(first)
    }
}

/// A token bucket of milli-frames, filled at the rate limit.
#[derive(Clone, Copy, Debug)]
pub(super) struct RateBucket {
    credit: u64,
    filled_ms: u64,
}

impl RateBucket {
    /// A full bucket for `max_rate`.
    fn full(max_rate: Option<u32>, now_ms: u64) -> RateBucket {
        RateBucket {
            credit: max_rate.map_or(0, |rate| u64::from(rate) * FRAME_COST),
            filled_ms: now_ms,
        }
    }

    /// Takes one frame's credit, filling the bucket first for the time gone
    /// by (up to one second's worth); false when it is empty. Always true
    /// with no limit.
    pub(super) fn take(&mut self, max_rate: Option<u32>, now_ms: u64) -> bool {
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
    /// A new member from `ip`, under `limits`; `remote` for the member
    /// that stands for other relays.
    pub(super) fn new(ip: PeerIp, limits: &Limits, now: Now, remote: bool) -> Member {
        Member {
            inbound: Inbound::new(),
            ip,
            joined_ms: now.millis,
            last_input_ms: now.millis,
            waiting_since_ms: None,
            leaving: None,
            standing: Standing {
                greeted: false,
                held: false,
                rate: RateBucket::full(limits.max_rate, now.millis),
                refusals: RefusalTally::new(now.millis),
                remote,
            },
            news: News::default(),
            next_held: None,
            next_news: None,
        }
    }

    /// The peer's address, as the per-address limit counts it.
    pub fn ip(&self) -> PeerIp {
        self.ip
    }

    /// True for the member that stands for other relays.
    pub fn is_remote(&self) -> bool {
        self.standing.remote
    }

    /// True while a frame it sent waits for room: read nothing more from
    /// it until the room reports [`super::Event::Released`].
    pub fn is_held(&self) -> bool {
        self.standing.held
    }

    /// Why it is leaving, once that is decided: read nothing more from it,
    /// the room reports [`super::Event::Left`].
    pub fn leaving(&self) -> Option<Departure> {
        self.leaving
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

    /// Frames wait for it: if none were waiting, the slow timeout starts.
    pub(super) fn queued(&mut self, now_ms: u64) {
        self.waiting_since_ms.get_or_insert(now_ms);
    }

    /// Its transport took some of what waited; `remaining` bytes still
    /// wait. Progress restarts the slow timeout.
    pub(super) fn took(&mut self, remaining: usize, now_ms: u64) {
        self.waiting_since_ms = (remaining > 0).then_some(now_ms);
    }

    /// The deadline it has passed at `now`, if any.
    pub(super) fn overdue(&self, limits: &Limits, now_ms: u64) -> Option<Departure> {
        let since = |start: u64| now_ms.saturating_sub(start);
        if !self.standing.greeted && since(self.joined_ms) >= limits.hello_timeout_ms {
            return Some(Departure::HelloTimeout);
        }
        match self.waiting_since_ms {
            Some(start) if since(start) >= limits.slow_timeout_ms => Some(Departure::NotReading),
            _ => None,
        }
    }

    /// The next moment the room has something to do for it (a deadline, a
    /// pause that may end a token, a summary); `u64::MAX` for none.
    pub(super) fn next_due_ms(&self, limits: &Limits) -> u64 {
        if self.standing.remote || self.leaving.is_some() {
            return u64::MAX;
        }
        let mut due = self.standing.refusals.due_ms().unwrap_or(u64::MAX);
        if !self.standing.greeted {
            due = due.min(self.joined_ms.saturating_add(limits.hello_timeout_ms));
        }
        if let Some(start) = self.waiting_since_ms {
            due = due.min(start.saturating_add(limits.slow_timeout_ms));
        }
        if !self.standing.held && self.inbound.pause_pending() {
            due = due.min(self.last_input_ms.saturating_add(UNFRAMED_PAUSE_MS));
        }
        due
    }
}
