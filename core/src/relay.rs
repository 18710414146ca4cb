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
