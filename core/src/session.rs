//! The sans-IO chat client (PROTOCOL section 7): text in, frame bytes out;
//! received bytes in, messages and drop reports out. Both shells' clients
//! drive this one state machine.

use crate::fernet::{DECODE_BUF_LEN, DEFAULT_MAX_KEYS, IV_LEN, KeySet, TokenError};
use crate::frame::{FrameDecoder, FrameError};
use crate::message::{Body, MAX_NICK, Nick, NickError, Payload};
use crate::replay::ReplayCache;
use crate::seal::seal_frame;

/// Tokens a client remembers to refuse replays.
pub const DEFAULT_CLIENT_REPLAY: usize = 1024;

/// Why a received frame was not shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// The line was not a frame.
    Frame(FrameError),
    /// The token did not decrypt (bad MAC, another key, too old, replayed...).
    Token(TokenError),
}

impl core::fmt::Display for DropReason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DropReason::Frame(e) => e.fmt(f),
            DropReason::Token(e) => e.fmt(f),
        }
    }
}

/// A burst of frames that were dropped: how many, and the last reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dropped {
    /// Frames dropped since the last report.
    pub count: u32,
    /// Why the most recent one was dropped.
    pub reason: DropReason,
}

/// A message that arrived and verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Received<'a> {
    /// The token's own timestamp (Unix seconds).
    pub timestamp: u64,
    /// Who sent it and what it says.
    pub payload: Payload<'a>,
}

/// One client's state: its keys, nick, frame decoder and replay cache.
pub struct Session<const K: usize = DEFAULT_MAX_KEYS, const R: usize = DEFAULT_CLIENT_REPLAY> {
    keys: KeySet<K>,
    nick: heapless::String<MAX_NICK>,
    ttl: Option<u64>,
    decoder: FrameDecoder,
    replay: ReplayCache<R>,
    plaintext: [u8; DECODE_BUF_LEN],
    dropped: Option<Dropped>,
}

impl<const K: usize, const R: usize> Session<K, R> {
    /// A session for `nick` with `keys`; tokens older than `ttl` seconds (if
    /// set) are dropped.
    pub fn new(keys: KeySet<K>, nick: &str, ttl: Option<u64>) -> Result<Self, NickError> {
        let nick = Nick::new(nick)?.as_str();
        let mut owned = heapless::String::new();
        owned.push_str(nick).map_err(|_| NickError::BadLength)?;
        Ok(Session {
            keys,
            nick: owned,
            ttl,
            decoder: FrameDecoder::new(),
            replay: ReplayCache::new(),
            plaintext: [0; DECODE_BUF_LEN],
            dropped: None,
        })
    }

    /// This client's nick.
    pub fn nick(&self) -> &str {
        &self.nick
    }

