//! The relay's outbound queue: one shared log of frames, one read cursor per
//! socket.
//!
//! A frame that fans out to every other client is stored once. Each reader
//! copies from its cursor into its own TCP transmit buffer as fast as that
//! client reads. A reader that falls more than the log's size behind would
//! lose frames, so it is marked *overrun* instead and the relay disconnects it
//! (`docs/PROTOCOL.md` section 6: a client that does not read is disconnected; it never
//! slows the others, and no healthy client loses a frame).

use fernchat_core::frame::MAX_FRAME;

/// Bytes in front of each frame in the log: sender (1) and length (2, big-endian).
const HEADER: usize = 3;
/// Sender byte of a frame that goes to every reader (the relay's own frames).
const EVERYONE: u8 = u8::MAX;

/// Where one reader is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reader {
    /// Not a connected client.
    Idle,
    /// Reading: `pos` is its place in the log, `entry_left` the bytes of the
    /// current frame still to hand out (0 at a frame boundary).
    Reading { pos: usize, entry_left: usize },
    /// Fell so far behind that frames it had not read were overwritten.
    Overrun,
}

/// A byte ring of frames, each tagged with its sender, read by `N` cursors.
///
/// Positions count bytes ever written and wrap at `usize::MAX`; the ring's
/// size is a power of two so that a position maps to an index with a mask.
pub struct FanoutLog<'a, const N: usize> {
    buf: &'a mut [u8],
    head: usize,
    readers: [Reader; N],
}

impl<'a, const N: usize> FanoutLog<'a, N> {
    /// A log over `buf`. `LEN` must be a power of two that holds at least one
    /// frame of [`MAX_FRAME`] bytes with its header, and `N` at most 255
    /// readers; both are checked when the program is compiled.
    pub fn new<const LEN: usize>(buf: &'a mut [u8; LEN]) -> Self {
        const {
            assert!(LEN.is_power_of_two() && LEN >= MAX_FRAME + HEADER);
            assert!(N < EVERYONE as usize);
        }
        FanoutLog {
            buf,
            head: 0,
            readers: [Reader::Idle; N],
        }
    }

    /// Starts `reader` at the log's head: it gets every frame appended from now on.
    pub fn join(&mut self, reader: usize) {
        if let Some(r) = self.readers.get_mut(reader) {
            *r = Reader::Reading {
                pos: self.head,
                entry_left: 0,
            };
        }
    }

    /// Stops `reader`; it no longer holds the log back.
    pub fn leave(&mut self, reader: usize) {
        if let Some(r) = self.readers.get_mut(reader) {
            *r = Reader::Idle;
        }
    }

    /// True when `reader` fell too far behind and lost frames.
    pub fn is_overrun(&self, reader: usize) -> bool {
        self.readers.get(reader) == Some(&Reader::Overrun)
    }

    /// Appends `frame` for every reader but `from` (`None`: for all of them).
    /// Readers that would lose unread bytes to it are marked overrun. Gives
    /// `false`, appending nothing, for a frame longer than [`MAX_FRAME`].
    pub fn append(&mut self, from: Option<usize>, frame: &[u8]) -> bool {
        if frame.len() > MAX_FRAME {
            return false;
        }
        let need = HEADER + frame.len();
        let capacity = self.buf.len();
        let new_head = self.head.wrapping_add(need);
        for reader in &mut self.readers {
            if let Reader::Reading { pos, .. } = *reader
                && new_head.wrapping_sub(pos) > capacity
            {
                *reader = Reader::Overrun;
            }
        }
        let sender = from
            .and_then(|i| u8::try_from(i).ok())
            .filter(|&i| usize::from(i) < N)
            .unwrap_or(EVERYONE);
        let len = frame.len() as u16; // At most MAX_FRAME, checked above.
        let [hi, lo] = len.to_be_bytes();
        self.write(&[sender, hi, lo]);
        self.write(frame);
        true
    }

    /// The next bytes for `reader`, as one contiguous slice (empty when it
    /// is up to date, idle or overrun). Skips the reader's own frames.
    /// Call [`FanoutLog::consume`] with how many of them were taken.
    pub fn pending(&mut self, reader: usize) -> &[u8] {
        let mask = self.buf.len() - 1;
        let Some(Reader::Reading { pos, entry_left }) = self.readers.get_mut(reader) else {
            return &[];
        };
        while *entry_left == 0 {
            if *pos == self.head {
                return &[];
            }
            let at = |k: usize| self.buf[pos.wrapping_add(k) & mask];
            let (sender, len) = (at(0), usize::from(u16::from_be_bytes([at(1), at(2)])));
            *pos = pos.wrapping_add(HEADER);
            if usize::from(sender) == reader {
                *pos = pos.wrapping_add(len);
            } else {
                *entry_left = len;
            }
        }
        let start = *pos & mask;
        let end = start + (*entry_left).min(self.buf.len() - start);
        &self.buf[start..end]
    }

