//! `Room`, the relay's lifecycle (`docs/PROTOCOL.md` section 6), against a
//! plain reference model, over random connects, bytes, reads, time steps
//! and closes:
//!
//! - admission refuses exactly when the model's counts say (full, then the
//!   per-address limit);
//! - every valid frame a member sends is forwarded once, in order, unless
//!   it leaves first (back-pressure holds frames, it never drops one), and
//!   a held member consumes nothing;
//! - no member's queue passes its bound, and a pause never moves a
//!   member that frames its tokens;
//! - a member is seen off for a deadline only once the model says it has
//!   passed (no valid frame for the hello timeout, or frames waiting and
//!   none taken for the slow timeout), and always within
//!   `DEADLINE_GRAIN_MS` of it;
//! - a seat is given again only after its member's `Left` was polled.
//!
//! Input: a list of operations, each an opcode byte and its argument bytes.

#![no_main]

use fernchat_core::fernet::hazmat::encrypt_with_iv;
use fernchat_core::frame::MAX_FRAME;
use fernchat_core::relay::RelayPolicy;
use fernchat_core::replay::ArrayStore;
use fernchat_core::room::{
    DEADLINE_GRAIN_MS, Departure, Event, Fanout, FrameEvent, Limits, Member, MemberId, Notice, Now,
    Room, SeatMemory,
};
use fernchat_fuzz::{Item, T0, key, reference_frames};
use libfuzzer_sys::fuzz_target;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;
use std::sync::OnceLock;

/// A replay cache small enough for a few seed tokens to fill.
type Small = ArrayStore<8, 4>;
/// Seats: more than the limit lets in.
const SEATS: usize = 6;
type TestRoom<'s> = Room<2, Small, [&'s mut Option<Member>; SEATS]>;

const LIMITS: Limits = Limits {
    max_clients: 4,
    max_per_ip: 2,
    hello_timeout_ms: 5_000,
    slow_timeout_ms: 3_000,
    max_rate: None,
};
/// Bytes that may wait for one member.
const BOUND: usize = 3 * MAX_FRAME;

/// One connection as the harness and the model see it.
struct Conn {
    ip: u8,
    /// Bytes sent but not yet consumed by the room (after a held frame).
    unread: Vec<u8>,
    /// Everything it sent, to decode with the reference decoder.
    sent: Vec<u8>,
    /// Lengths of its frames the room forwarded, in order.
    forwarded: Vec<usize>,
    /// Bytes queued for it.
    queue: Vec<u8>,
    /// Model: when it joined, whether it sent a valid frame, since when
    /// frames have waited for it.
    joined_ms: u64,
    greeted: bool,
    waiting_since_ms: Option<u64>,
    /// Its last frame waits for room.
    held: bool,
}

impl Conn {
    /// The model's deadline for it, if it has one.
    fn deadline(&self) -> Option<u64> {
        let hello = (!self.greeted).then(|| self.joined_ms + LIMITS.hello_timeout_ms);
        let slow = self.waiting_since_ms.map(|t| t + LIMITS.slow_timeout_ms);
        hello.into_iter().chain(slow).min()
    }
}

/// The room's fan-out onto the harness's queues, by member id.
struct Queues<'a> {
    conns: &'a mut [Option<Conn>],
    now_ms: u64,
}

impl Fanout for Queues<'_> {
    fn has_room(&self, from: MemberId, len: usize) -> bool {
        self.conns.iter().enumerate().all(|(id, c)| {
            id == from.index() || c.as_ref().is_none_or(|c| c.queue.len() + len <= BOUND)
        })
    }

    fn push(&mut self, from: Option<MemberId>, frame: &[u8]) {
        for (id, conn) in self.conns.iter_mut().enumerate() {
            let Some(conn) = conn else { continue };
            if from.map(MemberId::index) == Some(id) {
                continue;
            }
            conn.queue.extend_from_slice(frame);
            conn.waiting_since_ms.get_or_insert(self.now_ms);
        }
    }
}

/// The room, the model's connections by member id, and the clock.
struct Harness<'s> {
    room: TestRoom<'s>,
    conns: Vec<Option<Conn>>,
    now_ms: u64,
    rng: ChaCha8Rng,
}

