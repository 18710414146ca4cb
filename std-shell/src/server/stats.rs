//! Counters for the relay's log and its summary line on exit.

use fernchat_core::room::{Departure, Notice};
use std::fmt;

/// What the relay has done since it started.
#[derive(Debug, Default)]
pub struct Stats {
    /// Connections accepted into a slot.
    pub accepted: u64,
    /// Connections turned away because every slot was taken.
    pub refused_full: u64,
    /// Connections turned away for the per-address limit.
    pub refused_busy: u64,
    /// Frames forwarded (each counted once, whatever the number of recipients).
    pub forwarded: u64,
    /// Frames rejected.
    pub rejected: u64,
    /// Valid frames dropped for the rate limit.
    pub rate_limited: u64,
    /// Clients disconnected for sending invalid frames.
    pub dropped_invalid: u64,
    /// Clients disconnected for not reading.
    pub dropped_slow: u64,
    /// Clients disconnected for sending no valid frame in time.
    pub dropped_silent: u64,
    /// `/leave` frames sent for clients that vanished (keyed mode).
    pub leaves_sent: u64,
}

impl Stats {
    /// Counts a connection turned away with `notice`.
    pub fn refused(&mut self, notice: Notice) {
        match notice {
            Notice::Busy => self.refused_busy += 1,
            _ => self.refused_full += 1,
        }
    }

    /// Counts a client that left for `why`.
    pub fn departed(&mut self, why: Departure) {
        match why {
            Departure::TooManyInvalid(_) => self.dropped_invalid += 1,
            Departure::NotReading => self.dropped_slow += 1,
            Departure::HelloTimeout => self.dropped_silent += 1,
            Departure::Closed | Departure::Reset => {}
        }
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} connections ({} refused when full, {} for the per-address limit), \
             {} frames forwarded, {} rejected, {} over the rate limit, \
             {} clients dropped for invalid frames, {} for not reading, \
             {} for sending nothing valid, {} leaves sent",
            self.accepted,
            self.refused_full,
            self.refused_busy,
            self.forwarded,
            self.rejected,
            self.rate_limited,
            self.dropped_invalid,
            self.dropped_slow,
            self.dropped_silent,
            self.leaves_sent
        )
    }
}