    /// Marks `n` bytes of what [`FanoutLog::pending`] gave `reader` as sent.
    pub fn consume(&mut self, reader: usize, n: usize) {
        if let Some(Reader::Reading { pos, entry_left }) = self.readers.get_mut(reader) {
            let n = n.min(*entry_left);
            *pos = pos.wrapping_add(n);
            *entry_left -= n;
        }
    }

    /// Copies `bytes` in at the head, wrapping around the ring.
    fn write(&mut self, bytes: &[u8]) {
        let mask = self.buf.len() - 1;
        let start = self.head & mask;
        let first = bytes.len().min(self.buf.len() - start);
        self.buf[start..start + first].copy_from_slice(&bytes[..first]);
        self.buf[..bytes.len() - first].copy_from_slice(&bytes[first..]);
        self.head = self.head.wrapping_add(bytes.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    extern crate std;
    use std::vec::Vec;

    /// Everything `reader` can take right now, in at most `limit`-byte steps.
    fn drain(log: &mut FanoutLog<'_, 3>, reader: usize, limit: usize) -> Vec<u8> {
        let mut got = Vec::new();
        loop {
            let chunk = log.pending(reader);
            let n = chunk.len().min(limit);
            if n == 0 {
                return got;
            }
            got.extend_from_slice(&chunk[..n]);
            log.consume(reader, n);
        }
    }

    fn frame(byte: u8, len: usize) -> Vec<u8> {
        let mut frame = std::vec![byte; len - 1];
        frame.push(b'\n');
        frame
    }

    #[test]
    fn test_fanout_skips_sender() {
        let mut buf = [0u8; 8192];
        let mut log = FanoutLog::<3>::new(&mut buf);
        (0..3).for_each(|r| log.join(r));
        let (a, b) = (frame(b'a', 10), frame(b'b', 20));
        assert!(log.append(Some(0), &a));
        assert!(log.append(Some(1), &b));
        assert_eq!(drain(&mut log, 0, usize::MAX), b);
        assert_eq!(drain(&mut log, 1, 7), a);
        assert_eq!(drain(&mut log, 2, 3), [a, b].concat());
        assert!(drain(&mut log, 2, 3).is_empty());
    }

    #[test]
    fn test_relay_frames_go_to_everyone() {
        let mut buf = [0u8; 8192];
        let mut log = FanoutLog::<3>::new(&mut buf);
        log.join(0);
        let leave = frame(b'l', 30);
        assert!(log.append(None, &leave));
        assert_eq!(drain(&mut log, 0, 5), leave);
    }

    #[test]
    fn test_late_joiner_sees_only_new_frames() {
        let mut buf = [0u8; 8192];
        let mut log = FanoutLog::<3>::new(&mut buf);
        log.join(0);
        assert!(log.append(Some(0), &frame(b'a', 10)));
        log.join(1);
        assert!(drain(&mut log, 1, 100).is_empty());
        let b = frame(b'b', 10);
        assert!(log.append(Some(2), &b));
        assert_eq!(drain(&mut log, 1, 100), b);
    }

    #[test]
    fn test_slow_reader_overrun_others_whole() {
        let mut buf = [0u8; 8192];
        let mut log = FanoutLog::<3>::new(&mut buf);
        (0..3).for_each(|r| log.join(r));
        let mut sent = Vec::new();
        // Reader 1 reads a little and stops; reader 2 keeps up across many wraps.
        for i in 0..40u8 {
            let f = frame(b'A' + i % 26, 700 + usize::from(i) * 13);
            assert!(log.append(Some(0), &f));
            sent.extend_from_slice(&f);
            if i == 0 {
                drain(&mut log, 1, 100);
            }
            if i % 3 == 2 {
                let got = drain(&mut log, 2, 1000);
                assert_eq!(got, sent);
                sent.clear();
            }
        }
        assert!(log.is_overrun(1));
        assert!(!log.is_overrun(2));
        assert!(log.pending(1).is_empty());
        assert_eq!(drain(&mut log, 2, 999), sent);
        // A reader that leaves and rejoins starts clean.
        log.join(1);
        assert!(!log.is_overrun(1));
    }

    #[test]
    fn test_max_frame_fits_too_long_refused() {
        let mut buf = [0u8; 8192];
        let mut log = FanoutLog::<3>::new(&mut buf);
        log.join(1);
        let big = frame(b'x', MAX_FRAME);
        assert!(log.append(Some(0), &big));
        assert!(!log.append(Some(0), &frame(b'x', MAX_FRAME + 1)));
        assert_eq!(drain(&mut log, 1, 1500), big);
        assert!(!log.is_overrun(1));
    }
}
