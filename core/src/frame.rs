//! Frames (`docs/PROTOCOL.md` section 2): one token and a line feed, at
//! most 4096 bytes, and the limits that puts on tokens and plaintexts.
//!
//! [`FrameDecoder`] keeps exactly one 4096-byte buffer per connection and is
//! fed arbitrary chunks of the byte stream.

mod unframed;

pub use unframed::{Framing, SenderDecoder, TOKEN_HEAD, is_unpadded_token_len};

use crate::fernet::{BLOCK_LEN, HEADER_LEN, TAG_LEN, decode_buf_len, token_len};

/// The most bytes a frame takes, line feed included.
pub const MAX_FRAME: usize = 4096;
/// The longest token text that fits in a frame (a frame ends with LF, and
/// padded base64 comes in groups of 4 characters).
pub const MAX_TOKEN_CHARS: usize = (MAX_FRAME - 1) / 4 * 4;
/// Bytes a buffer must hold to decode any token that fits in a frame.
pub const DECODE_BUF_LEN: usize = decode_buf_len(MAX_TOKEN_CHARS);
/// The longest ciphertext that fits in a frame.
pub const MAX_CIPHERTEXT: usize = (DECODE_BUF_LEN - HEADER_LEN - TAG_LEN) / BLOCK_LEN * BLOCK_LEN;
/// The longest plaintext that fits in one frame (PKCS#7 always adds a byte).
pub const MAX_PLAINTEXT: usize = MAX_CIPHERTEXT - 1;

/// Bytes of the frame (token and line feed) for a plaintext of
/// `plaintext_len` bytes.
pub const fn frame_len(plaintext_len: usize) -> usize {
    token_len(plaintext_len) + 1
}

/// The token in a frame as the relay forwards it: `raw` less its line
/// ending (LF, or CR LF), for carriers whose messages are bare tokens
/// (WebSocket, NATS, history).
pub fn token_of(raw: &[u8]) -> &[u8] {
    let line = raw.strip_suffix(b"\n").unwrap_or(raw);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Whether `message`, a carrier's message that must hold exactly one
/// token (`docs/PROTOCOL.md` section 2, One token a message), can be one:
/// with its line feed it fits a frame, and every byte is base64url (so no
/// line feed or carriage return hides inside). The token's shape is
/// section 3's to check.
pub fn check_message(message: &[u8]) -> Result<(), FrameError> {
    if message.len() >= MAX_FRAME {
        return Err(FrameError::FrameTooLong);
    }
    if !message.iter().all(|&b| is_base64url(b)) {
        return Err(FrameError::InvalidFrame);
    }
    Ok(())
}

/// Why a line was not a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// The line passed [`MAX_FRAME`] bytes; it is dropped up to its line feed.
    FrameTooLong,
    /// The line holds a byte outside the base64url alphabet.
    InvalidFrame,
}

impl core::fmt::Display for FrameError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            FrameError::FrameTooLong => "frame longer than 4096 bytes",
            FrameError::InvalidFrame => "frame holds a byte outside base64url",
        })
    }
}

impl core::error::Error for FrameError {}

/// A whole frame, borrowed from the decoder's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The bytes as received, line feed (and any carriage return) included.
    pub raw: &'a [u8],
    /// The token text: `raw` less its line ending.
    pub token: &'a [u8],
}

/// What one [`FrameDecoder::decode`] step found.
#[must_use = "`consumed` says how far the input was used"]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decoded<'a> {
    /// Bytes taken from the front of the input.
    pub consumed: usize,
    /// The frame or error that ended the step; `None` when the input ran
    /// out first (all of it was then consumed).
    pub found: Option<Result<Frame<'a>, FrameError>>,
}

