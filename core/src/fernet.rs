//! Fernet, spec-exact, from the RustCrypto primitives: keys, key sets for
//! rotation, encryption and decryption into caller buffers, and the keyless
//! shape check a blind relay uses.

mod key;
mod keyset;
mod token;

pub use key::{KEY_LEN, KEY_TEXT_LEN, Key, KeyError};
pub use keyset::{DEFAULT_MAX_KEYS, KeyFileError, KeySet};
pub use token::{
    BLOCK_LEN, DECODE_BUF_LEN, Decrypted, HEADER_LEN, IV_LEN, MAX_CIPHERTEXT, MAX_CLOCK_SKEW,
    MAX_PLAINTEXT, MAX_TOKEN_CHARS, MIN_TOKEN_BYTES, TAG_LEN, TokenError, VERSION, check_shape,
    token_len,
};
