//! The two clocks a shell needs: smoltcp's monotonic one and Unix time.

use smoltcp::time::Instant;

/// The current time, as the caller's clock reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Now {
    /// Monotonic time for smoltcp's timers (milliseconds since any start).
    pub instant: Instant,
    /// Unix time in seconds, for token timestamps and freshness checks.
    pub unix: u64,
}
