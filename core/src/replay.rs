//! A replay cache whose memory follows time, not count: a token is
//! remembered for as long as it could still pass the freshness check, in
//! fixed memory the caller lends ([`ReplayStore`]).
//!
//! ```
//! use fernchat_core::replay::{ArrayStore, ReplayCache, ReplayCheck, window_for_ttl};
//!
//! // 64 tokens and 32 time buckets, for tokens that live 300 s.
//! let mut cache = ReplayCache::new(ArrayStore::<64, 32>::new(), window_for_ttl(Some(300)));
//! let tag = [7; 32]; // the token's HMAC tag
//! assert_eq!(cache.check_and_insert(&tag, 1_000, 1_001), ReplayCheck::New);
//! assert_eq!(cache.check_and_insert(&tag, 1_000, 1_002), ReplayCheck::Replayed);
//! ```

mod store;

pub use store::{ArrayStore, Bucket, Entry, MAX_ENTRIES, ReplayStore, SliceStore};

use crate::fernet::{MAX_CLOCK_SKEW, TAG_LEN};

/// Bytes of the HMAC tag kept to identify a token: 8, so two tokens are
/// confused with probability 2^-64 (see [`ReplayCache`]).
pub const ID_LEN: usize = 8;

/// Forgotten entries a call frees: more than the one it may insert, so the
/// drain keeps up, and few, so that no call frees a whole bucket.
pub const RECLAIM_PER_CALL: u32 = 4;

/// How long a cache must remember a token when tokens older than `ttl`
/// seconds are refused: `ttl + MAX_CLOCK_SKEW`, or `None` without a TTL.
pub const fn window_for_ttl(ttl: Option<u64>) -> Option<u64> {
    match ttl {
        Some(ttl) => Some(ttl.saturating_add(MAX_CLOCK_SKEW)),
        None => None,
    }
}

/// What the cache says of a token.
#[must_use]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplayCheck {
    /// Not seen before: now remembered.
    New,
    /// Seen before: a replay.
    Replayed,
    /// The cache cannot vouch that it was not seen (it is no newer than
    /// what the cache has had to forget, or there is no room for it):
    /// refused, but not known to be a replay.
    Unverifiable,
}

/// Remembers recent tokens by tag, for as long as they could be accepted.
///
/// **Rules.** Call [`check_and_insert`](Self::check_and_insert) only for
/// tokens whose MAC verified and whose timestamp passed the freshness check
/// (`timestamp <= now + 60` and, with a TTL, `timestamp + ttl >= now`).
/// - A token whose tag is remembered is [`Replayed`](ReplayCheck::Replayed);
///   any other token is checked against the *floor* and remembered.
/// - With a `window` (TTL + 60 s, [`window_for_ttl`]), a token older than
///   `now - window` is forgotten and its memory reused.
/// - When the pool is full and nothing has expired, the oldest bucket is
///   evicted, and only for a token newer than everything in it. The floor
///   rises to the newest timestamp forgotten (by eviction or by expiry);
///   a token at or below the floor is
///   [`Unverifiable`](ReplayCheck::Unverifiable) (or `Replayed` if it was
///   seen and its entry is not reclaimed yet). So every token accepted with
///   a timestamp above the floor is still remembered, and no token is
///   accepted twice, whatever the clock does.
/// - A token dated after `now` evicts nothing (it is `Unverifiable` when
///   the pool is full), and such tokens hold at most half of the pool: a
///   key holder flooding tokens dated +59 s leaves the other half to
///   tokens dated now. The count is per bucket: with buckets of several
///   seconds, the tokens of `now`'s bucket count as ahead once any of them
///   is.
/// - Without a window, tokens are forgotten only when room is needed,
///   oldest first.
///
/// **Memory**, fixed by the store: 16 bytes per entry (8 bytes of tag and
/// two `u32` links), 4 bytes per hash head (one per entry is right), 24
/// bytes per time bucket, and 128 bytes of its own. Buckets form a ring of
/// `span`-second buckets that covers `now - window` to `now + 60`: with `B`
/// buckets, `span = ceil((window + 60) / (B - 2))` seconds (1 s with
/// `B >= window + 62`; 7 s for a 300 s TTL and 64 buckets). A bucket is
/// expired and evicted whole, so more tokens than the pool holds within one
/// span are refused. Without a window the ring covers at least `now - 60`
/// to `now + 60`; older tokens share one extra bucket, evicted first.
///
/// **Cost**: look-up and insert are O(1) expected (one hash chain, one
/// bucket). Expiring or evicting a bucket is O(1): its entries go to a
/// drain, from which each call takes [`RECLAIM_PER_CALL`] out of their hash
/// chains (more when the pool needs them), so no call walks a whole bucket.
/// A token dated after `now` also sums the buckets ahead of `now` (60 /
/// span + 1 of them with a steady clock); a clock that jumps turns up to
/// `B` buckets once.
///
/// **Collisions**: a token is known by the first [`ID_LEN`] bytes of its
/// HMAC tag, uniformly random to whoever lacks the key and unpredictable
/// to whoever has it (the IV is random). A token never seen is reported
/// `Replayed` with probability at most `entries / 2^64` per check: 2^-44
/// with a million entries, so once in about 55 years at 10,000 checks a
/// second. Never panics, whatever the timestamps and clock.
#[derive(Clone)]
pub struct ReplayCache<S> {
    store: S,
    state: State,
}

