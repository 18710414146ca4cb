//! The interactive client: a line editor whose prompt arriving messages
//! never garble (rustyline's external printer).

use super::command::{Command, HELP};
use super::display::Printer;
use super::{Sender, Shared, spawn_reader};
use crate::exit::Exit;
use rustyline::DefaultEditor;
use rustyline::error::ReadlineError;
use std::net::TcpStream;

/// Chats on the terminal until `/quit`, Ctrl-D or Ctrl-C.
pub fn chat(sender: &mut Sender, reader: TcpStream, session: Shared) -> Result<(), Exit> {
    let nick = session
        .lock()
        .map(|s| s.nick().to_owned())
        .unwrap_or_default();
    let saved = rustix::termios::tcgetattr(rustix::stdio::stdin()).ok();
    let mut editor =
        DefaultEditor::new().map_err(|e| Exit::failure(format!("cannot use the terminal: {e}")))?;
    let printer = editor
        .create_external_printer()
        .map_err(|e| Exit::failure(format!("cannot use the terminal: {e}")))?;
    spawn_reader(
        reader,
        session,
        Printer::Terminal {
            printer: Box::new(printer),
            saved,
        },
    );
    println!("joined as {nick}; {HELP}");
    let prompt = format!("{nick}> ");
    loop {
        let line = match editor.readline(&prompt) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted | ReadlineError::Eof) => break,
            Err(e) => return Err(Exit::failure(format!("cannot read the terminal: {e}"))),
        };
        match Command::parse(&line) {
            Command::Quit => break,
            Command::Help => println!("{HELP}"),
            Command::Invalid(why) if why.is_empty() => {}
            Command::Invalid(why) => println!("{why}"),
            command => {
                let _ = editor.add_history_entry(&line);
                sender.send_or_report(&command)?;
            }
        }
    }
    sender.send(&Command::Leave)
}
