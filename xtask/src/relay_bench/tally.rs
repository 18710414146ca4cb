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
    /// Nanoseconds from the origin to the last intact delivery.
    pub last_intact: u64,
    /// One bit per client and frame: delivered intact.
    delivered: Vec<u64>,
    /// Frames a run can send (bits per client in `delivered`).
    frames: usize,
}

impl Tally {
    /// Nothing received yet by `clients` clients from a run of `frames`.
    pub fn new(clients: usize, frames: usize) -> Result<Tally> {
        Ok(Tally {
            intact: 0,
            repeated: 0,
            corrupted: 0,
            from_relay: 0,
            untimed: 0,
            latency: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)?,
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
                match sent.get(index) {
                    Some(tx) => self
                        .latency
                        .saturating_record(rx_nanos.saturating_sub(tx) / 1000),
                    None => self.untimed += 1,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relay_bench::frame_book::FrameBook;

    #[test]
    fn test_a_frame_received_twice_counts_once() {
        let book = FrameBook::generate(2, 3).unwrap();
        let frames = Frames::Book(&book);
        let sent = SendTimes::new(frames.frame_count());
        let mut tally = Tally::new(2, frames.frame_count()).unwrap();
        let frame = Line::Intact { sender: 1, seq: 2 };
        for client in [0, 1, 1] {
            tally.count(client, frame, 5, frames, &sent);
        }
        tally.count(0, Line::FromRelay, 5, frames, &sent);
        assert_eq!((tally.intact, tally.repeated, tally.from_relay), (2, 1, 1));
        assert_eq!((tally.corrupted, tally.untimed), (0, 2));
    }
}
