//! Where a run's frames come from (made before the run, or as they are
//! sent), and what a received line is.

use super::frame_book::FrameBook;
use super::frame_id::Frame;
use super::live_frames::LiveFrames;
use anyhow::Result;
use fernchat_core::room::Notice;

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
    /// A line the relay wrote itself, not a delivery: a notice (`!slow`...)
    /// to a client it closes, or the `/leave` a keyed relay sends for a
    /// sender it disconnected.
    FromRelay,
    /// Anything else: a frame cut, spliced or altered, or no frame at all.
    Corrupted,
}

/// The frames of one run.
#[derive(Clone, Copy)]
pub enum Frames<'a> {
    /// Made before the run (scenarios A, B, C).
    Book(&'a FrameBook),
    /// Made by each sender as it sends (scenario K).
    Live(&'a LiveFrames),
}

impl Frames<'_> {
    /// Frame `seq` of `sender`, to be written now, line feed included.
    pub fn frame(self, sender: usize, seq: usize) -> Result<Frame> {
        match self {
            Frames::Book(book) => Ok(book.frame(sender, seq).try_into()?),
            Frames::Live(live) => live.make(sender, seq),
        }
    }

    /// Index of frame `seq` of `sender` in a table of every frame.
    pub fn index(self, sender: usize, seq: usize) -> usize {
        match self {
            Frames::Book(book) => book.index(sender, seq),
            Frames::Live(live) => live.index(sender, seq),
        }
    }

    /// Frames in that table.
    pub fn frame_count(self) -> usize {
        match self {
            Frames::Book(book) => book.frame_count(),
            Frames::Live(live) => live.frame_count(),
        }
    }

    /// Probe frame number `round`, line feed included.
    pub fn probe(self, round: u32) -> Result<Frame> {
        match self {
            Frames::Book(book) => book.probe(round),
            Frames::Live(live) => live.probe(round),
        }
    }

    /// What a received line (without its line feed) is.
    pub fn identify(self, line: &[u8]) -> Line {
        let identified = match self {
            Frames::Book(book) => book.identify(line),
            Frames::Live(live) => live.identify(line),
        };
        match identified {
            Line::Corrupted if Notice::parse(line).is_some() => Line::FromRelay,
            _ => identified,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_notices_come_from_the_relay() {
        let book = FrameBook::generate(1, 1).unwrap();
        let frames = Frames::Book(&book);
        assert_eq!(frames.identify(b"!slow"), Line::FromRelay);
        assert_eq!(frames.identify(b"!slowly"), Line::Corrupted);
    }
}