/// Splits a byte stream into frames, with one fixed buffer.
#[derive(Clone, Debug, Default)]
pub struct FrameDecoder {
    line: heapless::Vec<u8, MAX_FRAME>,
    /// Dropping the rest of a line that was too long.
    discarding: bool,
    /// `line` holds a frame handed out by the last call; cleared on the next.
    delivered: bool,
    /// `line` holds the line the last call found invalid; cleared on the next.
    rejected: bool,
}

impl FrameDecoder {
    /// An empty decoder.
    pub const fn new() -> FrameDecoder {
        FrameDecoder {
            line: heapless::Vec::new(),
            discarding: false,
            delivered: false,
            rejected: false,
        }
    }

    /// Empties the decoder, as [`FrameDecoder::new`] makes it, without
    /// building a new one (4 KiB) on the stack.
    pub fn reset(&mut self) {
        self.line.clear();
        self.discarding = false;
        self.delivered = false;
        self.rejected = false;
    }

    /// Consumes bytes from the front of `input` up to the end of the next
    /// frame or error, and says how many it consumed and what it found.
    ///
    /// Empty lines (keep-alives) are skipped. A too-long line is reported
    /// once, as soon as it passes the limit, and dropped up to its line feed.
    /// Never panics, whatever the input.
    pub fn decode(&mut self, input: &[u8]) -> Decoded<'_> {
        if self.delivered || self.rejected {
            self.line.clear();
            self.delivered = false;
            self.rejected = false;
        }
        let mut consumed = 0;
        while consumed < input.len() {
            let rest = &input[consumed..];
            let newline = rest.iter().position(|&b| b == b'\n');
            let piece = &rest[..newline.unwrap_or(rest.len())];
            consumed += piece.len() + usize::from(newline.is_some());
            if self.discarding {
                if newline.is_some() {
                    self.discarding = false;
                }
                continue;
            }
            if self.line.extend_from_slice(piece).is_err() || self.line.len() >= MAX_FRAME {
                // Even with its line feed still to come the line cannot fit.
                self.line.clear();
                self.discarding = newline.is_none();
                return Decoded {
                    consumed,
                    found: Some(Err(FrameError::FrameTooLong)),
                };
            }
            if newline.is_none() {
                break;
            }
            if let Some(token_len) = self.finish_line() {
                let frame = token_len.map(|token_len| Frame {
                    raw: &self.line,
                    token: &self.line[..token_len],
                });
                return Decoded {
                    consumed,
                    found: Some(frame),
                };
            }
        }
        Decoded {
            consumed,
            found: None,
        }
    }

    /// Takes one message that carries exactly one token and nothing else (a
    /// WebSocket message, a NATS payload, a history entry), as
    /// [`FrameDecoder::decode`] takes a line: the token and a line feed
    /// when it is one, an error for anything else, `None` for an empty
    /// message (a keep-alive). The message is one item whatever it holds: a
    /// line feed or a carriage return inside it is a byte outside base64url
    /// and makes all of it invalid, so one message can never become two
    /// frames. What an earlier call left unfinished is dropped. Never
    /// panics, whatever the input.
    pub fn decode_message(&mut self, message: &[u8]) -> Option<Result<Frame<'_>, FrameError>> {
        self.reset();
        if message.is_empty() {
            return None;
        }
        let checked = check_message(message);
        if checked == Err(FrameError::FrameTooLong) {
            return Some(Err(FrameError::FrameTooLong));
        }
        // Fits, line feed and all: the check says it is short enough.
        let _ = self.line.extend_from_slice(message);
        if let Err(e) = checked {
            // Kept for `last_rejected`, as a rejected line is.
            self.rejected = true;
            return Some(Err(e));
        }
        let _ = self.line.push(b'\n');
        self.delivered = true;
        Some(Ok(Frame {
            raw: &self.line,
            token: &self.line[..message.len()],
        }))
    }

    /// The frame the last call handed out (raw bytes, line feed included),
    /// which stays in the buffer until the next call; `None` if that call
    /// found no frame.
    pub fn last_frame(&self) -> Option<&[u8]> {
        self.delivered.then_some(&self.line[..])
    }

    /// The token of the frame the last call handed out, to change in place
    /// (a client decrypts it where it lies: see
    /// [`crate::fernet::KeySet::decrypt_in_place`]);
    /// [`FrameDecoder::last_frame`] then gives the changed bytes. `None` if
    /// that call found no frame.
    pub fn last_token_mut(&mut self) -> Option<&mut [u8]> {
        if !self.delivered {
            return None;
        }
        // A delivered line ends in LF, perhaps after a CR.
        let line = self.line.strip_suffix(b"\n").unwrap_or(&self.line);
        let token_len = line.strip_suffix(b"\r").unwrap_or(line).len();
        self.line.get_mut(..token_len)
    }

    /// The line the last call found invalid ([`FrameError::InvalidFrame`]),
    /// without its line ending, which stays in the buffer until the next
    /// call: a client reads relay notices (`!full`) from it.
    pub fn last_rejected(&self) -> Option<&[u8]> {
        let line = self.line.strip_suffix(b"\r").unwrap_or(&self.line);
        self.rejected.then_some(line)
    }

    /// Bytes held for an unfinished frame.
    pub fn pending(&self) -> usize {
        if self.delivered || self.rejected {
            0
        } else {
            self.line.len()
        }
    }

    /// Closes the line held in the buffer, giving its token's length; `None`
    /// for an empty line.
    fn finish_line(&mut self) -> Option<Result<usize, FrameError>> {
        let token_len = match self.line.last() {
            Some(b'\r') => self.line.len() - 1,
            _ => self.line.len(),
        };
        if token_len == 0 {
            self.line.clear();
            return None;
        }
        let valid = self.line[..token_len].iter().all(|&b| is_base64url(b));
        // The length check in `decode` leaves room for this line feed.
        if !valid || self.line.push(b'\n').is_err() {
            self.rejected = true;
            return Some(Err(FrameError::InvalidFrame));
        }
        self.delivered = true;
        Some(Ok(token_len))
    }
}

