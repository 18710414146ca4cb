//! A fixed-capacity replay cache: no token is accepted twice inside the
//! freshness window, whatever order entries are evicted in.

use crate::fernet::TAG_LEN;

/// Bytes of the HMAC tag kept to identify a token (forging a collision means
/// forging the MAC).
pub const ID_LEN: usize = 16;

/// What the cache says of a token.
#[must_use]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplayCheck {
    /// Not seen before: now remembered.
    New,
    /// Seen before: a replay.
    Replayed,
    /// No newer than what the cache has had to forget, so it cannot tell
    /// whether it was seen: refused, but not known to be a replay.
    Unverifiable,
}

/// Remembers up to `N` recent tokens by tag and timestamp.
///
/// When full, the entry with the oldest timestamp is evicted and its
/// timestamp becomes the *floor*: from then on a token no newer than the
/// floor is refused, since the cache can no longer vouch it was not seen.
/// Memory is `N * 24` bytes; lookups scan the entries.
#[derive(Clone, Debug)]
pub struct ReplayCache<const N: usize> {
    entries: heapless::Vec<([u8; ID_LEN], u64), N>,
    floor: Option<u64>,
}

impl<const N: usize> Default for ReplayCache<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> ReplayCache<N> {
    /// An empty cache.
    pub const fn new() -> ReplayCache<N> {
        ReplayCache {
            entries: heapless::Vec::new(),
            floor: None,
        }
    }

    /// Checks the token with HMAC tag `tag` and `timestamp`, and remembers
    /// it when it is new. The first [`ID_LEN`] bytes of the tag identify it.
    pub fn check_and_insert(&mut self, tag: &[u8; TAG_LEN], timestamp: u64) -> ReplayCheck {
        let mut id = [0u8; ID_LEN];
        id.copy_from_slice(&tag[..ID_LEN]);
        if self.entries.iter().any(|(seen, _)| *seen == id) {
            return ReplayCheck::Replayed;
        }
        if self.floor.is_some_and(|floor| timestamp <= floor) {
            return ReplayCheck::Unverifiable;
        }
        if self.entries.is_full() {
            let oldest = self
                .entries
                .iter()
                .enumerate()
                .min_by_key(|(_, (_, ts))| *ts)
                .map(|(index, (_, ts))| (index, *ts));
            if let Some((index, oldest_ts)) = oldest {
                if timestamp <= oldest_ts {
                    return ReplayCheck::Unverifiable;
                }
                self.entries.swap_remove(index);
                self.floor = Some(self.floor.map_or(oldest_ts, |f| f.max(oldest_ts)));
            }
        }
        // Room was made above, unless N is 0 (then nothing can be vouched for).
        match self.entries.push((id, timestamp)) {
            Ok(()) => ReplayCheck::New,
            Err(_) => ReplayCheck::Unverifiable,
        }
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no entry is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ReplayCheck::{New, Replayed, Unverifiable};

    fn tag(n: u8) -> [u8; 32] {
        [n; 32]
    }

    #[test]
    fn test_replay_rejected() {
        let mut cache = ReplayCache::<4>::new();
        assert_eq!(cache.check_and_insert(&tag(1), 100), New);
        assert_eq!(cache.check_and_insert(&tag(1), 100), Replayed);
        assert_eq!(cache.check_and_insert(&tag(2), 100), New);
    }

    #[test]
    fn test_eviction_raises_floor() {
        let mut cache = ReplayCache::<2>::new();
        assert_eq!(cache.check_and_insert(&tag(1), 10), New);
        assert_eq!(cache.check_and_insert(&tag(2), 20), New);
        // Full: inserting evicts ts 10; tag 1 must still be refused.
        assert_eq!(cache.check_and_insert(&tag(3), 30), New);
        assert_eq!(cache.check_and_insert(&tag(1), 10), Unverifiable);
        // A new token as old as the floor cannot be vouched for either.
        assert_eq!(cache.check_and_insert(&tag(4), 10), Unverifiable);
        assert_eq!(cache.check_and_insert(&tag(3), 30), Replayed);
        assert_eq!(cache.check_and_insert(&tag(5), 31), New);
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn test_old_token_refused_when_full() {
        let mut cache = ReplayCache::<2>::new();
        assert_eq!(cache.check_and_insert(&tag(1), 50), New);
        assert_eq!(cache.check_and_insert(&tag(2), 60), New);
        // Older than everything held: refused, and nothing is evicted for it.
        assert_eq!(cache.check_and_insert(&tag(3), 40), Unverifiable);
        assert_eq!(cache.check_and_insert(&tag(1), 50), Replayed);
        assert_eq!(cache.check_and_insert(&tag(3), 40), Unverifiable);
        assert_eq!(cache.check_and_insert(&tag(4), 61), New);
        assert_eq!(cache.check_and_insert(&tag(3), 40), Unverifiable);
    }

    #[test]
    fn test_zero_capacity_refuses_everything() {
        let mut cache = ReplayCache::<0>::new();
        assert_eq!(cache.check_and_insert(&tag(1), 50), Unverifiable);
    }
}
