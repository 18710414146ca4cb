//! Every frame the senders of scenarios A, B and C will send, made before
//! the run with a fixed key (a blind relay checks only their shape), so that
//! a receiver checks each line with one comparison.

use super::frame_id::{self, FRAME_LEN, Frame, Id};
use super::frames::Line;
use anyhow::Result;
use fernchat_core::fernet::Key;
use std::time::{SystemTime, UNIX_EPOCH};

/// The frames of `senders` senders, `per_sender` each, laid end to end.
pub struct FrameBook {
    key: Key,
    now: u64,
    senders: usize,
    per_sender: usize,
    bytes: Vec<u8>,
}

impl FrameBook {
    /// Makes every frame with a fixed key.
    pub fn generate(senders: usize, per_sender: usize) -> Result<FrameBook> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
        let mut book = FrameBook {
            key: Key::from_bytes([0x5a; 32]),
            now,
            senders,
            per_sender,
            bytes: Vec::with_capacity(senders * per_sender * FRAME_LEN),
        };
        for sender in 0..senders {
            for seq in 0..per_sender {
                let frame = frame_id::make(&book.key, now, sender, seq)?;
                book.bytes.extend_from_slice(&frame);
            }
        }
        Ok(book)
    }

    /// All of `sender`'s frames, end to end.
    pub fn sender_bytes(&self, sender: usize) -> &[u8] {
        let size = self.per_sender * FRAME_LEN;
        &self.bytes[sender * size..(sender + 1) * size]
    }

    /// Frame `seq` of `sender`, line feed included.
    pub fn frame(&self, sender: usize, seq: usize) -> &[u8] {
        let start = self.index(sender, seq) * FRAME_LEN;
        &self.bytes[start..start + FRAME_LEN]
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
    pub fn probe(&self, round: u32) -> Result<Frame> {
        frame_id::make_probe(&self.key, self.now, round)
    }

    /// Identifies a received line (without its line feed). Only the sender
    /// and sequence number are decoded; the comparison with the frame made
    /// for them checks every byte.
    pub fn identify(&self, line: &[u8]) -> Line {
        match frame_id::read(line) {
            Some(Id::Probe) => Line::Probe,
            Some(Id::Frame { sender, seq })
                if sender < self.senders
                    && seq < self.per_sender
                    && line == &self.frame(sender, seq)[..FRAME_LEN - 1] =>
            {
                Line::Intact { sender, seq }
            }
            _ => Line::Corrupted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_identify() {
        let book = FrameBook::generate(3, 4).unwrap();
        let frame = book.frame(2, 3);
        let line = &frame[..FRAME_LEN - 1];
        assert_eq!(book.identify(line), Line::Intact { sender: 2, seq: 3 });
        let probe = book.probe(7).unwrap();
        assert_eq!(book.identify(&probe[..FRAME_LEN - 1]), Line::Probe);
        let mut spliced = line[..100].to_vec();
        spliced.extend_from_slice(&book.frame(1, 0)[100..FRAME_LEN - 1]);
        assert_eq!(book.identify(&spliced), Line::Corrupted);
        assert_eq!(book.identify(&line[..20]), Line::Corrupted);
        let other_key = frame_id::make(&Key::from_bytes([1; 32]), book.now, 2, 3).unwrap();
        assert_eq!(book.identify(&other_key[..FRAME_LEN - 1]), Line::Corrupted);
    }
}
