//! A set of keys for rotation, and the key-file format of
//! `docs/PROTOCOL.md` section 4.

use super::error::DecryptError;
use super::error::TokenError;
use super::key::{Key, KeyError};
use super::token::{Decrypted, decrypt_in_place_with, decrypt_with};

/// How many keys a [`KeySet`] holds unless told otherwise.
pub const DEFAULT_MAX_KEYS: usize = 4;

/// Why a key file was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyFileError {
    /// The file holds no key.
    Empty,
    /// The file holds more keys than the set has room for.
    TooManyKeys(usize),
    /// Line `line` (counted from 1) is not a key.
    BadKey {
        /// The line number, from 1.
        line: usize,
        /// What is wrong with it.
        error: KeyError,
    },
}

impl core::fmt::Display for KeyFileError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            KeyFileError::Empty => f.write_str("the key file holds no key"),
            KeyFileError::TooManyKeys(max) => write!(f, "the key file holds more than {max} keys"),
            KeyFileError::BadKey { line, error } => write!(f, "line {line}: {error}"),
        }
    }
}

impl core::error::Error for KeyFileError {}

/// One to `N` keys: the first encrypts, every one is tried to decrypt
/// (rotation, as Python's `MultiFernet`).
///
/// A set is never empty: `N >= 1` is checked when the program is compiled,
/// and every constructor puts a key in.
#[derive(Clone, Debug)]
pub struct KeySet<const N: usize = DEFAULT_MAX_KEYS> {
    /// Never empty.
    keys: heapless::Vec<Key, N>,
}

impl<const N: usize> KeySet<N> {
    /// A set holding one key.
    pub fn single(key: Key) -> KeySet<N> {
        const { assert!(N >= 1, "a key set holds at least one key") };
        let mut keys = heapless::Vec::new();
        // N >= 1, so there is room.
        let _ = keys.push(key);
        KeySet { keys }
    }

    /// Parses a key file: one 44-character key a line; blank lines and lines
    /// starting with `#` are ignored; surrounding whitespace is trimmed.
    ///
    /// Never panics: any input gives a set or a [`KeyFileError`].
    pub fn parse_file(text: &[u8]) -> Result<KeySet<N>, KeyFileError> {
        const { assert!(N >= 1, "a key set holds at least one key") };
        let mut keys = heapless::Vec::new();
        for (index, line) in text.split(|&b| b == b'\n').enumerate() {
            let line = line.trim_ascii();
            if line.is_empty() || line.starts_with(b"#") {
                continue;
            }
            let key = Key::parse(line).map_err(|error| KeyFileError::BadKey {
                line: index + 1,
                error,
            })?;
            keys.push(key).map_err(|_| KeyFileError::TooManyKeys(N))?;
        }
        if keys.is_empty() {
            return Err(KeyFileError::Empty);
        }
        Ok(KeySet { keys })
    }

    /// The key that encrypts (the first one).
    pub fn encrypting_key(&self) -> &Key {
        // Never empty: see the type's invariant.
        &self.keys[0]
    }

    /// All keys, the encrypting one first.
    pub fn keys(&self) -> &[Key] {
        &self.keys
    }

    /// Decrypts `token` into `buf` with whichever key's MAC verifies.
    ///
    /// Same contract as [`Key::decrypt`]; the token is decoded once whatever
    /// the number of keys.
    pub fn decrypt<'b>(
        &self,
        token: &[u8],
        now: u64,
        ttl: Option<u64>,
        buf: &'b mut [u8],
    ) -> Result<Decrypted<'b>, DecryptError> {
        decrypt_with(token, now, ttl, buf, |decoded| {
            self.keys.iter().find(|key| key.verify_mac(decoded))
        })
    }

    /// Decrypts `token` where it lies with whichever key's MAC verifies;
    /// same contract as [`Key::decrypt_in_place`].
    pub fn decrypt_in_place<'t>(
        &self,
        token: &'t mut [u8],
        now: u64,
        ttl: Option<u64>,
    ) -> Result<Decrypted<'t>, TokenError> {
        decrypt_in_place_with(token, now, ttl, |decoded| {
            self.keys.iter().find(|key| key.verify_mac(decoded))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";
    const B: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

    #[test]
    fn test_parse_file_skips_comments_and_blanks() {
        let text = alloc_text(&["# keys", "", A, "  ", B, "# end"]);
        let set = KeySet::<4>::parse_file(text.as_bytes()).unwrap();
        assert_eq!(set.keys().len(), 2);
        assert_eq!(&set.encrypting_key().encode()[..], A.as_bytes());
    }

    #[test]
    fn test_parse_file_reports_line() {
        let text = alloc_text(&["# keys", A, "not a key"]);
        assert_eq!(
            KeySet::<4>::parse_file(text.as_bytes()).unwrap_err(),
            KeyFileError::BadKey {
                line: 3,
                error: KeyError::WrongLength(9)
            }
        );
    }

    #[test]
    fn test_parse_file_empty_and_too_many() {
        assert_eq!(
            KeySet::<4>::parse_file(b"# nothing\n\n").unwrap_err(),
            KeyFileError::Empty
        );
        let text = alloc_text(&[A, B, A]);
        assert_eq!(
            KeySet::<2>::parse_file(text.as_bytes()).unwrap_err(),
            KeyFileError::TooManyKeys(2)
        );
    }

    #[test]
    fn test_crlf_key_file() {
        let text = "# windows\r\n".to_owned() + A + "\r\n";
        assert!(KeySet::<4>::parse_file(text.as_bytes()).is_ok());
    }

    extern crate std;
    use std::borrow::ToOwned;
    use std::string::String;

    fn alloc_text(lines: &[&str]) -> String {
        lines.join("\n")
    }
}
