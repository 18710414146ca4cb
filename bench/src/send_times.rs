//! When each frame was written, shared between the sending thread and the
//! receiving one, as nanoseconds since a common origin.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// One slot per frame of the book; 0 means not written yet.
pub struct SendTimes {
    origin: Instant,
    slots: Vec<AtomicU64>,
}

impl SendTimes {
    /// A table of `frames` unwritten slots, timed from now.
    pub fn new(frames: usize) -> SendTimes {
        SendTimes {
            origin: Instant::now(),
            slots: (0..frames).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Nanoseconds from the origin to `instant` (at least 1, so never "unset").
    pub fn nanos(&self, instant: Instant) -> u64 {
        let nanos = instant.saturating_duration_since(self.origin).as_nanos();
        u64::try_from(nanos).unwrap_or(u64::MAX).max(1)
    }

    /// Records that frame `index` is written at `nanos` (before the write, so
    /// that a receiver never sees the frame first).
    pub fn stamp(&self, index: usize, nanos: u64) {
        self.slots[index].store(nanos, Ordering::Release);
    }

    /// When frame `index` was written, if it was.
    pub fn get(&self, index: usize) -> Option<u64> {
        match self.slots[index].load(Ordering::Acquire) {
            0 => None,
            nanos => Some(nanos),
        }
    }
}
