//! Verifying a token without a buffer for it: the text is decoded a few
//! groups at a time, straight into the HMAC, and only the first bytes of
//! the plaintext (and its last block, for the padding) are decrypted. A
//! keyed relay, which must forward the token unchanged and only needs its
//! sender's nick, checks frames this way in a few hundred bytes of stack.

use super::KeySet;
use super::error::TokenError;
use super::key::Key;
use super::token::{
    BLOCK_LEN, HEADER_LEN, IV_LEN, TAG_LEN, VERSION, checked_decoded_len, fresh_timestamp,
};
use base64_simd::{Out, URL_SAFE};
use cbc::cipher::BlockCipherDecrypt;
use hmac::Mac;

/// A verified token's timestamp, tag and the start of its plaintext.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head<'h> {
    /// Unix seconds, as written by the sender.
    pub timestamp: u64,
    /// The HMAC tag, which identifies the token (for replay caches).
    pub tag: [u8; TAG_LEN],
    /// The whole plaintext's length.
    pub plaintext_len: usize,
    /// The plaintext's first bytes, as many as the caller's buffer held:
    /// all of it when `head.len() == plaintext_len`.
    pub head: &'h [u8],
}

/// Decoded bytes handled at once: 64 base64 groups (fewer and the calls
/// cost more than the decoding; on x86-64, 1.2x the time of `decrypt` for
/// a 3,000-byte token, 2x for a short one).
const CHUNK: usize = 192;

impl<const N: usize> KeySet<N> {
    /// Verifies `token` as [`KeySet::decrypt`] does (the same checks, in the
    /// same order) without decoding it anywhere but a 192-byte stage, and
    /// decrypts only the plaintext's first `head.len()` bytes into `head`.
    /// `token` is left as it was. Never panics.
    pub fn open_head<'h>(
        &self,
        token: &[u8],
        now: u64,
        ttl: Option<u64>,
        head: &'h mut [u8],
    ) -> Result<Head<'h>, TokenError> {
        let len = checked_decoded_len(token)?;
        let mut header = [0u8; HEADER_LEN];
        decoded_at(token, 0, &mut header)?;
        if header[0] != VERSION {
            return Err(TokenError::Malformed);
        }
        let mut tag = [0u8; TAG_LEN];
        decoded_at(token, len - TAG_LEN, &mut tag)?;
        let key = self
            .keys()
            .iter()
            .find(|key| mac_matches(key, token, len - TAG_LEN, &tag))
            .ok_or(TokenError::BadMac)?;
        let timestamp = fresh_timestamp(&header, now, ttl)?;
        let mut iv = [0u8; IV_LEN];
        iv.copy_from_slice(&header[9..]);
        let ciphertext_len = len - HEADER_LEN - TAG_LEN;
        let last = ciphertext_len - BLOCK_LEN;
        let last_block = decrypt_block(key, token, &iv, last)?;
        let padding = usize::from(last_block[BLOCK_LEN - 1]);
        let padded = last_block[BLOCK_LEN - padding.clamp(1, BLOCK_LEN)..]
            .iter()
            .all(|&b| usize::from(b) == padding);
        if !(1..=BLOCK_LEN).contains(&padding) || !padded {
            return Err(TokenError::BadPadding);
        }
        let plaintext_len = ciphertext_len - padding;
        let head_len = head.len().min(plaintext_len);
        let head = &mut head[..head_len];
        for (i, out) in head.chunks_mut(BLOCK_LEN).enumerate() {
            let block = decrypt_block(key, token, &iv, i * BLOCK_LEN)?;
            out.copy_from_slice(&block[..out.len()]);
        }
        Ok(Head {
            timestamp,
            tag,
            plaintext_len,
            head,
        })
    }
}

/// True when `key`'s HMAC of the first `signed_len` decoded bytes is `tag`
/// (constant time).
fn mac_matches(key: &Key, token: &[u8], signed_len: usize, tag: &[u8; TAG_LEN]) -> bool {
    let mut mac = key.mac.clone();
    let mut stage = [0u8; CHUNK];
    let mut at = 0;
    while at < signed_len {
        let n = (signed_len - at).min(CHUNK);
        if decoded_at(token, at, &mut stage[..n]).is_err() {
            return false;
        }
        mac.update(&stage[..n]);
        at += n;
    }
    mac.verify_slice(tag).is_ok()
}

/// Decrypts the ciphertext block at `offset` (from the ciphertext's
/// start): AES, then XOR with the block before it (or the IV).
fn decrypt_block(
    key: &Key,
    token: &[u8],
    iv: &[u8; IV_LEN],
    offset: usize,
) -> Result<[u8; BLOCK_LEN], TokenError> {
    let mut previous = *iv;
    if offset >= BLOCK_LEN {
        decoded_at(token, HEADER_LEN + offset - BLOCK_LEN, &mut previous)?;
    }
    let mut block = [0u8; BLOCK_LEN];
    decoded_at(token, HEADER_LEN + offset, &mut block)?;
    key.aes.decrypt_block((&mut block).into());
    for (byte, chained) in block.iter_mut().zip(previous) {
        *byte ^= chained;
    }
    Ok(block)
}

