//! The payload inside a token (`docs/PROTOCOL.md` section 5): `nick LF
//! body`, with the events `/join`, `/leave`, `/me TEXT` and the `//` escape.

use crate::frame::MAX_PLAINTEXT;
use crate::render::{Shown, is_hidden};
use core::fmt;

/// The most bytes in a nick.
pub const MAX_NICK: usize = 32;
/// The nick shown for a payload that names no valid sender.
pub const UNNAMED: &str = "?";

/// Why a nick was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NickError {
    /// Empty, or longer than [`MAX_NICK`] bytes.
    BadLength,
    /// Holds whitespace, a control character or an invisible or reordering
    /// format character ([`crate::render::is_hidden`], U+200C and U+200D
    /// included).
    BadCharacter,
}

impl fmt::Display for NickError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NickError::BadLength => "a nick is 1 to 32 bytes",
            NickError::BadCharacter => {
                "a nick has no spaces, control characters or invisible characters"
            }
        })
    }
}

impl core::error::Error for NickError {}

/// A valid nick: 1 to 32 bytes of UTF-8, no whitespace, no control
/// characters, no invisible or reordering format characters (so that no
/// nick can pass for another, or disturb the line it is shown on).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Nick<'a>(&'a str);

impl<'a> Nick<'a> {
    /// Checks `text` as a nick.
    pub fn new(text: &'a str) -> Result<Nick<'a>, NickError> {
        if text.is_empty() || text.len() > MAX_NICK {
            return Err(NickError::BadLength);
        }
        let bad = |c: char| {
            c.is_whitespace()
                || c.is_control()
                || is_hidden(c)
                || matches!(c, '\u{200C}' | '\u{200D}')
        };
        if text.chars().any(bad) {
            return Err(NickError::BadCharacter);
        }
        Ok(Nick(text))
    }

    /// The nick's text.
    pub fn as_str(&self) -> &'a str {
        self.0
    }

    /// The longest message text this nick can send in one frame (a text
    /// that starts with `/` takes one byte more, for its escape).
    pub fn max_text(&self) -> usize {
        MAX_PLAINTEXT - self.0.len() - 1
    }
}

/// A nick held by value (a session's own, or the last one a relay saw on
/// a connection).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NickBuf(heapless::String<MAX_NICK>);

impl NickBuf {
    /// Copies a checked nick.
    pub fn new(nick: Nick<'_>) -> NickBuf {
        let mut text = heapless::String::new();
        // A nick is at most MAX_NICK bytes, the string's capacity.
        let _ = text.push_str(nick.as_str());
        NickBuf(text)
    }

    /// The nick, borrowed.
    pub fn as_nick(&self) -> Nick<'_> {
        Nick(&self.0)
    }
}

/// What a payload's body means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Body<'a> {
    /// A message to show as it is (`//TEXT` arrives here as `/TEXT`).
    Text(&'a [u8]),
    /// `/me TEXT`: an action, shown as `* nick TEXT`.
    Me(&'a [u8]),
    /// `/join`: the sender joined.
    Join,
    /// `/leave`: the sender left.
    Leave,
}

/// A parsed payload: who sent it and what it says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Payload<'a> {
    /// The sender, or `None` for an unnamed sender (shown as `?`).
    pub nick: Option<Nick<'a>>,
    /// The body.
    pub body: Body<'a>,
}

impl<'a> Payload<'a> {
    /// Parses a decrypted plaintext. Never fails and never panics: no LF, or
    /// a first line that is not a valid nick, gives an unnamed sender whose
    /// body is the whole plaintext; invalid UTF-8 is kept for lossy display.
    pub fn parse(plaintext: &'a [u8]) -> Payload<'a> {
        let named = plaintext.iter().position(|&b| b == b'\n').and_then(|lf| {
            let nick = core::str::from_utf8(&plaintext[..lf]).ok()?;
            Some((Nick::new(nick).ok()?, &plaintext[lf + 1..]))
        });
        match named {
            Some((nick, body)) => Payload {
                nick: Some(nick),
                body: Body::parse(body),
            },
            None => Payload {
                nick: None,
                body: Body::parse(plaintext),
            },
        }
    }

    /// The nick to show: the sender's, or `?`.
    pub fn shown_nick(&self) -> &'a str {
        self.nick.map_or(UNNAMED, |nick| nick.as_str())
    }

    /// Bytes of the payload as [`Payload::encode`] writes it.
    pub fn encoded_len(&self) -> usize {
        let named = self.nick.map_or(0, |nick| nick.as_str().len() + 1);
        let body = match self.body {
            Body::Join => "/join".len(),
            Body::Leave => "/leave".len(),
            Body::Me(text) => "/me ".len() + text.len(),
            Body::Text(text) => usize::from(text.starts_with(b"/")) + text.len(),
        };
        named + body
    }

