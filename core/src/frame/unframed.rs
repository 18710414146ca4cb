//! What a relay reads from one client (`docs/PROTOCOL.md` section 2,
//! Unframed senders): frames, or tokens sent back to back with no line
//! feed, as the original Python chat does (one `send()` per token).
//!
//! [`SenderDecoder`] decides once per connection. Until it knows, it reads
//! exactly as a [`FrameDecoder`] would; the first line ending (or anything
//! that cannot start a token) makes the connection framed for good, and it
//! is then a plain [`FrameDecoder`]: a framed sender's bytes are never
//! reinterpreted. Only a connection whose first bytes are a whole token
//! followed by the next token's head, or by a pause, is unframed. Its
//! tokens are then split by their own shape, never by a guess inside one:
//!
//! - a token ends at its `=` padding, at a line ending, or at a byte
//!   outside base64url;
//! - an unpadded token (a ciphertext of 3n blocks) ends where a token can
//!   end (57 + 16k bytes) and the next token's head, [`TOKEN_HEAD`],
//!   follows;
//! - the last unpadded token of a burst ends when the sender pauses
//!   ([`SenderDecoder::pause`], which the relay calls when no byte came
//!   for a while).
//!
//! Each token is handed out as a normal frame: the token and a line feed.
//! It uses the [`FrameDecoder`]'s one buffer and nothing more.

use super::{Decoded, Frame, FrameDecoder, FrameError, MAX_TOKEN_CHARS, is_base64url};
use crate::fernet::{HEADER_LEN, MIN_TOKEN_BYTES, TAG_LEN, check_shape};

/// How every token made before the year 4147 starts: the version byte
/// `0x80` and the timestamp's zero high 28 bits.
pub const TOKEN_HEAD: &[u8; 6] = b"gAAAAA";

/// How the connection frames its tokens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Framing {
    /// Not known yet: read as frames until a whole token shows otherwise.
    #[default]
    Unknown,
    /// Tokens and line feeds (`docs/PROTOCOL.md` section 2).
    Lines,
    /// Tokens back to back, split by their shape.
    Unframed,
}

/// Decodes one client's stream for a relay: frames, or unframed tokens.
#[derive(Clone, Debug, Default)]
pub struct SenderDecoder {
    /// The frame decoder, whose buffer also holds an unframed token.
    lines: FrameDecoder,
    framing: Framing,
    /// Unframed: dropping bytes after an error; how much of [`TOKEN_HEAD`]
    /// the last bytes dropped match.
    resync: Option<u8>,
    /// The last token handed out was ended by the next one's head, whose
    /// six bytes were consumed with it.
    head_read: bool,
    /// The sender paused with a whole token in the buffer: the next
    /// [`SenderDecoder::decode`] hands it out.
    paused: bool,
    /// The buffer was already judged at a pause, and no byte came since:
    /// a relay may ask at every poll, the buffer is checked once.
    pause_judged: bool,
}

/// What one byte does to an unframed (or not yet framed) token.
enum Step {
    /// The byte was taken.
    Took,
    /// The connection is framed: the byte and the rest go to the frame decoder.
    Lines,
    /// The token in the buffer is whole; `took` bytes of the input were
    /// part of it (0 or 1).
    Token { took: usize },
    /// The token in the buffer is whole, ended by the next token's head,
    /// the last byte of which was just taken.
    TokenBeforeHead,
    /// The bytes are not a token: drop them up to the next line ending or
    /// token head.
    Error(FrameError),
}

impl SenderDecoder {
    /// A decoder for a new connection.
    pub const fn new() -> SenderDecoder {
        SenderDecoder {
            lines: FrameDecoder::new(),
            framing: Framing::Unknown,
            resync: None,
            head_read: false,
            paused: false,
            pause_judged: false,
        }
    }

