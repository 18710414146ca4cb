//! Frames (PROTOCOL section 2): one token and a line feed, at most 4096 bytes.
//!
//! [`FrameDecoder`] keeps exactly one 4096-byte buffer per connection and is
//! fed arbitrary chunks of the byte stream.

/// The most bytes a frame takes, line feed included.
pub const MAX_FRAME: usize = 4096;

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

/// A whole frame, borrowed from the decoder's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The bytes as received, line feed (and any carriage return) included.
    pub raw: &'a [u8],
    /// The token text: `raw` less its line ending.
    pub token: &'a [u8],
}

/// Splits a byte stream into frames, with one fixed buffer.
#[derive(Clone, Debug, Default)]
pub struct FrameDecoder {
    line: heapless::Vec<u8, MAX_FRAME>,
    /// Dropping the rest of a line that was too long.
    discarding: bool,
    /// `line` holds a frame handed out by the last call; cleared on the next.
    delivered: bool,
}

impl FrameDecoder {
    /// An empty decoder.
    pub const fn new() -> FrameDecoder {
        FrameDecoder {
            line: heapless::Vec::new(),
            discarding: false,
            delivered: false,
        }
    }

    /// Consumes bytes from the front of `input` up to the end of the next
    /// frame or error; gives how many it consumed and what it found (`None`
    /// when `input` ran out first, in which case all of it was consumed).
    ///
    /// Empty lines (keep-alives) are skipped. A too-long line is reported
    /// once, as soon as it passes the limit, and dropped up to its line feed.
    /// Never panics, whatever the input.
    pub fn decode(&mut self, input: &[u8]) -> (usize, Option<Result<Frame<'_>, FrameError>>) {
        if self.delivered {
            self.line.clear();
            self.delivered = false;
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
                return (consumed, Some(Err(FrameError::FrameTooLong)));
            }
            if newline.is_none() {
                break;
            }
            if let Some(token_len) = self.finish_line() {
                let frame = token_len.map(|token_len| Frame {
                    raw: &self.line,
                    token: &self.line[..token_len],
                });
                return (consumed, Some(frame));
            }
        }
        (consumed, None)
    }

    /// Bytes held for an unfinished frame.
    pub fn pending(&self) -> usize {
        if self.delivered { 0 } else { self.line.len() }
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
            self.line.clear();
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

/// Writes `token` and a line feed into `out`, giving the frame; `None` when
/// the frame would pass [`MAX_FRAME`] or `out` is too small.
pub fn encode_frame<'o>(token: &[u8], out: &'o mut [u8]) -> Option<&'o [u8]> {
    let len = token.len() + 1;
    if len > MAX_FRAME {
        return None;
    }
    let out = out.get_mut(..len)?;
    out[..token.len()].copy_from_slice(token);
    out[token.len()] = b'\n';
    Some(out)
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
                let (n, item) = decoder.decode(rest);
                rest = &rest[n..];
                if let Some(item) = item {
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
        let (n, frame) = decoder.decode(b"xy\r\nzz\n");
        assert_eq!(n, 4);
        let frame = frame.unwrap().unwrap();
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
    fn test_encode_frame() {
        let mut out = [0u8; 8];
        assert_eq!(encode_frame(b"abc", &mut out), Some(&b"abc\n"[..]));
        assert_eq!(encode_frame(b"too long for it", &mut out), None);
        let mut big = [0u8; MAX_FRAME + 1];
        assert!(encode_frame(&[b'A'; MAX_FRAME], &mut big).is_none());
    }

    #[test]
    fn test_pending() {
        let mut decoder = FrameDecoder::new();
        assert_eq!(decoder.decode(b"abc").0, 3);
        assert_eq!(decoder.pending(), 3);
        let _ = decoder.decode(b"\n");
        assert_eq!(decoder.pending(), 0);
    }
}