/// True for the bytes of padded base64url: `A-Z a-z 0-9 - _ =`.
pub fn is_base64url(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'=')
}

#[cfg(test)]
mod tests {
    use super::*;

    extern crate std;
    use std::vec::Vec;

    /// Every frame token or error found in `stream`, fed in `chunk`-byte pieces.
    fn decode_all(stream: &[u8], chunk: usize) -> Vec<Result<Vec<u8>, FrameError>> {
        let mut decoder = FrameDecoder::new();
        let mut found = Vec::new();
        for piece in stream.chunks(chunk) {
            let mut rest = piece;
            while !rest.is_empty() {
                let step = decoder.decode(rest);
                rest = &rest[step.consumed..];
                if let Some(item) = step.found {
                    found.push(item.map(|f| f.token.to_vec()));
                }
            }
        }
        found
    }

    #[test]
    fn test_parse_frames_and_keepalives() {
        let found = decode_all(b"abc\n\n\r\nde=\r\nf-_\n", 64);
        assert_eq!(
            found,
            [
                Ok(b"abc".to_vec()),
                Ok(b"de=".to_vec()),
                Ok(b"f-_".to_vec())
            ]
        );
    }

    #[test]
    fn test_raw_keeps_line_ending() {
        let mut decoder = FrameDecoder::new();
        let step = decoder.decode(b"xy\r\nzz\n");
        assert_eq!(step.consumed, 4);
        let frame = step.found.unwrap().unwrap();
        assert_eq!(frame.raw, b"xy\r\n");
        assert_eq!(frame.token, b"xy");
    }

    #[test]
    fn test_bad_alphabet_rejected() {
        let found = decode_all(b"ab+c\nok\n", 3);
        assert_eq!(found, [Err(FrameError::InvalidFrame), Ok(b"ok".to_vec())]);
        // A lone CR in the middle is not base64url either.
        assert_eq!(decode_all(b"a\rb\n", 10), [Err(FrameError::InvalidFrame)]);
    }

