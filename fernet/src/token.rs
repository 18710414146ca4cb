//! The token layout, decryption into caller buffers, and the keyless shape
//! check a blind relay uses.
//!
//! `token = base64url(0x80 | timestamp u64 BE | IV 16 | AES-128-CBC(PKCS#7) | HMAC-SHA256 32)`

use super::error::{BufferTooSmall, DecryptError, TokenError};
use super::key::Key;
use base64_simd::{Out, URL_SAFE};
use hmac::Mac;

/// The version byte every token starts with.
pub const VERSION: u8 = 0x80;
/// Bytes before the ciphertext: version, timestamp, IV.
pub const HEADER_LEN: usize = 1 + 8 + IV_LEN;
/// Length of the CBC initialisation vector.
pub const IV_LEN: usize = 16;
/// Length of the HMAC-SHA256 tag.
pub const TAG_LEN: usize = 32;
/// AES block length.
pub const BLOCK_LEN: usize = 16;
/// How far in the future a token's timestamp may be, in seconds.
pub const MAX_CLOCK_SKEW: u64 = 60;
/// The shortest decoded token: header, one block, tag.
pub const MIN_TOKEN_BYTES: usize = HEADER_LEN + BLOCK_LEN + TAG_LEN;

/// A decrypted token: its verified timestamp, plaintext and tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decrypted<'b> {
    /// Unix seconds, as written by the sender (read after the MAC verified).
    pub timestamp: u64,
    /// The plaintext, inside the caller's buffer.
    pub plaintext: &'b [u8],
    /// The HMAC tag, which identifies the token (for replay caches).
    pub tag: [u8; TAG_LEN],
}

/// Length of the token text for a plaintext of `plaintext_len` bytes.
pub const fn token_len(plaintext_len: usize) -> usize {
    let decoded = HEADER_LEN + (plaintext_len / BLOCK_LEN + 1) * BLOCK_LEN + TAG_LEN;
    decoded.div_ceil(3) * 4
}

/// Bytes a buffer needs to decode a token of `token_chars` characters.
pub const fn decode_buf_len(token_chars: usize) -> usize {
    token_chars / 4 * 3
}

impl Key {
    /// Decrypts `token` into `buf` at Unix time `now`, with an optional TTL
    /// in seconds. `buf` must hold [`decode_buf_len`] of the token's length;
    /// the plaintext is written inside it, from offset [`HEADER_LEN`].
    ///
    /// Checks, in order: length and alphabet, version, MAC (constant time),
    /// timestamp, padding. Never panics, whatever the input: a timestamp near
    /// `u64::MAX` is a clean [`TokenError::FromTheFuture`].
    pub fn decrypt<'b>(
        &self,
        token: &[u8],
        now: u64,
        ttl: Option<u64>,
        buf: &'b mut [u8],
    ) -> Result<Decrypted<'b>, DecryptError> {
        decrypt_with(token, now, ttl, buf, |decoded| {
            self.verify_mac(decoded).then_some(self)
        })
    }

    /// Decrypts `token` where it lies: the base64url text is decoded over
    /// itself and the ciphertext decrypted in place, so no second buffer is
    /// needed (a microcontroller decrypts in its frame buffer). The checks
    /// are [`Key::decrypt`]'s, in the same order; the plaintext is inside
    /// `token`, from offset [`HEADER_LEN`]. Whatever the result, `token`
    /// no longer holds the text. Never panics.
    pub fn decrypt_in_place<'t>(
        &self,
        token: &'t mut [u8],
        now: u64,
        ttl: Option<u64>,
    ) -> Result<Decrypted<'t>, TokenError> {
        decrypt_in_place_with(token, now, ttl, |decoded| {
            self.verify_mac(decoded).then_some(self)
        })
    }

    /// True when `decoded`'s tag is this key's HMAC of the rest (constant time).
    pub(super) fn verify_mac(&self, decoded: &[u8]) -> bool {
        let Some(signed_len) = decoded.len().checked_sub(TAG_LEN) else {
            return false;
        };
        let (signed, tag) = decoded.split_at(signed_len);
        let mut mac = self.mac.clone();
        mac.update(signed);
        mac.verify_slice(tag).is_ok()
    }
}