/// Everything but the store's tables.
#[derive(Clone, Copy, Debug)]
struct State {
    /// Seconds a token is remembered after `now` passes it.
    window: Option<u64>,
    /// Seconds per ring bucket, at least 1.
    span: u64,
    /// Entries usable: 0 when the store lacks entries, heads or buckets.
    capacity: u32,
    /// Hash heads used, at most 2^32.
    chains: u64,
    /// Buckets in the ring.
    ring: u64,
    /// Entries held.
    len: u32,
    /// Entries `fresh..capacity` have never been handed out.
    fresh: u32,
    /// The free list of entries handed out and freed (index + 1).
    free: u32,
    /// Entries forgotten but still in their hash chains, a few taken out
    /// per call: the lists of released buckets, stacked.
    drain: u32,
    /// Entries on `drain`.
    draining: u32,
    /// Tokens at or below it are unverifiable.
    floor: Option<u64>,
    /// The epoch (timestamp / span) of the ring's first bucket; never falls.
    base: u64,
    /// No ring bucket above this epoch holds entries.
    top: u64,
    /// No ring bucket below this epoch holds entries (where eviction looks).
    scan: u64,
    /// Tokens older than the ring's first bucket (without a window, or
    /// when the clock went back).
    older: Bucket,
}

impl<S: ReplayStore> ReplayCache<S> {
    /// An empty cache over `store` (its heads and buckets are reset),
    /// remembering tokens for `window` seconds after `now` passes them
    /// ([`window_for_ttl`]), or until room is needed when `None`. At most
    /// [`MAX_ENTRIES`] entries are used.
    pub fn new(mut store: S, window: Option<u64>) -> Self {
        let SliceStore {
            entries,
            heads,
            buckets,
        } = store.slices();
        heads.fill(0);
        buckets.fill(Bucket::EMPTY);
        let capacity = if heads.is_empty() || buckets.is_empty() {
            0
        } else {
            u32::try_from(entries.len().min(MAX_ENTRIES)).unwrap_or(0)
        };
        let chains = u64::try_from(heads.len()).unwrap_or(u64::MAX).min(1 << 32);
        let ring = u64::try_from(buckets.len()).unwrap_or(u64::MAX);
        let state = State {
            window,
            span: span_for(window, ring),
            capacity,
            chains,
            ring,
            len: 0,
            fresh: 0,
            free: NONE,
            drain: NONE,
            draining: 0,
            floor: None,
            base: 0,
            top: 0,
            scan: u64::MAX,
            older: Bucket::EMPTY,
        };
        ReplayCache { store, state }
    }

    /// Checks the token with HMAC tag `tag` and `timestamp` at Unix time
    /// `now`, and remembers it when it is new. See [`ReplayCache`] for the
    /// rules; never panics.
    pub fn check_and_insert(
        &mut self,
        tag: &[u8; TAG_LEN],
        timestamp: u64,
        now: u64,
    ) -> ReplayCheck {
        let mut id = [0u8; ID_LEN];
        id.copy_from_slice(&tag[..ID_LEN]);
        let SliceStore {
            entries,
            heads,
            buckets,
        } = self.store.slices();
        let mut cache = Tables {
            st: &mut self.state,
            entries,
            heads,
            ring: buckets,
        };
        cache.check(u64::from_le_bytes(id), timestamp, now)
    }
}

impl<S> ReplayCache<S> {
    /// Tokens remembered.
    pub fn len(&self) -> usize {
        self.state.len as usize
    }

    /// True when no token is remembered.
    pub fn is_empty(&self) -> bool {
        self.state.len == 0
    }

    /// Most tokens remembered at once.
    pub fn capacity(&self) -> usize {
        self.state.capacity as usize
    }

    /// Refuses, as unverifiable, every token stamped at or before
    /// `timestamp`: for a cache that starts empty while tokens seen before
    /// it may still be fresh (a relay that restarts).
    pub fn forget_until(&mut self, timestamp: u64) {
        self.state.floor = Some(self.state.floor.map_or(timestamp, |f| f.max(timestamp)));
    }

    /// The newest timestamp forgotten, if any: tokens at or below it are
    /// refused as unverifiable. Worth logging when it is close to `now`.
    pub fn floor(&self) -> Option<u64> {
        self.state.floor
    }

    /// Seconds a token is remembered after `now` passes it (`None`: until
    /// room is needed).
    pub fn window(&self) -> Option<u64> {
        self.state.window
    }

    /// Seconds each time bucket spans.
    pub fn span(&self) -> u64 {
        self.state.span
    }
}

impl<S> core::fmt::Debug for ReplayCache<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ReplayCache")
            .field("len", &self.state.len)
            .field("capacity", &self.state.capacity)
            .field("floor", &self.state.floor)
            .field("window", &self.state.window)
            .field("span", &self.state.span)
            .finish()
    }
}