fuzz_target!(|data: &[u8]| {
    static FRAMES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    let frames = FRAMES.get_or_init(seed_frames);
    let mut memory = Box::new(SeatMemory::<SEATS>::new());
    let seats = memory.seats();
    let mut h = Harness {
        room: Room::new(RelayPolicy::blind(), LIMITS, seats, at(0)),
        conns: (0..SEATS).map(|_| None).collect(),
        now_ms: 0,
        rng: ChaCha8Rng::seed_from_u64(1),
    };
    let mut ops = data;
    while let [op, arg, rest @ ..] = ops {
        ops = rest;
        let slot = usize::from(*arg) % SEATS;
        match op % 6 {
            0 => h.connect(arg / 8 % 3),
            1 | 2 => {
                let bytes = match arg / 8 % 5 {
                    k @ 0..=2 => frames[usize::from(k)].clone(),
                    3 => b"\n".to_vec(),
                    _ => b"junk!\n".to_vec(),
                };
                // Sent whole, or cut in two sends.
                let cut = if op % 6 == 2 {
                    bytes.len() / 2
                } else {
                    bytes.len()
                };
                h.send(slot, &bytes[..cut]);
                h.send(slot, &bytes[cut..]);
            }
            3 => h.take_some(slot, usize::from(arg / 8) * 512),
            4 => h.wait(u64::from(*arg) * 40),
            _ => h.room.leave(id(slot), Departure::Closed),
        }
        h.take_events();
        for conn in h.conns.iter().flatten() {
            assert!(conn.queue.len() <= BOUND, "a queue passed its bound");
        }
        assert_eq!(h.room.members(), h.conns.iter().flatten().count());
    }
    for slot in 0..SEATS {
        h.room.leave(id(slot), Departure::Closed);
    }
    h.take_events();
    assert_eq!(h.room.members(), 0);
    assert!(h.conns.iter().all(Option::is_none));
});

/// The clock at `millis`.
fn at(millis: u64) -> Now {
    Now {
        unix: T0 + millis / 1000,
        millis,
    }
}

/// The member id of seat `slot`.
fn id(slot: usize) -> MemberId {
    MemberId::new(slot as u32)
}

/// Three valid frames (blind mode checks only their shape).
fn seed_frames() -> Vec<Vec<u8>> {
    [1usize, 700, 3000]
        .iter()
        .map(|&len| {
            let mut out = [0u8; MAX_FRAME];
            let token = encrypt_with_iv(&key(), &vec![b'x'; len], T0, [len as u8; 16], &mut out)
                .expect("fits");
            let mut frame = token.to_vec();
            frame.push(b'\n');
            frame
        })
        .collect()
}

impl<'s> Harness<'s> {
    fn now(&self) -> Now {
        at(self.now_ms)
    }

    /// The room and the queues, borrowed apart.
    fn parts(&mut self) -> (&mut TestRoom<'s>, Queues<'_>) {
        let queues = Queues {
            conns: &mut self.conns,
            now_ms: self.now_ms,
        };
        (&mut self.room, queues)
    }

    fn connect(&mut self, ip: u8) {
        let members = self.conns.iter().flatten().count();
        let same_ip = self.conns.iter().flatten().filter(|c| c.ip == ip).count();
        let expected = if members >= LIMITS.max_clients {
            Err(Notice::Full)
        } else if same_ip >= LIMITS.max_per_ip {
            Err(Notice::Busy)
        } else {
            Ok(())
        };
        let now = self.now();
        let admitted = self.room.admit([ip; 16], now);
        assert_eq!(admitted.map(|_| ()), expected);
        if let Ok(id) = admitted {
            let seat = &mut self.conns[id.index()];
            assert!(seat.is_none(), "a seat given twice");
            *seat = Some(Conn {
                ip,
                unread: Vec::new(),
                sent: Vec::new(),
                forwarded: Vec::new(),
                queue: Vec::new(),
                joined_ms: now.millis,
                greeted: false,
                waiting_since_ms: None,
                held: false,
            });
        }
    }

    fn send(&mut self, slot: usize, bytes: &[u8]) {
        let Some(conn) = &mut self.conns[slot] else {
            return;
        };
        conn.sent.extend_from_slice(bytes);
        conn.unread.extend_from_slice(bytes);
        self.feed(slot);
    }

    /// Feeds `slot`'s unread bytes to the room, as a shell does.
    fn feed(&mut self, slot: usize) {
        let now = self.now();
        let Some(conn) = &mut self.conns[slot] else {
            return;
        };
        let input = std::mem::take(&mut conn.unread);
        let member = self.room.member(id(slot));
        let was_held = member.is_some_and(Member::is_held);
        let leaving = member.and_then(Member::leaving);
        let mut pushed = Vec::new();
        let (room, mut queues) = self.parts();
        let step = room.receive(id(slot), &input, now, &mut queues, |_, e| pushed.push(e));
        assert!(step.consumed <= input.len());
        if was_held || leaving.is_some() {
            assert_eq!(step.consumed, 0, "a held or leaving member consumed bytes");
        }
        let held = room.member(id(slot)).is_some_and(Member::is_held);
        let Some(conn) = &mut self.conns[slot] else {
            return;
        };
        conn.unread = input[step.consumed..].to_vec();
        conn.held = held;
        record_forwards(conn, &pushed);
        // A valid frame greets, forwarded or held.
        conn.greeted |= held || !conn.forwarded.is_empty();
        if let Some(why) = step.departure {
            assert!(matches!(why, Departure::TooManyInvalid(_)) || leaving.is_some());
        }
        self.tell_waiting();
    }

