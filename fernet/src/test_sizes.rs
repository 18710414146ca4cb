//! The sizes of a fernchat frame, which the unit tests use for their
//! buffers: a 4096-byte frame holds a token of 4092 characters, which
//! decodes to 3069 bytes and carries at most 3007 bytes of plaintext.
//! (`fernchat-core`'s frame module pins the same numbers.)

use crate::{decode_buf_len, token_len};

/// Room to decode the longest token of a fernchat frame.
pub const DECODE_BUF_LEN: usize = decode_buf_len(4092);
/// The longest plaintext whose token fits that frame.
pub const MAX_PLAINTEXT: usize = 3007;

#[test]
fn test_sizes_are_a_frames() {
    assert_eq!(DECODE_BUF_LEN, 3069);
    assert!(token_len(MAX_PLAINTEXT) <= 4092);
    assert!(token_len(MAX_PLAINTEXT + 1) > 4092);
}
