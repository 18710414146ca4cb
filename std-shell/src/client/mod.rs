//! `fernchat client`: `docs/PROTOCOL.md` section 7 over a std socket. A
//! reader thread per connection shows what arrives; an input thread reads
//! what is typed (or piped in); the main thread seals and sends, queues
//! lines while the relay is away, reconnects, and decides when the chat
//! ends.

mod backoff;
mod channel;
mod display;
mod reader;
mod terminal;

use crate::error::Error;
use crate::{clock, keyfile};
use backoff::Backoff;
use channel::Channel;
use display::Printer;
use fernchat_core::frame::MAX_FRAME;
use fernchat_core::input::{HELP, Input};
use fernchat_core::message::Body;
use fernchat_core::room::Notice;
use fernchat_core::session::{Opener, Sealer, Session};
use rand_core::{OsRng, UnwrapErr};
use std::collections::VecDeque;
use std::io::{self, BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

/// Lines kept while the relay is away; more are refused, with a note.
const QUEUE_LINES: usize = 100;
/// How long piped input that has ended waits for the relay to come back
/// to take its last lines, before the client gives up on them.
const LINGER: Duration = Duration::from_secs(30);
/// The freshness window's TTL unless `--ttl` says otherwise, seconds.
const DEFAULT_TTL: u64 = 300;

/// Options of `fernchat client`.
#[derive(clap::Args)]
pub struct ClientArgs {
    /// The relay's address (host:port).
    #[arg(long, default_value = "127.0.0.1:10101")]
    connect: String,
    /// Your nick: 1 to 32 bytes, no spaces, no control or invisible characters.
    #[arg(short, long)]
    name: String,
    /// Key file shared by the room.
    #[arg(short, long, default_value = keyfile::DEFAULT_KEY_FILE)]
    key_file: PathBuf,
    /// Drop messages older than this many seconds (plus 60 s of clock
    /// skew); 0 shows messages of any age.
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_TTL)]
    ttl: u64,
    /// Exit (status 1) when the relay goes away or turns us away, instead of
    /// reconnecting.
    #[arg(long)]
    no_reconnect: bool,
    /// Speak TLS to the relay (`fernchat server --tls-cert`), checking its
    /// certificate against the public roots (or `--ca`).
    #[arg(long)]
    tls: bool,
    /// With `--tls`: trust exactly the certificates in FILE (PEM), such as
    /// a self-signed relay's own (`fernchat cert`).
    #[arg(long, value_name = "FILE", requires = "tls")]
    ca: Option<PathBuf>,
}

/// What the input and reader threads tell the main thread.
enum Event {
    /// A line the user typed.
    Typed(String),
    /// The input ended (end of file, Ctrl-D, Ctrl-C or `/quit`).
    InputEnded,
    /// The input could not be read.
    InputFailed(Error),
    /// The relay kept this connection for a second, or sent a message on
    /// it: it took us in.
    Settled,
    /// The relay went away; the opener comes back for the next connection.
    ServerGone {
        /// How the connection ended.
        why: Error,
        /// What the relay said before closing, if anything.
        notice: Option<Notice>,
        /// The receiving half, with its replay cache.
        opener: Box<Opener>,
    },
}

/// Joins the room and chats until `/quit` or the end of input (or, with
/// `--no-reconnect`, a lost relay).
pub fn run(args: &ClientArgs) -> Result<(), Error> {
    let keys = keyfile::load(&args.key_file)?;
    let ttl = (args.ttl > 0).then_some(args.ttl);
    let Session { sealer, opener } =
        Session::new(keys, &args.name, ttl).map_err(|source| Error::BadNick {
            name: args.name.clone(),
            source,
        })?;
    // The replay cache makes the opener large (172 KiB): on the heap, not
    // on the reader thread's stack.
    let opener = Box::new(opener);
    let tls = match args.tls {
        true => Some(crate::tls_trust::client_config(args.ca.as_deref())?),
        false => None,
    };
    let stream = Channel::connect(&args.connect, tls.as_ref())?;
    let (events_in, events) = mpsc::channel();
    let mut chat = Chat {
        args,
        tls,
        sealer,
        link: Link::Down,
        queue: VecDeque::new(),
        refused: 0,
        backoff: Backoff::default(),
        away_said: false,
        ended: None,
        interactive: false,
        printer: Printer::Plain,
        events_in: events_in.clone(),
    };
    if io::stdin().is_terminal() && io::stdout().is_terminal() {
        terminal::chat(chat, stream, opener, events)
    } else {
        spawn_stdin(events_in);
        chat.connected(stream, opener)?;
        chat.converse(&events)
    }
}

