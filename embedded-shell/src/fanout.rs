//! The relay's outbound queue: one shared log of frames, one read cursor per
//! socket, and the room's [`Fanout`] over them.
//!
//! A frame that fans out to every other client is stored once. Each reader
//! copies from its cursor into its own TCP transmit buffer as fast as that
//! client reads. The log never overwrites a byte a reader has not taken:
//! [`Fanout::has_room`] says no to a frame that would, and the room then
//! holds that frame, and reads nothing more from its sender, until the
//! readers have moved on (`docs/PROTOCOL.md` section 6). A reader that takes
//! nothing for too long is the room's to see off, by time, not by distance.

use fernchat_core::frame::MAX_FRAME;
use fernchat_core::relay::MAX_LEAVE_FRAME;
use fernchat_core::room::{Fanout, MemberId};

/// Bytes in front of each frame in the log: sender (1) and length (2, big-endian).
const HEADER: usize = 3;
/// Sender byte of a frame that goes to every reader (the relay's own frames).
const EVERYONE: u8 = u8::MAX;

/// Where one reader is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reader {
    /// Not a connected client.
    Idle,
    /// Reading: `pos` is the header of the frame it is on (or the head when
    /// it is up to date), `taken` the bytes of that frame it already has.
    /// Never on a frame of its own: it skips those at once.
    Reading { pos: usize, taken: usize },
}

/// A byte ring of frames, each tagged with its sender, read by `N` cursors.
///
/// Positions count bytes ever written and wrap at `usize::MAX`; the ring's
/// size is a power of two so that a position maps to an index with a mask.
/// The last [`FanoutLog::RESERVE`] bytes are kept for the relay's own
/// `/leave` frames: frames from members may not use them, so that a member
/// who leaves can always be announced.
pub struct FanoutLog<'a, const N: usize> {
    buf: &'a mut [u8],
    head: usize,
    readers: [Reader; N],
}

impl<'a, const N: usize> FanoutLog<'a, N> {
    /// Bytes kept free of members' frames: one `/leave` frame, with its
    /// header, per socket.
    pub const RESERVE: usize = N * (HEADER + MAX_LEAVE_FRAME);

