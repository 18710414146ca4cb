//! The sending side: clients 0..senders write their frames, paced or as fast
//! as their sockets take them, stamping each frame's send instant.

use super::frame_book::FrameBook;
use super::frame_id::FRAME_LEN;
use super::frames::Frames;
use super::link::{Client, Link};
use super::scenario::{Pace, Scenario};
use super::send_times::SendTimes;
use anyhow::{Result, bail};
use mio::{Events, Interest, Poll, Token};
use std::io::{self, Write};
use std::time::{Duration, Instant};

/// Bytes offered to a socket in one write by an unpaced sender.
const WRITE_CHUNK: usize = 64 * 1024;
/// A sender whose socket takes nothing for this long past the end of the
/// run gives up: the server stopped reading.
const STALL: Duration = Duration::from_secs(30);

/// What the senders did.
pub struct Sent {
    /// Whole frames each sender wrote (up to its connection's end, if the
    /// server closed it).
    pub frames: Vec<usize>,
    /// Paced senders: how late, at worst, a frame was begun after its
    /// scheduled instant (the latency clock starts at that instant, so a
    /// relay that holds the senders back is not flattered by it).
    pub max_late: Duration,
    /// Paced senders: the mean of that lateness.
    pub mean_late: Duration,
}

/// How a write ended.
enum Written {
    /// Every byte went out.
    All,
    /// The server closed the connection.
    Closed,
}

/// The sending clients and the poll that says when their sockets take more.
struct Senders<'a> {
    poll: Poll,
    events: Events,
    streams: Vec<Link>,
    frames: Frames<'a>,
    sent: &'a SendTimes,
}

/// Sends `scenario`'s frames from `streams` (clones of clients 0..senders).
pub fn send(
    streams: Vec<Client>,
    scenario: &Scenario,
    frames: Frames<'_>,
    sent: &SendTimes,
) -> Result<Sent> {
    let poll = Poll::new()?;
    let mut mio_streams = Vec::with_capacity(streams.len());
    for (id, stream) in streams.into_iter().enumerate() {
        let mut stream = stream.into_link()?;
        poll.registry()
            .register(&mut stream.tcp, Token(id), Interest::WRITABLE)?;
        mio_streams.push(stream);
    }
    let mut senders = Senders {
        poll,
        events: Events::with_capacity(64),
        streams: mio_streams,
        frames,
        sent,
    };
    let per_sender = scenario.frames_per_sender();
    let seconds = Duration::from_secs(scenario.seconds);
    match (scenario.pace, frames) {
        (Pace::Unpaced { .. }, Frames::Book(book)) => senders.unpaced(book, per_sender, seconds),
        (Pace::Unpaced { .. }, Frames::Live(_)) => {
            bail!("unpaced senders send frames made beforehand")
        }
        (Pace::PerSecond(rate), _) => senders.paced(per_sender, rate),
    }
}

