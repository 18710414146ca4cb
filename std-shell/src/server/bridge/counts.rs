//! What the bridge moved and what it could not: shared by the relay's
//! loop and the bridge thread, summed up in the log.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// Frames through the bridge, each way, and those lost on the way.
#[derive(Debug, Default)]
pub struct Counts {
    /// Frames published to NATS.
    pub published: AtomicU64,
    /// Frames received from NATS and handed to the relay's loop.
    pub received: AtomicU64,
    /// Frames not handed to the bridge thread: its queue was full (NATS slow).
    pub queue_full: AtomicU64,
    /// Frames not published: NATS was not connected.
    pub disconnected: AtomicU64,
    /// Frames whose publish failed.
    pub publish_failed: AtomicU64,
    /// Frames from NATS dropped: the relay's loop had not taken the earlier ones.
    pub inbox_full: AtomicU64,
    /// Messages the NATS server dropped for this relay as a slow consumer
    /// (reported once per event, not per message).
    pub slow_consumer: AtomicU64,
}

impl Counts {
    /// Adds one to `counter`.
    pub fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Frames that could not be bridged, all reasons together.
    pub fn not_bridged(&self) -> u64 {
        [
            &self.queue_full,
            &self.disconnected,
            &self.publish_failed,
            &self.inbox_full,
            &self.slow_consumer,
        ]
        .iter()
        .map(|c| c.load(Ordering::Relaxed))
        .sum()
    }

    /// A snapshot to tell whether anything changed since the last summary.
    pub fn snapshot(&self) -> [u64; 3] {
        [
            self.published.load(Ordering::Relaxed),
            self.received.load(Ordering::Relaxed),
            self.not_bridged(),
        ]
    }
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
        write!(
            f,
            "{} frames published, {} received; {} not bridged \
             ({} queue full, {} while disconnected, {} publish failed, \
             {} inbox full, {} slow-consumer events)",
            n(&self.published),
            n(&self.received),
            self.not_bridged(),
            n(&self.queue_full),
            n(&self.disconnected),
            n(&self.publish_failed),
            n(&self.inbox_full),
            n(&self.slow_consumer),
        )
    }
}
