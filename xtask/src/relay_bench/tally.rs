//! What the clients of one run received: intact and corrupted frames, and
//! the latency of every intact delivery.

use super::frame_book::{FrameBook, Line};
use super::send_times::SendTimes;
use anyhow::Result;
use hdrhistogram::Histogram;

/// Latencies above this many microseconds are recorded as this many.
const MAX_LATENCY_US: u64 = 120_000_000;

/// Counts over every receiving client of a run.
pub struct Tally {
    /// Deliveries of a frame whole and byte for byte as sent.
    pub intact: u64,
    /// Lines that were not an intact frame.
    pub corrupted: u64,
    /// Intact deliveries with no send instant recorded (a bug if not 0).
    pub untimed: u64,
    /// Send-to-receive latency of intact deliveries, in microseconds.
    pub latency: Histogram<u64>,
    /// Nanoseconds from the origin to the last intact delivery.
    pub last_intact: u64,
}

impl Tally {
    /// Nothing received yet.
    pub fn new() -> Result<Tally> {
        Ok(Tally {
            intact: 0,
            corrupted: 0,
            untimed: 0,
            latency: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)?,
            last_intact: 0,
        })
    }

    /// Counts one received `line`, read at `rx_nanos` since the origin.
    pub fn count(&mut self, line: Line, rx_nanos: u64, book: &FrameBook, sent: &SendTimes) {
        match line {
            Line::Probe => {}
            Line::Corrupted => self.corrupted += 1,
            Line::Intact { sender, seq } => {
                self.intact += 1;
                self.last_intact = rx_nanos;
                match sent.get(book.index(sender, seq)) {
                    Some(tx) => self
                        .latency
                        .saturating_record(rx_nanos.saturating_sub(tx) / 1000),
                    None => self.untimed += 1,
                }
            }
        }
    }
}
