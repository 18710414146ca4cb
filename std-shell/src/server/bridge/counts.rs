//! What the bridge moved and what it could not: shared by the relay's
//! loop and the bridge thread, summed up in the log and served on
//! `--metrics` (`fernchat_nats_*`).

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::fmt;

/// The labels of a count of frames not bridged.
type Reason = [(&'static str, &'static str); 1];

/// Frames through the bridge, each way, and those lost on the way; each a
/// relaxed atomic.
#[derive(Debug)]
pub struct Counts {
    /// 1 while connected to a NATS server, else 0.
    pub connected: Gauge,
    /// Frames published to NATS.
    pub published: Counter,
    /// Frames received from NATS and handed to the relay's loop.
    pub received: Counter,
    /// Frames not handed to the bridge thread: its queue was full (NATS slow).
    pub queue_full: Counter,
    /// Frames not published: NATS was not connected.
    pub disconnected: Counter,
    /// Frames whose publish failed.
    pub publish_failed: Counter,
    /// Frames from NATS dropped: the relay's loop had not taken the earlier ones.
    pub inbox_full: Counter,
    /// Messages the NATS server dropped for this relay as a slow consumer
    /// (reported once per event, not per message).
    pub slow_consumer: Counter,
    /// The five counts of frames not bridged, as one labelled family.
    not_bridged: Family<Reason, Counter>,
}

impl Default for Counts {
    fn default() -> Counts {
        let not_bridged = Family::<Reason, Counter>::default();
        let by = |reason| not_bridged.get_or_create_owned(&[("reason", reason)]);
        Counts {
            connected: Gauge::default(),
            published: Counter::default(),
            received: Counter::default(),
            queue_full: by("queue_full"),
            disconnected: by("disconnected"),
            publish_failed: by("publish_failed"),
            inbox_full: by("inbox_full"),
            slow_consumer: by("slow_consumer"),
            not_bridged,
        }
    }
}

impl Counts {
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
        .map(|c| c.get())
        .sum()
    }

    /// A snapshot to tell whether anything changed since the last summary.
    pub fn snapshot(&self) -> [u64; 3] {
        [
            self.published.get(),
            self.received.get(),
            self.not_bridged(),
        ]
    }

    /// Serves these counts on `--metrics` too (the same atomics).
    pub fn register(&self, registry: &mut Registry) {
        let r = registry.sub_registry_with_prefix("nats");
        r.register(
            "connected",
            "1 while the NATS bridge is connected to a server",
            self.connected.clone(),
        );
        r.register(
            "published_frames",
            "Frames published to NATS",
            self.published.clone(),
        );
        r.register(
            "received_frames",
            "Frames received from NATS",
            self.received.clone(),
        );
        r.register(
            "not_bridged_frames",
            "Frames that could not cross the bridge, by why",
            self.not_bridged.clone(),
        );
    }
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} frames published, {} received; {} not bridged \
             ({} queue full, {} while disconnected, {} publish failed, \
             {} inbox full, {} slow-consumer events)",
            self.published.get(),
            self.received.get(),
            self.not_bridged(),
            self.queue_full.get(),
            self.disconnected.get(),
            self.publish_failed.get(),
            self.inbox_full.get(),
            self.slow_consumer.get(),
        )
    }
}
