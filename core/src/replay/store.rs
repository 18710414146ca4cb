//! Where a [`ReplayCache`](super::ReplayCache) keeps its memory: three
//! tables the caller owns, so that one cache runs on a zeroed `static`
//! array on a microcontroller and on heap slices on a desktop.
//!
//! - **entries**: the pool, one [`Entry`] (16 bytes) per remembered token;
//! - **heads**: the hash table, one `u32` (4 bytes) per chain; give at
//!   least as many heads as entries, so that a chain holds one entry on
//!   average;
//! - **buckets**: the ring of time buckets, one [`Bucket`] (24 bytes) each.
//!
//! Their contents need not be zero: [`ReplayCache::new`](super::ReplayCache::new)
//! resets the heads and buckets, and hands out entries only once written.

/// Most entries a store may lend: entries are linked by `u32` index, and 0
/// means "none", so about 4 billion. A larger pool is used only this far
/// ([`ArrayStore`] refuses to compile past it).
pub const MAX_ENTRIES: usize = u32::MAX as usize - 1;

/// One remembered token: 8 bytes of its tag, its link in a hash chain and
/// its link in a time bucket (or in the drain or the free list). 16 bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Entry {
    /// The token's identity: the first [`ID_LEN`](super::ID_LEN) bytes of its tag.
    pub(super) id: u64,
    /// The next entry in the same hash chain (index + 1; 0 ends it).
    pub(super) chain: u32,
    /// The next entry in the same bucket, the drain or the free list.
    pub(super) link: u32,
}

impl Entry {
    /// An unused entry (all zeros), to fill a pool with.
    pub const EMPTY: Entry = Entry {
        id: 0,
        chain: 0,
        link: 0,
    };
}

/// One time bucket: the entries of one span of seconds, linked, with their
/// count and their newest timestamp. 24 bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bucket {
    /// The newest timestamp among the entries (meaningless when empty).
    pub(super) newest: u64,
    /// The first entry (index + 1; 0 when empty).
    pub(super) first: u32,
    /// The last entry, so that the whole list moves at once.
    pub(super) last: u32,
    /// How many entries are linked from `first`.
    pub(super) count: u32,
}

impl Bucket {
    /// An empty bucket (all zeros), to fill a ring with.
    pub const EMPTY: Bucket = Bucket {
        newest: 0,
        first: 0,
        last: 0,
        count: 0,
    };
}

/// Memory for a [`ReplayCache`](super::ReplayCache): lends the entry pool,
/// the hash heads and the bucket ring.
///
/// Implement it over whatever owns the memory: [`ArrayStore`] (arrays,
/// for `static`s), [`SliceStore`] (borrowed slices), or your own type
/// holding boxed slices:
///
/// ```
/// use fernchat_core::replay::{Bucket, Entry, ReplayCache, ReplayStore, SliceStore};
///
/// /// A million entries on the heap, as a keyed relay on a desktop wants.
/// struct HeapStore {
///     entries: Box<[Entry]>,
///     heads: Box<[u32]>,
///     buckets: Box<[Bucket]>,
/// }
///
/// impl ReplayStore for HeapStore {
///     fn slices(&mut self) -> SliceStore<'_> {
///         SliceStore::new(&mut self.entries, &mut self.heads, &mut self.buckets)
///     }
/// }
///
/// let store = HeapStore {
///     entries: vec![Entry::EMPTY; 1 << 20].into_boxed_slice(),
///     heads: vec![0; 1 << 20].into_boxed_slice(),
///     buckets: vec![Bucket::EMPTY; 512].into_boxed_slice(),
/// };
/// let cache = ReplayCache::new(store, Some(300 + 60));
/// assert_eq!(cache.capacity(), 1 << 20);
/// ```
pub trait ReplayStore {
    /// The three tables. Must lend the same memory on every call: a store
    /// that does not gets wrong answers (but no panic and no endless loop).
    fn slices(&mut self) -> SliceStore<'_>;
}

impl<S: ReplayStore + ?Sized> ReplayStore for &mut S {
    fn slices(&mut self) -> SliceStore<'_> {
        (**self).slices()
    }
}

