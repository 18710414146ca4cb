//! `fernchat client`: `docs/PROTOCOL.md` section 7 over a std socket. A
//! reader thread shows what arrives; an input thread reads what is typed
//! (or piped in); the main thread seals and sends, and decides when the
//! chat ends.

mod display;
mod terminal;

use crate::error::Error;
use crate::{clock, keyfile};
use display::Printer;
use fernchat_core::frame::MAX_FRAME;
use fernchat_core::input::{HELP, Input};
use fernchat_core::message::Body;
use fernchat_core::seal::SealError;
use fernchat_core::session::{Opener, Sealer, Session};
use rand_core::{OsRng, UnwrapErr};
use std::io::{self, BufRead, IsTerminal, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::mpsc;

/// Options of `fernchat client`.
#[derive(clap::Args)]
pub struct ClientArgs {
    /// The relay's address (host:port).
    #[arg(long, default_value = "127.0.0.1:10101")]
    connect: String,
    /// Your nick: 1 to 32 bytes, no spaces.
    #[arg(short, long)]
    name: String,
    /// Key file shared by the room.
    #[arg(short, long, default_value = keyfile::DEFAULT_KEY_FILE)]
    key_file: PathBuf,
    /// Drop messages older than this many seconds.
    #[arg(long, value_name = "SECONDS")]
    ttl: Option<u64>,
}

/// What the input and reader threads tell the main thread.
enum Event {
    /// A line the user typed.
    Typed(String),
    /// The input ended (end of file, Ctrl-D, Ctrl-C or `/quit`).
    InputEnded,
    /// The input could not be read.
    InputFailed(Error),
    /// The relay went away.
    ServerGone(Error),
}

/// Joins the room and chats until `/quit`, end of input or a lost server.
pub fn run(args: &ClientArgs) -> Result<(), Error> {
    let keys = keyfile::load(&args.key_file)?;
    let Session { sealer, opener } =
        Session::new(keys, &args.name, args.ttl).map_err(|source| Error::BadNick {
            name: args.name.clone(),
            source,
        })?;
    // The replay cache makes the opener large (172 KiB): on the heap, not
    // on the reader thread's stack.
    let opener = Box::new(opener);
    let stream = TcpStream::connect(&args.connect).map_err(|source| Error::Connect {
        addr: args.connect.clone(),
        source,
    })?;
    let reader = stream.try_clone().map_err(Error::LostServer)?;
    let mut sender = Sender { stream, sealer };
    sender.send(Body::Join)?;
    let (events_in, events) = mpsc::channel();
    if io::stdin().is_terminal() && io::stdout().is_terminal() {
        terminal::chat(sender, reader, opener, events_in, events)
    } else {
        spawn_reader(reader, opener, Printer::Plain, events_in.clone());
        spawn_stdin(events_in);
        converse(&mut sender, &events, &mut Printer::Plain)
    }
}

/// Sends what is typed until the input ends or the relay goes; then says
/// `/leave`.
fn converse(
    sender: &mut Sender,
    events: &mpsc::Receiver<Event>,
    printer: &mut Printer,
) -> Result<(), Error> {
    loop {
        // Both threads hold a sender until they end, so `recv` fails only
        // once neither has anything more to say.
        let line = match events.recv() {
            Ok(Event::Typed(line)) => line,
            Ok(Event::InputEnded) | Err(mpsc::RecvError) => break,
            Ok(Event::InputFailed(error) | Event::ServerGone(error)) => return Err(error),
        };
        match Input::parse(&line) {
            Input::Send(body) => sender.send_or_report(body, printer)?,
            Input::Quit => break,
            Input::Help => printer.note(HELP),
            Input::Nothing => {}
            Input::Unknown(word) => printer.note(&format!("unknown command {word}; {HELP}")),
        }
    }
    sender.send(Body::Leave)
}

/// Writes frames for what the user does.
struct Sender {
    stream: TcpStream,
    sealer: Sealer,
}

impl Sender {
    /// Seals and sends one body; a seal failure (too long) comes back as
    /// such, a lost connection as [`Error::LostServer`].
    fn try_send(&mut self, body: Body<'_>) -> Result<Result<(), SealError>, Error> {
        let mut out = [0u8; MAX_FRAME];
        let frame = match self
            .sealer
            .seal(body, clock::now(), &mut UnwrapErr(OsRng), &mut out)
        {
            Ok(frame) => frame,
            Err(error) => return Ok(Err(error)),
        };
        self.stream.write_all(frame).map_err(Error::LostServer)?;
        Ok(Ok(()))
    }

    /// Sends a body that always fits (`/join`, `/leave`).
    fn send(&mut self, body: Body<'_>) -> Result<(), Error> {
        self.send_or_report(body, &mut Printer::Plain)
    }

    /// Sends `body`; one that cannot be sealed (too long) is reported and
    /// skipped, so that the user can go on.
    fn send_or_report(&mut self, body: Body<'_>, printer: &mut Printer) -> Result<(), Error> {
        if let Err(error) = self.try_send(body)? {
            let max = self.sealer.nick().max_text();
            printer.note(&format!(
                "not sent: {error} (at most {max} bytes a message)"
            ));
        }
        Ok(())
    }
}

/// Starts the thread that shows what arrives; when the relay goes away it
/// tells the main thread why.
fn spawn_reader(
    mut stream: TcpStream,
    mut opener: Box<Opener>,
    mut printer: Printer,
    events: mpsc::Sender<Event>,
) {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        let why = loop {
            let n = match stream.read(&mut buf) {
                Ok(0) => break Error::ServerClosed,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => break Error::LostServer(e),
            };
            let mut rest = &buf[..n];
            loop {
                let step = opener.receive(rest, clock::now());
                rest = &rest[step.consumed..];
                match step.message {
                    Some(message) => printer.message(&message),
                    None => break,
                }
            }
            if let Some(dropped) = opener.take_dropped() {
                printer.dropped(&dropped);
            }
        };
        let _ = events.send(Event::ServerGone(why));
    });
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
