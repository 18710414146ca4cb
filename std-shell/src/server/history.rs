//! History for late joiners (`--history N`, `docs/PROTOCOL.md` section
//! 12): the room's last frames, of which a new client gets those still
//! fresh. Kept here when the room is not bridged; in the room's JetStream
//! stream when it is.

use fernchat_core::fernet::{MAX_CLOCK_SKEW, unverified_timestamp};
use std::collections::VecDeque;

/// The tokens of the room's last frames, oldest first.
pub struct Recent {
    frames: VecDeque<Vec<u8>>,
    keep: usize,
}

impl Recent {
    /// Keeps the last `keep` frames.
    pub fn new(keep: usize) -> Self {
        Recent {
            frames: VecDeque::with_capacity(keep.min(1024)),
            keep,
        }
    }

    /// Remembers the token of a frame the room forwarded.
    pub fn record(&mut self, token: &[u8]) {
        if self.keep == 0 {
            return;
        }
        if self.frames.len() == self.keep {
            self.frames.pop_front();
        }
        self.frames.push_back(token.to_vec());
    }

    /// The tokens kept, oldest first.
    pub fn frames(&self) -> impl Iterator<Item = &[u8]> {
        self.frames.iter().map(Vec::as_slice)
    }
}

/// True when `token` is well formed and its timestamp,
/// read without the key, is at most `ttl` seconds old and not from the
/// future: a frame worth showing a late joiner (it verifies the MAC).
pub fn is_fresh(token: &[u8], now: u64, ttl: u64) -> bool {
    unverified_timestamp(token)
        .is_ok_and(|t| t <= now.saturating_add(MAX_CLOCK_SKEW) && now.saturating_sub(t) <= ttl)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fernchat_core::fernet::Key;
    use fernchat_core::fernet::hazmat::encrypt_with_iv;

    fn token(unix: u64) -> Vec<u8> {
        let mut out = [0u8; 200];
        let key = Key::from_bytes([3; 32]);
        encrypt_with_iv(&key, b"x", unix, [0; 16], &mut out)
            .unwrap()
            .to_vec()
    }

    #[test]
    fn test_freshness_by_the_tokens_own_time() {
        assert!(is_fresh(&token(1_000), 1_000, 300));
        assert!(is_fresh(&token(700), 1_000, 300));
        assert!(!is_fresh(
            &[token(700), b"\n".to_vec()].concat(),
            1_000,
            300
        ));
        assert!(!is_fresh(&token(699), 1_000, 300));
        assert!(!is_fresh(&token(1_000 + MAX_CLOCK_SKEW + 1), 1_000, 300));
        assert!(!is_fresh(b"not a token", 1_000, 300));
    }

    #[test]
    fn test_recent_keeps_the_last_frames() {
        let mut recent = Recent::new(2);
        for token in [b"a", b"b", b"c"] {
            recent.record(token);
        }
        assert_eq!(recent.frames().collect::<Vec<_>>(), [b"b", b"c"]);
        let mut none = Recent::new(0);
        none.record(b"a");
        assert_eq!(none.frames().count(), 0);
    }
}
