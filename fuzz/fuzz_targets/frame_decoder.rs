//! `FrameDecoder::decode` never panics, whatever the bytes and however the
//! stream is cut into chunks; and what it yields does not depend on the
//! cutting: the same frames and errors as `docs/PROTOCOL.md` section 2 read byte by byte
//! (`fernchat_fuzz::reference_frames`). Every frame is at most `MAX_FRAME`
//! bytes, ends with LF, and holds a non-empty base64url token.
//!
//! The same bytes as one message (`FrameDecoder::decode_message`, the
//! WebSocket's and NATS's carrier) are one frame or one error whole: a
//! frame exactly when they are a non-empty base64url line that fits, and
//! then the frame is those bytes and an LF, never a part of them.
//!
//! Input: one byte that picks the chunk sizes, then the stream.

#![no_main]

use fernchat_core::frame::{FrameDecoder, MAX_FRAME, is_base64url};
use fernchat_fuzz::{Item, push_found, reference_frames};
use libfuzzer_sys::fuzz_target;

/// Largest chunk, by the low bits of the first byte: byte at a time, small,
/// around the frame limit, whole stream.
const CHUNK_LIMITS: [usize; 8] = [1, 2, 3, 7, 64, 4095, 4097, usize::MAX];

fuzz_target!(|data: &[u8]| {
    let Some((&choice, stream)) = data.split_first() else {
        return;
    };
    let whole = decode(stream, || usize::MAX);
    let limit = CHUNK_LIMITS[usize::from(choice) % CHUNK_LIMITS.len()];
    let mut state = u32::from(choice);
    let chunked = decode(stream, || {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        1 + (state >> 8) as usize % limit.min(1 << 20)
    });
    assert_eq!(whole, chunked, "the chunking changed the frames");
    assert_eq!(
        whole,
        reference_frames(stream),
        "the decoder and docs/PROTOCOL.md disagree"
    );
    check_message(stream);
});

/// Checks `FrameDecoder::decode_message` on `message`, after a decoder
/// was left holding part of a line.
fn check_message(message: &[u8]) {
    let mut decoder = FrameDecoder::new();
    let _ = decoder.decode(b"half a line");
    let whole = !message.is_empty()
        && message.len() < MAX_FRAME
        && message.iter().all(|&b| is_base64url(b));
    match decoder.decode_message(message) {
        None => assert!(message.is_empty(), "only an empty message is nothing"),
        Some(Ok(frame)) => {
            assert!(whole, "a frame from a message that is not one token");
            assert_eq!(frame.token, message);
            assert_eq!(frame.raw, [message, b"\n"].concat());
        }
        Some(Err(_)) => assert!(!whole, "a whole token refused"),
    }
    assert_eq!(decoder.pending(), 0, "a message leaves nothing behind");
}

/// Decodes `stream` in chunks of the sizes `next_chunk` gives, checking each
/// call's own contract.
fn decode(stream: &[u8], mut next_chunk: impl FnMut() -> usize) -> Vec<Item> {
    let mut decoder = FrameDecoder::new();
    let mut items = Vec::new();
    let mut offset = 0;
    while offset < stream.len() {
        let end = offset.saturating_add(next_chunk()).min(stream.len());
        let mut chunk = &stream[offset..end];
        while !chunk.is_empty() {
            let step = decoder.decode(chunk);
            let (consumed, item) = (step.consumed, step.found);
            assert!(
                consumed > 0 && consumed <= chunk.len(),
                "consumed {consumed}"
            );
            match item {
                None => assert_eq!(consumed, chunk.len(), "None before the chunk ran out"),
                Some(found) => push_found(&mut items, found),
            }
            assert!(decoder.pending() < MAX_FRAME);
            chunk = &chunk[consumed..];
        }
        offset = end;
    }
    items
}
