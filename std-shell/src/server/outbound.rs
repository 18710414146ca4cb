//! A client's outbound buffer: frames queued for it, written as the socket
//! takes them. How much may wait is the room's decision (`has_room` in
//! `fanout.rs`); the buffer only keeps frames whole and in order.

use std::io::{self, Write};

/// Capacity kept after the buffer empties; more is given back, so that a
/// burst to one client does not hold memory for ever.
const KEEP_CAPACITY: usize = 64 * 1024;

/// Bytes waiting to be written to one client.
#[derive(Debug, Default)]
pub struct Outbound {
    buf: Vec<u8>,
    start: usize,
}

impl Outbound {
    /// Bytes waiting.
    pub fn len(&self) -> usize {
        self.buf.len() - self.start
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Queues `bytes` (whole frames, or a notice) after what waits.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start >= self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Writes as much as `sink` takes, stopping at `WouldBlock`, and
    /// flushes it once all is taken; gives how many bytes it took.
    pub fn write_to(&mut self, sink: &mut impl Write) -> io::Result<usize> {
        let mut written = 0;
        while !self.is_empty() {
            match sink.write(&self.buf[self.start..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.start += n;
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
            self.buf.clear();
            self.start = 0;
            if self.buf.capacity() > KEEP_CAPACITY {
                self.buf.shrink_to(KEEP_CAPACITY);
            }
        }
        Ok(written)
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
        out.push(b"abcd\n");
        out.push(b"efgh\n");
        let mut sink = Trickle {
            taken: Vec::new(),
            room: 7,
        };
        assert_eq!(out.write_to(&mut sink).unwrap(), 7);
        assert_eq!(out.len(), 3);
        out.push(b"ij\n");
        sink.room = 100;
        assert_eq!(out.write_to(&mut sink).unwrap(), 6);
        assert!(out.is_empty());
        assert_eq!(sink.taken, b"abcd\nefgh\nij\n");
    }
}
