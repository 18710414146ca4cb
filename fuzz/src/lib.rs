//! What the fuzz targets share: the key they use, the clock their seeds were
//! made at, a reference model of the frame rules to check the decoders by,
//! and the check of each frame a decoder yields.

use fernchat_core::fernet::{Key, KeySet};
use fernchat_core::frame::{Frame, FrameError, MAX_FRAME, is_base64url};
use fernchat_core::room::Notice;

/// The Fernet spec's key (fernet/tests/data/*.json): the official vectors
/// verify under it, and the seed tokens were made with it.
pub const KEY: &[u8] = b"cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";
/// A key that is tried first and never verifies a seed, so that key sets
/// exercise rotation.
pub const OTHER_KEY: &[u8] = b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
/// The Unix time the spec's vectors (and the seed tokens) were made at.
pub const T0: u64 = 499_162_800;

/// The spec's key.
pub fn key() -> Key {
    Key::parse(KEY).expect("the spec's key parses")
}

/// [`OTHER_KEY`] then [`KEY`]: a set that decrypts what [`key`] does.
pub fn keyset() -> KeySet<2> {
    let text = [OTHER_KEY, b"\n", KEY].concat();
    KeySet::parse_file(&text).expect("two keys parse")
}

/// A clock near [`T0`] chosen by one input byte: from 1280 s before to 1270 s
/// after, so that seed tokens land inside, ahead of and behind the window.
pub fn clock(byte: u8) -> u64 {
    T0.saturating_add_signed(i64::from(byte as i8) * 10)
}

/// One item a frame decoder yields: a whole frame's bytes, or an error.
pub type Item = Result<Vec<u8>, FrameError>;

/// Adds what a decoder step found to `items`, after checking that a frame
/// is well formed.
pub fn push_found(items: &mut Vec<Item>, found: Result<Frame<'_>, FrameError>) {
    match found {
        Ok(frame) => {
            check_frame(frame.raw, frame.token);
            items.push(Ok(frame.raw.to_vec()));
        }
        Err(e) => items.push(Err(e)),
    }
}

/// A frame is a non-empty base64url token and its line ending, within the limit.
fn check_frame(raw: &[u8], token: &[u8]) {
    assert!(raw.len() <= MAX_FRAME, "frame of {} bytes", raw.len());
    assert!(raw.ends_with(b"\n"));
    assert!(!token.is_empty());
    assert!(token.iter().all(|&b| is_base64url(b)));
    let ending = &raw[token.len()..];
    assert!(raw.starts_with(token) && (ending == b"\n" || ending == b"\r\n"));
}

/// `docs/PROTOCOL.md` section 2 written as plainly as possible, byte by byte: the
/// frames and errors a whole stream must decode to.
pub fn reference_frames(stream: &[u8]) -> Vec<Item> {
    reference_items(stream, false)
}

/// As [`reference_frames`], less the relay's notice lines (`!full`...),
/// which a client's `Opener` takes as notices, not as invalid frames.
pub fn reference_frames_less_notices(stream: &[u8]) -> Vec<Item> {
    reference_items(stream, true)
}

fn reference_items(stream: &[u8], skip_notices: bool) -> Vec<Item> {
    let mut items = Vec::new();
    let mut line = Vec::new();
    let mut discarding = false;
    for &byte in stream {
        if discarding {
            discarding = byte != b'\n';
        } else if byte == b'\n' {
            let token = line.strip_suffix(b"\r").unwrap_or(&line);
            if token.iter().all(|&b| is_base64url(b)) && !token.is_empty() {
                line.push(b'\n');
                items.push(Ok(std::mem::take(&mut line)));
            } else if !token.is_empty() && !(skip_notices && Notice::parse(token).is_some()) {
                items.push(Err(FrameError::InvalidFrame));
            }
            line.clear();
        } else {
            line.push(byte);
            // No room is left for the line feed.
            if line.len() >= MAX_FRAME {
                items.push(Err(FrameError::FrameTooLong));
                line.clear();
                discarding = true;
            }
        }
    }
    items
}
