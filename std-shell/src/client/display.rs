//! How arriving messages are shown: `[HH:MM:SS] <nick> text` in local time.

use chrono::{Local, TimeZone};
use fernchat_core::session::{Dropped, Received};
use rustix::termios::Termios;
use rustyline::ExternalPrinter;
use std::io::Write;

/// Where lines go: plain stdout, or above the line being typed.
pub enum Printer {
    /// Plain lines on stdout, for scripts and bots.
    Plain,
    /// rustyline's printer, which never garbles the line being typed; the
    /// terminal's settings are put back before the process ends.
    Terminal {
        /// Prints above the prompt.
        printer: Box<dyn ExternalPrinter + Send>,
        /// The terminal's settings from before rustyline changed them.
        saved: Option<Termios>,
    },
}

impl Printer {
    /// Plain lines on stdout.
    pub fn plain() -> Printer {
        Printer::Plain
    }

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
        let plural = if dropped.count == 1 { "" } else { "s" };
        self.line(format!(
            "[!] dropped {} message{plural}: {}",
            dropped.count, dropped.reason
        ));
    }

    /// Says the server is gone and ends the process with status 1.
    pub fn gone(self, why: &str) -> ! {
        if let Printer::Terminal {
            saved: Some(saved), ..
        } = &self
        {
            let _ = rustix::termios::tcsetattr(
                rustix::stdio::stdin(),
                rustix::termios::OptionalActions::Now,
                saved,
            );
        }
        let _ = std::io::stdout().flush();
        eprintln!("\nfernchat: {why}");
        std::process::exit(1);
    }

    fn line(&mut self, text: String) {
        match self {
            Printer::Plain => {
                let mut stdout = std::io::stdout().lock();
                let _ = writeln!(stdout, "{text}").and_then(|()| stdout.flush());
            }
            Printer::Terminal { printer, .. } => {
                let _ = printer.print(text);
            }
        }
    }
}
