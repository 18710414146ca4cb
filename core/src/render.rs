//! Text from a peer made safe for a terminal (`docs/PROTOCOL.md` section
//! 7, "Showing text"): nothing a peer sends can move the cursor, change
//! colours or titles, reorder what follows it, hide itself, or start a line
//! that looks like another message.
//!
//! - C0 controls other than LF, and DEL, show in caret notation (`^[` for
//!   ESC, `^M` for CR, `^I` for a tab, `^?` for DEL).
//! - C1 controls and the invisible or reordering format characters of
//!   [`is_hidden`] show as `\u{202e}`.
//! - A line feed starts a continuation line that begins with
//!   [`CONTINUATION`], which no message line starts with.
//! - Invalid UTF-8 shows as U+FFFD, one for each invalid sequence.

use core::fmt::{self, Write};

/// What starts each continuation line of a body that holds line feeds.
pub const CONTINUATION: &str = "  | ";

/// True for the format characters that are invisible or reorder text and so
/// could hide or disguise what is shown: bidi embeddings, overrides,
/// isolates and marks, zero-width space, line and paragraph separators, the
/// byte-order mark, invisible operators, interlinear annotations and tag
/// characters. The zero-width joiner and non-joiner (U+200C, U+200D) are
/// not here: scripts and emoji need them in text. Nicks refuse them too
/// (`Nick::new`).
pub fn is_hidden(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{061C}' | '\u{180E}'
        | '\u{200B}' | '\u{200E}' | '\u{200F}'
        | '\u{2028}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}'
        | '\u{FEFF}'
        | '\u{FFF9}'..='\u{FFFB}'
        | '\u{E0000}'..='\u{E007F}')
}

/// Bytes from a peer, shown safely (see the module's rules). Never panics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shown<'a>(pub &'a [u8]);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for chunk in self.0.utf8_chunks() {
            for c in chunk.valid().chars() {
                show_char(f, c)?;
            }
            if !chunk.invalid().is_empty() {
                f.write_char('\u{FFFD}')?;
            }
        }
        Ok(())
    }
}

/// Writes one character as [`Shown`] shows it.
fn show_char(f: &mut fmt::Formatter<'_>, c: char) -> fmt::Result {
    match c {
        '\n' => {
            f.write_char('\n')?;
            f.write_str(CONTINUATION)
        }
        // Caret notation: ESC (0x1b) is ^[, DEL (0x7f) is ^?.
        '\0'..='\u{1f}' | '\u{7f}' => {
            f.write_char('^')?;
            f.write_char(char::from(u8::try_from(c).unwrap_or(0) ^ 0x40))
        }
        c if c.is_control() || is_hidden(c) => write!(f, "{}", c.escape_unicode()),
        c => f.write_char(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::string::ToString;

    fn shown(bytes: &[u8]) -> std::string::String {
        Shown(bytes).to_string()
    }

    #[test]
    fn test_plain_text_unchanged() {
        assert_eq!(
            shown("héllo 日本 👨\u{200D}👩".as_bytes()),
            "héllo 日本 👨\u{200D}👩"
        );
    }

    #[test]
    fn test_escape_sequences_made_visible() {
        assert_eq!(shown(b"\x1b]0;title\x07"), "^[]0;title^G");
        assert_eq!(shown(b"\x1b[2J\x1b[31mred"), "^[[2J^[[31mred");
        assert_eq!(shown(b"a\rb\x08c\td\x7f\0"), "a^Mb^Hc^Id^?^@");
        assert_eq!(shown("\u{9b}31m".as_bytes()), "\\u{9b}31m");
    }

    #[test]
    fn test_bidi_and_invisible_made_visible() {
        assert_eq!(shown("a\u{202E}b".as_bytes()), "a\\u{202e}b");
        assert_eq!(shown("\u{2067}x\u{2069}".as_bytes()), "\\u{2067}x\\u{2069}");
        assert_eq!(
            shown("a\u{200B}b\u{FEFF}".as_bytes()),
            "a\\u{200b}b\\u{feff}"
        );
        assert_eq!(shown("a\u{2028}b".as_bytes()), "a\\u{2028}b");
        assert_eq!(shown("\u{E0041}".as_bytes()), "\\u{e0041}");
    }

    #[test]
    fn test_line_feeds_become_continuation_lines() {
        assert_eq!(
            shown(b"hi\n[12:00:00] <bob> forged"),
            "hi\n  | [12:00:00] <bob> forged"
        );
    }

    #[test]
    fn test_invalid_utf8_replaced() {
        assert_eq!(
            shown(b"bad \xff byte \xe2\x82"),
            "bad \u{FFFD} byte \u{FFFD}"
        );
    }

    #[test]
    fn test_no_control_character_survives() {
        let all: std::vec::Vec<u8> = (0..=255u8).collect();
        let text = shown(&all);
        let mut lines = text.split('\n');
        assert!(lines.all(|line| !line.chars().any(|c| c.is_control() || is_hidden(c))));
    }
}
