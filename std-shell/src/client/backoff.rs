//! How long to wait before the next attempt to reach the relay:
//! exponential back-off from 250 ms, capped at 30 s, with jitter so that
//! the clients of a restarted relay do not all come back at once.

use rand::Rng;
use std::time::Duration;

/// The first wait.
const FIRST: Duration = Duration::from_millis(250);
/// The longest wait.
pub const CAP: Duration = Duration::from_secs(30);

/// The waits between attempts to reach the relay.
#[derive(Debug, Default)]
pub struct Backoff {
    attempts: u32,
}

impl Backoff {
    /// The next wait: a random time between half and all of
    /// `250 ms * 2^attempts`, at most 30 s.
    pub fn next_wait(&mut self) -> Duration {
        let ceiling = FIRST.saturating_mul(1 << self.attempts.min(16)).min(CAP);
        self.attempts = self.attempts.saturating_add(1);
        rand::rng().random_range(ceiling / 2..=ceiling)
    }

    /// Starts again from the first wait (the relay took us back).
    pub fn reset(&mut self) {
        self.attempts = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_waits_grow_and_stay_capped() {
        let mut backoff = Backoff::default();
        let first = backoff.next_wait();
        assert!(first >= FIRST / 2 && first <= FIRST, "{first:?}");
        let waits: Vec<_> = (0..20).map(|_| backoff.next_wait()).collect();
        assert!(waits.iter().all(|&w| w <= CAP));
        assert!(waits[19] >= CAP / 2);
        backoff.reset();
        assert!(backoff.next_wait() <= FIRST);
    }
}
