//! The interactive client: a line editor whose prompt arriving messages
//! never garble (rustyline's external printer), on its own thread, so that
//! what is being typed survives whatever the relay does.

use super::channel::Channel;
use super::display::Printer;
use super::{Chat, Event};
use crate::error::Error;
use fernchat_core::input::{HELP, Input};
use fernchat_core::session::Opener;
use rustix::termios::OptionalActions;
use rustyline::DefaultEditor;
use rustyline::error::ReadlineError;
use std::sync::{Arc, Mutex, mpsc};

/// Chats on the terminal until `/quit`, Ctrl-D or Ctrl-C (or a lost relay
/// with `--no-reconnect`); the terminal's settings are put back whichever
/// way it ends.
pub fn chat(
    mut chat: Chat<'_>,
    stream: Channel,
    opener: Box<Opener>,
    events: mpsc::Receiver<Event>,
) -> Result<(), Error> {
    let nick = chat.sealer.nick().as_str().to_owned();
    let saved = rustix::termios::tcgetattr(rustix::stdio::stdin()).ok();
    let mut editor = DefaultEditor::new().map_err(|e| Error::Terminal(e.to_string()))?;
    let printer = editor
        .create_external_printer()
        .map_err(|e| Error::Terminal(e.to_string()))?;
    chat.printer = Printer::Terminal(Arc::new(Mutex::new(Box::new(printer))));
    chat.interactive = true;
    chat.connected(stream, opener)?;
    println!("joined as {nick}; {HELP}");
    let events_in = chat.events_in.clone();
    std::thread::spawn(move || read_lines(editor, &format!("{nick}> "), &events_in));
    let result = chat.converse(&events);
    if let Some(saved) = saved {
        // The editor may be mid-line in raw mode when the chat ends.
        let _ = rustix::termios::tcsetattr(rustix::stdio::stdin(), OptionalActions::Now, &saved);
    }
    if result.is_err() {
        println!();
    }
    result
}

/// Reads lines until `/quit`, Ctrl-D or Ctrl-C, and passes them on.
fn read_lines(mut editor: DefaultEditor, prompt: &str, events: &mpsc::Sender<Event>) {
    loop {
        let event = match editor.readline(prompt) {
            Ok(line) => {
                let input = Input::parse(&line);
                let quit = input == Input::Quit;
                if matches!(input, Input::Send(_)) {
                    let _ = editor.add_history_entry(&line);
                }
                if events.send(Event::Typed(line)).is_err() || quit {
                    return;
                }
                continue;
            }
            Err(ReadlineError::Interrupted | ReadlineError::Eof) => Event::InputEnded,
            Err(e) => Event::InputFailed(Error::Terminal(e.to_string())),
        };
        let _ = events.send(event);
        return;
    }
}