    /// A log over `buf`. `LEN` must be a power of two that holds a frame of
    /// [`MAX_FRAME`] bytes with its header besides the
    /// [`FanoutLog::RESERVE`], and `N` at most 254 readers; both are checked
    /// when the program is compiled.
    pub fn new<const LEN: usize>(buf: &'a mut [u8; LEN]) -> Self {
        const {
            assert!(LEN.is_power_of_two() && LEN >= MAX_FRAME + HEADER + Self::RESERVE);
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
                taken: 0,
            };
        }
    }

    /// Stops `reader`; it no longer holds the log back.
    pub fn leave(&mut self, reader: usize) {
        if let Some(r) = self.readers.get_mut(reader) {
            *r = Reader::Idle;
        }
    }

    /// Bytes of the log `reader` has yet to get past (0 when it is up to
    /// date or idle). More than 0 means a frame for it waits.
    pub fn backlog(&self, reader: usize) -> usize {
        match self.readers.get(reader) {
            Some(Reader::Reading { pos, .. }) => self.head.wrapping_sub(*pos),
            _ => 0,
        }
    }

    /// True when `reader` has part of a frame and not the rest.
    pub fn is_mid_frame(&self, reader: usize) -> bool {
        matches!(self.readers.get(reader), Some(Reader::Reading { taken, .. }) if *taken > 0)
    }

    /// True when a frame of `len` bytes, after its header, fits without
    /// overwriting bytes a reader has not taken and leaving `spare` bytes.
    fn fits(&self, len: usize, spare: usize) -> bool {
        let need = HEADER + len + spare;
        len <= MAX_FRAME
            && self.readers.iter().all(|reader| match *reader {
                Reader::Reading { pos, .. } => self.head.wrapping_sub(pos) + need <= self.buf.len(),
                Reader::Idle => true,
            })
    }

    /// Appends `frame` for every reader but `from` (`None`: for all of them)
    /// if it fits: it never overwrites what a reader has not taken. Gives
    /// `false`, appending nothing, when it does not fit or is longer than
    /// [`MAX_FRAME`]. It may use the reserve: check [`Fanout::has_room`]
    /// first for a member's frame.
    pub fn append(&mut self, from: Option<usize>, frame: &[u8]) -> bool {
        if !self.fits(frame.len(), 0) {
            return false;
        }
        let sender = from
            .and_then(|i| u8::try_from(i).ok())
            .filter(|&i| usize::from(i) < N)
            .unwrap_or(EVERYONE);
        let len = frame.len() as u16; // At most MAX_FRAME, checked above.
        let [hi, lo] = len.to_be_bytes();
        self.write(&[sender, hi, lo]);
        self.write(frame);
        if let Some(from) = from {
            self.skip_own(from);
        }
        true
    }

    /// The next bytes for `reader`, as one contiguous slice (empty when it
    /// is up to date or idle). Call [`FanoutLog::consume`] with how many of
    /// them were taken.
    pub fn pending(&self, reader: usize) -> &[u8] {
        let Some(&Reader::Reading { pos, taken }) = self.readers.get(reader) else {
            return &[];
        };
        if pos == self.head {
            return &[];
        }
        let mask = self.buf.len() - 1;
        let len = self.frame_len(pos);
        let start = pos.wrapping_add(HEADER + taken) & mask;
        let end = start + (len - taken).min(self.buf.len() - start);
        &self.buf[start..end]
    }

    /// Marks `n` bytes of what [`FanoutLog::pending`] gave `reader` as sent.
    pub fn consume(&mut self, reader: usize, n: usize) {
        let Some(&Reader::Reading { pos, taken }) = self.readers.get(reader) else {
            return;
        };
        if pos == self.head {
            return;
        }
        let len = self.frame_len(pos);
        let taken = (taken + n).min(len);
        let (pos, taken) = if taken == len {
            (pos.wrapping_add(HEADER + len), 0)
        } else {
            (pos, taken)
        };
        self.readers[reader] = Reader::Reading { pos, taken };
        self.skip_own(reader);
    }

    /// Moves `reader`, at a frame's start, past the frames it sent itself.
    fn skip_own(&mut self, reader: usize) {
        let Some(Reader::Reading { pos, taken: 0 }) = self.readers.get(reader) else {
            return;
        };
        let mut pos = *pos;
        while pos != self.head && usize::from(self.buf[pos & (self.buf.len() - 1)]) == reader {
            pos = pos.wrapping_add(HEADER + self.frame_len(pos));
        }
        self.readers[reader] = Reader::Reading { pos, taken: 0 };
    }

    /// The length of the frame whose header is at `pos`.
    fn frame_len(&self, pos: usize) -> usize {
        let mask = self.buf.len() - 1;
        let at = |k: usize| self.buf[pos.wrapping_add(k) & mask];
        usize::from(u16::from_be_bytes([at(1), at(2)]))
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

impl<const N: usize> Fanout for FanoutLog<'_, N> {
    /// True when a frame of `len` bytes fits for every reader, the sender's
    /// cursor included (it still has to get past the frame), with the
    /// [`FanoutLog::RESERVE`] left over.
    fn has_room(&self, _from: MemberId, len: usize) -> bool {
        self.fits(len, Self::RESERVE)
    }

    /// Appends `frame` (see [`FanoutLog::append`]); one that does not fit
    /// is dropped rather than overwrite a reader's bytes. A member's frame
    /// always fits after [`Fanout::has_room`], and the relay's `/leave`
    /// frames fit in the reserve.
    fn push(&mut self, from: Option<MemberId>, frame: &[u8]) {
        let _ = self.append(from.map(MemberId::index), frame);
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
        assert!((0..3).all(|r| log.backlog(r) == 0));
    }

    #[test]
    fn test_own_frames_never_wait() {
        let mut buf = [0u8; 8192];
        let mut log = FanoutLog::<3>::new(&mut buf);
        (0..2).for_each(|r| log.join(r));
        // Reader 0 is up to date: its own frames pass it by at once.
        assert!(log.append(Some(0), &frame(b'a', 10)));
        assert_eq!(log.backlog(0), 0);
        assert_eq!(log.backlog(1), HEADER + 10);
        // Behind a frame for it, its own frames wait with the rest.
        let b = frame(b'b', 10);
        assert!(log.append(Some(1), &b));
        assert!(log.append(Some(0), &frame(b'a', 10)));
        assert_eq!(log.backlog(0), 2 * (HEADER + 10));
        assert_eq!(drain(&mut log, 0, 4), b);
        assert_eq!(log.backlog(0), 0, "and pass once it reads");
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
    fn test_no_room_before_a_slow_reader_would_lose_bytes() {
        let mut buf = [0u8; 8192];
        let mut log = FanoutLog::<3>::new(&mut buf);
        (0..3).for_each(|r| log.join(r));
        let size = |i: usize| 700 + i * 13;
        let mut all = Vec::new();
        // Both read everything across a wrap of the ring; then reader 1
        // takes 100 bytes and stops, while reader 2 keeps up for as long as
        // there is room.
        let mut appended = 0;
        while log.has_room(MemberId::new(0), size(appended)) {
            let f = frame(b'A' + (appended % 26) as u8, size(appended));
            log.push(Some(MemberId::new(0)), &f);
            if appended < 12 {
                assert_eq!(drain(&mut log, 1, 500), f);
            } else {
                all.extend_from_slice(&f);
            }
            if appended == 12 {
                log.consume(1, 100);
            }
            assert_eq!(drain(&mut log, 2, 1000), f);
            appended += 1;
        }
        assert!(appended >= 12 + 8, "only {appended} frames went in");
        assert!(appended >= 8, "only {appended} frames went in");
        // Reader 1 alone stops the next frame, before it could lose a byte.
        assert_eq!(log.backlog(2), 0);
        let behind = log.backlog(1);
        assert!(behind + HEADER + size(appended) + FanoutLog::<3>::RESERVE > 8192);
        assert!(behind + FanoutLog::<3>::RESERVE <= 8192);
        // It gets every frame, whole and in order; then there is room again.
        assert_eq!(drain(&mut log, 1, 333), all[100..]);
        assert!(log.has_room(MemberId::new(0), size(appended)));
        assert!(log.has_room(MemberId::new(1), MAX_FRAME));
    }

    #[test]
    fn test_reserve_keeps_room_for_leaves() {
        let mut buf = [0u8; 8192];
        let mut log = FanoutLog::<3>::new(&mut buf);
        (0..3).for_each(|r| log.join(r));
        // Reader 2 never reads: members' frames stop short of the reserve...
        let small = frame(b's', 100);
        let mut expected = Vec::new();
        while log.has_room(MemberId::new(0), small.len()) {
            log.push(Some(MemberId::new(0)), &small);
            expected.extend_from_slice(&small);
        }
        assert!(log.backlog(2) + FanoutLog::<3>::RESERVE <= 8192);
        // ...so that one /leave per socket still fits.
        let leave = frame(b'l', MAX_LEAVE_FRAME);
        for from in [Some(0), Some(1), None] {
            assert!(log.append(from, &leave));
            expected.extend_from_slice(&leave);
        }
        // Past that, the log refuses what would overwrite reader 2's bytes.
        let behind = log.backlog(2);
        assert!(!log.append(None, &frame(b'x', 8192 - behind - HEADER + 1)));
        assert_eq!(log.backlog(2), behind);
        assert_eq!(drain(&mut log, 2, 4096), expected);
    }

    #[test]
    fn test_max_frame_fits_too_long_refused() {
        let mut buf = [0u8; 8192];
        let mut log = FanoutLog::<3>::new(&mut buf);
        log.join(1);
        let big = frame(b'x', MAX_FRAME);
        assert!(log.has_room(MemberId::new(0), big.len()));
        assert!(log.append(Some(0), &big));
        assert!(!log.has_room(MemberId::new(0), MAX_FRAME + 1));
        assert!(!log.append(Some(0), &frame(b'x', MAX_FRAME + 1)));
        assert!(!log.is_mid_frame(1));
        log.consume(1, 1);
        assert!(log.is_mid_frame(1));
        assert_eq!(drain(&mut log, 1, 1500), big[1..]);
        assert!(!log.is_mid_frame(1));
    }
}
