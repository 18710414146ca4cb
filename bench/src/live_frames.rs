//! Scenario K's frames, made at send time: a sender encrypts each frame as
//! it sends it, stamped with the current Unix time, so that a keyed relay's
//! freshness and replay checks see real traffic. It keeps a copy for the
//! receivers, which compare each line with it byte for byte (no decryption
//! on the receiving thread).

use super::frame_id::{self, FRAME_LEN, Frame, Id};
use super::frames::Line;
use anyhow::{Result, ensure};
use fernchat_core::fernet::Key;
use fernchat_core::frame::DECODE_BUF_LEN;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// The body of the frame a keyed relay sends for a client it dropped.
const LEAVE: &[u8] = b"\n/leave";

/// The frames of one run, each made once, when it is sent.
pub struct LiveFrames {
    key: Key,
    senders: usize,
    per_sender: usize,
    made: Vec<OnceLock<Frame>>,
}

impl LiveFrames {
    /// Room for `per_sender` frames from each of `senders` senders, all
    /// under `key`.
    pub fn new(key: &Key, senders: usize, per_sender: usize) -> LiveFrames {
        LiveFrames {
            key: key.clone(),
            senders,
            per_sender,
            made: (0..senders * per_sender).map(|_| OnceLock::new()).collect(),
        }
    }

    /// Makes frame `seq` of `sender` now and keeps it for the receivers;
    /// call it before the frame's first byte is written, once per frame.
    pub fn make(&self, sender: usize, seq: usize) -> Result<Frame> {
        let frame = frame_id::make(&self.key, unix_now()?, sender, seq)?;
        let kept = self.made[self.index(sender, seq)].set(frame);
        ensure!(kept.is_ok(), "frame {seq} of sender {sender} made twice");
        Ok(frame)
    }

    /// Index of frame `seq` of `sender` in a table of every frame.
    pub fn index(&self, sender: usize, seq: usize) -> usize {
        sender * self.per_sender + seq
    }

    /// Frames a run can send.
    pub fn frame_count(&self) -> usize {
        self.made.len()
    }

    /// Probe frame number `round`, made now.
    pub fn probe(&self, round: u32) -> Result<Frame> {
        frame_id::make_probe(&self.key, unix_now()?, round)
    }

    /// Identifies a received line (without its line feed): intact when it
    /// is byte for byte the frame its IV names, as that frame's sender made
    /// it. A line that is not is decrypted, in case it is the `/leave` a
    /// keyed relay sends for a sender it disconnected.
    pub fn identify(&self, line: &[u8]) -> Line {
        match frame_id::read(line) {
            Some(Id::Probe) => return Line::Probe,
            Some(Id::Frame { sender, seq }) if sender < self.senders && seq < self.per_sender => {
                let made = self.made[self.index(sender, seq)].get();
                if made.is_some_and(|frame| line == &frame[..FRAME_LEN - 1]) {
                    return Line::Intact { sender, seq };
                }
            }
            _ => {}
        }
        if self.is_leave(line) {
            Line::FromRelay
        } else {
            Line::Corrupted
        }
    }

    fn is_leave(&self, line: &[u8]) -> bool {
        let mut buf = [0u8; DECODE_BUF_LEN];
        let now = unix_now().unwrap_or(0);
        self.key
            .decrypt(line, now, None, &mut buf)
            .is_ok_and(|token| token.plaintext.ends_with(LEAVE))
    }
}

/// Seconds since the Unix epoch.
fn unix_now() -> Result<u64> {
    Ok(SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use fernchat_core::fernet::hazmat::encrypt_with_iv;

    #[test]
    fn test_identify() {
        let key = Key::from_bytes([3; 32]);
        let live = LiveFrames::new(&key, 2, 5);
        let frame = live.make(1, 4).unwrap();
        let line = &frame[..FRAME_LEN - 1];
        assert_eq!(live.identify(line), Line::Intact { sender: 1, seq: 4 });
        assert!(live.make(1, 4).is_err());
        let not_sent = frame_id::make(&key, unix_now().unwrap(), 0, 2).unwrap();
        assert_eq!(live.identify(&not_sent[..FRAME_LEN - 1]), Line::Corrupted);
        let probe = live.probe(3).unwrap();
        assert_eq!(live.identify(&probe[..FRAME_LEN - 1]), Line::Probe);
        let mut cut = line.to_vec();
        cut.truncate(100);
        assert_eq!(live.identify(&cut), Line::Corrupted);
        let mut leave = [0u8; 200];
        let leave = encrypt_with_iv(
            &key,
            b"bench\n/leave",
            unix_now().unwrap(),
            [9; 16],
            &mut leave,
        );
        assert_eq!(live.identify(leave.unwrap()), Line::FromRelay);
    }

    #[test]
    fn test_frames_are_fresh_tokens() {
        let key = Key::from_bytes([3; 32]);
        let live = LiveFrames::new(&key, 1, 1);
        let frame = live.make(0, 0).unwrap();
        let mut buf = [0u8; DECODE_BUF_LEN];
        let now = unix_now().unwrap();
        let token = key.decrypt(&frame[..FRAME_LEN - 1], now, Some(5), &mut buf);
        assert!(token.is_ok_and(|t| t.timestamp + 5 >= now));
    }
}