    #[test]
    fn test_longest_frame_accepted() {
        let mut stream = [b'A'; MAX_FRAME];
        stream[MAX_FRAME - 1] = b'\n';
        let found = decode_all(&stream, 1000);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].as_ref().unwrap().len(), MAX_FRAME - 1);
    }

    #[test]
    fn test_too_long_rejected_then_resync() {
        let mut stream = Vec::new();
        stream.extend_from_slice(&[b'A'; MAX_FRAME]);
        stream.extend_from_slice(b"BBBB\nnext\n");
        for chunk in [1, 7, 4096, 10_000] {
            let found = decode_all(&stream, chunk);
            assert_eq!(
                found,
                [Err(FrameError::FrameTooLong), Ok(b"next".to_vec())],
                "chunk {chunk}"
            );
        }
        // 4095 bytes and a CR make 4097 with the LF: too long as well.
        let mut crlf = Vec::new();
        crlf.extend_from_slice(&[b'A'; MAX_FRAME - 1]);
        crlf.extend_from_slice(b"\r\nok\n");
        assert_eq!(
            decode_all(&crlf, 100),
            [Err(FrameError::FrameTooLong), Ok(b"ok".to_vec())]
        );
    }

    #[test]
    fn test_max_plaintext_pinned() {
        assert_eq!(MAX_TOKEN_CHARS, 4092);
        assert_eq!(DECODE_BUF_LEN, 3069);
        assert_eq!(MAX_CIPHERTEXT, 3008);
        assert_eq!(MAX_PLAINTEXT, 3007);
        assert_eq!(token_len(MAX_PLAINTEXT), 4088);
        assert_eq!(frame_len(MAX_PLAINTEXT), 4089);
        // One byte more needs another block, and that no longer fits a frame.
        assert!(frame_len(MAX_PLAINTEXT + 1) > MAX_FRAME);
    }

    #[test]
    fn test_pending() {
        let mut decoder = FrameDecoder::new();
        assert_eq!(decoder.decode(b"abc").consumed, 3);
        assert_eq!(decoder.pending(), 3);
        assert_eq!(decoder.last_frame(), None);
        let _ = decoder.decode(b"\n");
        assert_eq!(decoder.pending(), 0);
        assert_eq!(decoder.last_frame(), Some(&b"abc\n"[..]));
        let _ = decoder.decode(b"x");
        assert_eq!(decoder.last_frame(), None);
    }

    #[test]
    fn test_a_message_is_one_token_or_nothing() {
        let mut decoder = FrameDecoder::new();
        let _ = decoder.decode(b"half a line");
        assert_eq!(token_of(b"abc\r\n"), b"abc");
        assert_eq!(token_of(b"abc\n"), b"abc");
        let frame = decoder.decode_message(b"abc").unwrap().unwrap();
        assert_eq!((frame.raw, frame.token), (&b"abc\n"[..], &b"abc"[..]));
        assert_eq!(decoder.last_frame(), Some(&b"abc\n"[..]));
        assert_eq!(decoder.decode_message(b""), None);
        // A line feed or carriage return inside: the whole message is invalid,
        // never a frame behind it.
        for smuggled in [&b"AAAA\nabc"[..], b"abc\n", b"abc\r", b"\n"] {
            assert_eq!(
                decoder.decode_message(smuggled),
                Some(Err(FrameError::InvalidFrame)),
                "{smuggled:?}"
            );
            assert_eq!(decoder.last_frame(), None);
            assert_eq!(decoder.pending(), 0);
        }
        let longest = [b'A'; MAX_FRAME - 1];
        assert!(matches!(decoder.decode_message(&longest), Some(Ok(_))));
        assert_eq!(
            decoder.decode_message(&[b'A'; MAX_FRAME]),
            Some(Err(FrameError::FrameTooLong))
        );
        assert_eq!(decoder.pending(), 0);
    }
}
