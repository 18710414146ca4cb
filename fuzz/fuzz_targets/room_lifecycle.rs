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
//! - a member is overdue exactly when the model says: no valid frame for
//!   the hello timeout, or frames waiting and none taken for the slow
//!   timeout.
//!
//! Input: a list of operations, each an opcode byte and its argument bytes.

#![no_main]

use fernchat_core::fernet::hazmat::encrypt_with_iv;
use fernchat_core::frame::MAX_FRAME;
use fernchat_core::relay::RelayPolicy;
use fernchat_core::replay::ArrayStore;
use fernchat_core::room::{Departure, Fanout, FrameEvent, Limits, Member, Notice, Now, Room};
use fernchat_fuzz::{Item, T0, key, reference_frames};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

/// A replay cache small enough for a few seed tokens to fill.
type Small = ArrayStore<8, 4>;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;

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
    member: Member,
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
}

/// The room's fan-out onto the harness's queues.
struct Queues<'a> {
    conns: &'a mut [Option<Conn>],
    now_ms: u64,
}

impl Fanout for Queues<'_> {
    fn has_room(&self, from: usize, len: usize) -> bool {
        self.conns
            .iter()
            .enumerate()
            .all(|(id, c)| id == from || c.as_ref().is_none_or(|c| c.queue.len() + len <= BOUND))
    }

    fn push(&mut self, from: Option<usize>, frame: &[u8]) {
        for (id, conn) in self.conns.iter_mut().enumerate() {
            let Some(conn) = conn else { continue };
            if Some(id) == from {
                continue;
            }
            conn.queue.extend_from_slice(frame);
            conn.member.queued(self.now_ms);
            conn.waiting_since_ms.get_or_insert(self.now_ms);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    static FRAMES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    let frames = FRAMES.get_or_init(seed_frames);
    let mut room = Room::<2, Small>::new(RelayPolicy::blind(), LIMITS);
    let mut conns: Vec<Option<Conn>> = (0..6).map(|_| None).collect();
    let mut now_ms = 0u64;
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut ops = data;
    while let [op, arg, rest @ ..] = ops {
        ops = rest;
        let now = Now {
            unix: T0 + now_ms / 1000,
            millis: now_ms,
        };
        let slot = usize::from(*arg) % conns.len();
        match op % 6 {
            0 => connect(&mut room, &mut conns, slot, arg / 8 % 3, now),
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
                send(&mut room, &mut conns, slot, &bytes[..cut], now);
                send(&mut room, &mut conns, slot, &bytes[cut..], now);
            }
            3 => {
                // The member's transport takes some of its queue.
                if let Some(conn) = &mut conns[slot] {
                    let n = (usize::from(arg / 8) * 512).min(conn.queue.len());
                    if n > 0 {
                        conn.queue.drain(..n);
                        let remaining = conn.queue.len();
                        conn.member.took(remaining, now_ms);
                        conn.waiting_since_ms = (remaining > 0).then_some(now_ms);
                    }
                }
                release_all(&mut room, &mut conns, now);
            }
            4 => {
                now_ms += u64::from(*arg) * 40;
                check_pauses(
                    &mut room,
                    &mut conns,
                    Now {
                        unix: T0 + now_ms / 1000,
                        millis: now_ms,
                    },
                );
                check_deadlines(
                    &mut room,
                    &mut conns,
                    Now {
                        unix: T0 + now_ms / 1000,
                        millis: now_ms,
                    },
                    &mut rng,
                );
            }
            _ => {
                if conns[slot].is_some() {
                    depart(&mut room, &mut conns, slot, now, &mut rng);
                }
            }
        }
        for conn in conns.iter().flatten() {
            assert!(conn.queue.len() <= BOUND, "a queue passed its bound");
        }
        assert_eq!(room.members(), conns.iter().flatten().count());
    }
    let now = Now {
        unix: T0 + now_ms / 1000,
        millis: now_ms,
    };
    for slot in 0..conns.len() {
        depart(&mut room, &mut conns, slot, now, &mut rng);
    }
    assert_eq!(room.members(), 0);
});

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

fn connect(room: &mut Room<2, Small>, conns: &mut [Option<Conn>], slot: usize, ip: u8, now: Now) {
    if conns[slot].is_some() {
        return;
    }
    let members = conns.iter().flatten().count();
    let same_ip = conns.iter().flatten().filter(|c| c.ip == ip).count();
    let expected = if members >= LIMITS.max_clients {
        Err(Notice::Full)
    } else if same_ip >= LIMITS.max_per_ip {
        Err(Notice::Busy)
    } else {
        Ok(())
    };
    let admitted = room.admit([ip; 16], same_ip, now);
    assert_eq!(admitted.as_ref().map(|_| ()).map_err(|n| *n), expected);
    if let Ok(member) = admitted {
        conns[slot] = Some(Conn {
            member,
            ip,
            unread: Vec::new(),
            sent: Vec::new(),
            forwarded: Vec::new(),
            queue: Vec::new(),
            joined_ms: now.millis,
            greeted: false,
            waiting_since_ms: None,
        });
    }
}

