//! What the clients of one run received: intact, repeated and corrupted
//! frames, and the latency of every intact delivery.

use super::frames::{Frames, Line};
use super::send_times::SendTimes;
use anyhow::Result;
use hdrhistogram::Histogram;

/// Latencies above this many microseconds are recorded as this many.
const MAX_LATENCY_US: u64 = 120_000_000;

/// Counts over every receiving client of a run.
pub struct Tally {
    /// First deliveries to a client of a frame whole and byte for byte as
    /// sent.
    pub intact: u64,
    /// Deliveries of an intact frame that client had already received.
    pub repeated: u64,
    /// Lines that were not an intact frame.
    pub corrupted: u64,
    /// Lines the relay wrote itself (notices, a keyed relay's `/leave`).
    pub from_relay: u64,
    /// Intact deliveries with no send instant recorded (a bug if not 0).
    pub untimed: u64,
    /// Send-to-receive latency of intact deliveries, in microseconds.
    pub latency: Histogram<u64>,
    /// The same, by path, when the clients are spread over several relays.
    pub by_path: Option<ByPath>,
    /// Nanoseconds from the origin to the last intact delivery.
    pub last_intact: u64,
    /// One bit per client and frame: delivered intact.
    delivered: Vec<u64>,
    /// Frames a run can send (bits per client in `delivered`).
    frames: usize,
}

/// A cluster's delivery latencies split by path, in microseconds: client
/// `n` is on relay `n % relays`, and sender `s` is client `s`.
pub struct ByPath {
    relays: usize,
    /// To clients on the sender's own relay (no NATS hop).
    pub same_relay: Histogram<u64>,
    /// To clients on the other relays, over NATS.
    pub across: Histogram<u64>,
}

impl ByPath {
    fn record(&mut self, client: usize, sender: usize, micros: u64) {
        let path = if client % self.relays == sender % self.relays {
            &mut self.same_relay
        } else {
            &mut self.across
        };
        path.saturating_record(micros);
    }
}

fn latency_histogram() -> Result<Histogram<u64>> {
    Ok(Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)?)
}

impl Tally {
    /// Nothing received yet by `clients` clients, spread over `relays`
    /// relays in turn, from a run of `frames`.
    pub fn new(clients: usize, frames: usize, relays: usize) -> Result<Tally> {
        let by_path = if relays > 1 {
            Some(ByPath {
                relays,
                same_relay: latency_histogram()?,
                across: latency_histogram()?,
            })
        } else {
            None
        };
        Ok(Tally {
            intact: 0,
            repeated: 0,
            corrupted: 0,
            from_relay: 0,
            untimed: 0,
            latency: latency_histogram()?,
            by_path,
            last_intact: 0,
            delivered: vec![0; (clients * frames).div_ceil(64)],
            frames,
        })
    }

    /// Counts one `line` received by `client` at `rx_nanos` since the origin.
    pub fn count(
        &mut self,
        client: usize,
        line: Line,
        rx_nanos: u64,
        frames: Frames<'_>,
        sent: &SendTimes,
    ) {
        match line {
            Line::Probe => {}
            Line::FromRelay => self.from_relay += 1,
            Line::Corrupted => self.corrupted += 1,
            Line::Intact { sender, seq } => {
                let index = frames.index(sender, seq);
                let bit = client * self.frames + index;
                let (word, mask) = (&mut self.delivered[bit / 64], 1 << (bit % 64));
                if *word & mask != 0 {
                    self.repeated += 1;
                    return;
                }
                *word |= mask;
                self.intact += 1;
                self.last_intact = rx_nanos;
                let Some(tx) = sent.get(index) else {
                    self.untimed += 1;
                    return;
                };
                let micros = rx_nanos.saturating_sub(tx) / 1000;
                self.latency.saturating_record(micros);
                if let Some(by_path) = &mut self.by_path {
                    by_path.record(client, sender, micros);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame_book::FrameBook;

    #[test]
    fn test_a_frame_received_twice_counts_once() {
        let book = FrameBook::generate(2, 3).unwrap();
        let frames = Frames::Book(&book);
        let sent = SendTimes::new(frames.frame_count());
        let mut tally = Tally::new(2, frames.frame_count(), 1).unwrap();
        let frame = Line::Intact { sender: 1, seq: 2 };
        for client in [0, 1, 1] {
            tally.count(client, frame, 5, frames, &sent);
        }
        tally.count(0, Line::FromRelay, 5, frames, &sent);
        assert_eq!((tally.intact, tally.repeated, tally.from_relay), (2, 1, 1));
        assert_eq!((tally.corrupted, tally.untimed), (0, 2));
        assert!(tally.by_path.is_none());
    }

    #[test]
    fn test_a_spread_room_splits_latency_by_the_relays_of_sender_and_client() {
        let book = FrameBook::generate(2, 1).unwrap();
        let frames = Frames::Book(&book);
        let sent = SendTimes::new(frames.frame_count());
        sent.stamp(frames.index(1, 0), 1);
        let mut tally = Tally::new(6, frames.frame_count(), 4).unwrap();
        let frame = Line::Intact { sender: 1, seq: 0 };
        // Sender 1 is on relay 1, as are clients 1 and 5; clients 2 and 4
        // are on relays 2 and 0.
        for (client, rx_nanos) in [(5, 1_000_001), (2, 7_000_001), (4, 9_000_001)] {
            tally.count(client, frame, rx_nanos, frames, &sent);
        }
        let by_path = tally.by_path.as_ref().unwrap();
        assert_eq!(by_path.same_relay.len(), 1);
        assert_eq!(by_path.same_relay.max(), 1000);
        assert_eq!(by_path.across.len(), 2);
        assert_eq!(by_path.across.min(), 7000);
        assert_eq!(tally.latency.len(), 3);
    }
}
