//! Outbound frames: a payload encrypted under a key set's first key, with its
//! line feed, and a fresh IV for every token.

use crate::fernet::{BufferTooSmall, KeySet};
use crate::frame::MAX_PLAINTEXT;
use crate::message::Payload;
use rand_core::CryptoRng;

/// Why a payload could not be sealed into a frame: both are the caller's
/// to avoid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SealError {
    /// The payload is longer than one frame carries.
    TooLong {
        /// The payload's length in bytes.
        len: usize,
    },
    /// The output buffer cannot hold the frame.
    Buffer(BufferTooSmall),
}

impl core::fmt::Display for SealError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SealError::TooLong { len } => write!(
                f,
                "{len} bytes is too long: a frame carries {MAX_PLAINTEXT} bytes of nick and text"
            ),
            SealError::Buffer(e) => e.fmt(f),
        }
    }
}

impl core::error::Error for SealError {}

/// Encrypts `payload` with the encrypting key of `keys` at Unix time `now`,
/// under an IV drawn from `rng`, and writes the frame (token and LF) into
/// `out`, which should hold [`crate::frame::MAX_FRAME`] bytes. Never panics.
pub fn seal_frame<'o, const K: usize>(
    keys: &KeySet<K>,
    payload: &Payload<'_>,
    now: u64,
    rng: &mut (impl CryptoRng + ?Sized),
    out: &'o mut [u8],
) -> Result<&'o [u8], SealError> {
    let len = payload.encoded_len();
    let mut plaintext = [0u8; MAX_PLAINTEXT];
    let plaintext = payload
        .encode(&mut plaintext)
        .ok_or(SealError::TooLong { len })?;
    let token_len = keys
        .encrypting_key()
        .encrypt(plaintext, now, rng, out)
        .map_err(|e| {
            SealError::Buffer(BufferTooSmall {
                needed: e.needed + 1,
            })
        })?
        .len();
    let needed = token_len + 1;
    let line_feed = out
        .get_mut(token_len)
        .ok_or(SealError::Buffer(BufferTooSmall { needed }))?;
    *line_feed = b'\n';
    Ok(&out[..needed])
}