impl Senders<'_> {
    /// Every sender writes `frames` frames at `rate` a second; the senders'
    /// frames take turns, evenly spread over each period. Each frame's send
    /// instant is its scheduled one. A sender whose connection the server
    /// closes stops there.
    fn paced(&mut self, frames: usize, rate: u32) -> Result<Sent> {
        let count = self.streams.len();
        let gap = Duration::from_secs(1) / (rate * u32::try_from(count)?);
        let mut due = Instant::now();
        let (mut max_late, mut total_late) = (Duration::ZERO, Duration::ZERO);
        let mut written = vec![0; count];
        let mut open = vec![true; count];
        for turn in 0..frames * count {
            let (sender, seq) = (turn % count, turn / count);
            let at = due;
            due += gap;
            if !open[sender] {
                continue;
            }
            if let Some(wait) = at.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let late = Instant::now().saturating_duration_since(at);
            max_late = max_late.max(late);
            total_late += late;
            let frame = self.frames.frame(sender, seq)?;
            self.sent
                .stamp(self.frames.index(sender, seq), self.sent.nanos(at));
            let stall_at = Instant::now() + STALL;
            match self.write_all(sender, &frame, stall_at)? {
                Written::All => written[sender] += 1,
                Written::Closed => open[sender] = false,
            }
        }
        Ok(Sent {
            frames: written,
            max_late,
            mean_late: total_late / u32::try_from((frames * count).max(1))?,
        })
    }

    /// Every sender writes `book`'s frames as fast as its socket takes,
    /// until its `frames` are all written or `seconds` pass; a frame begun is
    /// always finished.
    fn unpaced(&mut self, book: &FrameBook, frames: usize, seconds: Duration) -> Result<Sent> {
        let count = self.streams.len();
        let end = frames * FRAME_LEN;
        let mut written = vec![0; count];
        let mut writable = vec![true; count];
        let stop = Instant::now() + seconds;
        loop {
            let now = Instant::now();
            if now >= stop || written.iter().all(|&w| w == end) {
                break;
            }
            let mut wrote = false;
            for sender in 0..count {
                if !writable[sender] || written[sender] == end {
                    continue;
                }
                let from = written[sender];
                let to = end.min(from + WRITE_CHUNK);
                self.stamp_range(sender, from, to);
                let bytes = &book.sender_bytes(sender)[from..to];
                match self.streams[sender].write(bytes) {
                    Ok(n) => {
                        written[sender] += n;
                        wrote = true;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => writable[sender] = false,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e.into()),
                }
            }
            let timeout = if wrote { Duration::ZERO } else { stop - now };
            for id in self.wait(timeout)? {
                writable[id] = true;
            }
        }
        let stall_at = Instant::now() + STALL;
        for (sender, written) in written.iter_mut().enumerate() {
            let rest = (FRAME_LEN - *written % FRAME_LEN) % FRAME_LEN;
            let bytes = &book.sender_bytes(sender)[*written..*written + rest];
            if let Written::Closed = self.write_all(sender, bytes, stall_at)? {
                bail!("sender {sender}: the connection is closed");
            }
            *written += rest;
        }
        Ok(Sent {
            frames: written.iter().map(|w| w / FRAME_LEN).collect(),
            max_late: Duration::ZERO,
            mean_late: Duration::ZERO,
        })
    }

    /// Stamps now as the send instant of every frame that ends within
    /// `sender`'s bytes `from..to` (about to be offered to its socket).
    fn stamp_range(&self, sender: usize, from: usize, to: usize) {
        let nanos = self.sent.nanos(Instant::now());
        for seq in from / FRAME_LEN..to.div_ceil(FRAME_LEN) {
            self.sent.stamp(self.frames.index(sender, seq), nanos);
        }
    }

    /// Writes all of `bytes` to `sender`'s socket, and what its TLS session
    /// still holds, waiting for room, until `stall_at`, unless the server
    /// closes the connection.
    fn write_all(&mut self, sender: usize, mut bytes: &[u8], stall_at: Instant) -> Result<Written> {
        loop {
            let stream = &mut self.streams[sender];
            let result = if bytes.is_empty() {
                stream.flush().map(|()| 0)
            } else {
                stream.write(bytes)
            };
            match result {
                Ok(0) if bytes.is_empty() => return Ok(Written::All),
                Ok(0) => return Ok(Written::Closed),
                Ok(n) => bytes = &bytes[n..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let Some(left) = stall_at.checked_duration_since(Instant::now()) else {
                        bail!("sender {sender}: the server took nothing for {STALL:?}");
                    };
                    self.wait(left)?;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if closed(&e) => return Ok(Written::Closed),
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Waits at most `timeout` for sockets with room; gives their ids.
    fn wait(&mut self, timeout: Duration) -> Result<Vec<usize>> {
        if let Err(e) = self.poll.poll(&mut self.events, Some(timeout))
            && e.kind() != io::ErrorKind::Interrupted
        {
            return Err(e.into());
        }
        Ok(self.events.iter().map(|e| e.token().0).collect())
    }
}

/// True when `e` says the server closed the connection.
fn closed(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Tokens;
    use crate::server::ServerKind;
    use std::net::{Ipv4Addr, TcpListener};

    #[test]
    fn test_paced_sender_stops_when_the_server_closes() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let stream = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let stream = Client::plain(stream);
        drop(listener.accept().unwrap());
        let scenario = Scenario {
            name: "T",
            clients: 2,
            senders: 1,
            pace: Pace::PerSecond(100),
            seconds: 1,
            tokens: Tokens::Premade,
            relays: &[ServerKind::Ours, ServerKind::Ncat],
            goal: "",
        };
        let book = FrameBook::generate(1, 100).unwrap();
        let sent = SendTimes::new(book.frame_count());
        let done = send(vec![stream], &scenario, Frames::Book(&book), &sent).unwrap();
        assert!(done.frames[0] < 10, "{} frames written", done.frames[0]);
    }
}
