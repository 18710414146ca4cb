//! Every frame the senders will send, made before the run: real Fernet
//! tokens (a blind relay checks their shape) whose IV starts with the sender
//! and the sequence number, so a receiver identifies a line from 12 of its
//! characters and checks the whole of it with one comparison.

use anyhow::{Result, anyhow, ensure};
use fernchat_core::fernet::hazmat::encrypt_with_iv;
use fernchat_core::fernet::{HEADER_LEN, IV_LEN, Key, VERSION, token_len};
use std::time::{SystemTime, UNIX_EPOCH};

/// The payload of every frame: `nick LF body`, 64 bytes.
const PLAINTEXT: &[u8; 64] = b"bench\nthe quick brown fox jumps over the lazy dog, 0123456789abc";
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

/// What a received line (its line feed taken off) is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Line {
    /// Frame `seq` of `sender`, byte for byte as made.
    Intact {
        /// Which sender made it.
        sender: usize,
        /// Its place in that sender's frames.
        seq: usize,
    },
    /// A join probe (not counted).
    Probe,
    /// Anything else: a frame cut, spliced or altered, or no frame at all.
    Corrupted,
}

/// The frames of `senders` senders, `per_sender` each, laid end to end.
pub struct FrameBook {
    key: Key,
    now: u64,
    senders: usize,
    per_sender: usize,
    frame_len: usize,
    bytes: Vec<u8>,
}

impl FrameBook {
    /// Makes every frame with a fixed key.
    pub fn generate(senders: usize, per_sender: usize) -> Result<FrameBook> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
        let frame_len = token_len(PLAINTEXT.len()) + 1;
        let mut book = FrameBook {
            key: Key::from_bytes([0x5a; 32]),
            now,
            senders,
            per_sender,
            frame_len,
            bytes: Vec::with_capacity(senders * per_sender * frame_len),
        };
        for sender in 0..senders {
            for seq in 0..per_sender {
                let frame = book.make(u32::try_from(sender)?, u32::try_from(seq)?)?;
                book.bytes.extend_from_slice(&frame);
            }
        }
        Ok(book)
    }

    /// Bytes in one frame, line feed included.
    pub fn frame_len(&self) -> usize {
        self.frame_len
    }

    /// All of `sender`'s frames, end to end.
    pub fn sender_bytes(&self, sender: usize) -> &[u8] {
        let size = self.per_sender * self.frame_len;
        &self.bytes[sender * size..(sender + 1) * size]
    }

    /// Frame `seq` of `sender`, line feed included.
    pub fn frame(&self, sender: usize, seq: usize) -> &[u8] {
        let start = (sender * self.per_sender + seq) * self.frame_len;
        &self.bytes[start..start + self.frame_len]
    }

    /// Index of frame `seq` of `sender` in a table of every frame.
    pub fn index(&self, sender: usize, seq: usize) -> usize {
        sender * self.per_sender + seq
    }

    /// Frames in the book.
    pub fn frame_count(&self) -> usize {
        self.senders * self.per_sender
    }

    /// Probe frame number `round`, line feed included.
    pub fn probe(&self, round: u32) -> Result<Vec<u8>> {
        self.make(PROBE, round)
    }

    /// Identifies a received line (without its line feed). Only the sender
    /// and sequence number are decoded; the comparison with the frame made
    /// for them checks every byte.
    pub fn identify(&self, line: &[u8]) -> Line {
        let Some(iv) = line
            .get(IV_CHAR..IV_CHAR + ID_CHARS)
            .filter(|_| line[0] == VERSION_CHAR)
            .and_then(decode_id)
        else {
            return Line::Corrupted;
        };
        let sender = u32::from_be_bytes([iv[0], iv[1], iv[2], iv[3]]);
        let seq = u32::from_be_bytes([iv[4], iv[5], iv[6], iv[7]]) as usize;
        if sender == PROBE {
            return Line::Probe;
        }
        let sender = sender as usize;
        if sender >= self.senders || seq >= self.per_sender {
            return Line::Corrupted;
        }
        let frame = self.frame(sender, seq);
        if line == &frame[..frame.len() - 1] {
            Line::Intact { sender, seq }
        } else {
            Line::Corrupted
        }
    }

    /// One frame whose IV names `sender` and `seq`: the IV is how a
    /// receiver tells frames apart without the key, which is why this
    /// bench, and nothing that sends chat, picks IVs itself.
    fn make(&self, sender: u32, seq: u32) -> Result<Vec<u8>> {
        let mut iv = [0u8; IV_LEN];
        iv[..4].copy_from_slice(&sender.to_be_bytes());
        iv[4..8].copy_from_slice(&seq.to_be_bytes());
        let mut out = vec![0u8; self.frame_len];
        let len = encrypt_with_iv(&self.key, PLAINTEXT, self.now, iv, &mut out)
            .map_err(|e| anyhow!("cannot make a frame: {e}"))?
            .len();
        ensure!(
            len + 1 == self.frame_len,
            "token of unexpected length {len}"
        );
        out[len] = b'\n';
        Ok(out)
    }
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

    #[test]
    fn test_identify() {
        let book = FrameBook::generate(3, 4).unwrap();
        let frame = book.frame(2, 3);
        let line = &frame[..frame.len() - 1];
        assert_eq!(book.identify(line), Line::Intact { sender: 2, seq: 3 });
        let probe = book.probe(7).unwrap();
        assert_eq!(book.identify(&probe[..probe.len() - 1]), Line::Probe);
        let mut spliced = line[..100].to_vec();
        spliced.extend_from_slice(&book.frame(1, 0)[100..book.frame_len() - 1]);
        assert_eq!(book.identify(&spliced), Line::Corrupted);
        assert_eq!(book.identify(&line[..20]), Line::Corrupted);
        let mut bad_char = line.to_vec();
        bad_char[IV_CHAR + 3] = b'!';
        assert_eq!(book.identify(&bad_char), Line::Corrupted);
        assert_eq!(
            book.identify(b"not a frame at all, not a frame at all"),
            Line::Corrupted
        );
    }

    #[test]
    fn test_frames_pass_the_blind_check() {
        let book = FrameBook::generate(1, 2).unwrap();
        let frame = book.frame(0, 1);
        assert!(fernchat_core::fernet::check_shape(&frame[..frame.len() - 1]).is_ok());
    }
}