    /// The payload as [`Payload::encode`] writes it, in pieces to be
    /// joined: nick, line feed, the body's prefix (`/me `, an escaping
    /// `/`), the body's text.
    pub fn pieces(&self) -> [&'a [u8]; 4] {
        let (nick, lf): (&[u8], &[u8]) = match self.nick {
            Some(nick) => (nick.as_str().as_bytes(), b"\n"),
            None => (b"", b""),
        };
        let (prefix, text): (&[u8], &[u8]) = match self.body {
            Body::Join => (b"/join", b""),
            Body::Leave => (b"/leave", b""),
            Body::Me(text) => (b"/me ", text),
            Body::Text(text) if text.starts_with(b"/") => (b"/", text),
            Body::Text(text) => (b"", text),
        };
        [nick, lf, prefix, text]
    }

    /// Writes the payload as `nick LF body` into `out`, escaping a text that
    /// starts with `/`; gives the bytes written, or `None` if `out` is too small.
    pub fn encode<'o>(&self, out: &'o mut [u8]) -> Option<&'o [u8]> {
        let mut writer = SliceWriter { out, len: 0 };
        if let Some(nick) = self.nick {
            writer.put(nick.as_str().as_bytes())?;
            writer.put(b"\n")?;
        }
        match self.body {
            Body::Join => writer.put(b"/join")?,
            Body::Leave => writer.put(b"/leave")?,
            Body::Me(text) => {
                writer.put(b"/me ")?;
                writer.put(text)?;
            }
            Body::Text(text) => {
                if text.starts_with(b"/") {
                    writer.put(b"/")?;
                }
                writer.put(text)?;
            }
        }
        let SliceWriter { out, len } = writer;
        Some(&out[..len])
    }
}

