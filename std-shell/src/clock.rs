//! The two things the core leaves to the shell: the time and random IVs.

use fernchat_core::fernet::IV_LEN;
use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// A fresh random IV from the operating system.
pub fn random_iv() -> [u8; IV_LEN] {
    let mut iv = [0u8; IV_LEN];
    if let Err(e) = getrandom::fill(&mut iv) {
        // Without entropy no token is safe to send; there is no sane fallback.
        panic!("the operating system gave no random bytes: {e}");
    }
    iv
}
