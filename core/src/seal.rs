//! Outbound frames: a payload encrypted under a key set's first key, with its
//! line feed, and a fresh IV for every token; whole into a buffer
//! ([`seal_frame`]) or as a stream ([`FrameStream`]) into whatever room a
//! socket has.

use crate::fernet::{BufferTooSmall, KeySet, TokenStream};
use crate::frame::MAX_PLAINTEXT;
use crate::message::Payload;
use rand_core::CryptoRng;

/// Why a payload could not be sealed into a frame: both are the caller's
/// to avoid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SealError {
    /// The payload is longer than one frame carries.
    TooLong {
        /// The payload's length in bytes.
        len: usize,
    },
    /// The output buffer cannot hold the frame.
    Buffer(BufferTooSmall),
}

impl core::fmt::Display for SealError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SealError::TooLong { len } => write!(
                f,
                "{len} bytes is too long: a frame carries {MAX_PLAINTEXT} bytes of nick and text"
            ),
            SealError::Buffer(e) => e.fmt(f),
        }
    }
}

impl core::error::Error for SealError {}

/// One frame (token and LF) made piece by piece, for a sender with no room
/// for the whole frame: each [`FrameStream::fill`] writes its next bytes.
/// It borrows the key and the payload's bytes; its own state is about 300
/// bytes.
#[derive(Clone, Debug)]
pub struct FrameStream<'a> {
    token: TokenStream<'a>,
    pieces: [&'a [u8]; 4],
    /// Bytes of the frame written so far.
    written: usize,
}

impl<'a> FrameStream<'a> {
    /// The stream of `payload`'s frame under the encrypting key of `keys` at
    /// Unix time `now`, with an IV drawn from `rng`.
    pub fn new<const K: usize>(
        keys: &'a KeySet<K>,
        payload: &Payload<'a>,
        now: u64,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<Self, SealError> {
        let len = payload.encoded_len();
        if len > MAX_PLAINTEXT {
            return Err(SealError::TooLong { len });
        }
        Ok(FrameStream {
            token: TokenStream::new(keys.encrypting_key(), len, now, rng),
            pieces: payload.pieces(),
            written: 0,
        })
    }

    /// The frame's whole length, line feed included.
    pub fn frame_len(&self) -> usize {
        self.token.token_len() + 1
    }

    /// Bytes of the frame not yet written.
    pub fn remaining(&self) -> usize {
        self.frame_len() - self.written
    }

    /// True once the whole frame has been written.
    pub fn is_done(&self) -> bool {
        self.remaining() == 0
    }

    /// Writes the frame's next bytes into `out`, as many as fit and are
    /// left; gives how many. Never panics.
    pub fn fill(&mut self, out: &mut [u8]) -> usize {
        let mut n = self.token.fill(&self.pieces, out);
        self.written += n;
        if self.token.is_done()
            && self.remaining() == 1
            && let Some(line_feed) = out.get_mut(n)
        {
            *line_feed = b'\n';
            self.written += 1;
            n += 1;
        }
        n
    }
}

/// Encrypts `payload` with the encrypting key of `keys` at Unix time `now`,
/// under an IV drawn from `rng`, and writes the frame (token and LF) into
/// `out`, which should hold [`crate::frame::MAX_FRAME`] bytes. The
/// plaintext is never copied: the frame is streamed into `out`. Never
/// panics.
pub fn seal_frame<'o, const K: usize>(
    keys: &KeySet<K>,
    payload: &Payload<'_>,
    now: u64,
    rng: &mut (impl CryptoRng + ?Sized),
    out: &'o mut [u8],
) -> Result<&'o [u8], SealError> {
    let mut stream = FrameStream::new(keys, payload, now, rng)?;
    let needed = stream.frame_len();
    let out = out
        .get_mut(..needed)
        .ok_or(SealError::Buffer(BufferTooSmall { needed }))?;
    let written = stream.fill(out);
    debug_assert_eq!(written, needed);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fernet::Key;
    use crate::fernet::hazmat::encrypt_with_iv;
    use crate::frame::MAX_FRAME;
    use crate::message::{Body, Nick};
    use rand_chacha::ChaCha8Rng;
    use rand_core::{RngCore, SeedableRng};

    extern crate std;
    use std::vec::Vec;

    #[test]
    fn test_stream_gives_the_token_of_the_same_iv_and_a_line_feed() {
        let keys = KeySet::<2>::single(Key::from_bytes([6; 32]));
        let text = [b'x'; 3003];
        let ann = Nick::new("ann").unwrap();
        for len in [0, 1, 12, 13, 100, 2000, 3003] {
            let payload = Payload {
                nick: Some(ann),
                body: Body::Text(&text[..len]),
            };
            let mut plaintext = [0u8; MAX_PLAINTEXT];
            let plaintext = payload.encode(&mut plaintext).unwrap();
            // The IV the stream draws: the RNG's first 16 bytes.
            let mut iv = [0u8; 16];
            ChaCha8Rng::seed_from_u64(len as u64).fill_bytes(&mut iv);
            let mut expected = [0u8; MAX_FRAME];
            let token = encrypt_with_iv(keys.encrypting_key(), plaintext, 99, iv, &mut expected)
                .unwrap()
                .len();
            expected[token] = b'\n';
            let expected = &expected[..token + 1];
            for chunk in [1, 4, 33, MAX_FRAME] {
                let mut rng = ChaCha8Rng::seed_from_u64(len as u64);
                let mut stream = FrameStream::new(&keys, &payload, 99, &mut rng).unwrap();
                assert_eq!(stream.frame_len(), expected.len());
                let mut frame = Vec::new();
                let mut out = [0u8; MAX_FRAME];
                while !stream.is_done() {
                    let n = stream.fill(&mut out[..chunk]);
                    assert!(n > 0);
                    frame.extend_from_slice(&out[..n]);
                }
                assert_eq!(frame, expected, "{len} in chunks of {chunk}");
                let mut rng = ChaCha8Rng::seed_from_u64(len as u64);
                let sealed = seal_frame(&keys, &payload, 99, &mut rng, &mut out).unwrap();
                assert_eq!(sealed, expected);
            }
        }
    }

    #[test]
    fn test_refusals() {
        let keys = KeySet::<1>::single(Key::from_bytes([6; 32]));
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let text = [b'x'; 3007];
        let payload = Payload {
            nick: Some(Nick::new("ann").unwrap()),
            body: Body::Text(&text[..3004]),
        };
        assert_eq!(
            FrameStream::new(&keys, &payload, 1, &mut rng).unwrap_err(),
            SealError::TooLong { len: 3008 }
        );
        let payload = Payload {
            nick: None,
            body: Body::Text(b"hi"),
        };
        assert_eq!(
            seal_frame(&keys, &payload, 1, &mut rng, &mut [0u8; 100]),
            Err(SealError::Buffer(BufferTooSmall { needed: 101 }))
        );
    }
}
