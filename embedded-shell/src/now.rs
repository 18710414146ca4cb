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

impl From<Now> for fernchat_core::room::Now {
    /// The room's clocks: Unix seconds, and the monotonic milliseconds for
    /// its deadlines (a time before the clock's start counts as 0).
    fn from(now: Now) -> Self {
        fernchat_core::room::Now {
            unix: now.unix,
            millis: u64::try_from(now.instant.total_millis()).unwrap_or(0),
        }
    }
}
