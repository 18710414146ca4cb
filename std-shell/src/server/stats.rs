//! Counters for the relay's log and its summary line on exit.

use std::fmt;

/// What the relay has done since it started.
#[derive(Debug, Default)]
pub struct Stats {
    /// Connections accepted into a slot.
    pub accepted: u64,
    /// Connections closed at once because every slot was taken.
    pub refused: u64,
    /// Frames forwarded (each counted once, whatever the number of recipients).
    pub forwarded: u64,
    /// Frames rejected.
    pub rejected: u64,
    /// Clients disconnected for sending invalid frames.
    pub dropped_invalid: u64,
    /// Clients disconnected for not reading.
    pub dropped_slow: u64,
    /// `/leave` frames sent for clients that vanished (keyed mode).
    pub leaves_sent: u64,
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} connections ({} refused when full), {} frames forwarded, {} rejected, \
             {} clients dropped for invalid frames, {} for not reading, {} leaves sent",
            self.accepted,
            self.refused,
            self.forwarded,
            self.rejected,
            self.dropped_invalid,
            self.dropped_slow,
            self.leaves_sent
        )
    }
}