fn send(
    room: &mut Room<2, Small>,
    conns: &mut [Option<Conn>],
    slot: usize,
    bytes: &[u8],
    now: Now,
) {
    let Some(conn) = &mut conns[slot] else { return };
    conn.sent.extend_from_slice(bytes);
    conn.unread.extend_from_slice(bytes);
    feed(room, conns, slot, now);
}

/// Feeds `slot`'s unread bytes to the room, as a shell does.
fn feed(room: &mut Room<2, Small>, conns: &mut [Option<Conn>], slot: usize, now: Now) {
    let Some(mut conn) = conns[slot].take() else {
        return;
    };
    let input = std::mem::take(&mut conn.unread);
    let was_held = conn.member.is_held();
    let mut pushed = Vec::new();
    let mut queues = Queues {
        conns,
        now_ms: now.millis,
    };
    let step = room.receive(slot, &mut conn.member, &input, now, &mut queues, |event| {
        pushed.push(event);
    });
    assert!(step.consumed <= input.len());
    if was_held {
        assert_eq!(step.consumed, 0, "a held member consumed bytes");
    }
    conn.unread = input[step.consumed..].to_vec();
    record_forwards(&mut conn, &pushed);
    // A valid frame greets, forwarded or held.
    conn.greeted |= conn.member.is_held() || !conn.forwarded.is_empty();
    conns[slot] = Some(conn);
    if let Some(why) = step.departure {
        assert!(matches!(why, Departure::TooManyInvalid(_)));
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        depart(room, conns, slot, now, &mut rng);
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

fn release_all(room: &mut Room<2, Small>, conns: &mut [Option<Conn>], now: Now) {
    for slot in 0..conns.len() {
        let Some(mut conn) = conns[slot].take() else {
            continue;
        };
        if !conn.member.is_held() {
            conns[slot] = Some(conn);
            continue;
        }
        let mut events = Vec::new();
        let mut queues = Queues {
            conns,
            now_ms: now.millis,
        };
        let released = room.release(slot, &mut conn.member, &mut queues, |e| events.push(e));
        record_forwards(&mut conn, &events);
        conns[slot] = Some(conn);
        if released {
            feed(room, conns, slot, now);
        }
    }
}

/// Every member here sends frames with line feeds, so a pause forwards
/// nothing and ends no one (`docs/PROTOCOL.md` section 2, Unframed senders).
fn check_pauses(room: &mut Room<2, Small>, conns: &mut [Option<Conn>], now: Now) {
    for slot in 0..conns.len() {
        let Some(mut conn) = conns[slot].take() else {
            continue;
        };
        let mut events = Vec::new();
        let mut queues = Queues {
            conns,
            now_ms: now.millis,
        };
        let departure = room.pause(slot, &mut conn.member, now, &mut queues, |e| events.push(e));
        assert_eq!(
            (departure, events),
            (None, vec![]),
            "a pause moved a framed member"
        );
        conns[slot] = Some(conn);
    }
}

fn check_deadlines(
    room: &mut Room<2, Small>,
    conns: &mut [Option<Conn>],
    now: Now,
    rng: &mut ChaCha8Rng,
) {
    for slot in 0..conns.len() {
        let Some(conn) = &conns[slot] else { continue };
        let hello = !conn.greeted && now.millis - conn.joined_ms >= LIMITS.hello_timeout_ms;
        let slow = conn
            .waiting_since_ms
            .is_some_and(|t| now.millis - t >= LIMITS.slow_timeout_ms);
        let expected = if hello {
            Some(Departure::HelloTimeout)
        } else if slow {
            Some(Departure::NotReading)
        } else {
            None
        };
        let overdue = room.overdue(&conn.member, now);
        assert_eq!(overdue, expected, "the deadline and the model disagree");
        if overdue.is_some() {
            depart(room, conns, slot, now, rng);
        }
    }
}

fn depart(
    room: &mut Room<2, Small>,
    conns: &mut [Option<Conn>],
    slot: usize,
    now: Now,
    rng: &mut ChaCha8Rng,
) {
    let Some(conn) = conns[slot].take() else {
        return;
    };
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
    if !conn.member.is_held() && conn.unread.is_empty() {
        assert_eq!(
            conn.forwarded.len(),
            expected.len(),
            "a valid frame was lost"
        );
    }
    let mut queues = Queues {
        conns,
        now_ms: now.millis,
    };
    let sent_leave = room.depart(slot, &conn.member, now, rng, &mut queues);
    assert!(!sent_leave, "a blind relay sends no /leave");
}
