//! The sans-IO relay policy (PROTOCOL section 6) shared by both servers:
//! per-connection received bytes in, forward / reject / disconnect out.

use crate::fernet::{DECODE_BUF_LEN, DEFAULT_MAX_KEYS, IV_LEN, KeySet, TokenError, check_shape};
use crate::frame::{FrameDecoder, FrameError};
use crate::message::{Body, MAX_NICK, Nick, Payload};
use crate::replay::ReplayCache;
use crate::seal::seal_frame;

/// Invalid frames in a row after which a client is disconnected.
pub const MAX_INVALID_IN_A_ROW: u8 = 16;
/// Default TTL of a keyed relay, in seconds.
pub const DEFAULT_RELAY_TTL: u64 = 300;
/// Tokens a keyed relay remembers to refuse replays, unless told otherwise.
pub const DEFAULT_RELAY_REPLAY: usize = 4096;

/// Why a frame was not forwarded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RejectReason {
    /// The line was not a frame.
    Frame(FrameError),
    /// The token failed the shape check, or (keyed) MAC, freshness or replay.
    Token(TokenError),
}

impl core::fmt::Display for RejectReason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            RejectReason::Frame(e) => e.fmt(f),
            RejectReason::Token(e) => e.fmt(f),
        }
    }
}

/// What to do with the next thing a connection sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict<'a> {
    /// Send these bytes (the frame as received, LF included) to every other client.
    Forward(&'a [u8]),
    /// Drop the frame; the connection carries on.
    Reject(RejectReason),
    /// Drop the frame and close the connection: too many invalid frames in a row.
    Disconnect(RejectReason),
}

/// The relay's state for one connection: its frame buffer, its run of
/// invalid frames and (keyed mode) the nick it has been sending as.
#[derive(Clone, Debug, Default)]
pub struct Inbound {
    decoder: FrameDecoder,
    invalid_in_a_row: u8,
    nick: Option<heapless::String<MAX_NICK>>,
}

impl Inbound {
    /// A new connection's state.
    pub const fn new() -> Inbound {
        Inbound {
            decoder: FrameDecoder::new(),
            invalid_in_a_row: 0,
            nick: None,
        }
    }

    /// The nick this connection has sent valid tokens as (keyed mode), unless
    /// it said `/leave`.
    pub fn nick(&self) -> Option<&str> {
        self.nick.as_deref()
    }
}

/// The relay's rules: blind (shape only) or keyed (MAC, freshness, replay).
pub struct RelayPolicy<const K: usize = DEFAULT_MAX_KEYS, const R: usize = DEFAULT_RELAY_REPLAY> {
    keyed: Option<Keyed<K, R>>,
}

struct Keyed<const K: usize, const R: usize> {
    keys: KeySet<K>,
    ttl: u64,
    replay: ReplayCache<R>,
    scratch: [u8; DECODE_BUF_LEN],
}

impl<const K: usize, const R: usize> RelayPolicy<K, R> {
    /// A relay with no key: it checks frames and token shapes only.
    pub fn blind() -> Self {
        RelayPolicy { keyed: None }
    }

    /// A relay holding `keys`: it also verifies MACs, refuses tokens older
    /// than `ttl` seconds or from the future, and never forwards a token twice.
    pub fn keyed(keys: KeySet<K>, ttl: u64) -> Self {
        RelayPolicy {
            keyed: Some(Keyed {
                keys,
                ttl,
                replay: ReplayCache::new(),
                scratch: [0; DECODE_BUF_LEN],
            }),
        }
    }

    /// True when the relay holds keys.
    pub fn is_keyed(&self) -> bool {
        self.keyed.is_some()
    }

