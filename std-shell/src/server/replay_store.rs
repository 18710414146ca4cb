//! The keyed relay's replay memory, on the heap: a million tokens, so that
//! at 10,000 tokens a second it remembers the last 100 seconds of traffic
//! (`docs/PROTOCOL.md` section 3, The replay cache).

use fernchat_core::replay::{Bucket, Entry, ReplayStore, SliceStore};

/// Tokens the keyed relay remembers: 20 MiB with the hash heads.
const ENTRIES: usize = 1 << 20;
/// Time buckets: one second each for the default 300 s TTL.
const BUCKETS: usize = 512;

/// Boxed tables for the core's replay cache.
pub struct HeapStore {
    entries: Box<[Entry]>,
    heads: Box<[u32]>,
    buckets: Box<[Bucket]>,
}

impl HeapStore {
    /// The keyed relay's tables, allocated (about 20 MiB).
    pub fn for_relay() -> HeapStore {
        HeapStore {
            entries: vec![Entry::EMPTY; ENTRIES].into_boxed_slice(),
            heads: vec![0; ENTRIES].into_boxed_slice(),
            buckets: vec![Bucket::EMPTY; BUCKETS].into_boxed_slice(),
        }
    }
}

impl ReplayStore for HeapStore {
    fn slices(&mut self) -> SliceStore<'_> {
        SliceStore::new(&mut self.entries, &mut self.heads, &mut self.buckets)
    }
}
