//! The client's outbound bytes: frames sealed straight into a fixed buffer,
//! handed to the TCP socket as it takes them (a frame may be bigger than the
//! socket's transmit buffer).

/// Frames waiting for the socket, oldest first.
pub(crate) struct Outbox<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> Outbox<'a> {
    /// An empty outbox over `buf`.
    pub(crate) fn new(buf: &'a mut [u8]) -> Self {
        Outbox { buf, len: 0 }
    }

    /// Lets `seal` write one frame into the free space; keeps what it wrote.
    /// A frame that does not fit makes `seal` fail and keeps nothing.
    pub(crate) fn push<E>(
        &mut self,
        seal: impl FnOnce(&mut [u8]) -> Result<usize, E>,
    ) -> Result<(), E> {
        let written = seal(&mut self.buf[self.len..])?;
        self.len += written;
        Ok(())
    }

    /// The bytes still to send.
    pub(crate) fn pending(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Drops the first `n` bytes, which the socket took.
    pub(crate) fn consume(&mut self, n: usize) {
        let n = n.min(self.len);
        self.buf.copy_within(n..self.len, 0);
        self.len -= n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_push_consume_in_order() {
        let mut buf = [0u8; 8];
        let mut outbox = Outbox::new(&mut buf);
        let put = |bytes: &'static [u8]| {
            move |out: &mut [u8]| {
                let out = out.get_mut(..bytes.len()).ok_or(())?;
                out.copy_from_slice(bytes);
                Ok::<_, ()>(bytes.len())
            }
        };
        outbox.push(put(b"abc\n")).unwrap();
        outbox.push(put(b"de\n")).unwrap();
        assert_eq!(outbox.push(put(b"fg\n")), Err(()));
        assert_eq!(outbox.pending(), b"abc\nde\n");
        outbox.consume(2);
        assert_eq!(outbox.pending(), b"c\nde\n");
        outbox.push(put(b"fg\n")).unwrap();
        outbox.consume(100);
        assert!(outbox.pending().is_empty());
    }
}
