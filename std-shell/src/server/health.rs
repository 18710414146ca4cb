//! Whether the relay is serving, for `/healthz`: the event loop beats once
//! a turn (at least every [`BEAT`] while metrics are on, even when idle)
//! and says when accepting fails; the metrics thread reads both.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The longest the loop waits between beats while metrics are on.
pub const BEAT: Duration = Duration::from_secs(1);
/// A loop that has not beaten for this long is stuck.
pub const STUCK_AFTER: Duration = Duration::from_secs(5);
/// Accepting that has failed for this long (out of descriptors, say) is
/// failing, not a blip.
pub const ACCEPT_FAILING_AFTER: Duration = Duration::from_secs(2);
/// No accept failure under way.
const NOT_FAILING: u64 = u64::MAX;

/// The loop's heartbeat and its accept failures, in milliseconds since
/// the relay started.
#[derive(Debug)]
pub struct Health {
    started: Instant,
    beat_ms: AtomicU64,
    accept_failing_since_ms: AtomicU64,
}

/// Why the relay is not serving.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unhealthy {
    /// The event loop has not turned for this long.
    Stuck(Duration),
    /// Every accept has failed for this long.
    AcceptFailing(Duration),
}

impl fmt::Display for Unhealthy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unhealthy::Stuck(d) => write!(f, "event loop stuck for {} s", d.as_secs()),
            Unhealthy::AcceptFailing(d) => {
                write!(f, "accepting connections has failed for {} s", d.as_secs())
            }
        }
    }
}

impl Default for Health {
    fn default() -> Health {
        Health {
            started: Instant::now(),
            beat_ms: AtomicU64::new(0),
            accept_failing_since_ms: AtomicU64::new(NOT_FAILING),
        }
    }
}

impl Health {
    /// The loop turned.
    pub fn beat(&self) {
        self.beat_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    /// An accept failed; the first of a run starts the failing time.
    pub fn accept_failed(&self) {
        let _ = self.accept_failing_since_ms.compare_exchange(
            NOT_FAILING,
            self.now_ms(),
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }

    /// Accepting works again (nothing more was waiting).
    pub fn accept_worked(&self) {
        self.accept_failing_since_ms
            .store(NOT_FAILING, Ordering::Relaxed);
    }

    /// Serving, or why not.
    pub fn check(&self) -> Result<(), Unhealthy> {
        self.check_at(self.now_ms())
    }

    fn check_at(&self, now_ms: u64) -> Result<(), Unhealthy> {
        let since = |ms: u64| Duration::from_millis(now_ms.saturating_sub(ms));
        let quiet = since(self.beat_ms.load(Ordering::Relaxed));
        if quiet >= STUCK_AFTER {
            return Err(Unhealthy::Stuck(quiet));
        }
        let failing_since = self.accept_failing_since_ms.load(Ordering::Relaxed);
        if failing_since != NOT_FAILING && since(failing_since) >= ACCEPT_FAILING_AFTER {
            return Err(Unhealthy::AcceptFailing(since(failing_since)));
        }
        Ok(())
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_stuck_loop_and_failing_accepts_are_unhealthy() {
        let health = Health::default();
        health.beat();
        let beat = health.beat_ms.load(Ordering::Relaxed);
        assert_eq!(health.check_at(beat + 4_999), Ok(()));
        assert_eq!(
            health.check_at(beat + 5_000),
            Err(Unhealthy::Stuck(Duration::from_secs(5)))
        );
        health.accept_failed();
        let failed_at = health.accept_failing_since_ms.load(Ordering::Relaxed);
        // A later failure does not move the start of the run.
        health.accept_failed();
        assert_eq!(
            health.accept_failing_since_ms.load(Ordering::Relaxed),
            failed_at
        );
        assert_eq!(health.check_at(failed_at + 1_999), Ok(()));
        assert_eq!(
            health.check_at(failed_at + 2_000),
            Err(Unhealthy::AcceptFailing(Duration::from_secs(2)))
        );
        health.accept_worked();
        assert_eq!(health.check_at(failed_at + 2_000), Ok(()));
    }
}
