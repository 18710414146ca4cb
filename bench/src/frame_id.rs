//! A frame's identity: the sender and sequence number in its token's IV.
//! Frames are made to carry them, and a receiver reads them back from 12
//! characters of a line, without the key, with the base64 decoder
//! `fernchat-core` uses.

use anyhow::{Result, anyhow, ensure};
use base64_simd::{Out, URL_SAFE};
use fernchat_core::fernet::hazmat::encrypt_with_iv;
use fernchat_core::fernet::{HEADER_LEN, IV_LEN, Key, VERSION, token_len};

/// The payload of every frame: `nick LF body`, 64 bytes.
const PLAINTEXT: &[u8; 64] = b"bench\nthe quick brown fox jumps over the lazy dog, 0123456789abc";
/// Bytes in every frame, line feed included.
pub const FRAME_LEN: usize = token_len(PLAINTEXT.len()) + 1;
/// The sender number of the probe frames that check every client is served.
const PROBE: u32 = u32::MAX;
/// The first character of every token: the base64url digit of the version
/// byte's top 6 bits (0x80 >> 2 = 32, `g`).
const VERSION_CHAR: u8 = b'g';
const _: () = assert!(VERSION >> 2 == 32);
/// Where the IV starts in the token text; it starts a 4-character group.
const IV_CHAR: usize = (HEADER_LEN - IV_LEN) / 3 * 4;
const _: () = assert!((HEADER_LEN - IV_LEN).is_multiple_of(3));
/// The IV's first 9 bytes, which a receiver reads: sender, sequence
/// number, 0.
const ID_BYTES: usize = 9;
/// The characters that hold them. Decoding these 12 alone (not the 24 from
/// the token's start, which would check the version byte itself) costs a
/// receiver about 9 ns a line here, against 13.
const ID_CHARS: usize = ID_BYTES / 3 * 4;

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
    let mut bytes = [0u8; ID_BYTES];
    let iv = line
        .get(IV_CHAR..IV_CHAR + ID_CHARS)
        .filter(|_| line[0] == VERSION_CHAR)
        .and_then(|chars| URL_SAFE.decode(chars, Out::from_slice(&mut bytes)).ok())
        .filter(|iv| iv.len() == ID_BYTES)?;
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
        assert_eq!(frame[0], VERSION_CHAR);
        let mut bad_char = line.to_vec();
        bad_char[IV_CHAR + 3] = b'!';
        assert_eq!(read(&bad_char), None);
        let mut padded = line.to_vec();
        padded[IV_CHAR + ID_CHARS - 2..IV_CHAR + ID_CHARS].copy_from_slice(b"==");
        assert_eq!(read(&padded), None);
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
