//! Outbound frames: a payload encrypted under a key set's first key, with its
//! line feed.

use crate::fernet::{IV_LEN, KeySet, MAX_PLAINTEXT, TokenError};
use crate::message::Payload;

/// Encrypts `payload` with the encrypting key of `keys` at Unix time `now`
/// and writes the frame (token and LF) into `out`, which should hold
/// [`crate::frame::MAX_FRAME`] bytes. Never panics.
pub fn seal_frame<'o, const K: usize>(
    keys: &KeySet<K>,
    payload: &Payload<'_>,
    now: u64,
    iv: [u8; IV_LEN],
    out: &'o mut [u8],
) -> Result<&'o [u8], TokenError> {
    let key = keys.encrypting_key().ok_or(TokenError::BadMac)?;
    let mut plaintext = [0u8; MAX_PLAINTEXT];
    let plaintext = payload
        .encode(&mut plaintext)
        .ok_or(TokenError::PlaintextTooLong)?;
    let token_len = key.encrypt(plaintext, now, iv, out)?.len();
    let line_feed = out.get_mut(token_len).ok_or(TokenError::BufferTooSmall)?;
    *line_feed = b'\n';
    Ok(&out[..=token_len])
}
