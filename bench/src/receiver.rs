//! The receiving side of every client in one mio event loop on one thread:
//! first a probe round that proves the server serves every client, then the
//! measured run, then a bounded drain.

use super::frames::{Frames, Line};
use super::lines::LineSplitter;
use super::link::{self, Link};
use super::procfs;
use super::send_times::SendTimes;
use super::tally::Tally;
use anyhow::{Context, Result, bail};
use mio::{Events, Interest, Poll, Token};
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Bytes taken from a socket in one read.
const READ_CHUNK: usize = 256 * 1024;
/// How often client 0 sends a probe until every other client has one.
const PROBE_EVERY: Duration = Duration::from_millis(50);
/// How long the server has to serve every client.
const JOIN_TIMEOUT: Duration = Duration::from_secs(60);
/// Quiet time after the probe round, so that late probes are out of the way.
const SETTLE: Duration = Duration::from_millis(200);
/// The drain ends after this long with nothing received...
const IDLE: Duration = Duration::from_millis(500);
/// ...or this long after the senders stopped, whichever comes first.
const MAX_DRAIN: Duration = Duration::from_secs(30);
/// The event loop looks at the clock at least this often.
const TICK: Duration = Duration::from_millis(20);

/// What the sending side tells the receiving side.
#[derive(Default)]
pub struct Control {
    expected: AtomicU64,
    sending_done: AtomicBool,
}

impl Control {
    /// The senders have stopped; `expected` intact deliveries would mean
    /// nothing was lost.
    pub fn finish(&self, expected: u64) {
        self.expected.store(expected, Ordering::Release);
        self.sending_done.store(true, Ordering::Release);
    }

    fn expected(&self) -> Option<u64> {
        self.sending_done
            .load(Ordering::Acquire)
            .then(|| self.expected.load(Ordering::Acquire))
    }
}

/// What the receiving side counted.
pub struct Received {
    /// Lines received, classified and timed.
    pub tally: Tally,
    /// Clients whose connection the server closed, by number.
    pub closed: Vec<usize>,
    /// CPU time of the receiving thread during the measured run.
    pub cpu: Duration,
    /// Time it spent runnable but waiting for a CPU meanwhile.
    pub cpu_wait: Duration,
    /// How long the probe round took.
    pub join: Duration,
}

/// One client as the receiving side sees it.
struct Client {
    stream: Link,
    lines: LineSplitter,
    probed: bool,
    open: bool,
}

/// The event loop and everything it counts.
struct Receiver<'a> {
    poll: Poll,
    clients: Vec<Client>,
    buf: Vec<u8>,
    frames: Frames<'a>,
    sent: &'a SendTimes,
    tally: Tally,
    probed: usize,
    closed: Vec<usize>,
    last_read: Instant,
}

/// Runs the receiving side: probe round, `ready` signal, then the run until
/// `control` says the senders are done and the drain ends. The clients are
/// spread over `relays` relays in turn.
pub fn run(
    streams: Vec<link::Client>,
    relays: usize,
    frames: Frames<'_>,
    sent: &SendTimes,
    control: &Control,
    ready: mpsc::Sender<()>,
) -> Result<Received> {
    let mut receiver = Receiver::new(streams, relays, frames, sent)?;
    let started = Instant::now();
    receiver.join()?;
    let join = started.elapsed();
    let (cpu_before, wait_before) = (procfs::thread_cpu()?, procfs::thread_cpu_wait()?);
    ready.send(()).context("the run was abandoned")?;
    receiver.measure(control)?;
    Ok(Received {
        closed: receiver.closed,
        tally: receiver.tally,
        cpu: procfs::thread_cpu()?.saturating_sub(cpu_before),
        cpu_wait: procfs::thread_cpu_wait()?.saturating_sub(wait_before),
        join,
    })
}

