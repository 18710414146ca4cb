//! Fernet, spec-exact, from the RustCrypto primitives: keys, key sets for
//! rotation, encryption and decryption into caller buffers (or in place,
//! or as a stream), and the keyless shape check a blind relay uses. It knows
//! nothing of chat frames: the limits a frame puts on a token are in
//! `fernchat-core`, which re-exports this crate as `fernchat_core::fernet`.

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod encrypt;
mod error;
mod head;
mod key;
mod keyset;
mod stream;
#[cfg(test)]
mod test_sizes;
mod token;

pub use error::{BufferTooSmall, DecryptError, TokenError};
pub use head::Head;
pub use key::{KEY_LEN, KEY_TEXT_LEN, Key, KeyError};
pub use keyset::{DEFAULT_MAX_KEYS, KeyFileError, KeySet};
pub use stream::TokenStream;
pub use token::{
    BLOCK_LEN, Decrypted, HEADER_LEN, IV_LEN, MAX_CLOCK_SKEW, MIN_TOKEN_BYTES, TAG_LEN, VERSION,
    check_shape, decode_buf_len, token_len, unverified_timestamp,
};

/// **Hazardous** operations: for test vectors and benchmarks, never for
/// chat traffic.
pub mod hazmat {
    pub use super::encrypt::encrypt_with_iv;
    pub use super::stream::stream_with_iv;
}
