//! What a typed line means: a message, `/me`, `/quit`, `/help`.

use fernchat_core::fernet::MAX_PLAINTEXT;

/// One line of input, understood.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    /// Announce this client (sent on connect).
    Join,
    /// Say goodbye (sent on quit or end of input).
    Leave,
    /// A message; one starting with `/` came in as `//...`.
    Say(String),
    /// `/me TEXT`.
    Act(String),
    /// `/quit`.
    Quit,
    /// `/help`.
    Help,
    /// A line that cannot be sent as it is, and why.
    Invalid(String),
}

/// Shown for `/help`.
pub const HELP: &str = "type a message and press Enter; /me TEXT for an action; \
                        //TEXT sends a message starting with /; /quit leaves";

impl Command {
    /// Reads a typed line. An empty line says nothing.
    pub fn parse(line: &str) -> Command {
        if let Some(escaped) = line.strip_prefix("//") {
            return Command::Say(format!("/{escaped}"));
        }
        match line {
            "" => Command::Invalid(String::new()),
            "/quit" | "/exit" => Command::Quit,
            "/help" => Command::Help,
            "/me" => Command::Act(String::new()),
            _ => {
                if let Some(action) = line.strip_prefix("/me ") {
                    Command::Act(action.to_owned())
                } else if line.starts_with('/') {
                    let word = line.split_whitespace().next().unwrap_or(line);
                    Command::Invalid(format!("unknown command {word}; {HELP}"))
                } else {
                    Command::Say(line.to_owned())
                }
            }
        }
    }

    /// The longest message `nick` can send in one frame.
    pub fn max_text(nick: &str) -> usize {
        MAX_PLAINTEXT - nick.len() - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_parse() {
        assert_eq!(Command::parse("hi"), Command::Say("hi".into()));
        assert_eq!(Command::parse("//etc"), Command::Say("/etc".into()));
        assert_eq!(Command::parse("/me naps"), Command::Act("naps".into()));
        assert_eq!(Command::parse("/quit"), Command::Quit);
        assert!(
            matches!(Command::parse("/frob x"), Command::Invalid(why) if why.contains("/frob"))
        );
        assert_eq!(Command::parse(""), Command::Invalid(String::new()));
    }
}
