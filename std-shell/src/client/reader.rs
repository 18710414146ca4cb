//! The thread that reads one connection: it shows what arrives, sums up
//! drops at most once a second, says when the relay has taken the client
//! in, and hands the opener back when the connection ends.

use super::Event;
use super::channel::Channel;
use super::display::Printer;
use crate::clock;
use crate::error::Error;
use fernchat_core::session::Opener;
use std::io::{self, Read};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How often drops are summed up, and how long a connection must last for
/// the relay to have taken the client in.
const SECOND: Duration = Duration::from_secs(1);

/// Starts the reader of `stream`.
pub fn spawn(
    mut stream: Channel,
    mut opener: Box<Opener>,
    printer: Printer,
    events: mpsc::Sender<Event>,
) {
    std::thread::spawn(move || {
        let why = read(&mut stream, &mut opener, &printer, &events);
        if let Some(dropped) = opener.take_dropped() {
            printer.dropped(&dropped);
        }
        let notice = opener.take_notice();
        let _ = events.send(Event::ServerGone {
            why,
            notice,
            opener,
        });
    });
}

/// Reads and shows until the connection ends; gives why it ended.
fn read(
    stream: &mut Channel,
    opener: &mut Opener,
    printer: &Printer,
    events: &mpsc::Sender<Event>,
) -> Error {
    if let Err(e) = stream.set_read_timeout(Some(SECOND)) {
        return Error::LostServer(e);
    }
    let started = Instant::now();
    let mut settled = false;
    let mut last_report = Instant::now();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) => return Error::ServerClosed,
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                0
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Error::LostServer(e),
        };
        let mut rest = &buf[..n];
        let mut shown = false;
        loop {
            let step = opener.receive(rest, clock::now());
            rest = &rest[step.consumed..];
            match step.message {
                Some(message) => {
                    printer.message(&message);
                    shown = true;
                }
                None => break,
            }
        }
        if !settled && (shown || started.elapsed() >= SECOND) {
            settled = true;
            let _ = events.send(Event::Settled);
        }
        if n == 0 || last_report.elapsed() >= SECOND {
            if let Some(dropped) = opener.take_dropped() {
                printer.dropped(&dropped);
            }
            last_report = Instant::now();
        }
    }
}