    /// Consumes bytes `conn` sent, from the front of `input`, up to the next
    /// verdict; gives how many bytes it consumed and the verdict, or `None`
    /// once `input` is used up. Never panics, whatever the input.
    pub fn receive<'c>(
        &mut self,
        conn: &'c mut Inbound,
        input: &[u8],
        now: u64,
    ) -> (usize, Option<Verdict<'c>>) {
        let (consumed, frame) = conn.decoder.decode(input);
        let checked = match frame {
            None => return (consumed, None),
            Some(Err(e)) => Err(RejectReason::Frame(e)),
            Some(Ok(frame)) => match &mut self.keyed {
                None => check_shape(frame.token).map(|()| frame.raw),
                Some(keyed) => keyed
                    .check(frame.token, now, &mut conn.nick)
                    .map(|()| frame.raw),
            }
            .map_err(RejectReason::Token),
        };
        let verdict = match checked {
            Ok(raw) => {
                conn.invalid_in_a_row = 0;
                Verdict::Forward(raw)
            }
            Err(reason) => {
                conn.invalid_in_a_row = conn.invalid_in_a_row.saturating_add(1);
                if conn.invalid_in_a_row >= MAX_INVALID_IN_A_ROW {
                    Verdict::Disconnect(reason)
                } else {
                    Verdict::Reject(reason)
                }
            }
        };
        (consumed, Some(verdict))
    }

    /// Keyed mode: the `nick LF /leave` frame to send for a connection that
    /// went away after sending valid tokens but no `/leave`; `None` otherwise.
    pub fn leave_on_behalf<'o>(
        &self,
        conn: &Inbound,
        now: u64,
        iv: [u8; IV_LEN],
        out: &'o mut [u8],
    ) -> Option<&'o [u8]> {
        let keyed = self.keyed.as_ref()?;
        let nick = Nick::new(conn.nick.as_deref()?).ok()?;
        let payload = Payload {
            nick: Some(nick),
            body: Body::Leave,
        };
        seal_frame(&keyed.keys, &payload, now, iv, out).ok()
    }
}

