//! `Key::decrypt` and `KeySet::decrypt` never panic, whatever the token, the
//! clock and the TTL, and agree with each other, with decrypting in place
//! (`KeySet::decrypt_in_place`) and with the keyed relay's head-only check
//! (`KeySet::open_head`); a token they accept is the
//! one `Key::encrypt` makes from what it holds (so no second spelling of a
//! token is accepted). And every plaintext up to `MAX_PLAINTEXT`, encrypted
//! at any time with any IV, decrypts to itself, or fails exactly as the
//! freshness rule of `docs/PROTOCOL.md` section 3 says.
//!
//! Input: `now` (u64 BE), the encryption time (u64 BE), the TTL (u64 BE), a
//! flags byte (bit 0: TTL set), an IV (16 bytes), then the token, which is
//! also the plaintext of the round trip.

#![no_main]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use fernchat_core::fernet::hazmat::encrypt_with_iv;
use fernchat_core::fernet::{
    DecryptError, Decrypted, HEADER_LEN, IV_LEN, Key, MAX_CLOCK_SKEW, TokenError, check_shape,
    token_len,
};
use fernchat_core::frame::{DECODE_BUF_LEN, MAX_FRAME, MAX_PLAINTEXT};
use fernchat_fuzz::{OTHER_KEY, key, keyset};
use libfuzzer_sys::fuzz_target;

/// Bytes before the token: now, encryption time, TTL, flags, IV.
const HEADER_BYTES: usize = 3 * 8 + 1 + IV_LEN;

fuzz_target!(|data: &[u8]| {
    let Some((header, data)) = data.split_first_chunk::<HEADER_BYTES>() else {
        return;
    };
    let u64_at = |at: usize| u64::from_be_bytes(header[at..at + 8].try_into().expect("8 bytes"));
    let (now, sent_at) = (u64_at(0), u64_at(8));
    let ttl = (header[24] & 1 == 1).then_some(u64_at(16));
    let iv: [u8; IV_LEN] = header[25..].try_into().expect("16 bytes");
    let (key, keys) = (key(), keyset());

    let mut buf = [0u8; DECODE_BUF_LEN];
    let by_key = key.decrypt(data, now, ttl, &mut buf).map(owned);
    let mut buf = [0u8; DECODE_BUF_LEN];
    let other = Key::parse(OTHER_KEY).expect("parses");
    let by_other = other.decrypt(data, now, ttl, &mut buf).map(owned);
    let mut buf = [0u8; DECODE_BUF_LEN];
    let by_set = keys.decrypt(data, now, ttl, &mut buf).map(owned);
    // The set tries OTHER_KEY first, then KEY.
    let expected = if by_other == Err(DecryptError::Token(TokenError::BadMac)) {
        by_key.clone()
    } else {
        by_other
    };
    assert_eq!(by_set, expected, "KeySet is not its keys tried in turn");
    // A frame's token: longer ones overflow `buf`, which is the caller's
    // error, not the token's.
    if data.len() < MAX_FRAME {
        same_as_in_place_and_head(data, now, ttl, &by_set);
    }

    if let Ok((timestamp, plaintext, _)) = &by_key {
        assert!(fresh(*timestamp, now, ttl));
        assert_eq!(check_shape(data), Ok(()));
        let mut decoded = [0u8; DECODE_BUF_LEN];
        URL_SAFE
            .decode_slice(data, &mut decoded)
            .expect("accepted tokens decode");
        let token_iv = decoded[9..HEADER_LEN].try_into().expect("16 bytes");
        let mut out = [0u8; MAX_FRAME];
        let again = encrypt_with_iv(&key, plaintext, *timestamp, token_iv, &mut out);
        assert_eq!(
            again,
            Ok(data),
            "an accepted token is not the canonical one"
        );
    }

    round_trip(
        &key,
        &data[..data.len().min(MAX_PLAINTEXT)],
        sent_at,
        iv,
        now,
        ttl,
    );
});

