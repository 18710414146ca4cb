//! How arriving messages are shown: `[HH:MM:SS] <nick> text` in local
//! time (with the date when it is not today's), the text made safe for a
//! terminal by the core's rules (`fernchat_core::render`).

use chrono::{Local, TimeZone};
use fernchat_core::session::{Dropped, Received};
use rustyline::ExternalPrinter;
use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

/// Where lines go: plain stdout, or above the line being typed. Clones
/// print to the same place.
#[derive(Clone)]
pub enum Printer {
    /// Plain lines on stdout (notes on stderr), for scripts and bots.
    Plain,
    /// rustyline's printer, which never garbles the line being typed.
    Terminal(Arc<Mutex<Box<dyn ExternalPrinter + Send>>>),
}

impl Printer {
    /// Shows one message with the time its sender wrote in the token.
    pub fn message(&self, message: &Received<'_>) {
        let time = i64::try_from(message.timestamp)
            .ok()
            .and_then(|secs| Local.timestamp_opt(secs, 0).single())
            .map_or_else(
                || "--:--:--".to_owned(),
                |t| {
                    let today = t.date_naive() == Local::now().date_naive();
                    let format = if today {
                        "%H:%M:%S"
                    } else {
                        "%Y-%m-%d %H:%M:%S"
                    };
                    t.format(format).to_string()
                },
            );
        self.line(format!("[{time}] {}", message.payload));
    }

    /// Says how many frames were dropped and why (once per burst).
    pub fn dropped(&self, dropped: &Dropped) {
        self.line(format!("[!] {dropped}"));
    }

    /// A note for the user (help, a message not sent, the relay's state):
    /// on stderr in plain mode, so that stdout carries only the room's
    /// messages.
    pub fn note(&self, text: &str) {
        match self {
            Printer::Plain => eprintln!("fernchat: {text}"),
            Printer::Terminal(printer) => print_above(printer, text.to_owned()),
        }
    }

    fn line(&self, text: String) {
        match self {
            Printer::Plain => {
                let mut stdout = std::io::stdout().lock();
                let _ = writeln!(stdout, "{text}").and_then(|()| stdout.flush());
            }
            Printer::Terminal(printer) => print_above(printer, text),
        }
    }
}

fn print_above(printer: &Mutex<Box<dyn ExternalPrinter + Send>>, text: String) {
    let mut printer = printer.lock().unwrap_or_else(PoisonError::into_inner);
    let _ = printer.print(text);
}
