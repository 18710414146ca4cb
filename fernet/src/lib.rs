//! Fernet, spec-exact, from the RustCrypto primitives: keys, key sets for
//! rotation, encryption and decryption into caller buffers (or in place,
//! or as a stream), and the keyless shape check a blind relay uses.
//!
//! `#![no_std]`, no alloc, `#![forbid(unsafe_code)]`: it builds for a
//! Cortex-M0+ as for a desktop. No clock and no RNG of its own either: the
//! current Unix time comes in as an argument, IVs are drawn from the
//! caller's [`rand_core::CryptoRng`], and results go into buffers the caller
//! owns. Tokens are interchangeable with Python's `cryptography.fernet` and
//! every other implementation of the specification
//! (<https://github.com/fernet/spec>), whose vectors are this crate's tests.
//!
//! It knows nothing of chat: fernchat's frames and the limits they put on a
//! token are in `fernchat-core`, which re-exports this crate as
//! `fernchat_core::fernet`.
//!
//! ```
//! use fernchat_fernet::{Key, decode_buf_len, token_len};
//! # use rand_core::SeedableRng;
//! # let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7); // use the OS's RNG
//!
//! let key = Key::parse(b"cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=").unwrap();
//! let mut out = [0u8; token_len(5)];
//! let token = key.encrypt(b"hello", 1_700_000_000, &mut rng, &mut out).unwrap();
//!
//! let mut buf = [0u8; decode_buf_len(token_len(5))];
//! let opened = key.decrypt(token, 1_700_000_001, Some(60), &mut buf).unwrap();
//! assert_eq!(opened.plaintext, b"hello");
//! assert_eq!(opened.timestamp, 1_700_000_000);
//! ```
//!
//! Security: the MAC is checked in constant time before any byte is
//! decrypted, and every token failure looks the same to a peer
//! ([`DecryptError`] and [`TokenError`] tell the caller, not the sender).
//! Fernet has no forward secrecy: whoever gets the key reads every token
//! made with it.

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
/// real traffic.
pub mod hazmat {
    pub use super::encrypt::encrypt_with_iv;
    pub use super::stream::stream_with_iv;
}

/// The examples of the README, run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