/// Checks a token's shape with no key, as a blind relay does: canonical padded
/// base64url, version byte, length at least 73 bytes and `(length - 57)` a
/// multiple of 16. Never panics; decodes only the first 3 bytes (the rest is
/// validated without being written anywhere).
pub fn check_shape(token: &[u8]) -> Result<(), TokenError> {
    checked_decoded_len(token)?;
    let mut first = [0u8; 3];
    let first_chars = token.get(..4).ok_or(TokenError::Malformed)?;
    match URL_SAFE.decode(first_chars, Out::from_slice(&mut first)) {
        Ok(&mut [VERSION, ..]) => Ok(()),
        _ => Err(TokenError::Malformed),
    }
}

/// The timestamp a token claims, read with no key after [`check_shape`]:
/// unverified, so good for a blind relay's freshness estimate (history
/// for late joiners) and nothing that must be trusted. Never panics.
pub fn unverified_timestamp(token: &[u8]) -> Result<u64, TokenError> {
    check_shape(token)?;
    // 12 characters decode to the version byte, the 8-byte timestamp and
    // the IV's first 3 bytes.
    let mut head = [0u8; 9];
    let head_chars = token.get(..12).ok_or(TokenError::Malformed)?;
    match URL_SAFE.decode(head_chars, Out::from_slice(&mut head)) {
        Ok(&mut [VERSION, t0, t1, t2, t3, t4, t5, t6, t7]) => {
            Ok(u64::from_be_bytes([t0, t1, t2, t3, t4, t5, t6, t7]))
        }
        _ => Err(TokenError::Malformed),
    }
}

/// Decodes `token` into `buf`, checks its shape, finds the key whose MAC
/// verifies with `verifying_key`, then checks the time and decrypts.
pub(super) fn decrypt_with<'b, 'k>(
    token: &[u8],
    now: u64,
    ttl: Option<u64>,
    buf: &'b mut [u8],
    verifying_key: impl FnOnce(&[u8]) -> Option<&'k Key>,
) -> Result<Decrypted<'b>, DecryptError> {
    let len = decode_and_check(token, buf)?;
    match verifying_key(&buf[..len]) {
        Some(key) => Ok(open_verified(key, &mut buf[..len], now, ttl)?),
        None => Err(DecryptError::Token(TokenError::BadMac)),
    }
}

/// [`decrypt_with`] with the token decoded over itself.
pub(super) fn decrypt_in_place_with<'t, 'k>(
    token: &'t mut [u8],
    now: u64,
    ttl: Option<u64>,
    verifying_key: impl FnOnce(&[u8]) -> Option<&'k Key>,
) -> Result<Decrypted<'t>, TokenError> {
    check_text_len(token)?;
    let decoded = URL_SAFE
        .decode_inplace(token)
        .map_err(|_| TokenError::Malformed)?;
    check_decoded_len(decoded.len())?;
    if decoded[0] != VERSION {
        return Err(TokenError::Malformed);
    }
    match verifying_key(decoded) {
        Some(key) => open_verified(key, decoded, now, ttl),
        None => Err(TokenError::BadMac),
    }
}

/// Decodes `token` into `buf` and checks length and version; gives the
/// decoded length.
fn decode_and_check(token: &[u8], buf: &mut [u8]) -> Result<usize, DecryptError> {
    check_text_len(token)?;
    // The most that `token` can decode to, so the decoder's room check holds.
    let needed = decode_buf_len(token.len());
    let buf = buf
        .get_mut(..needed)
        .ok_or(DecryptError::Buffer(BufferTooSmall { needed }))?;
    let decoded = URL_SAFE
        .decode(token, Out::from_slice(buf))
        .map_err(|_| TokenError::Malformed)?;
    check_decoded_len(decoded.len())?;
    if decoded[0] != VERSION {
        return Err(TokenError::Malformed.into());
    }
    Ok(decoded.len())
}