    /// The frame announcing this client (`nick LF /join`).
    pub fn join<'o>(
        &self,
        now: u64,
        iv: [u8; IV_LEN],
        out: &'o mut [u8],
    ) -> Result<&'o [u8], TokenError> {
        self.seal(Body::Join, now, iv, out)
    }

    /// The frame saying goodbye (`nick LF /leave`).
    pub fn leave<'o>(
        &self,
        now: u64,
        iv: [u8; IV_LEN],
        out: &'o mut [u8],
    ) -> Result<&'o [u8], TokenError> {
        self.seal(Body::Leave, now, iv, out)
    }

    /// A message frame; a text starting with `/` is escaped as `//`.
    pub fn say<'o>(
        &self,
        text: &[u8],
        now: u64,
        iv: [u8; IV_LEN],
        out: &'o mut [u8],
    ) -> Result<&'o [u8], TokenError> {
        self.seal(Body::Text(text), now, iv, out)
    }

    /// An action frame (`/me TEXT`).
    pub fn act<'o>(
        &self,
        text: &[u8],
        now: u64,
        iv: [u8; IV_LEN],
        out: &'o mut [u8],
    ) -> Result<&'o [u8], TokenError> {
        self.seal(Body::Me(text), now, iv, out)
    }

    fn seal<'o>(
        &self,
        body: Body<'_>,
        now: u64,
        iv: [u8; IV_LEN],
        out: &'o mut [u8],
    ) -> Result<&'o [u8], TokenError> {
        // The nick was checked in `new`.
        let nick = Nick::new(&self.nick).ok();
        seal_frame(&self.keys, &Payload { nick, body }, now, iv, out)
    }

    /// Consumes received bytes from the front of `input` up to the next
    /// message that verifies; gives how many bytes it consumed and the
    /// message, or `None` once `input` is used up. Frames that fail are
    /// counted for [`Session::take_dropped`]. Never panics, whatever the input.
    pub fn receive(&mut self, input: &[u8], now: u64) -> (usize, Option<Received<'_>>) {
        let mut consumed = 0;
        loop {
            let (n, frame) = self.decoder.decode(&input[consumed..]);
            consumed += n;
            let reason = match frame {
                None => return (consumed, None),
                Some(Err(e)) => DropReason::Frame(e),
                Some(Ok(frame)) => {
                    match self
                        .keys
                        .decrypt(frame.token, now, self.ttl, &mut self.plaintext)
                    {
                        Err(e) => DropReason::Token(e),
                        Ok(opened)
                            if !self.replay.check_and_insert(&opened.tag, opened.timestamp) =>
                        {
                            DropReason::Token(TokenError::Replayed)
                        }
                        Ok(opened) => {
                            // Re-borrow the plaintext for the caller's lifetime.
                            let (timestamp, len) = (opened.timestamp, opened.plaintext.len());
                            let start = crate::fernet::HEADER_LEN;
                            let payload = Payload::parse(&self.plaintext[start..start + len]);
                            return (consumed, Some(Received { timestamp, payload }));
                        }
                    }
                }
            };
            let count = self.dropped.map_or(0, |d| d.count).saturating_add(1);
            self.dropped = Some(Dropped { count, reason });
        }
    }

    /// The frames dropped since the last call, if any: call it when a read
    /// burst is processed, to report drops once per burst.
    pub fn take_dropped(&mut self) -> Option<Dropped> {
        self.dropped.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fernet::Key;
    use crate::frame::MAX_FRAME;

    extern crate std;
    use std::string::ToString;
    use std::vec::Vec;

    fn session(nick: &str, key: u8) -> Session<2, 8> {
        Session::new(KeySet::single(Key::from_bytes([key; 32])), nick, Some(300)).unwrap()
    }

    /// Every message `to` takes from `bytes`, formatted for display.
    fn shown(to: &mut Session<2, 8>, bytes: &[u8], now: u64) -> Vec<std::string::String> {
        let mut rest = bytes;
        let mut shown = Vec::new();
        while let (n, Some(message)) = to.receive(rest, now) {
            shown.push(message.payload.to_string());
            rest = &rest[n..];
        }
        shown
    }

    #[test]
    fn test_join_say_act_leave() {
        let ann = session("ann", 1);
        let mut bob = session("bob", 1);
        let mut wire = Vec::new();
        let mut out = [0u8; MAX_FRAME];
        wire.extend_from_slice(ann.join(100, [1; 16], &mut out).unwrap());
        wire.extend_from_slice(ann.say(b"hi /all", 100, [2; 16], &mut out).unwrap());
        wire.extend_from_slice(ann.say(b"/not a command", 100, [3; 16], &mut out).unwrap());
        wire.extend_from_slice(ann.act(b"waves", 100, [4; 16], &mut out).unwrap());
        wire.extend_from_slice(ann.leave(100, [5; 16], &mut out).unwrap());
        assert_eq!(
            shown(&mut bob, &wire, 101),
            [
                "ann joined",
                "<ann> hi /all",
                "<ann> /not a command",
                "* ann waves",
                "ann left"
            ]
        );
        assert_eq!(bob.take_dropped(), None);
    }

    #[test]
    fn test_drops_counted_once_per_burst() {
        let ann = session("ann", 1);
        let eve = session("eve", 2);
        let mut bob = session("bob", 1);
        let mut out = [0u8; MAX_FRAME];
        let good = ann.say(b"ok", 100, [1; 16], &mut out).unwrap().to_vec();
        let other_key = eve.say(b"x", 100, [1; 16], &mut out).unwrap().to_vec();
        let mut wire = Vec::new();
        wire.extend_from_slice(&other_key);
        wire.extend_from_slice(&good);
        wire.extend_from_slice(&good); // a replay
        assert_eq!(shown(&mut bob, &wire, 100), ["<ann> ok"]);
        let dropped = bob.take_dropped().unwrap();
        assert_eq!(dropped.count, 2);
        assert_eq!(dropped.reason, DropReason::Token(TokenError::Replayed));
        assert_eq!(bob.take_dropped(), None);
    }

    #[test]
    fn test_expired_and_future_dropped() {
        let ann = session("ann", 1);
        let mut bob = session("bob", 1);
        let mut out = [0u8; MAX_FRAME];
        let old = ann.say(b"old", 100, [1; 16], &mut out).unwrap().to_vec();
        assert!(shown(&mut bob, &old, 401).is_empty());
        assert_eq!(
            bob.take_dropped().unwrap().reason,
            DropReason::Token(TokenError::Expired)
        );
        let future = ann.say(b"soon", 1000, [1; 16], &mut out).unwrap().to_vec();
        assert!(shown(&mut bob, &future, 939).is_empty());
        assert_eq!(
            bob.take_dropped().unwrap().reason,
            DropReason::Token(TokenError::FromTheFuture)
        );
    }

    #[test]
    fn test_too_long_text_refused() {
        let ann = session("ann", 1);
        let mut out = [0u8; MAX_FRAME];
        let text = [b'a'; 3007];
        assert_eq!(
            ann.say(&text, 1, [0; 16], &mut out),
            Err(TokenError::PlaintextTooLong)
        );
        // The longest that fits: nick, LF and text make 3007 bytes.
        let frame = ann.say(&text[..3003], 1, [0; 16], &mut out).unwrap();
        assert_eq!(frame.len(), 4089);
    }

    #[test]
    fn test_bad_nick_refused() {
        let keys = KeySet::<2>::single(Key::from_bytes([1; 32]));
        assert!(Session::<2, 8>::new(keys, "two words", None).is_err());
    }
}