impl<const K: usize, const R: usize> Keyed<K, R> {
    /// Verifies MAC, freshness and replay; learns the sender's nick.
    fn check(
        &mut self,
        token: &[u8],
        now: u64,
        nick: &mut Option<heapless::String<MAX_NICK>>,
    ) -> Result<(), TokenError> {
        let opened = self
            .keys
            .decrypt(token, now, Some(self.ttl), &mut self.scratch)?;
        if !self.replay.check_and_insert(&opened.tag, opened.timestamp) {
            return Err(TokenError::Replayed);
        }
        let payload = Payload::parse(opened.plaintext);
        match (payload.nick, payload.body) {
            (_, Body::Leave) => *nick = None,
            (Some(sender), _) => *nick = heapless::String::try_from(sender.as_str()).ok(),
            (None, _) => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fernet::Key;
    use crate::frame::MAX_FRAME;
    use crate::session::Session;

    extern crate std;
    use std::vec::Vec;

    #[derive(Debug, PartialEq)]
    enum Seen {
        Forward(Vec<u8>),
        Reject(RejectReason),
        Disconnect(RejectReason),
    }

    fn run(
        policy: &mut RelayPolicy<2, 8>,
        conn: &mut Inbound,
        bytes: &[u8],
        now: u64,
    ) -> Vec<Seen> {
        let mut rest = bytes;
        let mut seen = Vec::new();
        while !rest.is_empty() {
            let (n, verdict) = policy.receive(conn, rest, now);
            rest = &rest[n..];
            match verdict {
                Some(Verdict::Forward(raw)) => seen.push(Seen::Forward(raw.to_vec())),
                Some(Verdict::Reject(r)) => seen.push(Seen::Reject(r)),
                Some(Verdict::Disconnect(r)) => seen.push(Seen::Disconnect(r)),
                None => {}
            }
        }
        seen
    }

    fn ann(key: u8) -> Session<2, 8> {
        Session::new(KeySet::single(Key::from_bytes([key; 32])), "ann", None).unwrap()
    }

    #[test]
    fn test_blind_forwards_valid_shapes_unchanged() {
        let mut policy = RelayPolicy::<2, 8>::blind();
        let mut conn = Inbound::new();
        let mut out = [0u8; MAX_FRAME];
        let mut frame = ann(1).say(b"hi", 5, [0; 16], &mut out).unwrap().to_vec();
        frame.insert(frame.len() - 1, b'\r');
        let seen = run(&mut policy, &mut conn, &frame, 0);
        assert_eq!(seen, [Seen::Forward(frame.clone())]);
        let seen = run(&mut policy, &mut conn, b"QUJD\n", 0);
        assert_eq!(
            seen,
            [Seen::Reject(RejectReason::Token(TokenError::Malformed))]
        );
        assert_eq!(conn.nick(), None);
    }

    #[test]
    fn test_sixteen_invalid_in_a_row_disconnect() {
        let mut policy = RelayPolicy::<2, 8>::blind();
        let mut conn = Inbound::new();
        let mut out = [0u8; MAX_FRAME];
        let good = ann(1).say(b"hi", 5, [0; 16], &mut out).unwrap().to_vec();
        let mut wire = Vec::new();
        for _ in 0..15 {
            wire.extend_from_slice(b"!\n");
        }
        wire.extend_from_slice(&good); // resets the run
        for _ in 0..16 {
            wire.extend_from_slice(b"!\n");
        }
        let seen = run(&mut policy, &mut conn, &wire, 0);
        let invalid = RejectReason::Frame(FrameError::InvalidFrame);
        assert_eq!(seen[14], Seen::Reject(invalid));
        assert_eq!(seen[15], Seen::Forward(good));
        assert_eq!(seen[30], Seen::Reject(invalid));
        assert_eq!(seen[31], Seen::Disconnect(invalid));
    }

    #[test]
    fn test_keyed_checks_mac_replay_and_learns_nick() {
        let keys = KeySet::single(Key::from_bytes([1; 32]));
        let mut policy = RelayPolicy::<2, 8>::keyed(keys, 300);
        let mut conn = Inbound::new();
        let mut out = [0u8; MAX_FRAME];
        let good = ann(1).say(b"hi", 1000, [0; 16], &mut out).unwrap().to_vec();
        let forged = ann(2).say(b"hi", 1000, [0; 16], &mut out).unwrap().to_vec();
        let stale = ann(1).say(b"old", 600, [0; 16], &mut out).unwrap().to_vec();
        let mut wire = good.clone();
        wire.extend_from_slice(&forged);
        wire.extend_from_slice(&good);
        wire.extend_from_slice(&stale);
        let seen = run(&mut policy, &mut conn, &wire, 1000);
        assert_eq!(
            seen,
            [
                Seen::Forward(good),
                Seen::Reject(RejectReason::Token(TokenError::BadMac)),
                Seen::Reject(RejectReason::Token(TokenError::Replayed)),
                Seen::Reject(RejectReason::Token(TokenError::Expired)),
            ]
        );
        assert_eq!(conn.nick(), Some("ann"));

        // The relay can say goodbye for ann, in a token the room can read.
        let leave = policy
            .leave_on_behalf(&conn, 1001, [9; 16], &mut out)
            .unwrap()
            .to_vec();
        let mut bob =
            Session::<2, 8>::new(KeySet::single(Key::from_bytes([1; 32])), "bob", None).unwrap();
        let (_, got) = bob.receive(&leave, 1001);
        let got = got.unwrap();
        assert_eq!(got.payload.shown_nick(), "ann");
        assert_eq!(got.payload.body, Body::Leave);

        // After ann's own /leave there is nothing to send for her.
        let bye = ann(1).leave(1002, [3; 16], &mut out).unwrap().to_vec();
        assert_eq!(run(&mut policy, &mut conn, &bye, 1002).len(), 1);
        assert_eq!(conn.nick(), None);
        assert!(
            policy
                .leave_on_behalf(&conn, 1003, [9; 16], &mut out)
                .is_none()
        );
    }

    #[test]
    fn test_blind_sends_no_leave() {
        let policy = RelayPolicy::<2, 8>::blind();
        let mut out = [0u8; MAX_FRAME];
        assert!(
            policy
                .leave_on_behalf(&Inbound::new(), 1, [0; 16], &mut out)
                .is_none()
        );
    }
}
