//! One Fernet key: 16 bytes that sign and 16 bytes that encrypt.

use aes::Aes128;
use base64_simd::{Out, URL_SAFE};
use cbc::cipher::KeyInit;
use hmac::Hmac;
use sha2::Sha256;

/// Length of a key in bytes.
pub const KEY_LEN: usize = 32;
/// Length of a key written as padded base64url text.
pub const KEY_TEXT_LEN: usize = 44;

/// Why a key's text was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyError {
    /// The text is not 44 characters long.
    WrongLength(usize),
    /// The text is not canonical padded base64url.
    BadBase64,
}

impl core::fmt::Display for KeyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            KeyError::WrongLength(n) => write!(
                f,
                "a key is {KEY_TEXT_LEN} characters of base64url, this one has {n}"
            ),
            KeyError::BadBase64 => {
                f.write_str("a key must be padded base64url text (A-Z a-z 0-9 - _ =)")
            }
        }
    }
}

impl core::error::Error for KeyError {}

/// A Fernet key with its HMAC and AES key schedules computed once.
///
/// Holding the keyed HMAC state (inner and outer pads already hashed) and the
/// expanded AES key makes each token cheaper than keying from scratch.
#[derive(Clone)]
pub struct Key {
    bytes: [u8; KEY_LEN],
    pub(super) mac: Hmac<Sha256>,
    pub(super) aes: Aes128,
}

impl Key {
    /// Builds a key from its 32 raw bytes (0..16 sign, 16..32 encrypt).
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Key {
        // HMAC zero-pads a short key to the hash's block size; doing it here
        // gives the fixed-size form that cannot fail.
        let mut signing = [0u8; 64];
        signing[..16].copy_from_slice(&bytes[..16]);
        let mut encryption = [0u8; 16];
        encryption.copy_from_slice(&bytes[16..]);
        let mac = <Hmac<Sha256> as KeyInit>::new(&signing.into());
        let aes = Aes128::new(&encryption.into());
        Key { bytes, mac, aes }
    }

    /// The key's 32 raw bytes (0..16 sign, 16..32 encrypt).
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.bytes
    }

    /// Parses a key from its 44-character padded base64url text.
    ///
    /// Never panics: any input gives a key or a [`KeyError`].
    pub fn parse(text: &[u8]) -> Result<Key, KeyError> {
        if text.len() != KEY_TEXT_LEN {
            return Err(KeyError::WrongLength(text.len()));
        }
        // 44 characters decode to at most 33 bytes (32 when padded).
        let mut bytes = [0u8; KEY_LEN + 1];
        match URL_SAFE.decode(text, Out::from_slice(&mut bytes)) {
            Ok(decoded) if decoded.len() == KEY_LEN => {
                let mut key = [0u8; KEY_LEN];
                key.copy_from_slice(decoded);
                Ok(Key::from_bytes(key))
            }
            _ => Err(KeyError::BadBase64),
        }
    }

    /// Writes the key as 44 characters of padded base64url, as Python's
    /// `Fernet.generate_key()` prints it.
    pub fn encode(&self) -> [u8; KEY_TEXT_LEN] {
        let mut text = [0u8; KEY_TEXT_LEN];
        let written = URL_SAFE
            .encode(&self.bytes, Out::from_slice(&mut text))
            .len();
        debug_assert_eq!(written, KEY_TEXT_LEN);
        text
    }
}

impl core::fmt::Debug for Key {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Key(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &[u8] = b"cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";

    #[test]
    fn test_parse_and_encode_round_trip() {
        let key = Key::parse(TEXT).unwrap();
        assert_eq!(&key.encode()[..], TEXT);
    }

    #[test]
    fn test_wrong_length_rejected() {
        assert_eq!(
            Key::parse(&TEXT[..43]).unwrap_err(),
            KeyError::WrongLength(43)
        );
    }

    #[test]
    fn test_non_canonical_rejected() {
        // Last character before '=' carries trailing bits that must be zero.
        let mut text = *b"cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";
        text[42] = b'5';
        assert_eq!(Key::parse(&text).unwrap_err(), KeyError::BadBase64);
        let mut std_alphabet = *b"cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";
        std_alphabet[2] = b'/';
        assert_eq!(Key::parse(&std_alphabet).unwrap_err(), KeyError::BadBase64);
    }
}
