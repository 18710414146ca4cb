//! A frame's identity: the sender and sequence number in its token's IV.
//! Frames are made to carry them, and a receiver reads them back from 12
//! characters of a line, without the key.

use anyhow::{Result, anyhow, ensure};
use fernchat_core::fernet::hazmat::encrypt_with_iv;
use fernchat_core::fernet::{HEADER_LEN, IV_LEN, Key, VERSION, token_len};

/// The payload of every frame: `nick LF body`, 64 bytes.
const PLAINTEXT: &[u8; 64] = b"bench\nthe quick brown fox jumps over the lazy dog, 0123456789abc";
/// Bytes in every frame, line feed included.
pub const FRAME_LEN: usize = token_len(PLAINTEXT.len()) + 1;
/// The sender number of the probe frames that check every client is served.
const PROBE: u32 = u32::MAX;
/// The base64url alphabet.
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
/// Each byte's 6-bit value as a base64url character, or `INVALID`.
const SEXTETS: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < ALPHABET.len() {
        table[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    table
};
/// Marks a byte outside the alphabet in [`SEXTETS`].
const INVALID: u8 = 0xFF;
/// The first character of every token (it holds the version byte's top bits).
const VERSION_CHAR: u8 = ALPHABET[(VERSION >> 2) as usize];
/// Where the IV starts in the token text; it starts a 4-character group.
const IV_CHAR: usize = (HEADER_LEN - IV_LEN) / 3 * 4;
const _: () = assert!((HEADER_LEN - IV_LEN).is_multiple_of(3));
/// Characters that hold the IV's first 9 bytes: sender, sequence number, 0.
const ID_CHARS: usize = 12;

/// One frame: a token and its line feed.
pub type Frame = [u8; FRAME_LEN];

/// Who made a frame, as its IV says (a claim, until the line is compared).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Id {
    /// Frame `seq` of `sender`.
    Frame {
        /// Which sender.
        sender: usize,
        /// Its place in that sender's frames.
        seq: usize,
    },
    /// A join probe.
    Probe,
}

/// Frame `seq` of `sender`, a token under `key` stamped `now` (Unix
/// seconds). The IV is how a receiver tells frames apart without the key,
/// which is why this bench, and nothing that sends chat, picks IVs itself.
pub fn make(key: &Key, now: u64, sender: usize, seq: usize) -> Result<Frame> {
    make_raw(key, now, u32::try_from(sender)?, u32::try_from(seq)?)
}

/// Probe frame number `round`, stamped `now`.
pub fn make_probe(key: &Key, now: u64, round: u32) -> Result<Frame> {
    make_raw(key, now, PROBE, round)
}

/// What a received line (without its line feed) says it is: only its
/// version character and 12 IV characters are read.
pub fn read(line: &[u8]) -> Option<Id> {
    let iv = line
        .get(IV_CHAR..IV_CHAR + ID_CHARS)
        .filter(|_| line[0] == VERSION_CHAR)
        .and_then(decode_id)?;
    let sender = u32::from_be_bytes([iv[0], iv[1], iv[2], iv[3]]);
    let seq = u32::from_be_bytes([iv[4], iv[5], iv[6], iv[7]]) as usize;
    Some(match sender {
        PROBE => Id::Probe,
        _ => Id::Frame {
            sender: sender as usize,
            seq,
        },
    })
}

fn make_raw(key: &Key, now: u64, sender: u32, seq: u32) -> Result<Frame> {
    let mut iv = [0u8; IV_LEN];
    iv[..4].copy_from_slice(&sender.to_be_bytes());
    iv[4..8].copy_from_slice(&seq.to_be_bytes());
    let mut frame = [0u8; FRAME_LEN];
    let len = encrypt_with_iv(key, PLAINTEXT, now, iv, &mut frame)
        .map_err(|e| anyhow!("cannot make a frame: {e}"))?
        .len();
    ensure!(len + 1 == FRAME_LEN, "token of unexpected length {len}");
    frame[len] = b'\n';
    Ok(frame)
}

/// Decodes 12 base64url characters into 9 bytes.
fn decode_id(chars: &[u8]) -> Option<[u8; 9]> {
    let mut bytes = [0u8; 9];
    for (group, quad) in chars.chunks_exact(4).enumerate() {
        let mut bits = 0u32;
        for &c in quad {
            let sextet = SEXTETS[usize::from(c)];
            if sextet == INVALID {
                return None;
            }
            bits = bits << 6 | u32::from(sextet);
        }
        bytes[group * 3..group * 3 + 3].copy_from_slice(&bits.to_be_bytes()[1..]);
    }
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fernchat_core::frame::DECODE_BUF_LEN;

    #[test]
    fn test_read() {
        let key = Key::from_bytes([7; 32]);
        let frame = make(&key, 1_000, 2, 3).unwrap();
        let line = &frame[..FRAME_LEN - 1];
        assert_eq!(read(line), Some(Id::Frame { sender: 2, seq: 3 }));
        let probe = make_probe(&key, 1_000, 9).unwrap();
        assert_eq!(read(&probe[..FRAME_LEN - 1]), Some(Id::Probe));
        let mut bad_char = line.to_vec();
        bad_char[IV_CHAR + 3] = b'!';
        assert_eq!(read(&bad_char), None);
        assert_eq!(read(&line[..20]), None);
        assert_eq!(read(b"not a frame at all, not a frame at all"), None);
    }

    #[test]
    fn test_frames_are_tokens_under_the_key() {
        let key = Key::from_bytes([7; 32]);
        let frame = make(&key, 1_000, 4, 5).unwrap();
        let token = &frame[..FRAME_LEN - 1];
        assert!(fernchat_core::fernet::check_shape(token).is_ok());
        let mut buf = [0u8; DECODE_BUF_LEN];
        let opened = key.decrypt(token, 1_000, Some(60), &mut buf).unwrap();
        assert_eq!(
            (opened.timestamp, opened.plaintext),
            (1_000, &PLAINTEXT[..])
        );
    }
}