    /// How the connection frames its tokens, as far as it is known.
    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// Consumes bytes from the front of `input` up to the end of the next
    /// frame (or unframed token) or error, as [`FrameDecoder::decode`].
    /// An unframed token is handed out as a frame: `raw` is the token and a
    /// line feed. A step may consume nothing when it hands out a token or
    /// an error that earlier bytes already decided, at most two such steps
    /// in a row. Never panics, whatever the input.
    pub fn decode(&mut self, input: &[u8]) -> Decoded<'_> {
        if self.framing == Framing::Lines {
            return self.lines.decode(input);
        }
        if self.lines.delivered {
            self.lines.line.clear();
            self.lines.delivered = false;
            if self.head_read {
                self.head_read = false;
                // Fits: the buffer was just emptied.
                let _ = self.lines.line.extend_from_slice(TOKEN_HEAD);
            }
        }
        if self.paused {
            self.paused = false;
            return self.hand_out(0);
        }
        let mut consumed = 0;
        while let Some(&byte) = input.get(consumed) {
            match self.step(byte) {
                Step::Took => consumed += 1,
                Step::Lines => {
                    self.framing = Framing::Lines;
                    let rest = self.lines.decode(&input[consumed..]);
                    return Decoded {
                        consumed: consumed + rest.consumed,
                        found: rest.found,
                    };
                }
                Step::Token { took } => return self.hand_out(consumed + took),
                Step::TokenBeforeHead => {
                    let len = self.lines.line.len().saturating_sub(TOKEN_HEAD.len());
                    self.lines.line.truncate(len);
                    self.head_read = true;
                    return self.hand_out(consumed + 1);
                }
                Step::Error(error) => {
                    self.lines.line.clear();
                    self.resync = Some(0);
                    return Decoded {
                        consumed,
                        found: Some(Err(error)),
                    };
                }
            }
        }
        Decoded {
            consumed,
            found: None,
        }
    }

    /// Takes one message that carries exactly one token (a WebSocket
    /// message, a NATS payload), as [`FrameDecoder::decode_message`]: the
    /// connection's messages are its frames, so it counts as framed from
    /// now on and its bytes are never split by shape.
    pub fn decode_message(&mut self, message: &[u8]) -> Option<Result<Frame<'_>, FrameError>> {
        self.framing = Framing::Lines;
        self.resync = None;
        self.head_read = false;
        self.paused = false;
        self.lines.decode_message(message)
    }

    /// The sender has sent nothing for a while (the relay's pause, see
    /// `docs/PROTOCOL.md` section 2): true when that ends a token, which
    /// the next [`SenderDecoder::decode`] hands out (even with no input).
    /// Only a buffer holding a whole token in shape counts; a framed
    /// connection is never affected.
    pub fn pause(&mut self) -> bool {
        if self.pause_judged {
            return false;
        }
        self.pause_judged = true;
        let waiting = self.framing != Framing::Lines
            && !self.lines.delivered
            && self.resync.is_none()
            && !self.lines.line.is_empty()
            && check_shape(&self.lines.line).is_ok();
        if waiting {
            self.framing = Framing::Unframed;
            self.paused = true;
        }
        waiting
    }

    /// True when a [`SenderDecoder::pause`] now could end a token: bytes
    /// of an unframed (or not yet known) sender wait, and no pause has
    /// judged them since they came. A relay schedules its pause by it.
    pub fn pause_pending(&self) -> bool {
        !self.pause_judged
            && self.framing != Framing::Lines
            && !self.lines.delivered
            && self.resync.is_none()
            && !self.lines.line.is_empty()
    }

    /// The frame the last call handed out, as [`FrameDecoder::last_frame`].
    pub fn last_frame(&self) -> Option<&[u8]> {
        self.lines.last_frame()
    }

    /// Bytes held for an unfinished frame or token.
    pub fn pending(&self) -> usize {
        self.lines.pending()
    }

    /// Hands out the token in the buffer as a frame, `consumed` bytes of
    /// the input used.
    fn hand_out(&mut self, consumed: usize) -> Decoded<'_> {
        // A token holds at most MAX_TOKEN_CHARS < MAX_FRAME bytes, so the
        // line feed fits.
        if self.lines.line.push(b'\n').is_err() {
            self.lines.line.clear();
            return Decoded {
                consumed,
                found: Some(Err(FrameError::FrameTooLong)),
            };
        }
        self.lines.delivered = true;
        let line = &self.lines.line;
        Decoded {
            consumed,
            found: Some(Ok(Frame {
                raw: line,
                token: &line[..line.len() - 1],
            })),
        }
    }

    /// What `byte` does to the token in the buffer.
    fn step(&mut self, byte: u8) -> Step {
        self.pause_judged = false;
        if let Some(matched) = self.resync {
            self.resync = resync(matched, byte);
            if self.resync.is_none() && byte != b'\n' && byte != b'\r' {
                let _ = self.lines.line.extend_from_slice(TOKEN_HEAD);
            }
            return Step::Took;
        }
        let unknown = self.framing == Framing::Unknown;
        let line = &self.lines.line;
        let padded = line.last() == Some(&b'=');
        let group_done = line.len().is_multiple_of(4);
        if unknown && padded && group_done {
            // A whole padded token: framed if a line ending follows, unframed
            // if the next token starts.
            return if byte == TOKEN_HEAD[0] && check_shape(line).is_ok() {
                self.framing = Framing::Unframed;
                Step::Token { took: 0 }
            } else {
                Step::Lines
            };
        }
        let ends_token = !is_base64url(byte) || (padded && byte != b'=');
        if unknown && ends_token {
            return Step::Lines;
        }
        if byte == b'\n' || byte == b'\r' {
            return if line.is_empty() {
                Step::Took
            } else {
                Step::Token { took: 1 }
            };
        }
        if ends_token {
            // The token ends before this byte, which the next call reads.
            return if line.is_empty() {
                Step::Error(FrameError::InvalidFrame)
            } else {
                Step::Token { took: 0 }
            };
        }
        if line.len() < TOKEN_HEAD.len() && byte != TOKEN_HEAD[line.len()] {
            return if unknown {
                Step::Lines
            } else {
                Step::Error(FrameError::InvalidFrame)
            };
        }
        if line.len() >= MAX_TOKEN_CHARS {
            return if unknown {
                Step::Lines
            } else {
                Step::Error(FrameError::FrameTooLong)
            };
        }
        // Fits: the buffer is longer than MAX_TOKEN_CHARS.
        let _ = self.lines.line.push(byte);
        let line = &self.lines.line;
        if byte == b'=' {
            return if line.len().is_multiple_of(4) && !unknown {
                Step::Token { took: 1 }
            } else {
                Step::Took
            };
        }
        if Some(&byte) != TOKEN_HEAD.last() {
            // Only the next token's whole head ends an unpadded token.
            return Step::Took;
        }
        let Some(token) = line
            .strip_suffix(TOKEN_HEAD)
            .filter(|token| is_unpadded_token_len(token.len()))
        else {
            return Step::Took;
        };
        if !unknown || check_shape(token).is_ok() {
            self.framing = Framing::Unframed;
            Step::TokenBeforeHead
        } else {
            Step::Took
        }
    }
}

