//! A client's bounded outbound buffer: frames queued for it, written as the
//! socket takes them.

use std::io::{self, Write};

/// Capacity kept after the buffer empties; more is given back, so that a
/// burst to one client does not hold memory for ever.
const KEEP_CAPACITY: usize = 64 * 1024;

/// Bytes waiting to be written to one client, at most `limit` of them.
#[derive(Debug)]
pub struct Outbound {
    buf: Vec<u8>,
    start: usize,
    limit: usize,
}

/// The buffer would pass its limit: the client is not reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overflow;

impl Outbound {
    /// An empty buffer holding at most `limit` bytes.
    pub fn new(limit: usize) -> Outbound {
        Outbound {
            buf: Vec::new(),
            start: 0,
            limit,
        }
    }

    /// Bytes waiting.
    pub fn len(&self) -> usize {
        self.buf.len() - self.start
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Queues `frame` whole, or refuses it whole if the limit would be passed.
    pub fn push(&mut self, frame: &[u8]) -> Result<(), Overflow> {
        if self.len() + frame.len() > self.limit {
            return Err(Overflow);
        }
        if self.start > 0 && self.start >= self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(frame);
        Ok(())
    }

    /// Writes as much as `sink` takes; stops at `WouldBlock`.
    pub fn write_to(&mut self, sink: &mut impl Write) -> io::Result<()> {
        while !self.is_empty() {
            match sink.write(&self.buf[self.start..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.start += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if self.is_empty() {
            self.buf.clear();
            self.start = 0;
            if self.buf.capacity() > KEEP_CAPACITY {
                self.buf.shrink_to(KEEP_CAPACITY);
            }
        }
        Ok(())
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
        let mut out = Outbound::new(10);
        out.push(b"abcd\n").unwrap();
        out.push(b"efgh\n").unwrap();
        assert_eq!(out.push(b"x\n"), Err(Overflow));
        let mut sink = Trickle {
            taken: Vec::new(),
            room: 7,
        };
        out.write_to(&mut sink).unwrap();
        assert_eq!(out.len(), 3);
        out.push(b"ij\n").unwrap();
        sink.room = 100;
        out.write_to(&mut sink).unwrap();
        assert!(out.is_empty());
        assert_eq!(sink.taken, b"abcd\nefgh\nij\n");
    }
}