impl<'a> Body<'a> {
    /// Reads the events out of a body; anything else is text.
    pub fn parse(body: &'a [u8]) -> Body<'a> {
        match body {
            b"/join" => Body::Join,
            b"/leave" => Body::Leave,
            b"/me" => Body::Me(b""),
            _ => {
                if let Some(action) = body.strip_prefix(b"/me ") {
                    Body::Me(action)
                } else if let Some(escaped) =
                    body.strip_prefix(b"/").filter(|t| t.starts_with(b"/"))
                {
                    Body::Text(escaped)
                } else {
                    Body::Text(body)
                }
            }
        }
    }
}

/// Displays bytes as UTF-8, with U+FFFD for each invalid sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lossy<'a>(pub &'a [u8]);

impl fmt::Display for Lossy<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for chunk in self.0.utf8_chunks() {
            f.write_str(chunk.valid())?;
            if !chunk.invalid().is_empty() {
                f.write_str("\u{FFFD}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Payload<'_> {
    /// `<nick> text`, `* nick action`, `nick joined`, `nick left`, with the
    /// text made safe for a terminal ([`Shown`]): a body's line feeds start
    /// continuation lines.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nick = Shown(self.shown_nick().as_bytes());
        match self.body {
            Body::Text(text) => write!(f, "<{nick}> {}", Shown(text)),
            Body::Me(action) => write!(f, "* {nick} {}", Shown(action)),
            Body::Join => write!(f, "{nick} joined"),
            Body::Leave => write!(f, "{nick} left"),
        }
    }
}

struct SliceWriter<'o> {
    out: &'o mut [u8],
    len: usize,
}

impl SliceWriter<'_> {
    fn put(&mut self, bytes: &[u8]) -> Option<()> {
        let end = self.len.checked_add(bytes.len())?;
        self.out.get_mut(self.len..end)?.copy_from_slice(bytes);
        self.len = end;
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_parse_text() {
        let p = Payload::parse(b"ann\nhello\nworld");
        assert_eq!(p.nick, Some(Nick("ann")));
        assert_eq!(p.body, Body::Text(b"hello\nworld"));
    }

    #[test]
    fn test_parse_events() {
        assert_eq!(Payload::parse(b"a\n/join").body, Body::Join);
        assert_eq!(Payload::parse(b"a\n/leave").body, Body::Leave);
        assert_eq!(Payload::parse(b"a\n/me waves").body, Body::Me(b"waves"));
        assert_eq!(Payload::parse(b"a\n//etc").body, Body::Text(b"/etc"));
        assert_eq!(Payload::parse(b"a\n/other x").body, Body::Text(b"/other x"));
        assert_eq!(Payload::parse(b"a\n").body, Body::Text(b""));
    }

    #[test]
    fn test_parse_unnamed() {
        let p = Payload::parse(b"no line feed");
        assert_eq!(p.nick, None);
        assert_eq!(p.shown_nick(), "?");
        assert_eq!(p.body, Body::Text(b"no line feed"));
        let bad_nick = Payload::parse(b"two words\nhi");
        assert_eq!(bad_nick.nick, None);
        assert_eq!(bad_nick.body, Body::Text(b"two words\nhi"));
    }

    #[test]
    fn test_nick_rules() {
        assert!(Nick::new("ann").is_ok());
        assert!(Nick::new("äöü-日本").is_ok());
        assert_eq!(Nick::new(""), Err(NickError::BadLength));
        assert_eq!(Nick::new(&"x".repeat(33)), Err(NickError::BadLength));
        assert_eq!(Nick::new("a b"), Err(NickError::BadCharacter));
        assert_eq!(Nick::new("a\tb"), Err(NickError::BadCharacter));
        assert_eq!(Nick::new("a\u{7}"), Err(NickError::BadCharacter));
        for hidden in [
            "\u{202E}", "\u{2067}", "\u{200B}", "\u{200D}", "\u{FEFF}", "\u{9b}",
        ] {
            let nick = std::format!("ann{hidden}");
            assert_eq!(Nick::new(&nick), Err(NickError::BadCharacter), "{nick:?}");
        }
    }

    #[test]
    fn test_encode_escapes_slash() {
        let mut out = [0u8; 64];
        let p = Payload {
            nick: Some(Nick("ann")),
            body: Body::Text(b"/etc/passwd"),
        };
        let bytes = p.encode(&mut out).unwrap();
        assert_eq!(bytes, b"ann\n//etc/passwd");
        assert_eq!(Payload::parse(bytes), p);
    }

    #[test]
    fn test_pieces_join_to_the_encoding() {
        let ann = Nick::new("ann").unwrap();
        for nick in [Some(ann), None] {
            for body in [
                Body::Text(b"hi"),
                Body::Text(b"/x"),
                Body::Me(b"waves"),
                Body::Join,
                Body::Leave,
            ] {
                let payload = Payload { nick, body };
                let mut out = [0u8; 64];
                assert_eq!(payload.pieces().concat(), payload.encode(&mut out).unwrap());
            }
        }
    }

    #[test]
    fn test_encoded_len_and_max_text() {
        let mut out = [0u8; MAX_PLAINTEXT + 8];
        let ann = Nick::new("ann").unwrap();
        let long = [b'a'; MAX_PLAINTEXT];
        let bodies = [
            Body::Join,
            Body::Leave,
            Body::Me(b"waves"),
            Body::Text(b"/etc"),
            Body::Text(&long[..ann.max_text()]),
        ];
        for body in bodies {
            for nick in [Some(ann), None] {
                let p = Payload { nick, body };
                assert_eq!(p.encode(&mut out).unwrap().len(), p.encoded_len());
            }
        }
        let fits = Payload {
            nick: Some(ann),
            body: Body::Text(&long[..ann.max_text()]),
        };
        assert_eq!(fits.encoded_len(), MAX_PLAINTEXT);
    }

    #[test]
    fn test_encode_too_small() {
        let mut out = [0u8; 4];
        let p = Payload {
            nick: Some(Nick("ann")),
            body: Body::Join,
        };
        assert_eq!(p.encode(&mut out), None);
    }

    #[test]
    fn test_lossy_display() {
        let p = Payload::parse(b"ann\nbad \xff byte");
        assert_eq!(p.to_string(), "<ann> bad \u{FFFD} byte");
        assert_eq!(Payload::parse(b"bob\n/me naps").to_string(), "* bob naps");
    }

    #[test]
    fn test_hostile_payloads_shown_safely() {
        let forged = Payload::parse(b"eve\nhi\n[12:00:00] <bob> forged\x1b[2J");
        assert_eq!(
            forged.to_string(),
            "<eve> hi\n  | [12:00:00] <bob> forged^[[2J"
        );
        // A nick with an escape or a bidi override is no nick: the sender is
        // unnamed and the whole payload is the body, escaped.
        let bad_nick = Payload::parse("b\u{202E}ob\n/me waves\x07".as_bytes());
        assert_eq!(bad_nick.nick, None);
        assert_eq!(bad_nick.to_string(), "<?> b\\u{202e}ob\n  | /me waves^G");
    }

    extern crate std;
    use std::string::ToString;
}