/// Where the connection to the relay is.
enum Link {
    /// No connection: the relay went away (or a write failed and the reader
    /// is about to say so).
    Down,
    /// Connected and `/join` sent; typed lines wait until the relay has
    /// taken us in ([`Event::Settled`]), so that a `!full` loses none.
    Joining(Channel),
    /// In the room.
    Up(Channel),
}

/// The main thread's state: the connection, the lines waiting for it, and
/// whether the user is done.
struct Chat<'a> {
    args: &'a ClientArgs,
    /// TLS settings with `--tls`.
    tls: Option<Arc<rustls::ClientConfig>>,
    sealer: Sealer,
    link: Link,
    queue: VecDeque<String>,
    /// Lines refused because the queue was full.
    refused: usize,
    backoff: Backoff,
    /// The relay's absence was announced; said once per absence.
    away_said: bool,
    /// When the input ended or `/quit` was typed.
    ended: Option<Instant>,
    /// A person at a terminal: ending does not wait for the relay.
    interactive: bool,
    printer: Printer,
    events_in: mpsc::Sender<Event>,
}

impl Chat<'_> {
    /// Takes a new connection: starts its reader and says `/join`.
    fn connected(&mut self, stream: Channel, opener: Box<Opener>) -> Result<(), Error> {
        let reader = stream.try_clone().map_err(Error::LostServer)?;
        reader::spawn(reader, opener, self.printer.clone(), self.events_in.clone());
        self.link = Link::Joining(stream);
        self.write(Body::Join);
        Ok(())
    }

    /// Handles events until the user is done; then says `/leave`.
    fn converse(&mut self, events: &mpsc::Receiver<Event>) -> Result<(), Error> {
        while !self.done() {
            // This thread holds a sender for the reader threads, so `recv`
            // cannot fail.
            let Ok(event) = events.recv() else { break };
            match event {
                Event::Typed(line) => self.typed(line),
                Event::InputEnded => self.end(),
                Event::InputFailed(error) => return Err(error),
                Event::Settled => self.settled(),
                Event::ServerGone {
                    why,
                    notice,
                    opener,
                } => {
                    self.gone(why, notice)?;
                    self.reconnect(events, opener)?;
                }
            }
        }
        self.write(Body::Leave);
        self.undelivered()
    }

    /// The user is done (end of input, `/quit`).
    fn end(&mut self) {
        self.ended.get_or_insert_with(Instant::now);
    }

    /// True once the user is done: a person at once; piped input once every
    /// line it gave is delivered, or after [`LINGER`] waiting for the relay.
    fn done(&self) -> bool {
        self.ended
            .is_some_and(|at| self.interactive || self.queue.is_empty() || at.elapsed() >= LINGER)
    }

    /// A typed line: sent now when in the room, otherwise queued.
    fn typed(&mut self, line: String) {
        match Input::parse(&line) {
            Input::Send(_) if !matches!(self.link, Link::Up(_)) || !self.queue.is_empty() => {
                self.enqueue(line);
            }
            Input::Send(body) => {
                self.send(body);
                if matches!(self.link, Link::Down) {
                    // The write failed: the line waits for the next connection.
                    self.enqueue(line);
                }
            }
            Input::Quit => self.end(),
            Input::Help => self.printer.note(HELP),
            Input::Nothing => {}
            Input::Unknown(word) => self
                .printer
                .note(&format!("unknown command {word}; {HELP}")),
        }
    }

    fn enqueue(&mut self, line: String) {
        if self.queue.len() < QUEUE_LINES {
            self.queue.push_back(line);
        } else {
            self.refused += 1;
            self.printer.note(&format!(
                "not sent: {QUEUE_LINES} lines already wait for the relay"
            ));
        }
    }

    /// Seals and sends one body; one too long for a frame is reported and
    /// skipped. A failed write takes the link down; the reader thread then
    /// reports the relay gone.
    fn send(&mut self, body: Body<'_>) {
        let mut out = [0u8; MAX_FRAME];
        let now = clock::now();
        match self.sealer.seal(body, now, &mut UnwrapErr(OsRng), &mut out) {
            Ok(frame) => {
                if let Link::Up(stream) | Link::Joining(stream) = &mut self.link
                    && stream.write_all(frame).is_err()
                {
                    stream.shutdown();
                    self.link = Link::Down;
                }
            }
            Err(error) => {
                let max = self.sealer.nick().max_text();
                self.printer.note(&format!(
                    "not sent: {error} (at most {max} bytes a message)"
                ));
            }
        }
    }

    /// Sends `/join` or `/leave` if connected.
    fn write(&mut self, body: Body<'_>) {
        if !matches!(self.link, Link::Down) {
            self.send(body);
        }
    }

    /// The relay took us in: say so if it had been away, and deliver what
    /// waited.
    fn settled(&mut self) {
        let Link::Joining(stream) = std::mem::replace(&mut self.link, Link::Down) else {
            return;
        };
        self.link = Link::Up(stream);
        self.backoff.reset();
        if self.away_said {
            self.away_said = false;
            self.printer
                .note(&format!("back in the room at {}", self.args.connect));
        }
        while matches!(self.link, Link::Up(_))
            && let Some(line) = self.queue.pop_front()
        {
            if let Input::Send(body) = Input::parse(&line) {
                self.send(body);
            }
            if matches!(self.link, Link::Down) {
                // The write failed: the line waits for the next connection.
                self.queue.push_front(line);
            }
        }
    }

    /// The relay went away: ends the chat with `--no-reconnect`; otherwise
    /// says so, once.
    fn gone(&mut self, why: Error, notice: Option<Notice>) -> Result<(), Error> {
        self.link = Link::Down;
        // A plain client on a TLS port will not do better next time.
        if self.args.no_reconnect || notice == Some(Notice::Tls) {
            return match notice {
                Some(notice) => Err(Error::RelayNotice(notice)),
                None => Err(why),
            };
        }
        if !self.away_said {
            self.away_said = true;
            let why = notice.map_or_else(|| why.to_string(), |notice| notice.to_string());
            self.printer.note(&format!(
                "{why}; reconnecting (lines typed meanwhile are sent when the relay is back)"
            ));
        }
        Ok(())
    }

    /// Tries to reach the relay again, waiting longer each time, while
    /// queueing what is typed; gives up only when the user is done.
    fn reconnect(
        &mut self,
        events: &mpsc::Receiver<Event>,
        opener: Box<Opener>,
    ) -> Result<(), Error> {
        loop {
            let deadline = Instant::now() + self.backoff.next_wait();
            while let Some(left) = deadline.checked_duration_since(Instant::now()) {
                if self.done() {
                    return Ok(());
                }
                // Wakes at least once a second to see whether it is done.
                match events.recv_timeout(left.min(Duration::from_secs(1))) {
                    Ok(Event::Typed(line)) => self.typed(line),
                    Ok(Event::InputEnded) => self.end(),
                    Ok(Event::InputFailed(error)) => return Err(error),
                    // No reader is running.
                    Ok(Event::Settled | Event::ServerGone { .. }) => {}
                    Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {}
                }
            }
            if self.done() {
                return Ok(());
            }
            if let Ok(stream) = Channel::connect(&self.args.connect, self.tls.as_ref()) {
                return self.connected(stream, opener);
            }
        }
    }

    /// The chat's end: an error if typed lines never reached the relay.
    fn undelivered(&self) -> Result<(), Error> {
        match self.queue.len() + self.refused {
            0 => Ok(()),
            lines => Err(Error::Undelivered(lines)),
        }
    }
}

/// Starts the thread that reads lines from a stdin that is not a terminal.
fn spawn_stdin(events: mpsc::Sender<Event>) {
    std::thread::spawn(move || {
        for line in io::stdin().lock().split(b'\n') {
            let event = match line {
                Ok(line) => Event::Typed(String::from_utf8_lossy(&line).into_owned()),
                Err(e) => Event::InputFailed(Error::Stdin(e)),
            };
            let failed = matches!(event, Event::InputFailed(_));
            if events.send(event).is_err() || failed {
                return;
            }
        }
        let _ = events.send(Event::InputEnded);
    });
}