/// Checks the timestamp of a token whose MAC verified, then decrypts it in
/// place.
fn open_verified<'b>(
    key: &Key,
    decoded: &'b mut [u8],
    now: u64,
    ttl: Option<u64>,
) -> Result<Decrypted<'b>, TokenError> {
    let len = decoded.len();
    let timestamp = fresh_timestamp(decoded, now, ttl)?;
    let mut iv = [0u8; IV_LEN];
    iv.copy_from_slice(&decoded[9..HEADER_LEN]);
    let mut tag = [0u8; TAG_LEN];
    tag.copy_from_slice(&decoded[len - TAG_LEN..]);
    let ciphertext = &mut decoded[HEADER_LEN..len - TAG_LEN];
    let plaintext = cbc_decrypt(key, iv, ciphertext).ok_or(TokenError::BadPadding)?;
    Ok(Decrypted {
        timestamp,
        plaintext,
        tag,
    })
}

/// The timestamp of a token whose MAC verified, from `header` (its decoded
/// bytes from the start, at least the version and timestamp), once it is
/// neither more than [`MAX_CLOCK_SKEW`] ahead of `now` nor, with a `ttl`,
/// older than `ttl` seconds. Shared by every way of opening a token, so
/// that all give the same verdicts. Inlined, as the code it replaced was:
/// out of line it cost the relay firmware 96 bytes of flash.
#[inline]
pub(super) fn fresh_timestamp(
    header: &[u8],
    now: u64,
    ttl: Option<u64>,
) -> Result<u64, TokenError> {
    let mut timestamp = [0u8; 8];
    timestamp.copy_from_slice(&header[1..9]);
    let timestamp = u64::from_be_bytes(timestamp);
    if timestamp > now.saturating_add(MAX_CLOCK_SKEW) {
        return Err(TokenError::FromTheFuture);
    }
    if ttl.is_some_and(|ttl| timestamp.saturating_add(ttl) < now) {
        return Err(TokenError::Expired);
    }
    Ok(timestamp)
}

/// CBC-decrypts `ciphertext` in place and strips its PKCS#7 padding; `None`
/// for bad padding. With the cbc crate, which decrypts blocks side by side
/// (8 at a time with AES-NI).
#[cfg(not(target_os = "none"))]
fn cbc_decrypt<'c>(key: &Key, iv: [u8; IV_LEN], ciphertext: &'c mut [u8]) -> Option<&'c [u8]> {
    use cbc::cipher::block_padding::Pkcs7;
    use cbc::cipher::{BlockModeDecrypt, InnerIvInit};
    cbc::Decryptor::<aes::Aes128>::inner_iv_init(key.aes.clone(), &iv.into())
        .decrypt_padded::<Pkcs7>(ciphertext)
        .ok()
        .map(|plaintext| -> &[u8] { plaintext })
}

/// CBC-decrypts `ciphertext` in place and strips its PKCS#7 padding; `None`
/// for bad padding. On a microcontroller one block at a time, from the
/// last: the side-by-side path of the cbc crate would keep a second copy
/// of the software AES's decryption in flash (0.7 KiB) for no speed.
#[cfg(target_os = "none")]
fn cbc_decrypt<'c>(key: &Key, iv: [u8; IV_LEN], ciphertext: &'c mut [u8]) -> Option<&'c [u8]> {
    cbc_decrypt_by_block(key, iv, ciphertext)
}

/// The block-at-a-time CBC decryption and unpadding of the microcontroller
/// build, on every target in tests.
#[cfg(any(test, target_os = "none"))]
fn cbc_decrypt_by_block<'c>(
    key: &Key,
    iv: [u8; IV_LEN],
    ciphertext: &'c mut [u8],
) -> Option<&'c [u8]> {
    use cbc::cipher::BlockCipherDecrypt;
    let blocks = ciphertext.len() / BLOCK_LEN;
    // From the last block back, each block's predecessor is still ciphertext.
    for i in (0..blocks).rev() {
        let (before, rest) = ciphertext.split_at_mut(i * BLOCK_LEN);
        let (block, _) = rest.split_first_chunk_mut::<BLOCK_LEN>()?;
        key.aes.decrypt_block(block.into());
        let previous = before.last_chunk::<BLOCK_LEN>().unwrap_or(&iv);
        for (byte, chained) in block.iter_mut().zip(previous) {
            *byte ^= chained;
        }
    }
    let padding = usize::from(*ciphertext.last()?);
    let text_len = ciphertext.len().checked_sub(padding)?;
    let padded = (1..=BLOCK_LEN).contains(&padding)
        && ciphertext[text_len..]
            .iter()
            .all(|&b| usize::from(b) == padding);
    padded.then_some(&ciphertext[..text_len])
}

