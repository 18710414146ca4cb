//! Splits one connection's byte stream into lines, carrying an unfinished
//! line over to the next read.

use fernchat_core::frame::MAX_FRAME;
use memchr::memchr;

/// The unfinished line of one connection.
#[derive(Default)]
pub struct LineSplitter {
    partial: Vec<u8>,
}

impl LineSplitter {
    /// Calls `on_line` for every line that `data` finishes, without its line
    /// feed; empty lines (keep-alives) are skipped. A line longer than a
    /// frame is cut to `MAX_FRAME` bytes: it cannot be intact anyway.
    pub fn feed(&mut self, mut data: &[u8], mut on_line: impl FnMut(&[u8])) {
        if !self.partial.is_empty() {
            let Some(end) = memchr(b'\n', data) else {
                self.keep(data);
                return;
            };
            self.keep(&data[..end]);
            on_line(&self.partial);
            self.partial.clear();
            data = &data[end + 1..];
        }
        while let Some(end) = memchr(b'\n', data) {
            if end > 0 {
                on_line(&data[..end]);
            }
            data = &data[end + 1..];
        }
        self.keep(data);
    }

    /// True when a line is started and not finished.
    pub fn has_partial(&self) -> bool {
        !self.partial.is_empty()
    }

    fn keep(&mut self, bytes: &[u8]) {
        let room = MAX_FRAME.saturating_sub(self.partial.len());
        self.partial
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut splitter = LineSplitter::default();
        let mut lines = Vec::new();
        for chunk in chunks {
            splitter.feed(chunk, |line| lines.push(line.to_vec()));
        }
        lines
    }

    #[test]
    fn test_lines_across_reads() {
        let lines = split(&[b"ab", b"c\nde\n\nf", b"g", b"\n"]);
        assert_eq!(lines, vec![b"abc".to_vec(), b"de".to_vec(), b"fg".to_vec()]);
    }

    #[test]
    fn test_too_long_cut() {
        let long = vec![b'x'; MAX_FRAME * 2];
        let lines = split(&[&long, &long, b"\n"]);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].len(), MAX_FRAME);
    }
}
