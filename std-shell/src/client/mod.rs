//! `fernchat client`: PROTOCOL section 7 over a std socket. A reader thread
//! shows what arrives; the main thread sends what is typed (or piped in).

mod command;
mod display;
mod terminal;

use crate::exit::Exit;
use crate::{clock, keyfile};
use command::Command;
use display::Printer;
use fernchat_core::frame::MAX_FRAME;
use fernchat_core::session::Session;
use std::io::{self, BufRead, IsTerminal, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

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

/// The session, shared by the reader thread (receive) and the sender (seal).
type Shared = Arc<Mutex<Session>>;

/// Joins the room and chats until `/quit`, end of input or a lost server.
pub fn run(args: &ClientArgs) -> Result<(), Exit> {
    let keys = keyfile::load(&args.key_file)?;
    let session = Session::new(keys, &args.name, args.ttl)
        .map_err(|e| Exit::usage(format!("bad --name {:?}: {e}", args.name)))?;
    let stream = TcpStream::connect(&args.connect).map_err(|e| {
        Exit::usage(format!(
            "cannot connect to {}: {e} (is `fernchat server` running there?)",
            args.connect
        ))
    })?;
    let reader = stream
        .try_clone()
        .map_err(|e| Exit::failure(format!("cannot share the socket: {e}")))?;
    let session: Shared = Arc::new(Mutex::new(session));
    let mut sender = Sender {
        stream,
        session: Arc::clone(&session),
    };
    sender.send(&Command::Join)?;
    if io::stdin().is_terminal() && io::stdout().is_terminal() {
        terminal::chat(&mut sender, reader, session)
    } else {
        let printer = Printer::plain();
        spawn_reader(reader, session, printer);
        piped(&mut sender)
    }
}

/// Reads lines from a non-terminal stdin until it ends, then leaves.
fn piped(sender: &mut Sender) -> Result<(), Exit> {
    for line in io::stdin().lock().split(b'\n') {
        let line = line.map_err(|e| Exit::failure(format!("cannot read stdin: {e}")))?;
        let line = String::from_utf8_lossy(&line);
        match Command::parse(line.trim_end_matches('\r')) {
            Command::Quit => break,
            Command::Invalid(why) if why.is_empty() => {}
            Command::Invalid(why) => eprintln!("fernchat: {why}"),
            command => sender.send_or_report(&command)?,
        }
    }
    sender.send(&Command::Leave)
}

/// Writes frames for what the user does.
pub struct Sender {
    stream: TcpStream,
    session: Shared,
}

impl Sender {
    /// Seals and sends one command (nothing for the ones that send nothing).
    fn send(&mut self, command: &Command) -> Result<(), Exit> {
        let mut out = [0u8; MAX_FRAME];
        let (now, iv) = (clock::now(), clock::random_iv());
        let session = self
            .session
            .lock()
            .map_err(|_| Exit::failure("the reader thread failed"))?;
        let frame = match command {
            Command::Join => session.join(now, iv, &mut out),
            Command::Leave => session.leave(now, iv, &mut out),
            Command::Say(text) => session.say(text.as_bytes(), now, iv, &mut out),
            Command::Act(text) => session.act(text.as_bytes(), now, iv, &mut out),
            Command::Quit | Command::Help | Command::Invalid(_) => return Ok(()),
        };
        let max = Command::max_text(session.nick());
        drop(session);
        let frame = frame
            .map_err(|e| Exit::usage(format!("not sent: {e} (at most {max} bytes a message)")))?;
        self.stream
            .write_all(frame)
            .map_err(|e| Exit::failure(format!("lost the server: {e}")))
    }
}

impl Sender {
    /// Sends `command`; one that cannot be sealed (too long) is reported on
    /// stderr and skipped, so the user can go on.
    fn send_or_report(&mut self, command: &Command) -> Result<(), Exit> {
        match self.send(command) {
            Err(Exit { code: 2, message }) => {
                eprintln!("fernchat: {message}");
                Ok(())
            }
            result => result,
        }
    }
}

/// Starts the thread that shows what arrives; when the server goes away it
/// says so and ends the process with status 1.
fn spawn_reader(mut stream: TcpStream, session: Shared, mut printer: Printer) {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        let why = loop {
            let n = match stream.read(&mut buf) {
                Ok(0) => break "the server closed the connection".to_owned(),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => break format!("lost the server: {e}"),
            };
            let Ok(mut session) = session.lock() else {
                break "the sender failed".to_owned();
            };
            let mut rest = &buf[..n];
            while let (used, Some(message)) = session.receive(rest, clock::now()) {
                printer.message(&message);
                rest = &rest[used..];
            }
            if let Some(dropped) = session.take_dropped() {
                printer.dropped(&dropped);
            }
        };
        printer.gone(&why);
    });
}
