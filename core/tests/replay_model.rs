//! The replay cache against a reference model (`docs/PROTOCOL.md` section
//! 3): every token the cache accepted, with its timestamp, in a `HashMap`.
//! Over random stores, windows, tokens (fresh ones and replays of earlier
//! ones) and clocks (steady, jumping, going back), the cache must:
//! - never call a token `Replayed` that it never accepted, never accept a
//!   token twice, and remember every accepted token above its floor;
//! - hold exactly the accepted tokens above the floor, never more than its
//!   capacity;
//! - never let a token dated after `now` raise the floor (evict), nor hold
//!   more than half its capacity in such tokens;
//! - accept a fresh, valid token above the floor when it has room;
//! - never panic.

use std::collections::HashMap;

use fernchat_core::fernet::MAX_CLOCK_SKEW;
use fernchat_core::replay::{Bucket, Entry, ReplayCache, ReplayCheck, SliceStore, window_for_ttl};
use proptest::prelude::*;

/// A distinct, random-looking tag for token number `n`.
fn tag(n: u64) -> [u8; 32] {
    let mut z = n.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    let mut tag = [0u8; 32];
    tag[..8].copy_from_slice(&z.to_le_bytes());
    tag[8..16].copy_from_slice(&n.to_le_bytes());
    tag
}

/// One step: the clock moves, then a token arrives.
#[derive(Clone, Debug)]
struct Step {
    /// Seconds the clock moves (negative: back).
    clock: i64,
    /// `None`: a fresh token; `Some(pick)`: a replay of an earlier token.
    replay: Option<prop::sample::Index>,
    /// A fresh token's timestamp, relative to now...
    offset: i64,
    /// ...or any timestamp at all.
    raw: Option<u64>,
}

fn step() -> impl Strategy<Value = Step> {
    let clock = prop_oneof![
        6 => Just(0i64),
        6 => Just(1i64),
        3 => 0i64..10,
        1 => 100i64..2000,
        1 => -500i64..0,
        1 => any::<i64>(),
    ];
    let offset = prop_oneof![
        4 => -10i64..=2,
        2 => -400i64..=70,
        1 => 55i64..=60,
    ];
    let raw = prop_oneof![12 => Just(None), 1 => any::<u64>().prop_map(Some)];
    let replay = prop_oneof![1 => Just(None), 1 => any::<prop::sample::Index>().prop_map(Some)];
    (clock, replay, offset, raw).prop_map(|(clock, replay, offset, raw)| Step {
        clock,
        replay,
        offset,
        raw,
    })
}

fn moved(at: u64, by: i64) -> u64 {
    if by >= 0 {
        at.saturating_add(by.unsigned_abs())
    } else {
        at.saturating_sub(by.unsigned_abs())
    }
}