    /// Tells the room which members have frames waiting, as a shell's
    /// flush does.
    fn tell_waiting(&mut self) {
        for (index, conn) in self.conns.iter().enumerate() {
            if let Some(conn) = conn
                && !conn.queue.is_empty()
            {
                self.room.queued(id(index), self.now_ms);
            }
        }
    }

    /// The member's transport takes up to `n` bytes of its queue.
    fn take_some(&mut self, slot: usize, n: usize) {
        let now_ms = self.now_ms;
        let Some(conn) = &mut self.conns[slot] else {
            return;
        };
        let n = n.min(conn.queue.len());
        if n > 0 {
            conn.queue.drain(..n);
            let remaining = conn.queue.len();
            conn.waiting_since_ms = (remaining > 0).then_some(now_ms);
            self.room.took(id(slot), remaining, now_ms);
        }
        let mut released = Vec::new();
        let (room, mut queues) = self.parts();
        room.release(&mut queues, |from, e| released.push((from, e)));
        for (from, event) in released {
            if let Some(conn) = &mut self.conns[from.index()] {
                record_forwards(conn, &[event]);
            }
        }
        self.tell_waiting();
    }

    /// Time passes; the room does what is due. Every member here sends
    /// frames with line feeds, so that forwards nothing.
    fn wait(&mut self, ms: u64) {
        self.now_ms += ms;
        let now = self.now();
        let mut frames = Vec::new();
        let (room, mut queues) = self.parts();
        room.handle_timeout(now, &mut queues, |_, e| frames.push(e));
        assert!(frames.is_empty(), "a pause moved a framed member");
        // Every deadline a grain ago has been acted on.
        for (index, conn) in self.conns.iter().enumerate() {
            let Some(conn) = conn else { continue };
            if conn
                .deadline()
                .is_some_and(|due| due + DEADLINE_GRAIN_MS <= now.millis)
            {
                let leaving = self.room.member(id(index)).and_then(Member::leaving);
                assert!(leaving.is_some(), "a deadline long past was missed");
            }
        }
    }

    /// Acts on the room's events as a shell does.
    fn take_events(&mut self) {
        loop {
            let now = self.now();
            let Harness {
                room, conns, rng, ..
            } = self;
            let mut queues = Queues {
                conns,
                now_ms: now.millis,
            };
            let Some(event) = room.poll_event(now, rng, &mut queues) else {
                return;
            };
            match event {
                Event::Left {
                    id,
                    why,
                    said_leave,
                    ..
                } => {
                    assert!(!said_leave, "a blind relay sends no /leave");
                    self.depart(id.index(), why);
                }
                Event::Released { id } => self.feed(id.index()),
                Event::Summary { .. } | Event::Unframed { .. } => {}
            }
        }
    }

    /// Checks what member `slot` had forwarded, now that it left for `why`.
    fn depart(&mut self, slot: usize, why: Departure) {
        let Some(conn) = self.conns[slot].take() else {
            panic!("a member left twice");
        };
        if let Some(due) = match why {
            Departure::HelloTimeout | Departure::NotReading => conn.deadline(),
            _ => Some(0),
        } {
            assert!(due <= self.now_ms, "seen off before its deadline");
        } else {
            panic!("seen off for a deadline it did not have");
        }
        // Every valid frame it sent went, but those behind a held one or
        // still unread when it left.
        let expected: Vec<usize> = valid_frames(&conn.sent).iter().map(Vec::len).collect();
        assert!(
            conn.forwarded.len() <= expected.len(),
            "more forwarded than sent"
        );
        assert_eq!(
            conn.forwarded[..],
            expected[..conn.forwarded.len()],
            "frames forwarded out of order"
        );
        if !conn.held && conn.unread.is_empty() {
            assert_eq!(
                conn.forwarded.len(),
                expected.len(),
                "a valid frame was lost"
            );
        }
    }
}

/// Notes which of `conn`'s frames went (checked against what it sent when
/// it leaves).
fn record_forwards(conn: &mut Conn, events: &[FrameEvent]) {
    for event in events {
        if let FrameEvent::Forwarded { len } = event {
            conn.forwarded.push(*len);
        }
    }
}

/// The frames of `sent` with a valid shape, by the reference decoder.
fn valid_frames(sent: &[u8]) -> Vec<Vec<u8>> {
    reference_frames(sent)
        .into_iter()
        .filter_map(|item: Item| item.ok())
        .filter(|frame| fernchat_core::fernet::check_shape(frame.trim_ascii_end()).is_ok())
        .collect()
}