/// "No entry", in an index + 1 link.
const NONE: u32 = 0;

/// Seconds per bucket, so that `ring` buckets cover `now - window` (or
/// `now - 60`) to `now + 60` whatever `now` is.
const fn span_for(window: Option<u64>, ring: u64) -> u64 {
    let past = match window {
        Some(window) => window,
        None => MAX_CLOCK_SKEW,
    };
    let spans = if ring > 2 { ring - 2 } else { 1 };
    let span = past.saturating_add(MAX_CLOCK_SKEW).div_ceil(spans);
    if span == 0 { 1 } else { span }
}

/// The hash chain of `id` among `chains` (at most 2^32): the top 32 bits of
/// a random id, scaled.
fn chain_of(id: u64, chains: u64) -> usize {
    ((id >> 32).wrapping_mul(chains) >> 32) as usize
}

/// The entry linked as `at` (index + 1).
fn entry(entries: &[Entry], at: u32) -> Option<&Entry> {
    entries.get(at.checked_sub(1)? as usize)
}

/// The entry linked as `at` (index + 1), to change.
fn entry_mut(entries: &mut [Entry], at: u32) -> Option<&mut Entry> {
    entries.get_mut(at.checked_sub(1)? as usize)
}

/// Where a token's entry goes.
#[derive(Clone, Copy)]
enum Home {
    /// The bucket of tokens older than the ring.
    Older,
    /// The ring bucket of this epoch.
    Ring(u64),
}

/// The cache's state with the store's tables, for one call.
struct Tables<'a> {
    st: &'a mut State,
    entries: &'a mut [Entry],
    heads: &'a mut [u32],
    ring: &'a mut [Bucket],
}