/// Runs `steps` against the model; `Err` says which rule broke.
fn run(
    entries: usize,
    buckets: usize,
    ttl: Option<u64>,
    start: u64,
    steps: &[Step],
) -> Result<(), TestCaseError> {
    let window = window_for_ttl(ttl);
    let (mut pool, mut heads) = (vec![Entry::EMPTY; entries], vec![0; entries]);
    let mut ring = vec![Bucket::EMPTY; buckets];
    let store = SliceStore::new(&mut pool, &mut heads, &mut ring);
    let mut cache = ReplayCache::new(store, window);
    let capacity = cache.capacity();
    prop_assert!(capacity <= entries);
    // Every token sent so far (number, timestamp), and those accepted.
    let mut sent: Vec<(u64, u64)> = Vec::new();
    let mut accepted: HashMap<u64, u64> = HashMap::new();
    let (mut now, mut latest, mut steady) = (start, start, true);
    for step in steps {
        let before = moved(now, step.clock);
        steady &= before >= now;
        now = before;
        latest = latest.max(now);
        let fresh = step.replay.is_none() || sent.is_empty();
        let (number, timestamp) = match &step.replay {
            Some(pick) if !sent.is_empty() => sent[pick.index(sent.len())],
            _ => {
                let timestamp = step.raw.unwrap_or_else(|| moved(now, step.offset));
                sent.push((sent.len() as u64, timestamp));
                sent[sent.len() - 1]
            }
        };
        let valid = timestamp <= now.saturating_add(MAX_CLOCK_SKEW)
            && ttl.is_none_or(|ttl| timestamp.saturating_add(ttl) >= now);
        let (floor_before, len_before) = (cache.floor(), cache.len());
        // What this step's expiry leaves.
        let cutoff = window.map(|window| now.saturating_sub(window));
        let survivors: Vec<u64> = accepted
            .values()
            .copied()
            .filter(|&ts| {
                floor_before.is_none_or(|floor| ts > floor)
                    && cutoff.is_none_or(|cutoff| ts >= cutoff)
            })
            .collect();
        let ahead_before = accepted
            .values()
            .filter(|&&ts| ts > now && floor_before.is_none_or(|floor| ts > floor))
            .count();

        let result = cache.check_and_insert(&tag(number), timestamp, now);

        let floor = cache.floor();
        let held = |ts: u64| floor.is_none_or(|floor| ts > floor);
        match accepted.get(&number) {
            None => prop_assert_ne!(result, ReplayCheck::Replayed, "never accepted"),
            Some(&ts) => {
                prop_assert_ne!(result, ReplayCheck::New, "accepted twice");
                if held(ts) {
                    prop_assert_eq!(result, ReplayCheck::Replayed, "forgotten above the floor");
                }
            }
        }
        if result == ReplayCheck::New {
            prop_assert!(
                cutoff.is_none_or(|cutoff| timestamp >= cutoff),
                "accepted an expired token"
            );
            accepted.insert(number, timestamp);
        }
        let remembered = accepted.values().filter(|&&ts| held(ts)).count();
        prop_assert_eq!(
            cache.len(),
            remembered,
            "holds exactly what is above the floor"
        );
        prop_assert!(cache.len() <= capacity);
        prop_assert!(floor >= floor_before, "the floor never falls");
        prop_assert!(
            floor.is_none_or(|floor| floor <= latest),
            "the floor passed the clock"
        );
        if timestamp > now {
            // Only expiry may raise the floor: the token evicted nothing.
            let expired = window.map(|window| now.saturating_sub(window));
            let limit = floor_before.max(expired.and_then(|cutoff| cutoff.checked_sub(1)));
            prop_assert!(floor <= limit, "a future token raised the floor");
            if result == ReplayCheck::New {
                let ahead = accepted
                    .values()
                    .filter(|&&ts| ts > now && held(ts))
                    .count();
                prop_assert!(
                    ahead <= capacity / 2,
                    "future tokens hold {} of {}",
                    ahead,
                    capacity
                );
            }
        }
        let above = floor_before.is_none_or(|floor| timestamp > floor);
        let room = len_before < capacity;
        if fresh && valid && above && room {
            if timestamp <= now {
                prop_assert_eq!(result, ReplayCheck::New, "refused with room");
            } else if steady && cache.span() == 1 && ahead_before < capacity / 2 {
                prop_assert_eq!(result, ReplayCheck::New, "future token refused with room");
            }
        }
        if window.is_some()
            && fresh
            && valid
            && above
            && !room
            && timestamp <= now
            && steady
            && cache.span() == 1
        {
            // One-second buckets: room is made by expiry, or by evicting the
            // oldest second if it is older than the token.
            let oldest = survivors.iter().min();
            if survivors.len() < capacity || oldest.is_some_and(|&oldest| oldest < timestamp) {
                prop_assert_eq!(
                    result,
                    ReplayCheck::New,
                    "refused though the oldest second could go"
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn cache_matches_the_model(
        entries in prop_oneof![1 => Just(0usize), 8 => 1usize..=12, 2 => Just(64usize)],
        buckets in prop_oneof![1 => 0usize..=3, 2 => Just(8usize), 2 => Just(64usize), 2 => Just(130usize), 2 => Just(512usize)],
        ttl in prop_oneof![2 => Just(None), 1 => Just(Some(0u64)), 1 => Just(Some(5u64)), 2 => Just(Some(300u64)), 1 => any::<u64>().prop_map(Some)],
        start in prop_oneof![8 => Just(1_700_000_000u64), 1 => 0u64..100, 1 => (u64::MAX - 100)..=u64::MAX],
        steps in proptest::collection::vec(step(), 1..300),
    ) {
        run(entries, buckets, ttl, start, &steps)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Busy rooms: many tokens a second, a pool that fills, the clock steady.
    #[test]
    fn busy_room_matches_the_model(
        entries in 16usize..200,
        buckets in prop_oneof![Just(8usize), Just(64usize), Just(512usize)],
        ttl in prop_oneof![Just(None), Just(Some(30u64)), Just(Some(300u64))],
        steps in proptest::collection::vec(
            (prop_oneof![20 => Just(0i64), 1 => Just(1i64), 1 => 2i64..40], proptest::option::weighted(0.3, any::<prop::sample::Index>()), -40i64..=60)
                .prop_map(|(clock, replay, offset)| Step { clock, replay, offset, raw: None }),
            100..1500,
        ),
    ) {
        run(entries, buckets, ttl, 1_700_000_000, &steps)?;
    }
}
