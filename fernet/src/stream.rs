//! Encryption as a stream: the token text made a few bytes at a time, into
//! whatever room the caller has (a microcontroller's socket transmit
//! buffer), so that neither the plaintext nor the token needs a buffer of
//! its own. CBC runs one block at a time, the HMAC is fed as the ciphertext
//! comes and its tag goes last, and base64url is written in 3-byte groups.

use super::key::Key;
use super::token::{BLOCK_LEN, HEADER_LEN, IV_LEN, TAG_LEN, VERSION, token_len};
use base64_simd::{Out, URL_SAFE};
use cbc::cipher::BlockCipherEncrypt;
use hmac::{Hmac, Mac};
use rand_core::CryptoRng;
use sha2::Sha256;

/// **Hazardous**: a [`TokenStream`] under the IV the caller gives. Two
/// tokens under one key with one IV leak which plaintext blocks they
/// share; use [`TokenStream::new`], which draws the IV itself. This exists
/// for the specification's test vectors and for tests that compare outputs
/// byte for byte.
pub fn stream_with_iv(
    key: &Key,
    plaintext_len: usize,
    now: u64,
    iv: [u8; IV_LEN],
) -> TokenStream<'_> {
    TokenStream::with_iv(key, plaintext_len, now, iv)
}

/// Where a [`TokenStream`] is in the token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    Header,
    Ciphertext,
    Tag,
    Done,
}

/// The most raw bytes encoded at once: 2 left over from the last group and
/// the tag.
const RAW_MAX: usize = 2 + TAG_LEN;
/// Their base64url text, padding included.
const TEXT_MAX: usize = RAW_MAX.div_ceil(3) * 4;

/// A Fernet token made piece by piece: each [`TokenStream::fill`] writes
/// the next bytes of its text. The plaintext is read from the caller as
/// the stream goes, as a list of pieces that are joined (a payload's nick,
/// line feed and body), and must be the same list on every call.
///
/// The bytes are those [`Key::encrypt`] writes for the same IV, byte for
/// byte. About 300 bytes of state, whatever the token's length.
#[derive(Clone)]
pub struct TokenStream<'k> {
    key: &'k Key,
    mac: Hmac<Sha256>,
    /// The header, until it is written.
    header: [u8; HEADER_LEN],
    /// The last ciphertext block (the IV before the first).
    chain: [u8; BLOCK_LEN],
    plaintext_len: usize,
    /// Plaintext bytes encrypted so far.
    read: usize,
    part: Part,
    /// Raw bytes that did not make a whole 3-byte group yet.
    carry: [u8; 2],
    carry_len: usize,
    /// Text made and not yet written out: `text[text_at..text_len]`.
    text: [u8; TEXT_MAX],
    text_at: usize,
    text_len: usize,
}

impl<'k> TokenStream<'k> {
    /// A stream for a plaintext of `plaintext_len` bytes at Unix time
    /// `now`, under a fresh IV drawn from `rng`.
    pub fn new(
        key: &'k Key,
        plaintext_len: usize,
        now: u64,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Self {
        let mut iv = [0u8; IV_LEN];
        rng.fill_bytes(&mut iv);
        TokenStream::with_iv(key, plaintext_len, now, iv)
    }

    /// **Hazardous**: the stream under the IV the caller gives (see
    /// [`crate::hazmat::stream_with_iv`]).
    pub(super) fn with_iv(key: &'k Key, plaintext_len: usize, now: u64, iv: [u8; IV_LEN]) -> Self {
        let mut header = [0u8; HEADER_LEN];
        header[0] = VERSION;
        header[1..9].copy_from_slice(&now.to_be_bytes());
        header[9..].copy_from_slice(&iv);
        TokenStream {
            key,
            mac: key.mac.clone(),
            header,
            chain: iv,
            plaintext_len,
            read: 0,
            part: Part::Header,
            carry: [0; 2],
            carry_len: 0,
            text: [0; TEXT_MAX],
            text_at: 0,
            text_len: 0,
        }
    }

    /// The token text's whole length, [`token_len`] of the plaintext's.
    pub fn token_len(&self) -> usize {
        token_len(self.plaintext_len)
    }

    /// True once every byte of the token has been written.
    pub fn is_done(&self) -> bool {
        self.part == Part::Done && self.carry_len == 0 && self.text_at == self.text_len
    }

    /// Writes the next bytes of the token text into `out`, as many as fit
    /// and are left; gives how many. `plaintext` is the plaintext in
    /// pieces, joined in order: the same pieces on every call (bytes
    /// missing from them count as zeros). Never panics.
    pub fn fill(&mut self, plaintext: &[&[u8]], out: &mut [u8]) -> usize {
        let mut written = 0;
        while written < out.len() {
            if self.text_at == self.text_len && !self.make_text(plaintext) {
                break;
            }
            let n = (self.text_len - self.text_at).min(out.len() - written);
            out[written..written + n].copy_from_slice(&self.text[self.text_at..self.text_at + n]);
            self.text_at += n;
            written += n;
        }
        written
    }

    /// Makes the next text: the next raw part (header, one ciphertext
    /// block, or the tag) after the carried bytes. False when the token is
    /// all made.
    fn make_text(&mut self, plaintext: &[&[u8]]) -> bool {
        let mut raw = [0u8; RAW_MAX];
        raw[..self.carry_len].copy_from_slice(&self.carry[..self.carry_len]);
        let mut len = self.carry_len;
        let last = match self.part {
            Part::Header => {
                raw[len..len + HEADER_LEN].copy_from_slice(&self.header);
                self.mac.update(&self.header);
                len += HEADER_LEN;
                self.part = Part::Ciphertext;
                false
            }
            Part::Ciphertext => {
                let block = self.next_block(plaintext);
                raw[len..len + BLOCK_LEN].copy_from_slice(&block);
                len += BLOCK_LEN;
                false
            }
            Part::Tag => {
                let tag = self.mac.clone().finalize().into_bytes();
                raw[len..len + TAG_LEN].copy_from_slice(&tag);
                len += TAG_LEN;
                self.part = Part::Done;
                true
            }
            Part::Done => return false,
        };
        // Whole groups only, but for the last part, which gets padding.
        let encoded = if last { len } else { len / 3 * 3 };
        self.carry_len = len - encoded;
        self.carry[..self.carry_len].copy_from_slice(&raw[encoded..len]);
        self.text_len = URL_SAFE
            .encode(&raw[..encoded], Out::from_slice(&mut self.text))
            .len();
        self.text_at = 0;
        true
    }

    /// Encrypts the next plaintext block (PKCS#7-padded if it is the last),
    /// feeds it to the MAC and gives it.
    fn next_block(&mut self, plaintext: &[&[u8]]) -> [u8; BLOCK_LEN] {
        let mut block = [0u8; BLOCK_LEN];
        let left = self.plaintext_len - self.read;
        let n = left.min(BLOCK_LEN);
        copy_joined(plaintext, self.read, &mut block[..n]);
        if n < BLOCK_LEN {
            // PKCS#7: n bytes of value n, 1 <= n <= 16: the last block.
            block[n..].fill((BLOCK_LEN - n) as u8);
            self.part = Part::Tag;
        }
        self.read += n;
        for (byte, chained) in block.iter_mut().zip(self.chain) {
            *byte ^= chained;
        }
        self.key.aes.encrypt_block((&mut block).into());
        self.chain = block;
        self.mac.update(&block);
        block
    }
}

impl core::fmt::Debug for TokenStream<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TokenStream")
            .field("token_len", &self.token_len())
            .field("done", &self.is_done())
            .finish_non_exhaustive()
    }
}