/// After dropping `byte`, how much of [`TOKEN_HEAD`] the dropped bytes end
/// with; `None` once a line ending or a whole head ends the dropping.
fn resync(matched: u8, byte: u8) -> Option<u8> {
    if byte == b'\n' || byte == b'\r' {
        return None;
    }
    let matched = usize::from(matched);
    let next = if TOKEN_HEAD.get(matched) == Some(&byte) {
        matched + 1
    } else {
        // The head's first byte appears nowhere else in it.
        usize::from(byte == TOKEN_HEAD[0])
    };
    if next == TOKEN_HEAD.len() {
        None
    } else {
        u8::try_from(next).ok()
    }
}

/// True when a token of `chars` characters can have no padding: its
/// decoded length, `57 + 16k` bytes, is a multiple of 3, and it fits a
/// frame.
pub fn is_unpadded_token_len(chars: usize) -> bool {
    let bytes = chars / 4 * 3;
    chars.is_multiple_of(4)
        && chars <= MAX_TOKEN_CHARS
        && bytes >= MIN_TOKEN_BYTES
        && (bytes - HEADER_LEN - TAG_LEN).is_multiple_of(16)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fernet::{Key, hazmat::encrypt_with_iv};
    use crate::frame::MAX_FRAME;

    extern crate std;
    use std::vec::Vec;

    /// A token of `len` plaintext bytes, made at `now`.
    fn token(len: usize, now: u64) -> Vec<u8> {
        let key = Key::from_bytes([7; 32]);
        let mut out = [0u8; MAX_FRAME];
        let plain = std::vec![b'x'; len];
        let iv = [len as u8; 16];
        encrypt_with_iv(&key, &plain, now, iv, &mut out)
            .unwrap()
            .to_vec()
    }

    /// Every item found in `stream` fed in `chunk`-byte pieces, then a pause.
    fn split(stream: &[u8], chunk: usize) -> (Vec<Result<Vec<u8>, FrameError>>, Framing) {
        let mut decoder = SenderDecoder::new();
        let mut found = Vec::new();
        for piece in stream.chunks(chunk) {
            let mut rest = piece;
            loop {
                let step = decoder.decode(rest);
                rest = &rest[step.consumed..];
                match step.found {
                    Some(item) => found.push(item.map(|f| f.raw.to_vec())),
                    None => break,
                }
            }
        }
        if decoder.pause() {
            let step = decoder.decode(&[]);
            found.push(step.found.unwrap().map(|f| f.raw.to_vec()));
        }
        (found, decoder.framing())
    }

    fn framed(tokens: &[&[u8]]) -> Vec<Result<Vec<u8>, FrameError>> {
        tokens.iter().map(|t| Ok([*t, b"\n"].concat())).collect()
    }

    #[test]
    fn test_unpadded_lengths() {
        // 3, 6, 9... blocks: 105, 153, 201 bytes.
        assert!(is_unpadded_token_len(140));
        assert!(is_unpadded_token_len(204));
        assert!(!is_unpadded_token_len(100));
        assert!(!is_unpadded_token_len(120));
        assert!(!is_unpadded_token_len(4108));
    }

    #[test]
    fn test_back_to_back_tokens_split_by_shape() {
        // Padded (1 and 2 blocks) and unpadded (3 blocks) tokens.
        let (a, b, c, d) = (
            token(5, 1_000),
            token(20, 1_001),
            token(40, 1_002),
            token(3, 9),
        );
        let stream = [&a[..], &c, &b, &c, &d].concat();
        for chunk in [1, 2, 5, 100, 4096] {
            let (found, framing) = split(&stream, chunk);
            assert_eq!(found, framed(&[&a, &c, &b, &c, &d]), "chunk {chunk}");
            assert_eq!(framing, Framing::Unframed);
        }
        // The last token unpadded: it ends at the pause.
        let (found, _) = split(&[&a[..], &c].concat(), 7);
        assert_eq!(found, framed(&[&a, &c]));
    }

    #[test]
    fn test_framed_sender_is_never_reinterpreted() {
        let (a, c) = (token(5, 1_000), token(40, 1_002));
        let stream = [&a[..], b"\n", &c, b"\r\n", &c, b"\n"].concat();
        let (found, framing) = split(&stream, 3);
        assert_eq!(framing, Framing::Lines);
        assert_eq!(found.len(), 3);
        assert_eq!(found[1], Ok([&c[..], b"\r\n"].concat()));
        // Once framed, tokens without line feeds are one unfinished line.
        let stream = [&a[..], b"\n", &a, &a, &a].concat();
        let (found, _) = split(&stream, 50);
        assert_eq!(found, framed(&[&a]));
        // Junk first: framed, exactly as the frame decoder reads it.
        let (found, framing) = split(b"hel!o\ngAAAAA", 4);
        assert_eq!(
            (found, framing),
            (std::vec![Err(FrameError::InvalidFrame)], Framing::Lines)
        );
    }

    #[test]
    fn test_a_lone_token_waits_for_the_pause() {
        let a = token(5, 1_000);
        let mut decoder = SenderDecoder::new();
        let step = decoder.decode(&a);
        assert_eq!((step.consumed, step.found), (a.len(), None));
        assert_eq!(decoder.framing(), Framing::Unknown);
        assert!(decoder.pause());
        assert_eq!(
            decoder.decode(&[]).found,
            Some(Ok(Frame {
                raw: &[&a[..], b"\n"].concat(),
                token: &a
            }))
        );
        // Half a token does not end at a pause; an unpadded one ends at the
        // next pause once whole, judged once per quiet spell.
        let c = token(40, 1_002);
        let _ = decoder.decode(&c[..50]);
        assert!(!decoder.pause());
        assert_eq!(decoder.decode(&c[50..]).found, None);
        assert!(decoder.pause());
        assert!(!decoder.pause());
    }

    #[test]
    fn test_unframed_junk_resyncs_at_the_next_head() {
        let (a, b) = (token(5, 1_000), token(20, 1_001));
        let stream = [&a[..], &a, b"!!junk!gAAA", &b].concat();
        let (found, _) = split(&stream, 9);
        assert_eq!(
            found,
            [
                Ok([&a[..], b"\n"].concat()),
                Ok([&a[..], b"\n"].concat()),
                Err(FrameError::InvalidFrame),
                Ok([&b[..], b"\n"].concat())
            ]
        );
        // A line ending between unframed tokens is skipped.
        let stream = [&a[..], &a, b"\r\n", &b].concat();
        assert_eq!(split(&stream, 10).0, framed(&[&a, &a, &b]));
    }

    #[test]
    fn test_unframed_run_without_end_is_too_long() {
        let a = token(5, 1_000);
        let mut stream = [&a[..], &a, TOKEN_HEAD].concat();
        stream.extend_from_slice(&[b'B'; MAX_FRAME + 10]);
        stream.extend_from_slice(&a);
        let (found, framing) = split(&stream, 1000);
        assert_eq!(framing, Framing::Unframed);
        assert_eq!(found[..2], framed(&[&a, &a])[..]);
        assert_eq!(found[2], Err(FrameError::FrameTooLong));
        assert_eq!(found[3..], framed(&[&a])[..]);
    }
}
