//! A client's outbound queue: frames queued for it, written as the socket
//! takes them. How much may wait is the room's decision (`has_room` in
//! `fanout.rs`); the queue only keeps frames whole and in order.
//!
//! A frame forwarded to every client is one shared allocation: each queue
//! holds a reference, not a copy, so that 10,000 clients cost 10,000
//! pointers per frame, not 10,000 copies.

use std::collections::VecDeque;
use std::io::{self, IoSlice, Write};
use std::rc::Rc;

/// Frames handed to the socket in one `writev` (Linux takes 1,024).
const MAX_SLICES: usize = 512;
/// Queue slots kept after the queue empties; more are given back, so that
/// a burst does not hold memory for ever.
const KEEP_SLOTS: usize = 16;

/// Frames waiting to be written to one client.
#[derive(Debug, Default)]
pub struct Outbound {
    frames: VecDeque<Rc<[u8]>>,
    /// Bytes of the front frame already written.
    written: usize,
    /// Bytes waiting, in all.
    len: usize,
}

impl Outbound {
    /// Bytes waiting.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Queues `frame` (whole frames, or a notice) after what waits.
    pub fn push(&mut self, frame: Rc<[u8]>) {
        if frame.is_empty() {
            return;
        }
        self.len += frame.len();
        self.frames.push_back(frame);
    }

    /// Writes as much as `sink` takes, stopping at `WouldBlock`, and
    /// flushes it once all is taken; gives how many bytes it took.
    pub fn write_to(&mut self, sink: &mut impl Write) -> io::Result<usize> {
        let mut written = 0;
        while !self.is_empty() {
            let front = &self.frames[0][self.written..];
            let result = if self.frames.len() == 1 {
                sink.write(front)
            } else {
                let rest = self.frames.iter().skip(1).take(MAX_SLICES - 1);
                let slices: Vec<IoSlice<'_>> = std::iter::once(IoSlice::new(front))
                    .chain(rest.map(|frame| IoSlice::new(frame)))
                    .collect();
                sink.write_vectored(&slices)
            };
            match result {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.consume(n);
                    written += n;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if self.is_empty() {
            // What the sink keeps itself (TLS records, WebSocket messages)
            // goes out too, as far as the socket takes it.
            match sink.flush() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => other?,
            }
            if self.frames.capacity() > KEEP_SLOTS {
                self.frames.shrink_to(KEEP_SLOTS);
            }
        }
        Ok(written)
    }

    /// Drops `n` written bytes from the front.
    fn consume(&mut self, mut n: usize) {
        self.len -= n;
        while let Some(front) = self.frames.front() {
            let left = front.len() - self.written;
            if n < left {
                self.written += n;
                return;
            }
            n -= left;
            self.written = 0;
            self.frames.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink that takes at most `room` bytes, then would block.
    struct Trickle {
        taken: Vec<u8>,
        room: usize,
    }

    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.room == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = buf.len().min(self.room).min(3);
            self.taken.extend_from_slice(&buf[..n]);
            self.room -= n;
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn test_frames_whole_and_in_order() {
        let mut out = Outbound::default();
        out.push(Rc::from(&b"abcd\n"[..]));
        out.push(Rc::from(&b"efgh\n"[..]));
        let mut sink = Trickle {
            taken: Vec::new(),
            room: 7,
        };
        assert_eq!(out.write_to(&mut sink).unwrap(), 7);
        assert_eq!(out.len(), 3);
        out.push(Rc::from(&b"ij\n"[..]));
        sink.room = 100;
        assert_eq!(out.write_to(&mut sink).unwrap(), 6);
        assert!(out.is_empty());
        assert_eq!(sink.taken, b"abcd\nefgh\nij\n");
    }

    #[test]
    fn test_one_frame_shared_by_queues_written_at_once() {
        let frame: Rc<[u8]> = Rc::from(&b"frame\n"[..]);
        let (mut a, mut b) = (Outbound::default(), Outbound::default());
        for out in [&mut a, &mut b] {
            out.push(Rc::clone(&frame));
            out.push(Rc::from(&b"!slow\n"[..]));
        }
        assert_eq!(Rc::strong_count(&frame), 3);
        let mut sink = Vec::new();
        assert_eq!(a.write_to(&mut sink).unwrap(), 12);
        assert_eq!(sink, b"frame\n!slow\n");
        assert_eq!(Rc::strong_count(&frame), 2);
        assert_eq!(b.len(), 12);
    }
}