/// `KeySet::decrypt_in_place` and `KeySet::open_head` give what
/// `KeySet::decrypt` gave (`by_set`) for `token`.
fn same_as_in_place_and_head(
    data: &[u8],
    now: u64,
    ttl: Option<u64>,
    by_set: &Result<(u64, Vec<u8>, [u8; 32]), DecryptError>,
) {
    let keys = keyset();
    let mut in_place = data.to_vec();
    let by_set_in_place = keys.decrypt_in_place(&mut in_place, now, ttl).map(owned);
    assert_eq!(
        by_set_in_place,
        by_set.clone().map_err(token_error),
        "decrypting in place is not decrypting"
    );
    let mut head = [0u8; 40];
    let by_head = keys.open_head(data, now, ttl, &mut head).map(|opened| {
        (
            opened.timestamp,
            opened.plaintext_len,
            opened.head.to_vec(),
            opened.tag,
        )
    });
    let expected_head = by_set
        .clone()
        .map_err(token_error)
        .map(|(timestamp, plaintext, tag)| {
            let head = plaintext[..plaintext.len().min(40)].to_vec();
            (timestamp, plaintext.len(), head, tag)
        });
    assert_eq!(by_head, expected_head, "open_head is not decrypting");
}

/// Encrypts `plaintext` and decrypts it again with the key and the key set.
fn round_trip(
    key: &Key,
    plaintext: &[u8],
    sent_at: u64,
    iv: [u8; IV_LEN],
    now: u64,
    ttl: Option<u64>,
) {
    let mut out = [0u8; MAX_FRAME];
    let token = encrypt_with_iv(key, plaintext, sent_at, iv, &mut out).expect("fits a frame");
    assert_eq!(token.len(), token_len(plaintext.len()));
    assert!(token.len() < MAX_FRAME);
    assert_eq!(check_shape(token), Ok(()));
    let expected = if u128::from(sent_at) > u128::from(now) + u128::from(MAX_CLOCK_SKEW) {
        Err(DecryptError::Token(TokenError::FromTheFuture))
    } else if fresh(sent_at, now, ttl) {
        Ok(plaintext)
    } else {
        Err(DecryptError::Token(TokenError::Expired))
    };
    let mut buf = [0u8; DECODE_BUF_LEN];
    let opened = key.decrypt(token, now, ttl, &mut buf);
    assert_eq!(opened.map(|d| d.plaintext), expected);
    let mut buf = [0u8; DECODE_BUF_LEN];
    let opened = keyset().decrypt(token, now, ttl, &mut buf);
    assert_eq!(opened.map(|d| d.plaintext), expected);
    let opened = key
        .decrypt(token, sent_at, None, &mut buf)
        .expect("opens at its own time");
    assert_eq!((opened.timestamp, opened.plaintext), (sent_at, plaintext));
}

/// The freshness rule of `docs/PROTOCOL.md` section 3, in arithmetic that cannot overflow.
fn fresh(timestamp: u64, now: u64, ttl: Option<u64>) -> bool {
    let (timestamp, now) = (u128::from(timestamp), u128::from(now));
    timestamp <= now + u128::from(MAX_CLOCK_SKEW)
        && ttl.is_none_or(|ttl| timestamp + u128::from(ttl) >= now)
}

/// The token's part of a decryption error: a frame-sized buffer never
/// makes the caller's part.
fn token_error(error: DecryptError) -> TokenError {
    match error {
        DecryptError::Token(error) => error,
        DecryptError::Buffer(_) => panic!("a frame-sized buffer was too small"),
    }
}

/// A decryption's result, out of the buffer it borrows.
fn owned(opened: Decrypted<'_>) -> (u64, Vec<u8>, [u8; 32]) {
    (opened.timestamp, opened.plaintext.to_vec(), opened.tag)
}