impl<'a> Receiver<'a> {
    fn new(
        streams: Vec<link::Client>,
        relays: usize,
        frames: Frames<'a>,
        sent: &'a SendTimes,
    ) -> Result<Receiver<'a>> {
        let poll = Poll::new()?;
        let mut clients = Vec::with_capacity(streams.len());
        for (id, stream) in streams.into_iter().enumerate() {
            let mut stream = stream.into_link()?;
            poll.registry()
                .register(&mut stream.tcp, Token(id), Interest::READABLE)?;
            clients.push(Client {
                stream,
                lines: LineSplitter::default(),
                probed: false,
                open: true,
            });
        }
        Ok(Receiver {
            poll,
            tally: Tally::new(clients.len(), frames.frame_count(), relays)?,
            clients,
            buf: vec![0; READ_CHUNK],
            frames,
            sent,
            probed: 0,
            closed: Vec::new(),
            last_read: Instant::now(),
        })
    }

    /// Client 0 sends probes until every other client has received one: then
    /// the server has taken every connection into its fan-out.
    fn join(&mut self) -> Result<()> {
        let deadline = Instant::now() + JOIN_TIMEOUT;
        let mut events = Events::with_capacity(1024);
        let mut round = 0;
        let mut next_probe = Instant::now();
        while self.probed + 1 < self.clients.len() {
            let now = Instant::now();
            if now >= deadline {
                bail!(
                    "only {} of {} clients were served within {JOIN_TIMEOUT:?}",
                    self.probed + 1,
                    self.clients.len()
                );
            }
            if !self.closed.is_empty() {
                bail!("the server closed {} client connections", self.closed.len());
            }
            if now >= next_probe {
                let probe = self.frames.probe(round)?;
                self.clients[0]
                    .stream
                    .write_all(&probe)
                    .context("cannot send a probe")?;
                round += 1;
                next_probe = now + PROBE_EVERY;
            }
            self.turn(&mut events, next_probe.saturating_duration_since(now))?;
        }
        let settled = Instant::now() + SETTLE;
        while let Some(left) = settled.checked_duration_since(Instant::now()) {
            self.turn(&mut events, left)?;
        }
        Ok(())
    }

    /// Receives until the senders are done and every expected frame came,
    /// or nothing came for [`IDLE`], or [`MAX_DRAIN`] passed. A line left
    /// unfinished at the end counts as corrupted.
    fn measure(&mut self, control: &Control) -> Result<()> {
        let mut events = Events::with_capacity(1024);
        let mut done_at = None;
        loop {
            self.turn(&mut events, TICK)?;
            let Some(expected) = control.expected() else {
                continue;
            };
            let now = Instant::now();
            let done_at = *done_at.get_or_insert(now);
            if self.tally.intact >= expected
                || now.duration_since(self.last_read) >= IDLE
                || now.duration_since(done_at) >= MAX_DRAIN
            {
                break;
            }
        }
        for id in 0..self.clients.len() {
            self.read(id, true);
        }
        let unfinished = self.clients.iter().filter(|c| c.lines.has_partial());
        self.tally.corrupted += unfinished.count() as u64;
        Ok(())
    }

    /// Waits at most `timeout` for readable clients and reads them.
    fn turn(&mut self, events: &mut Events, timeout: Duration) -> Result<()> {
        if let Err(e) = self.poll.poll(events, Some(timeout))
            && e.kind() != io::ErrorKind::Interrupted
        {
            return Err(e.into());
        }
        for event in events.iter() {
            self.read(event.token().0, false);
        }
        Ok(())
    }

    /// Reads client `id` dry. A short read is taken as dry (epoll reports
    /// every later arrival anew) unless `sweep` asks for reading on to
    /// `WouldBlock`.
    fn read(&mut self, id: usize, sweep: bool) {
        loop {
            let Some(client) = self.clients.get_mut(id).filter(|c| c.open) else {
                return;
            };
            let n = match client.stream.read(&mut self.buf) {
                Ok(0) => 0,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => 0,
            };
            if n == 0 {
                client.open = false;
                let _ = self.poll.registry().deregister(&mut client.stream.tcp);
                self.closed.push(id);
                return;
            }
            self.last_read = Instant::now();
            let rx = self.sent.nanos(self.last_read);
            let (frames, sent, tally) = (self.frames, self.sent, &mut self.tally);
            let mut probed = false;
            client.lines.feed(&self.buf[..n], |line| {
                let line = frames.identify(line);
                probed |= line == Line::Probe;
                tally.count(id, line, rx, frames, sent);
            });
            if probed && !client.probed {
                client.probed = true;
                self.probed += 1;
            }
            if n < self.buf.len() && !sweep {
                return;
            }
        }
    }
}