impl Tables<'_> {
    /// The rules of [`ReplayCache`], in order.
    fn check(&mut self, id: u64, timestamp: u64, now: u64) -> ReplayCheck {
        if self.st.capacity == 0 {
            return ReplayCheck::Unverifiable;
        }
        self.expire(now);
        self.reclaim(RECLAIM_PER_CALL);
        if self.find(id) {
            return ReplayCheck::Replayed;
        }
        let expired = self
            .st
            .window
            .is_some_and(|window| timestamp < now.saturating_sub(window));
        if expired || self.st.floor.is_some_and(|floor| timestamp <= floor) {
            return ReplayCheck::Unverifiable;
        }
        let epoch = self.epoch(timestamp);
        let home = if epoch < self.st.base {
            Home::Older
        } else if epoch - self.st.base < self.st.ring {
            Home::Ring(epoch)
        } else {
            // Beyond now + 60: not fresh, and no bucket for it.
            return ReplayCheck::Unverifiable;
        };
        let full = self.st.len >= self.st.capacity;
        if timestamp > now {
            if full || self.ahead(now) >= u64::from(self.st.capacity / 2) {
                return ReplayCheck::Unverifiable;
            }
        } else if full && !self.evict_oldest(timestamp) {
            return ReplayCheck::Unverifiable;
        }
        if self.insert(id, timestamp, home) {
            ReplayCheck::New
        } else {
            ReplayCheck::Unverifiable
        }
    }

    /// The ring's unit: `span` seconds.
    fn epoch(&self, timestamp: u64) -> u64 {
        timestamp / self.st.span.max(1)
    }

    /// The ring bucket of `epoch`.
    fn bucket(&self, epoch: u64) -> Bucket {
        epoch
            .checked_rem(self.st.ring)
            .and_then(|slot| self.ring.get(slot as usize))
            .copied()
            .unwrap_or(Bucket::EMPTY)
    }

    /// Empties the ring bucket of `epoch`, giving what it held.
    fn take(&mut self, epoch: u64) -> Bucket {
        epoch
            .checked_rem(self.st.ring)
            .and_then(|slot| self.ring.get_mut(slot as usize))
            .map_or(Bucket::EMPTY, core::mem::take)
    }

    /// Forgets what expired before `now`, and turns the ring so that it
    /// covers `now - window` to `now + 60`.
    fn expire(&mut self, now: u64) {
        let cutoff = self.st.window.map(|window| now.saturating_sub(window));
        if let Some(cutoff) = cutoff
            && self.st.older.count > 0
            && self.st.older.newest < cutoff
        {
            let older = core::mem::take(&mut self.st.older);
            self.release(older);
        }
        let last = self.epoch(now.saturating_add(MAX_CLOCK_SKEW));
        let mut target = last.saturating_sub(self.st.ring.saturating_sub(1));
        if let Some(cutoff) = cutoff {
            target = target.max(self.epoch(cutoff));
        }
        if target > self.st.base {
            // Oldest first: once a bucket is kept, every later one is too.
            for step in 0..(target - self.st.base).min(self.st.ring) {
                let dropped = self.take(self.st.base + step);
                if cutoff.is_some_and(|cutoff| dropped.newest < cutoff) {
                    self.release(dropped);
                } else {
                    self.merge_into_older(dropped);
                }
            }
            self.st.base = target;
            self.st.scan = self.st.scan.max(target);
        }
        if let Some(cutoff) = cutoff {
            let first = self.bucket(self.st.base);
            if first.count > 0 && first.newest < cutoff {
                let first = self.take(self.st.base);
                self.release(first);
            }
        }
    }

    /// True when an entry has this id.
    fn find(&self, id: u64) -> bool {
        let Some(&head) = self.heads.get(chain_of(id, self.st.chains)) else {
            return false;
        };
        let mut at = head;
        for _ in 0..self.st.capacity {
            let Some(held) = entry(self.entries, at) else {
                return false;
            };
            if held.id == id {
                return true;
            }
            at = held.chain;
        }
        false
    }

    /// Entries that may be dated after `now`: whole buckets.
    fn ahead(&self, now: u64) -> u64 {
        let older = self.st.older;
        let mut count = if older.count > 0 && older.newest > now {
            u64::from(older.count)
        } else {
            0
        };
        let last = self
            .st
            .top
            .min(self.st.base.saturating_add(self.st.ring.saturating_sub(1)));
        let mut epoch = self.st.base.max(self.epoch(now));
        while epoch <= last {
            let bucket = self.bucket(epoch);
            if bucket.count > 0 && bucket.newest > now {
                count = count.saturating_add(u64::from(bucket.count));
            }
            match epoch.checked_add(1) {
                Some(next) => epoch = next,
                None => break,
            }
        }
        count
    }

    /// Frees the oldest bucket if everything in it is older than
    /// `timestamp`; false when it is not.
    fn evict_oldest(&mut self, timestamp: u64) -> bool {
        if self.st.older.count > 0 {
            if self.st.older.newest >= timestamp {
                return false;
            }
            let older = core::mem::take(&mut self.st.older);
            self.release(older);
            return true;
        }
        let last = self
            .st
            .top
            .min(self.st.base.saturating_add(self.st.ring.saturating_sub(1)));
        let mut epoch = self.st.scan.max(self.st.base);
        while epoch <= last {
            let bucket = self.bucket(epoch);
            if bucket.count > 0 {
                self.st.scan = epoch;
                if bucket.newest >= timestamp {
                    return false;
                }
                let oldest = self.take(epoch);
                self.release(oldest);
                return true;
            }
            match epoch.checked_add(1) {
                Some(next) => epoch = next,
                None => break,
            }
        }
        false
    }

    /// Remembers `id`, dated `timestamp`, in `home`; false when no entry
    /// is free.
    fn insert(&mut self, id: u64, timestamp: u64, home: Home) -> bool {
        if self.st.free == NONE && self.st.fresh >= self.st.capacity {
            self.reclaim(1);
        }
        let at = if self.st.free != NONE {
            let at = self.st.free;
            self.st.free = entry(self.entries, at).map_or(NONE, |free| free.link);
            at
        } else if self.st.fresh < self.st.capacity {
            self.st.fresh += 1;
            self.st.fresh
        } else {
            return false;
        };
        let Some(head) = self.heads.get_mut(chain_of(id, self.st.chains)) else {
            return false;
        };
        let bucket = match home {
            Home::Older => &mut self.st.older,
            Home::Ring(epoch) => {
                let slot = epoch.checked_rem(self.st.ring);
                match slot.and_then(|slot| self.ring.get_mut(slot as usize)) {
                    Some(bucket) => bucket,
                    None => return false,
                }
            }
        };
        let Some(new) = entry_mut(self.entries, at) else {
            return false;
        };
        *new = Entry {
            id,
            chain: *head,
            link: bucket.first,
        };
        *head = at;
        bucket.newest = if bucket.count == 0 {
            timestamp
        } else {
            bucket.newest.max(timestamp)
        };
        if bucket.count == 0 {
            bucket.last = at;
        }
        bucket.first = at;
        bucket.count = bucket.count.saturating_add(1);
        self.st.len = self.st.len.saturating_add(1);
        if let Home::Ring(epoch) = home {
            self.st.top = self.st.top.max(epoch);
            self.st.scan = self.st.scan.min(epoch);
        }
        true
    }

    /// Forgets every entry of `bucket` (none if empty) and raises the floor
    /// to its newest. Its entries wait on the drain for [`Self::reclaim`].
    fn release(&mut self, bucket: Bucket) {
        if bucket.count == 0 {
            return;
        }
        if let Some(last) = entry_mut(self.entries, bucket.last) {
            last.link = self.st.drain;
            self.st.drain = bucket.first;
            self.st.draining = self.st.draining.saturating_add(bucket.count);
        }
        self.st.len = self.st.len.saturating_sub(bucket.count);
        self.st.floor = Some(
            self.st
                .floor
                .map_or(bucket.newest, |floor| floor.max(bucket.newest)),
        );
    }

    /// Takes up to `most` forgotten entries out of their hash chains and
    /// onto the free list.
    fn reclaim(&mut self, most: u32) {
        for _ in 0..most.min(self.st.draining) {
            let at = self.st.drain;
            let Some(&Entry { id, link, .. }) = entry(self.entries, at) else {
                self.st.draining = 0;
                return;
            };
            self.unchain(at, id);
            self.st.drain = link;
            self.st.draining -= 1;
            if let Some(freed) = entry_mut(self.entries, at) {
                freed.link = self.st.free;
                self.st.free = at;
            }
        }
    }

    /// Takes the entry `at`, of `id`, out of its hash chain.
    fn unchain(&mut self, at: u32, id: u64) {
        let Some(next) = entry(self.entries, at).map(|held| held.chain) else {
            return;
        };
        let Some(head) = self.heads.get_mut(chain_of(id, self.st.chains)) else {
            return;
        };
        if *head == at {
            *head = next;
            return;
        }
        let mut before = *head;
        for _ in 0..self.st.capacity {
            let Some(held) = entry_mut(self.entries, before) else {
                return;
            };
            if held.chain == at {
                held.chain = next;
                return;
            }
            before = held.chain;
        }
    }

    /// Moves the entries of a ring bucket that fell off the ring, unexpired,
    /// into the bucket of older tokens (none if empty).
    fn merge_into_older(&mut self, bucket: Bucket) {
        if bucket.count == 0 {
            return;
        }
        let older = &mut self.st.older;
        if let Some(last) = entry_mut(self.entries, bucket.last) {
            last.link = older.first;
        }
        if older.count == 0 {
            older.last = bucket.last;
            older.newest = bucket.newest;
        } else {
            older.newest = older.newest.max(bucket.newest);
        }
        older.first = bucket.first;
        older.count = older.count.saturating_add(bucket.count);
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use ReplayCheck::{New, Replayed, Unverifiable};
    use std::vec;

    /// A tag that looks random, distinct for every `n`.
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

    /// A cache of `entries` entries and `buckets` buckets on the heap.
    fn heap_cache(
        entries: usize,
        buckets: usize,
        window: Option<u64>,
    ) -> ReplayCache<SliceStore<'static>> {
        let store = SliceStore::new(
            vec![Entry::EMPTY; entries].leak(),
            vec![0; entries].leak(),
            vec![Bucket::EMPTY; buckets].leak(),
        );
        ReplayCache::new(store, window)
    }

    const NOW: u64 = 1_700_000_000;
    const TTL: u64 = 300;

    #[test]
    fn test_replay_refused() {
        let mut cache = ReplayCache::new(ArrayStore::<4, 8>::new(), window_for_ttl(Some(TTL)));
        assert_eq!(cache.check_and_insert(&tag(1), NOW, NOW), New);
        assert_eq!(cache.check_and_insert(&tag(1), NOW, NOW), Replayed);
        assert_eq!(cache.check_and_insert(&tag(1), NOW, NOW + 200), Replayed);
        assert_eq!(cache.check_and_insert(&tag(2), NOW, NOW), New);
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn test_new_tags_accepted() {
        let mut cache = ReplayCache::new(ArrayStore::<64, 512>::new(), window_for_ttl(Some(TTL)));
        assert_eq!(cache.span(), 1);
        for n in 0..64 {
            assert_eq!(
                cache.check_and_insert(&tag(n), NOW - 250 + n, NOW),
                New,
                "{n}"
            );
        }
        assert_eq!(cache.len(), 64);
        assert_eq!(cache.floor(), None);
    }

    #[test]
    fn test_tags_sharing_a_chain() {
        // Same top 32 bits of the id: one hash chain, told apart by the rest.
        let mut cache = ReplayCache::new(ArrayStore::<16, 8>::new(), None);
        let same_chain = |n: u8| {
            let mut tag = [0xAB; 32];
            tag[0] = n;
            tag
        };
        for n in 0..16 {
            assert_eq!(cache.check_and_insert(&same_chain(n), NOW, NOW), New);
        }
        for n in 0..16 {
            assert_eq!(cache.check_and_insert(&same_chain(n), NOW, NOW), Replayed);
        }
        // Only the first ID_LEN bytes identify a token.
        let mut twin = same_chain(3);
        twin[ID_LEN] ^= 1;
        assert_eq!(cache.check_and_insert(&twin, NOW, NOW), Replayed);
    }

    #[test]
    fn test_expiry_frees_memory() {
        for buckets in [512, 64, 3] {
            let window = window_for_ttl(Some(TTL));
            let mut cache = heap_cache(1000, buckets, window);
            for n in 0..1000 {
                assert_eq!(cache.check_and_insert(&tag(n), NOW, NOW), New);
            }
            assert_eq!(cache.check_and_insert(&tag(1000), NOW, NOW), Unverifiable);
            let later = NOW + TTL + MAX_CLOCK_SKEW + 1;
            for n in 1000..2000 {
                assert_eq!(
                    cache.check_and_insert(&tag(n), later, later),
                    New,
                    "{buckets}"
                );
            }
            assert_eq!(cache.len(), 1000);
            // Forgotten, so refused, even if the clock comes back.
            assert_eq!(cache.floor(), Some(NOW));
            assert_eq!(cache.check_and_insert(&tag(5), NOW, NOW), Unverifiable);
        }
    }

    #[test]
    fn test_expiry_without_pressure_releases_entries() {
        let mut cache = ReplayCache::new(ArrayStore::<8, 512>::new(), window_for_ttl(Some(TTL)));
        assert_eq!(cache.check_and_insert(&tag(1), NOW, NOW), New);
        assert_eq!(cache.check_and_insert(&tag(2), NOW + 10, NOW + 10), New);
        let _ = cache.check_and_insert(&tag(3), NOW + 370, NOW + 370);
        assert_eq!((cache.len(), cache.floor()), (2, Some(NOW)));
        let _ = cache.check_and_insert(&tag(4), NOW + 371, NOW + 371);
        assert_eq!((cache.len(), cache.floor()), (2, Some(NOW + 10)));
        let _ = cache.check_and_insert(&tag(5), NOW + 380, NOW + 380);
        assert_eq!((cache.len(), cache.floor()), (3, Some(NOW + 10)));
        // Too old to remember: refused at once.
        assert_eq!(
            cache.check_and_insert(&tag(6), NOW + 19, NOW + 380),
            Unverifiable
        );
    }

    #[test]
    fn test_burst_in_one_second() {
        let mut cache = heap_cache(10_000, 512, window_for_ttl(Some(TTL)));
        for n in 0..10_000 {
            assert_eq!(cache.check_and_insert(&tag(n), NOW, NOW), New);
        }
        for n in 0..10_000 {
            assert_eq!(cache.check_and_insert(&tag(n), NOW, NOW + 1), Replayed);
        }
        assert_eq!(cache.len(), 10_000);
        // The next second evicts the burst's second as a whole.
        assert_eq!(cache.check_and_insert(&tag(10_000), NOW + 1, NOW + 1), New);
        assert_eq!(cache.floor(), Some(NOW));
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn test_eviction_raises_floor() {
        let mut cache = ReplayCache::new(ArrayStore::<2, 128>::new(), None);
        assert_eq!(cache.span(), 1);
        assert_eq!(cache.check_and_insert(&tag(1), NOW + 10, NOW + 40), New);
        assert_eq!(cache.check_and_insert(&tag(2), NOW + 20, NOW + 40), New);
        // Full: the bucket of NOW + 10 goes; tag 1 is still refused.
        assert_eq!(cache.check_and_insert(&tag(3), NOW + 30, NOW + 40), New);
        assert_eq!(cache.floor(), Some(NOW + 10));
        assert_eq!(
            cache.check_and_insert(&tag(1), NOW + 10, NOW + 40),
            Unverifiable
        );
        assert_eq!(
            cache.check_and_insert(&tag(4), NOW + 10, NOW + 40),
            Unverifiable
        );
        assert_eq!(
            cache.check_and_insert(&tag(3), NOW + 30, NOW + 40),
            Replayed
        );
        assert_eq!(cache.check_and_insert(&tag(5), NOW + 31, NOW + 40), New);
        assert_eq!(cache.floor(), Some(NOW + 20));
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn test_old_token_refused_when_full() {
        let mut cache = ReplayCache::new(ArrayStore::<2, 128>::new(), None);
        assert_eq!(cache.check_and_insert(&tag(1), NOW + 50, NOW + 60), New);
        assert_eq!(cache.check_and_insert(&tag(2), NOW + 60, NOW + 60), New);
        // Not newer than the oldest held: refused, and nothing is evicted.
        assert_eq!(
            cache.check_and_insert(&tag(3), NOW + 40, NOW + 60),
            Unverifiable
        );
        assert_eq!(
            cache.check_and_insert(&tag(3), NOW + 50, NOW + 60),
            Unverifiable
        );
        assert_eq!(
            cache.check_and_insert(&tag(1), NOW + 50, NOW + 60),
            Replayed
        );
        assert_eq!(cache.floor(), None);
    }

    #[test]
    fn test_multi_second_buckets_evict_whole() {
        // 64 buckets for a 300 s TTL: 7 s each.
        let mut cache = ReplayCache::new(ArrayStore::<4, 64>::new(), window_for_ttl(Some(TTL)));
        assert_eq!(cache.span(), 7);
        let start = NOW - NOW % 7;
        for (n, at) in [(1, start), (2, start + 1), (3, start + 7), (4, start + 8)] {
            assert_eq!(cache.check_and_insert(&tag(n), at, start + 20), New);
        }
        // The oldest bucket (start, start + 1) goes; the floor is its newest.
        assert_eq!(cache.check_and_insert(&tag(5), start + 9, start + 20), New);
        assert_eq!(cache.floor(), Some(start + 1));
        assert_eq!(cache.len(), 3);
        // The next bucket holds start + 9: a token of start + 8 cannot evict it.
        assert_eq!(cache.check_and_insert(&tag(6), start + 14, start + 20), New);
        assert_eq!(
            cache.check_and_insert(&tag(7), start + 8, start + 20),
            Unverifiable
        );
    }

    #[test]
    fn test_future_flood_cannot_refuse_now() {
        // 1-second and 7-second buckets; honest traffic fills half the pool
        // per bucket, for as long as the first flood is still ahead of now.
        for buckets in [512, 64] {
            let mut cache = heap_cache(1000, buckets, window_for_ttl(Some(TTL)));
            let honest = 400 / cache.span();
            let mut next = 0;
            let mut fresh = || {
                next += 1;
                tag(next)
            };
            for second in 0..59 {
                let now = NOW + second;
                // A key holder floods tokens dated +59 s...
                let flooded = (0..2000)
                    .filter(|_| cache.check_and_insert(&fresh(), now + 59, now) == New)
                    .count();
                assert!(flooded <= 500, "{flooded}");
                // ...and every honest token dated now still passes.
                for _ in 0..honest {
                    assert_eq!(
                        cache.check_and_insert(&fresh(), now, now),
                        New,
                        "{buckets} {second}"
                    );
                }
                assert!(cache.floor().is_none_or(|floor| floor < now));
            }
        }
    }

    #[test]
    fn test_future_tokens_hold_half_and_evict_nothing() {
        let mut cache = ReplayCache::new(ArrayStore::<8, 512>::new(), window_for_ttl(Some(TTL)));
        for n in 0..6 {
            assert_eq!(cache.check_and_insert(&tag(n), NOW, NOW), New);
        }
        assert_eq!(cache.check_and_insert(&tag(6), NOW + 5, NOW), New);
        assert_eq!(cache.check_and_insert(&tag(7), NOW + 6, NOW), New);
        // Full: a future token evicts nothing, nor does a token dated now...
        assert_eq!(cache.check_and_insert(&tag(8), NOW + 3, NOW), Unverifiable);
        assert_eq!(cache.check_and_insert(&tag(9), NOW, NOW), Unverifiable);
        assert_eq!(cache.floor(), None);
        // ...but a token newer than the oldest second does.
        assert_eq!(cache.check_and_insert(&tag(10), NOW + 1, NOW + 1), New);
        assert_eq!(cache.floor(), Some(NOW));
        assert_eq!(cache.len(), 3);
        // With room, tokens ahead of now stop at half the pool.
        assert_eq!(cache.check_and_insert(&tag(11), NOW + 10, NOW + 1), New);
        assert_eq!(cache.check_and_insert(&tag(12), NOW + 11, NOW + 1), New);
        assert_eq!(
            cache.check_and_insert(&tag(13), NOW + 12, NOW + 1),
            Unverifiable
        );
        assert_eq!(cache.check_and_insert(&tag(14), NOW + 1, NOW + 1), New);
        assert_eq!(cache.check_and_insert(&tag(6), NOW + 5, NOW + 1), Replayed);
        // As now passes them, they no longer count as ahead.
        assert_eq!(cache.check_and_insert(&tag(13), NOW + 12, NOW + 5), New);
    }

    #[test]
    fn test_timestamps_near_zero_and_max() {
        for window in [None, Some(0), Some(360), Some(u64::MAX)] {
            for buckets in [1, 2, 3, 64] {
                let mut cache = heap_cache(8, buckets, window);
                let cases = [
                    (0, 0),
                    (0, u64::MAX),
                    (u64::MAX, 0),
                    (u64::MAX, u64::MAX),
                    (u64::MAX - 1, u64::MAX - 60),
                    (1, 0),
                    (59, 0),
                    (60, 0),
                    (u64::MAX, u64::MAX - 1),
                    (5, 3),
                    (u64::MAX - 7, u64::MAX),
                ];
                for (n, (timestamp, now)) in cases.into_iter().enumerate() {
                    let first = cache.check_and_insert(&tag(n as u64), timestamp, now);
                    let again = cache.check_and_insert(&tag(n as u64), timestamp, now);
                    assert_ne!(first, Replayed);
                    assert_ne!(again, New);
                    if first == New {
                        assert_eq!(again, Replayed, "{window:?} {buckets} {timestamp} {now}");
                    }
                }
                assert!(cache.len() <= 8);
            }
        }
        let mut cache = ReplayCache::new(ArrayStore::<4, 8>::new(), window_for_ttl(Some(TTL)));
        assert_eq!(cache.check_and_insert(&tag(1), 0, 0), New);
        assert_eq!(cache.check_and_insert(&tag(2), u64::MAX, u64::MAX), New);
        assert_eq!(cache.check_and_insert(&tag(1), 0, 0), Unverifiable);
    }

    #[test]
    fn test_clock_going_back_refuses_rather_than_accepts() {
        let mut cache = ReplayCache::new(ArrayStore::<8, 512>::new(), window_for_ttl(Some(TTL)));
        assert_eq!(cache.check_and_insert(&tag(1), NOW, NOW), New);
        assert_eq!(cache.check_and_insert(&tag(2), NOW + 1000, NOW + 1000), New);
        // Back to NOW: tag 1 expired at NOW + 1000, so it cannot be vouched for.
        assert_eq!(cache.check_and_insert(&tag(1), NOW, NOW), Unverifiable);
        assert_eq!(cache.check_and_insert(&tag(2), NOW + 1000, NOW), Replayed);
        // A token newer than the floor, older than the ring: still remembered.
        assert_eq!(cache.check_and_insert(&tag(3), NOW + 100, NOW + 100), New);
        assert_eq!(
            cache.check_and_insert(&tag(3), NOW + 100, NOW + 100),
            Replayed
        );
        // Expired once the clock is back at NOW + 1000.
        assert_eq!(
            cache.check_and_insert(&tag(3), NOW + 100, NOW + 1000),
            Unverifiable
        );
        assert_eq!(cache.floor(), Some(NOW + 100));
    }

    #[test]
    fn test_no_window_forgets_only_for_room() {
        let mut cache = ReplayCache::new(ArrayStore::<4, 64>::new(), None);
        assert_eq!(cache.window(), None);
        assert_eq!(cache.span(), 2);
        // A day apart, a lagging sender an hour behind: all remembered.
        for (n, at) in [(1, NOW), (2, NOW + 86_400), (3, NOW + 82_800)] {
            assert_eq!(cache.check_and_insert(&tag(n), at, NOW + 86_400), New);
        }
        assert_eq!(cache.check_and_insert(&tag(1), NOW, NOW + 86_401), Replayed);
        assert_eq!(
            cache.check_and_insert(&tag(4), NOW + 86_401, NOW + 86_401),
            New
        );
        assert_eq!(cache.floor(), None);
        // Full: the older tokens go first, together; the floor follows them.
        assert_eq!(
            cache.check_and_insert(&tag(5), NOW + 86_402, NOW + 86_402),
            New
        );
        assert_eq!(cache.floor(), Some(NOW + 82_800));
        assert_eq!(cache.len(), 3);
        assert_eq!(
            cache.check_and_insert(&tag(3), NOW + 82_800, NOW + 86_402),
            Unverifiable
        );
        // Above the floor and room left: a lagging sender still gets through.
        assert_eq!(
            cache.check_and_insert(&tag(6), NOW + 82_801, NOW + 86_402),
            New
        );
        assert_eq!(
            cache.check_and_insert(&tag(6), NOW + 82_801, NOW + 86_402),
            Replayed
        );
        assert_eq!(
            cache.check_and_insert(&tag(2), NOW + 86_400, NOW + 86_402),
            Replayed
        );
    }

    #[test]
    fn test_zero_capacity_refuses_everything() {
        let mut cache = ReplayCache::new(ArrayStore::<0, 8>::new(), None);
        assert_eq!(cache.check_and_insert(&tag(1), NOW, NOW), Unverifiable);
        let mut cache = ReplayCache::new(ArrayStore::<8, 0>::new(), None);
        assert_eq!(cache.check_and_insert(&tag(1), NOW, NOW), Unverifiable);
        assert_eq!(cache.capacity(), 0);
        let (mut entries, mut buckets) = ([Entry::EMPTY; 4], [Bucket::EMPTY; 4]);
        let store = SliceStore::new(&mut entries, &mut [], &mut buckets);
        let mut cache = ReplayCache::new(store, None);
        assert_eq!(cache.check_and_insert(&tag(1), NOW, NOW), Unverifiable);
    }

    #[test]
    fn test_new_resets_a_used_store() {
        let mut store = ArrayStore::<4, 8>::new();
        let mut cache = ReplayCache::new(&mut store, None);
        assert_eq!(cache.check_and_insert(&tag(1), NOW, NOW), New);
        let mut cache = ReplayCache::new(&mut store, None);
        assert!(cache.is_empty());
        assert_eq!(cache.check_and_insert(&tag(1), NOW, NOW), New);
    }

    #[test]
    fn test_own_size_pinned() {
        assert_eq!(core::mem::size_of::<ReplayCache<ArrayStore<0, 0>>>(), 128);
    }

    #[test]
    fn test_forgotten_entries_reclaimed_a_few_per_call() {
        let mut cache = heap_cache(100, 512, window_for_ttl(Some(TTL)));
        for n in 0..100 {
            assert_eq!(cache.check_and_insert(&tag(n), NOW, NOW), New);
        }
        // The second of NOW goes at once; its entries come back as needed.
        for n in 100..300 {
            let second = NOW + n / 100;
            assert_eq!(cache.check_and_insert(&tag(n), second, second), New);
        }
        assert_eq!(cache.state.draining, 0);
        assert_eq!((cache.len(), cache.floor()), (100, Some(NOW + 1)));
        // A forgotten token is refused either way, never accepted.
        for n in 0..200 {
            assert_ne!(cache.check_and_insert(&tag(n), NOW + n / 100, NOW + 2), New);
        }
    }

    #[test]
    fn test_span_pinned() {
        let span = |ttl, buckets| span_for(window_for_ttl(ttl), buckets);
        assert_eq!(span(Some(300), 512), 1);
        assert_eq!(span(Some(300), 422), 1);
        assert_eq!(span(Some(300), 421), 2);
        assert_eq!(span(Some(300), 128), 4);
        assert_eq!(span(Some(300), 64), 7);
        assert_eq!(span(Some(300), 32), 14);
        assert_eq!(span(None, 512), 1);
        assert_eq!(span(None, 64), 2);
        assert_eq!(span(Some(u64::MAX), 0), u64::MAX);
    }
}
