//! `fernet::check_shape` never panics, whatever the bytes, and is exactly the
//! keyless part of decryption: it accepts a token if and only if
//! `Key::decrypt` gets past the shape checks (fails later, on the MAC, the
//! clock or the padding, or succeeds). So a blind relay forwards every token a
//! keyed receiver could open, and nothing a keyed receiver would call
//! malformed.
//!
//! Input: the token.

#![no_main]

use fernchat_core::fernet::{DecryptError, TokenError, check_shape, decode_buf_len};
use fernchat_fuzz::key;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let shape = check_shape(data);
    assert!(matches!(shape, Ok(()) | Err(TokenError::Malformed)));
    let mut buf = vec![0u8; decode_buf_len(data.len())];
    // At the end of time with no TTL, every timestamp is acceptable.
    let opened = key().decrypt(data, u64::MAX, None, &mut buf);
    if opened.is_ok() {
        assert_eq!(shape, Ok(()), "decrypt accepted what check_shape refuses");
    }
    let past_shape = !matches!(opened, Err(DecryptError::Token(TokenError::Malformed)));
    assert_eq!(
        shape.is_ok(),
        past_shape,
        "check_shape and decrypt disagree: {opened:?}"
    );
});
