//! `SenderDecoder` (the relay's reader of framed and unframed senders,
//! `docs/PROTOCOL.md` section 2, Unframed senders) never panics, whatever
//! the bytes, pauses and chunking, and holds the frame decoder as its
//! reference:
//!
//! - any stream: the chunking never changes what it yields; every frame is
//!   at most `MAX_FRAME` bytes, ends with LF and holds a base64url token;
//!   and unless the connection turned out unframed, it yields exactly what
//!   `FrameDecoder` yields (a framed sender is never reinterpreted);
//! - tokens in shape, made from the input: sent back to back with no line
//!   feed (and a pause at the end), they yield exactly the frames the frame
//!   decoder yields for the same tokens each with an LF; sent with LFs,
//!   exactly those frames too. Inputs where a token holds the next
//!   token's head `gAAAAA` where a shorter token could end (the documented
//!   1 in 2^36 ambiguity) are skipped.
//!
//! Input: one byte that picks the chunk sizes, one that picks the mode
//! (even: any stream, the rest of the input; odd: tokens, made from records
//! of 9 bytes, 8 at most: block count, 4 timestamp bytes, 4 bytes seeding
//! the rest).

#![no_main]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use fernchat_core::frame::{Framing, MAX_FRAME, SenderDecoder, TOKEN_HEAD, is_unpadded_token_len};
use fernchat_fuzz::{Item, push_found, reference_frames};
use libfuzzer_sys::fuzz_target;

/// Largest chunk, by the first byte: byte at a time, small, around the
/// frame limit, whole stream.
const CHUNK_LIMITS: [usize; 8] = [1, 2, 3, 7, 64, 4095, 4097, usize::MAX];
/// Most blocks of ciphertext a token can have in a frame.
const MAX_BLOCKS: usize = 188;
/// Tokens made from one input at most, so that runs stay fast.
const MAX_TOKENS: usize = 8;

fuzz_target!(|data: &[u8]| {
    let [choice, mode, rest @ ..] = data else {
        return;
    };
    let limit = CHUNK_LIMITS[usize::from(*choice) % CHUNK_LIMITS.len()];
    let mut state = u32::from(*choice);
    let mut chunks = move || {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        1 + (state >> 8) as usize % limit.min(1 << 20)
    };
    if mode % 2 == 0 {
        let (whole, framing) = decode(rest, || usize::MAX, |_| false);
        let (chunked, _) = decode(rest, &mut chunks, |_| false);
        assert_eq!(whole, chunked, "the chunking changed the items");
        if framing != Framing::Unframed {
            assert_eq!(
                whole,
                reference_frames(rest),
                "a framed sender was reinterpreted"
            );
        }
        // Pauses anywhere: no panic, frames still well formed.
        let mut flip = u32::from(*mode);
        let _ = decode(rest, &mut chunks, |_| {
            flip = flip.rotate_left(3) ^ 0x9e37_79b9;
            flip & 1 == 1
        });
        return;
    }
    let Some(tokens) = tokens(rest) else {
        return;
    };
    let framed: Vec<u8> = tokens
        .iter()
        .flat_map(|t| [&t[..], b"\n"].concat())
        .collect();
    let expected = reference_frames(&framed);
    let unframed = tokens.concat();
    let (got, _) = decode(&unframed, &mut chunks, |_| false);
    assert_eq!(
        got, expected,
        "unframed tokens split other than framed ones"
    );
    let (got, framing) = decode(&framed, &mut chunks, |_| false);
    assert_eq!(
        got, expected,
        "framed tokens read other than by the frame decoder"
    );
    assert_ne!(framing, Framing::Unframed);
});

/// Tokens in shape from records of the input; `None` when one holds the
/// token head where a shorter token could end.
fn tokens(data: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut tokens = Vec::new();
    for record in data.chunks_exact(9).take(MAX_TOKENS) {
        let blocks = 1 + usize::from(record[0]) % MAX_BLOCKS;
        let mut bytes = vec![0x80, 0, 0, 0, 0];
        bytes.extend_from_slice(&record[1..5]);
        let mut seed = u32::from_le_bytes([record[5], record[6], record[7], record[8]]) | 1;
        for _ in 0..16 + 16 * blocks + 32 {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            bytes.push(seed as u8);
        }
        let token = URL_SAFE.encode(&bytes).into_bytes();
        let ambiguous = (1..token.len())
            .any(|end| is_unpadded_token_len(end) && token[end..].starts_with(TOKEN_HEAD));
        if ambiguous {
            return None;
        }
        tokens.push(token);
    }
    Some(tokens)
}

/// Decodes `stream` in chunks of the sizes `next_chunk` gives, pausing
/// after a chunk when `pause_after` says so and always at the end; checks
/// each call's own contract.
fn decode(
    stream: &[u8],
    mut next_chunk: impl FnMut() -> usize,
    mut pause_after: impl FnMut(usize) -> bool,
) -> (Vec<Item>, Framing) {
    let mut decoder = SenderDecoder::new();
    let mut items = Vec::new();
    let mut offset = 0;
    // Steps in a row that consumed nothing.
    let mut stalled = 0;
    let mut take = |decoder: &mut SenderDecoder, mut chunk: &[u8]| loop {
        let step = decoder.decode(chunk);
        let consumed = step.consumed;
        assert!(consumed <= chunk.len(), "consumed {consumed}");
        stalled = if consumed == 0 && step.found.is_some() {
            stalled + 1
        } else {
            0
        };
        assert!(stalled <= 2, "no progress");
        match step.found {
            None => {
                assert_eq!(consumed, chunk.len(), "None before the chunk ran out");
                break;
            }
            Some(found) => push_found(&mut items, found),
        }
        assert!(decoder.pending() < MAX_FRAME);
        chunk = &chunk[consumed..];
    };
    while offset < stream.len() {
        let end = offset.saturating_add(next_chunk()).min(stream.len());
        take(&mut decoder, &stream[offset..end]);
        offset = end;
        if pause_after(offset) && decoder.pause() {
            take(&mut decoder, &[]);
        }
    }
    if decoder.pause() {
        take(&mut decoder, &[]);
    }
    (items, decoder.framing())
}
