//! Refused frames counted per connection and reported as summaries, so that
//! a flood of bad frames costs a relay a few log lines, not one a frame:
//! the first refusal of each kind is reported at once, the rest as one
//! summary a connection per interval and one when it leaves.

use crate::reason::Reason;
use crate::relay::RejectReason;

/// How often a connection's refusals are summarised, at most.
pub const SUMMARY_INTERVAL_MS: u64 = 10_000;

/// Why a relay refused one frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The policy rejected it.
    Rejected(RejectReason),
    /// It was valid but past the sender's rate limit.
    RateLimited,
}

impl core::fmt::Display for Refusal {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Refusal::Rejected(reason) => reason.fmt(f),
            Refusal::RateLimited => f.write_str(Reason::RateLimited.label()),
        }
    }
}

impl Refusal {
    /// How many kinds of refusal are counted apart: every
    /// [`Refusal::index`] is below it.
    pub const KINDS: usize = Reason::COUNT;

    /// Its kind's index, [`Reason::index`]: counters kept per kind
    /// (summaries here, the relay's metrics) are arrays in that order.
    pub fn index(self) -> usize {
        Reason::from(self).index()
    }
}

/// One connection's refusals since its last summary.
#[derive(Clone, Debug)]
pub struct RefusalTally {
    counts: [u32; Refusal::KINDS],
    /// Kinds already reported once, one bit each.
    reported: u16,
    /// When the counting of the next summary began.
    since_ms: u64,
}

impl RefusalTally {
    /// An empty tally, counting from `now_ms`.
    pub fn new(now_ms: u64) -> RefusalTally {
        RefusalTally {
            counts: [0; Refusal::KINDS],
            reported: 0,
            since_ms: now_ms,
        }
    }

    /// Counts `refusal`; true when it is the first of its kind on this
    /// connection, to report at once (it is then left out of summaries).
    pub fn record(&mut self, refusal: Refusal) -> bool {
        let kind = refusal.index();
        let bit = 1 << kind;
        if self.reported & bit == 0 {
            self.reported |= bit;
            return true;
        }
        self.counts[kind] = self.counts[kind].saturating_add(1);
        false
    }

    /// When the next summary is due, if there is anything to say.
    pub fn due_ms(&self) -> Option<u64> {
        let pending = self.counts.iter().any(|&n| n > 0);
        pending.then(|| self.since_ms.saturating_add(SUMMARY_INTERVAL_MS))
    }

    /// The refusals counted since the last summary, once
    /// [`SUMMARY_INTERVAL_MS`] has passed or when the connection is
    /// `leaving`; `None` when there is nothing to say yet.
    pub fn summary(&mut self, now_ms: u64, leaving: bool) -> Option<Summary> {
        let due = leaving || now_ms.saturating_sub(self.since_ms) >= SUMMARY_INTERVAL_MS;
        if !due || self.counts.iter().all(|&n| n == 0) {
            return None;
        }
        let summary = Summary {
            counts: self.counts,
            millis: now_ms.saturating_sub(self.since_ms),
        };
        self.counts = [0; Refusal::KINDS];
        self.since_ms = now_ms;
        Some(summary)
    }
}

/// Refusals of one connection over a span of time, shown as
/// `4812 frames dropped in the last 10 s: 4800 malformed, 12 bad MAC`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    counts: [u32; Refusal::KINDS],
    millis: u64,
}

impl Summary {
    /// Frames the summary counts.
    pub fn total(&self) -> u64 {
        self.counts.iter().map(|&n| u64::from(n)).sum()
    }
}

impl core::fmt::Display for Summary {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let seconds = self.millis.div_ceil(1000);
        write!(
            f,
            "{} frames dropped in the last {seconds} s:",
            self.total()
        )?;
        let mut first = true;
        for (count, reason) in self.counts.iter().zip(Reason::ALL) {
            let label = reason.label();
            if *count > 0 {
                let comma = if first { "" } else { "," };
                write!(f, "{comma} {count} {label}")?;
                first = false;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fernet::TokenError;

    extern crate std;
    use std::string::ToString;

    const MALFORMED: Refusal = Refusal::Rejected(RejectReason::Token(TokenError::Malformed));
    const BAD_MAC: Refusal = Refusal::Rejected(RejectReason::Token(TokenError::BadMac));

    #[test]
    fn test_first_of_each_kind_reported_then_summarised() {
        let mut tally = RefusalTally::new(0);
        assert!(tally.record(MALFORMED));
        assert!(tally.record(BAD_MAC));
        for _ in 0..4800 {
            assert!(!tally.record(MALFORMED));
        }
        for _ in 0..12 {
            assert!(!tally.record(BAD_MAC));
        }
        assert_eq!(tally.summary(9_999, false), None);
        let summary = tally.summary(10_000, false).unwrap();
        assert_eq!(
            summary.to_string(),
            "4812 frames dropped in the last 10 s: 4800 malformed, 12 bad MAC"
        );
        // Counted afresh; a leaving connection's rest is summarised at once.
        assert_eq!(tally.summary(20_000, false), None);
        assert!(tally.record(Refusal::RateLimited));
        assert!(!tally.record(MALFORMED));
        let last = tally.summary(12_000, true).unwrap();
        assert_eq!(last.total(), 1);
    }
}