/// The decoded length of `token`, checked without decoding it anywhere:
/// text length, canonical padded base64url, then the decoded length.
pub(super) fn checked_decoded_len(token: &[u8]) -> Result<usize, TokenError> {
    check_text_len(token)?;
    URL_SAFE.check(token).map_err(|_| TokenError::Malformed)?;
    let len = URL_SAFE
        .decoded_length(token)
        .map_err(|_| TokenError::Malformed)?;
    check_decoded_len(len)?;
    Ok(len)
}

fn check_text_len(token: &[u8]) -> Result<(), TokenError> {
    let min_chars = MIN_TOKEN_BYTES.div_ceil(3) * 4;
    if !token.len().is_multiple_of(4) || token.len() < min_chars {
        return Err(TokenError::Malformed);
    }
    Ok(())
}

fn check_decoded_len(len: usize) -> Result<(), TokenError> {
    if len < MIN_TOKEN_BYTES || !(len - HEADER_LEN - TAG_LEN).is_multiple_of(BLOCK_LEN) {
        return Err(TokenError::Malformed);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hazmat::encrypt_with_iv;
    use crate::test_sizes::DECODE_BUF_LEN;

    #[test]
    fn test_block_at_a_time_cbc_matches_the_cbc_crate() {
        let key = Key::from_bytes([6; 32]);
        let plaintext: [u8; 200] = core::array::from_fn(|i| (i * 11) as u8);
        let mut out = [0u8; 400];
        for len in 0..=100 {
            let token =
                encrypt_with_iv(&key, &plaintext[..len], 5, [len as u8; 16], &mut out).unwrap();
            let mut decoded = [0u8; 400];
            let decoded = URL_SAFE
                .decode(token, Out::from_slice(&mut decoded))
                .unwrap();
            let iv: [u8; 16] = decoded[9..HEADER_LEN].try_into().unwrap();
            let ciphertext = &decoded[HEADER_LEN..decoded.len() - TAG_LEN];
            let mut a = [0u8; 400];
            let mut b = [0u8; 400];
            a[..ciphertext.len()].copy_from_slice(ciphertext);
            b[..ciphertext.len()].copy_from_slice(ciphertext);
            let by_crate = cbc_decrypt(&key, iv, &mut a[..ciphertext.len()]);
            let by_block = cbc_decrypt_by_block(&key, iv, &mut b[..ciphertext.len()]);
            assert_eq!(by_block, Some(&plaintext[..len]));
            assert_eq!(by_block, by_crate);
            // The last plaintext byte (the padding) changed through the
            // block before it, or the IV: the same verdict.
            let mut bad_iv = iv;
            a[..ciphertext.len()].copy_from_slice(ciphertext);
            b[..ciphertext.len()].copy_from_slice(ciphertext);
            match ciphertext.len().checked_sub(BLOCK_LEN + 1) {
                Some(before_last) => {
                    a[before_last] ^= 0x80;
                    b[before_last] ^= 0x80;
                }
                None => bad_iv[BLOCK_LEN - 1] ^= 0x80,
            }
            let by_crate = cbc_decrypt(&key, bad_iv, &mut a[..ciphertext.len()]);
            let by_block = cbc_decrypt_by_block(&key, bad_iv, &mut b[..ciphertext.len()]);
            assert_eq!(by_block, None, "{len}");
            assert_eq!(by_block, by_crate, "{len}");
        }
    }

    #[test]
    fn test_token_len() {
        assert_eq!(token_len(0), 100);
        assert_eq!(token_len(5), 100);
        assert_eq!(token_len(16), 120);
    }

    #[test]
    fn test_unverified_timestamp_read_without_key() {
        let key = Key::from_bytes([7; 32]);
        let mut out = [0u8; 100];
        let token = encrypt_with_iv(&key, b"hi", 0x0102_0304_0506_0708, [9; 16], &mut out).unwrap();
        assert_eq!(unverified_timestamp(token), Ok(0x0102_0304_0506_0708));
        assert_eq!(
            unverified_timestamp(&token[..96]),
            Err(TokenError::Malformed)
        );
        assert_eq!(unverified_timestamp(b"!"), Err(TokenError::Malformed));
    }

    #[test]
    fn test_small_buffers_rejected() {
        let key = Key::from_bytes([7; 32]);
        let mut out = [0u8; 99];
        assert_eq!(
            encrypt_with_iv(&key, b"hi", 0, [0; 16], &mut out).unwrap_err(),
            BufferTooSmall { needed: 100 }
        );
        let mut out = [0u8; 100];
        let token: [u8; 100] = encrypt_with_iv(&key, b"hi", 0, [0; 16], &mut out)
            .unwrap()
            .try_into()
            .unwrap();
        let mut buf = [0u8; 74];
        assert_eq!(
            key.decrypt(&token, 0, None, &mut buf).unwrap_err(),
            DecryptError::Buffer(BufferTooSmall { needed: 75 })
        );
    }

    #[test]
    fn test_timestamp_near_max_is_clean_rejection() {
        let key = Key::from_bytes([9; 32]);
        let mut out = [0u8; 100];
        let token: [u8; 100] = encrypt_with_iv(&key, b"x", u64::MAX, [1; 16], &mut out)
            .unwrap()
            .try_into()
            .unwrap();
        let mut buf = [0u8; DECODE_BUF_LEN];
        assert_eq!(
            key.decrypt(&token, 1_700_000_000, Some(u64::MAX), &mut buf)
                .unwrap_err(),
            TokenError::FromTheFuture.into()
        );
        // Accepted when "now" is also near the end of time, TTL or not.
        let opened = key
            .decrypt(&token, u64::MAX, Some(u64::MAX), &mut buf)
            .unwrap();
        assert_eq!(opened.plaintext, b"x");
        let token0: [u8; 100] = encrypt_with_iv(&key, b"x", 0, [1; 16], &mut out)
            .unwrap()
            .try_into()
            .unwrap();
        assert_eq!(
            key.decrypt(&token0, u64::MAX, Some(u64::MAX - 1), &mut buf)
                .unwrap_err(),
            TokenError::Expired.into()
        );
    }

    /// The token text of `b""`: 73 bytes, so 24 full groups and "xx==".
    fn empty_token(key: &Key) -> [u8; 100] {
        let mut out = [0u8; 100];
        let mut token = [0u8; 100];
        token.copy_from_slice(encrypt_with_iv(key, b"", 5, [2; 16], &mut out).unwrap());
        assert!(token.ends_with(b"=="));
        token
    }

    /// Asserts that the shape check and both ways of decrypting call
    /// `token` malformed.
    fn assert_malformed(key: &Key, token: &[u8]) {
        let mut buf = [0u8; DECODE_BUF_LEN];
        assert_eq!(check_shape(token), Err(TokenError::Malformed));
        assert_eq!(
            key.decrypt(token, 5, None, &mut buf).unwrap_err(),
            TokenError::Malformed.into()
        );
        let mut in_place = [0u8; 4096];
        let in_place = &mut in_place[..token.len()];
        in_place.copy_from_slice(token);
        assert_eq!(
            key.decrypt_in_place(in_place, 5, None).unwrap_err(),
            TokenError::Malformed
        );
        let keys = crate::KeySet::<1>::single(key.clone());
        assert_eq!(
            keys.open_head(token, 5, None, &mut [0u8; 8]),
            Err(TokenError::Malformed)
        );
    }

    #[test]
    fn test_decrypt_in_place_matches_decrypt() {
        let key = Key::from_bytes([4; 32]);
        let other = Key::from_bytes([5; 32]);
        let plaintext: [u8; 3007] = core::array::from_fn(|i| (i * 13) as u8);
        let mut out = [0u8; 4096];
        let mut buf = [0u8; DECODE_BUF_LEN];
        for len in (0..=70).chain([1000, 3006, 3007]) {
            let token = encrypt_with_iv(&key, &plaintext[..len], 1000, [len as u8; 16], &mut out)
                .unwrap()
                .len();
            let mut text = [0u8; 4096];
            text[..token].copy_from_slice(&out[..token]);
            let expected = key
                .decrypt(&out[..token], 1010, Some(300), &mut buf)
                .unwrap();
            let opened = key
                .decrypt_in_place(&mut text[..token], 1010, Some(300))
                .unwrap();
            assert_eq!(opened, expected, "{len}");
            assert_eq!(opened.plaintext, &plaintext[..len]);
            // The same refusals, in the same order.
            for (key, now, ttl, error) in [
                (&other, 1010, None, TokenError::BadMac),
                (&key, 1400, Some(300), TokenError::Expired),
                (&key, 900, None, TokenError::FromTheFuture),
            ] {
                text[..token].copy_from_slice(&out[..token]);
                assert_eq!(
                    key.decrypt_in_place(&mut text[..token], now, ttl),
                    Err(error)
                );
            }
        }
    }

    #[test]
    fn test_non_canonical_base64_rejected() {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let key = Key::from_bytes([3; 32]);
        let token = empty_token(&key);
        // Trailing bits: the character before "==" may only carry 2 bits.
        let value = ALPHABET.iter().position(|&c| c == token[97]).unwrap();
        let mut bad = token;
        bad[97] = ALPHABET[value | 1];
        assert_malformed(&key, &bad);
        // Padding that is not at the end, with the total length still right
        // (the old chunked shape check let this through at a chunk edge).
        let mut bad = token;
        bad[61..64].copy_from_slice(b"A==");
        bad[96..100].copy_from_slice(b"AAAA");
        assert_malformed(&key, &bad);
        // Too much padding, and padding missing.
        let mut bad = token;
        bad[97] = b'=';
        assert_malformed(&key, &bad);
        assert_malformed(&key, &token[..98]);
    }

    #[test]
    fn test_foreign_bytes_rejected() {
        let key = Key::from_bytes([3; 32]);
        let mut out = [0u8; 4096];
        let long = encrypt_with_iv(&key, &[b'a'; 3007], 5, [2; 16], &mut out).unwrap();
        let mut long_token = [0u8; 4088];
        long_token.copy_from_slice(long);
        let short_token = empty_token(&key);
        // Positions read by the vector loop and by the scalar tail.
        for (token, position) in [
            (&short_token[..], 10),
            (&short_token[..], 95),
            (&long_token[..], 2000),
            (&long_token[..], 4080),
        ] {
            // The standard alphabet, padding, whitespace, and non-ASCII bytes:
            // 0xad and 0xc1 are '-' and 'A' with the high bit set.
            for &byte in b"+/= \n\xad\xc1\xff" {
                let mut bad = [0u8; 4088];
                let bad = &mut bad[..token.len()];
                bad.copy_from_slice(token);
                bad[position] = byte;
                assert_malformed(&key, bad);
            }
        }
    }

    #[test]
    fn test_shape_check() {
        let key = Key::from_bytes([3; 32]);
        let mut out = [0u8; 4096];
        for len in [0, 15, 16, 17, 100, 3007] {
            let plaintext = [b'a'; 3007];
            let token = encrypt_with_iv(&key, &plaintext[..len], 5, [2; 16], &mut out).unwrap();
            assert_eq!(check_shape(token), Ok(()));
        }
        assert_eq!(check_shape(b""), Err(TokenError::Malformed));
        let token = encrypt_with_iv(&key, b"", 5, [2; 16], &mut out).unwrap();
        let mut bad = [0u8; 100];
        bad.copy_from_slice(token);
        bad[0] = b'A'; // version byte no longer 0x80
        assert_eq!(check_shape(&bad), Err(TokenError::Malformed));
    }
}