/// Copies the bytes of `pieces`, joined, from `offset` on into `out`;
/// leaves zeros where the pieces run out.
fn copy_joined(pieces: &[&[u8]], mut offset: usize, out: &mut [u8]) {
    let mut at = 0;
    for piece in pieces {
        if at == out.len() {
            break;
        }
        let Some(rest) = piece.get(offset..) else {
            offset -= piece.len();
            continue;
        };
        offset = 0;
        let n = rest.len().min(out.len() - at);
        out[at..at + n].copy_from_slice(&rest[..n]);
        at += n;
    }
    out[at..].fill(0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hazmat::encrypt_with_iv;
    use crate::test_sizes::MAX_PLAINTEXT;

    extern crate std;
    use std::vec::Vec;

    /// The whole text of `stream`, written `chunk` bytes at a time.
    fn drain(mut stream: TokenStream<'_>, pieces: &[&[u8]], chunk: usize) -> Vec<u8> {
        let mut text = Vec::new();
        let mut out = [0u8; 4096];
        while !stream.is_done() {
            let n = stream.fill(pieces, &mut out[..chunk]);
            assert!(n > 0, "a stream that is not done writes");
            text.extend_from_slice(&out[..n]);
        }
        assert_eq!(stream.fill(pieces, &mut out), 0);
        text
    }

    #[test]
    fn test_same_bytes_as_encrypt_in_any_chunks() {
        let key = Key::from_bytes(core::array::from_fn(|i| i as u8 * 3));
        let plaintext: Vec<u8> = (0..MAX_PLAINTEXT).map(|i| (i * 7) as u8).collect();
        let mut out = [0u8; 4096];
        for len in (0..=100).chain([1000, 3006, MAX_PLAINTEXT]) {
            let iv = [len as u8 ^ 0x5a; 16];
            let expected = encrypt_with_iv(&key, &plaintext[..len], 1234, iv, &mut out).unwrap();
            for chunk in [1, 2, 3, 7, 64, 4096] {
                let stream = stream_with_iv(&key, len, 1234, iv);
                assert_eq!(stream.token_len(), expected.len());
                let text = drain(stream, &[&plaintext[..len]], chunk);
                assert_eq!(text, expected, "{len} bytes in chunks of {chunk}");
            }
            // The same plaintext cut into pieces anywhere.
            let (a, rest) = plaintext[..len].split_at(len / 3);
            let (b, c) = rest.split_at(rest.len() / 2);
            let text = drain(stream_with_iv(&key, len, 1234, iv), &[a, &[], b, c], 5);
            assert_eq!(text, expected, "{len} bytes in pieces");
        }
    }

    #[test]
    fn test_opens_with_decrypt() {
        let key = Key::from_bytes([8; 32]);
        let text = drain(
            stream_with_iv(&key, 11, 500, [3; 16]),
            &[b"ann", b"\n", b"hello!!"],
            9,
        );
        let mut buf = [0u8; 200];
        let opened = key.decrypt(&text, 500, None, &mut buf).unwrap();
        assert_eq!(opened.plaintext, b"ann\nhello!!");
    }

    #[test]
    fn test_short_pieces_give_zeros_not_a_panic() {
        let key = Key::from_bytes([8; 32]);
        let text = drain(stream_with_iv(&key, 20, 500, [3; 16]), &[b"abc"], 4);
        let mut buf = [0u8; 200];
        let opened = key.decrypt(&text, 500, None, &mut buf).unwrap();
        let mut expected = [0u8; 20];
        expected[..3].copy_from_slice(b"abc");
        assert_eq!(opened.plaintext, expected);
    }
}