/// Decodes the bytes of `token` from decoded offset `offset` into `out`
/// (at most [`CHUNK`] bytes), decoding only the groups that hold them.
fn decoded_at(token: &[u8], offset: usize, out: &mut [u8]) -> Result<(), TokenError> {
    let first = offset / 3;
    let end = (offset + out.len()).div_ceil(3);
    let chars = token.get(first * 4..end * 4).ok_or(TokenError::Malformed)?;
    let mut stage = [0u8; CHUNK + 3];
    let decoded = URL_SAFE
        .decode(chars, Out::from_slice(&mut stage[..chars.len() / 4 * 3]))
        .map_err(|_| TokenError::Malformed)?;
    let skip = offset - first * 3;
    let bytes = decoded
        .get(skip..skip + out.len())
        .ok_or(TokenError::Malformed)?;
    out.copy_from_slice(bytes);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hazmat::encrypt_with_iv;
    use crate::test_sizes::DECODE_BUF_LEN;

    #[test]
    fn test_same_verdicts_and_plaintext_as_decrypt() {
        let keys = KeySet::<2>::single(Key::from_bytes([4; 32]));
        let other = KeySet::<2>::single(Key::from_bytes([5; 32]));
        let plaintext: [u8; 3007] = core::array::from_fn(|i| (i * 13) as u8);
        let mut out = [0u8; 4096];
        let mut buf = [0u8; DECODE_BUF_LEN];
        for len in (0..=70).chain([1000, 3006, 3007]) {
            let key = keys.encrypting_key();
            let token =
                encrypt_with_iv(key, &plaintext[..len], 1000, [len as u8; 16], &mut out).unwrap();
            let opened = keys.decrypt(token, 1010, Some(300), &mut buf).unwrap();
            for head_len in [0, 5, 16, 40, 4000] {
                let mut head = [0u8; 4000];
                let got = keys
                    .open_head(token, 1010, Some(300), &mut head[..head_len])
                    .unwrap();
                assert_eq!(got.timestamp, opened.timestamp);
                assert_eq!(got.tag, opened.tag);
                assert_eq!(got.plaintext_len, len);
                assert_eq!(
                    got.head,
                    &plaintext[..len.min(head_len)],
                    "{len} {head_len}"
                );
            }
            for (keys, now, error) in [
                (&other, 1010, TokenError::BadMac),
                (&keys, 1400, TokenError::Expired),
                (&keys, 900, TokenError::FromTheFuture),
            ] {
                assert_eq!(
                    keys.open_head(token, now, Some(300), &mut [0u8; 8]),
                    Err(error)
                );
            }
        }
    }

    #[test]
    fn test_bad_padding_and_malformed() {
        let keys = KeySet::<1>::single(Key::from_bytes([4; 32]));
        // A valid MAC over a last block that does not unpad: encrypt a
        // whole block of zeros with no padding, by hand.
        use cbc::cipher::{BlockModeEncrypt, InnerIvInit};
        let key = keys.encrypting_key();
        let mut raw = [0u8; HEADER_LEN + BLOCK_LEN + TAG_LEN];
        raw[0] = VERSION;
        raw[1..9].copy_from_slice(&5u64.to_be_bytes());
        let mut block = [0u8; BLOCK_LEN];
        cbc::Encryptor::<aes::Aes128>::inner_iv_init(key.aes.clone(), &[0u8; 16].into())
            .encrypt_block((&mut block).into());
        raw[HEADER_LEN..HEADER_LEN + BLOCK_LEN].copy_from_slice(&block);
        let mut mac = key.mac.clone();
        mac.update(&raw[..HEADER_LEN + BLOCK_LEN]);
        raw[HEADER_LEN + BLOCK_LEN..].copy_from_slice(&mac.finalize().into_bytes());
        let mut text = [0u8; 100];
        let text = URL_SAFE.encode(&raw, Out::from_slice(&mut text));
        let mut buf = [0u8; DECODE_BUF_LEN];
        assert_eq!(
            keys.decrypt(text, 5, None, &mut buf),
            Err(TokenError::BadPadding.into())
        );
        assert_eq!(
            keys.open_head(text, 5, None, &mut [0u8; 8]),
            Err(TokenError::BadPadding)
        );
        for bad in [&b""[..], b"gAAA", &[b'A'; 100]] {
            assert_eq!(
                keys.open_head(bad, 5, None, &mut [0u8; 8]),
                Err(TokenError::Malformed)
            );
        }
    }
}