/// A store over borrowed slices: what every [`ReplayStore`] lends, and a
/// store in its own right (for example over `Vec::leak`ed slices).
#[derive(Debug)]
pub struct SliceStore<'a> {
    pub(super) entries: &'a mut [Entry],
    pub(super) heads: &'a mut [u32],
    pub(super) buckets: &'a mut [Bucket],
}

impl<'a> SliceStore<'a> {
    /// A store of `entries.len()` entries (at most [`MAX_ENTRIES`] are
    /// used), `heads.len()` hash chains and `buckets.len()` time buckets.
    /// With no entries, no heads or no buckets the cache refuses every
    /// token as unverifiable.
    pub fn new(entries: &'a mut [Entry], heads: &'a mut [u32], buckets: &'a mut [Bucket]) -> Self {
        SliceStore {
            entries,
            heads,
            buckets,
        }
    }
}

impl ReplayStore for SliceStore<'_> {
    fn slices(&mut self) -> SliceStore<'_> {
        SliceStore {
            entries: self.entries,
            heads: self.heads,
            buckets: self.buckets,
        }
    }
}

/// A store of `ENTRIES` entries (with as many hash heads) and `BUCKETS`
/// time buckets, in arrays: `ENTRIES * 20 + BUCKETS * 24` bytes. All zeros,
/// so a `static` of it lives in `.bss` and takes no flash.
#[derive(Clone, Debug)]
pub struct ArrayStore<const ENTRIES: usize, const BUCKETS: usize> {
    entries: [Entry; ENTRIES],
    heads: [u32; ENTRIES],
    buckets: [Bucket; BUCKETS],
}

impl<const ENTRIES: usize, const BUCKETS: usize> ArrayStore<ENTRIES, BUCKETS> {
    /// An empty store (all zeros). Does not compile for more than
    /// [`MAX_ENTRIES`] entries.
    pub const fn new() -> Self {
        const {
            assert!(
                ENTRIES <= MAX_ENTRIES,
                "a replay store holds at most MAX_ENTRIES"
            )
        };
        ArrayStore {
            entries: [Entry::EMPTY; ENTRIES],
            heads: [0; ENTRIES],
            buckets: [Bucket::EMPTY; BUCKETS],
        }
    }
}

impl<const ENTRIES: usize, const BUCKETS: usize> Default for ArrayStore<ENTRIES, BUCKETS> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const ENTRIES: usize, const BUCKETS: usize> ReplayStore for ArrayStore<ENTRIES, BUCKETS> {
    fn slices(&mut self) -> SliceStore<'_> {
        SliceStore::new(&mut self.entries, &mut self.heads, &mut self.buckets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::size_of;

    #[test]
    fn test_sizes_pinned() {
        assert_eq!(size_of::<Entry>(), 16);
        assert_eq!(size_of::<Bucket>(), 24);
        assert_eq!(size_of::<ArrayStore<256, 64>>(), 256 * 20 + 64 * 24);
    }

    #[test]
    fn test_array_store_is_zeros() {
        static STORE: ArrayStore<4, 2> = ArrayStore::new();
        assert!(STORE.entries.iter().all(|e| *e == Entry::default()));
        assert!(STORE.heads.iter().all(|h| *h == 0));
        assert!(STORE.buckets.iter().all(|b| *b == Bucket::default()));
    }

    #[test]
    fn test_stores_lend_their_memory() {
        let mut array = ArrayStore::<3, 5>::new();
        let lent = array.slices();
        assert_eq!(
            (lent.entries.len(), lent.heads.len(), lent.buckets.len()),
            (3, 3, 5)
        );
        let (mut entries, mut heads, mut buckets) =
            ([Entry::EMPTY; 2], [0u32; 7], [Bucket::EMPTY; 1]);
        let mut slices = SliceStore::new(&mut entries, &mut heads, &mut buckets);
        let mut by_ref = &mut slices;
        let lent = <&mut SliceStore<'_> as ReplayStore>::slices(&mut by_ref);
        assert_eq!(
            (lent.entries.len(), lent.heads.len(), lent.buckets.len()),
            (2, 7, 1)
        );
    }
}
