//! How arriving messages are shown: `[HH:MM:SS] <nick> text` in local
//! time, the text made safe for a terminal by the core's rules
//! (`fernchat_core::render`).

use chrono::{Local, TimeZone};
use fernchat_core::session::{Dropped, Received};
use rustyline::ExternalPrinter;
use std::io::Write;

/// Where lines go: plain stdout, or above the line being typed.
pub enum Printer {
    /// Plain lines on stdout (notes on stderr), for scripts and bots.
    Plain,
    /// rustyline's printer, which never garbles the line being typed.
    Terminal(Box<dyn ExternalPrinter + Send>),
}

impl Printer {
    /// Shows one message with the time its sender wrote in the token.
    pub fn message(&mut self, message: &Received<'_>) {
        let time = i64::try_from(message.timestamp)
            .ok()
            .and_then(|secs| Local.timestamp_opt(secs, 0).single())
            .map_or_else(
                || "--:--:--".to_owned(),
                |t| t.format("%H:%M:%S").to_string(),
            );
        self.line(format!("[{time}] {}", message.payload));
    }

    /// Says, once per burst, how many frames were dropped and why.
    pub fn dropped(&mut self, dropped: &Dropped) {
        self.line(format!("[!] {dropped}"));
    }

    /// A note for the user (help, a message not sent): on stderr in plain
    /// mode, so that stdout carries only the room's messages.
    pub fn note(&mut self, text: &str) {
        match self {
            Printer::Plain => eprintln!("fernchat: {text}"),
            Printer::Terminal(printer) => {
                let _ = printer.print(text.to_owned());
            }
        }
    }

    fn line(&mut self, text: String) {
        match self {
            Printer::Plain => {
                let mut stdout = std::io::stdout().lock();
                let _ = writeln!(stdout, "{text}").and_then(|()| stdout.flush());
            }
            Printer::Terminal(printer) => {
                let _ = printer.print(text);
            }
        }
    }
}
