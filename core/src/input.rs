//! What a user types into a chat client (`docs/PROTOCOL.md` section 7): a
//! message, `/me TEXT`, `//TEXT` for a message that starts with `/`,
//! `/quit`, `/help`. Every client parses its input here, once.

use crate::message::Body;

/// One typed line, understood.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input<'a> {
    /// Something to send: a message (`//TEXT` arrives as the text `/TEXT`)
    /// or an action.
    Send(Body<'a>),
    /// `/quit` or `/exit`: leave the room.
    Quit,
    /// `/help`: show [`HELP`].
    Help,
    /// An empty line: nothing to do.
    Nothing,
    /// A `/word` that is no command: the word.
    Unknown(&'a str),
}

/// What a client shows for `/help`.
pub const HELP: &str = "type a message and press Enter; /me TEXT for an action; \
                        //TEXT sends a message starting with /; /quit leaves";

impl<'a> Input<'a> {
    /// Reads one line (a trailing CR or LF is ignored). Never fails.
    pub fn parse(line: &'a str) -> Input<'a> {
        let line = line.trim_end_matches(['\r', '\n']);
        if let Some(escaped) = line.strip_prefix('/').filter(|t| t.starts_with('/')) {
            return Input::Send(Body::Text(escaped.as_bytes()));
        }
        match line {
            "" => Input::Nothing,
            "/quit" | "/exit" => Input::Quit,
            "/help" => Input::Help,
            "/me" => Input::Send(Body::Me(b"")),
            _ => {
                if let Some(action) = line.strip_prefix("/me ") {
                    Input::Send(Body::Me(action.as_bytes()))
                } else if line.starts_with('/') {
                    Input::Unknown(line.split_whitespace().next().unwrap_or(line))
                } else {
                    Input::Send(Body::Text(line.as_bytes()))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_parse() {
        assert_eq!(Input::parse("hi"), Input::Send(Body::Text(b"hi")));
        assert_eq!(Input::parse("hi\r\n"), Input::Send(Body::Text(b"hi")));
        assert_eq!(Input::parse("//etc"), Input::Send(Body::Text(b"/etc")));
        assert_eq!(Input::parse("/me naps"), Input::Send(Body::Me(b"naps")));
        assert_eq!(Input::parse("/me"), Input::Send(Body::Me(b"")));
        assert_eq!(Input::parse("/quit"), Input::Quit);
        assert_eq!(Input::parse("/exit"), Input::Quit);
        assert_eq!(Input::parse("/help"), Input::Help);
        assert_eq!(Input::parse("/frob x"), Input::Unknown("/frob"));
        assert_eq!(Input::parse(""), Input::Nothing);
    }

    #[test]
    fn test_typed_text_round_trips_through_a_payload() {
        use crate::message::{Nick, Payload};
        let mut out = [0u8; 64];
        for line in ["hi", "//etc/passwd", "/me waves", "a /b"] {
            let Input::Send(body) = Input::parse(line) else {
                panic!("{line} sends nothing");
            };
            let nick = Some(Nick::new("ann").unwrap());
            let wire = Payload { nick, body }.encode(&mut out).unwrap();
            assert_eq!(Payload::parse(wire).body, body, "{line}");
        }
    }
}
