//! The sans-IO relay policy (`docs/PROTOCOL.md` section 6) shared by both
//! servers: per-connection received bytes in, forward / reject / disconnect
//! out.

use crate::fernet::{DEFAULT_MAX_KEYS, KeySet, TokenError, check_shape};
use crate::frame::{Frame, FrameError, Framing, SenderDecoder, check_message, frame_len};
use crate::message::{Body, MAX_NICK, NickBuf, Payload};
use crate::replay::{ArrayStore, ReplayCache, ReplayCheck, ReplayStore, window_for_ttl};
use crate::seal::seal_frame;
use rand_core::CryptoRng;

/// Invalid frames in a row after which a client is disconnected.
pub const MAX_INVALID_IN_A_ROW: u8 = 16;
/// Of a client's last 64 frames, more than this many invalid ones
/// disconnect it, however they are interleaved with valid frames.
pub const MAX_INVALID_OF_64: u32 = 32;
/// Default TTL of a keyed relay, in seconds.
pub const DEFAULT_RELAY_TTL: u64 = 300;
/// Where a keyed relay remembers tokens unless told otherwise: 4,096
/// entries in 8-second buckets (85 KiB). The std relay gives it a million
/// on the heap.
pub type RelayReplay = ArrayStore<4096, 48>;
/// The longest `nick LF /leave` plaintext.
const LEAVE_PLAINTEXT: usize = MAX_NICK + "\n/leave".len();
/// The longest `nick LF /leave` frame a keyed relay sends for a client.
pub const MAX_LEAVE_FRAME: usize = frame_len(LEAVE_PLAINTEXT);

/// Why a frame was not forwarded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RejectReason {
    /// The line was not a frame.
    Frame(FrameError),
    /// The token failed the shape check, or (keyed) its MAC or freshness.
    Token(TokenError),
    /// Keyed: a token already forwarded.
    Replayed,
    /// Keyed: a token older than any the replay cache still remembers, so
    /// it cannot tell whether it was forwarded before. Not the sender's
    /// fault: it never counts toward [`MAX_INVALID_IN_A_ROW`].
    Unverifiable,
}

impl core::fmt::Display for RejectReason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(crate::reason::Reason::from(*self).explanation())
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

/// What one [`RelayPolicy::receive`] step found.
#[must_use = "`consumed` says how far the input was used"]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RelayStep<'a> {
    /// Bytes taken from the front of the input.
    pub consumed: usize,
    /// The verdict that ended the step; `None` once the input is used up.
    pub verdict: Option<Verdict<'a>>,
}

/// The relay's state for one connection: its frame buffer, its run of
/// invalid frames and (keyed mode) the nick it has been sending as.
#[derive(Clone, Debug, Default)]
pub struct Inbound {
    decoder: SenderDecoder,
    invalid_in_a_row: u8,
    /// The last 64 frames, newest in bit 0: 1 for an invalid one.
    recent_invalid: u64,
    nick: Option<NickBuf>,
}

impl Inbound {
    /// A new connection's state.
    pub const fn new() -> Inbound {
        Inbound {
            decoder: SenderDecoder::new(),
            invalid_in_a_row: 0,
            recent_invalid: 0,
            nick: None,
        }
    }

    /// The nick this connection has sent valid tokens as (keyed mode), unless
    /// it said `/leave`.
    pub fn nick(&self) -> Option<&str> {
        self.nick.as_ref().map(|nick| nick.as_nick().as_str())
    }

    /// The frame the last verdict was about, while it is still buffered.
    pub(crate) fn last_frame(&self) -> Option<&[u8]> {
        self.decoder.last_frame()
    }

    /// How the connection frames its tokens, as far as it is known.
    pub fn framing(&self) -> Framing {
        self.decoder.framing()
    }

    /// Its decoder, and the rest of its state apart from it.
    fn split(&mut self) -> (&mut SenderDecoder, InvalidRun<'_>) {
        let Inbound {
            decoder,
            invalid_in_a_row,
            recent_invalid,
            nick,
        } = self;
        let run = InvalidRun {
            invalid_in_a_row,
            recent_invalid,
            nick,
        };
        (decoder, run)
    }

    /// The sender paused: true when that ends an unframed token, which the
    /// next [`RelayPolicy::receive`] judges (`docs/PROTOCOL.md` section 2).
    pub(crate) fn pause(&mut self) -> bool {
        self.decoder.pause()
    }

    /// True when a pause now could end an unframed token.
    pub(crate) fn pause_pending(&self) -> bool {
        self.decoder.pause_pending()
    }
}

/// The relay's rules: blind (shape only) or keyed (MAC, freshness, replay).
pub struct RelayPolicy<const K: usize = DEFAULT_MAX_KEYS, S = RelayReplay> {
    keyed: Option<Keyed<K, S>>,
}

struct Keyed<const K: usize, S> {
    keys: KeySet<K>,
    ttl: u64,
    replay: ReplayCache<S>,
}

impl<const K: usize, S: ReplayStore> RelayPolicy<K, S> {
    /// A relay with no key: it checks frames and token shapes only.
    pub fn blind() -> Self {
        RelayPolicy { keyed: None }
    }

    /// A relay holding `keys`: it also verifies MACs, refuses tokens older
    /// than `ttl` seconds or from the future, and never forwards a token
    /// twice, remembering tokens in `store`.
    pub fn keyed(keys: KeySet<K>, ttl: u64, store: S) -> Self {
        RelayPolicy {
            keyed: Some(Keyed {
                keys,
                ttl,
                replay: ReplayCache::new(store, window_for_ttl(Some(ttl))),
            }),
        }
    }

    /// Keyed mode: refuses, as unverifiable, tokens stamped at or before
    /// `unix`. A relay calls it as it starts, with the second before, so
    /// that tokens it forwarded before a restart are not let through again.
    pub fn refuse_until(&mut self, unix: u64) {
        if let Some(keyed) = &mut self.keyed {
            keyed.replay.forget_until(unix);
        }
    }

    /// True when the relay holds keys.
    pub fn is_keyed(&self) -> bool {
        self.keyed.is_some()
    }

    /// Keyed mode: verifies with `keys` from now on (a key rotation without
    /// a restart). The replay cache and the TTL stay as they were, so a
    /// token forwarded before is still refused after. False, and nothing
    /// changes, for a blind relay.
    pub fn replace_keys(&mut self, keys: KeySet<K>) -> bool {
        match &mut self.keyed {
            Some(keyed) => {
                keyed.keys = keys;
                true
            }
            None => false,
        }
    }

    /// Consumes bytes `conn` sent, from the front of `input`, up to the next
    /// verdict. Never panics, whatever the input.
    pub fn receive<'c>(&mut self, conn: &'c mut Inbound, input: &[u8], now: u64) -> RelayStep<'c> {
        let (decoder, run) = conn.split();
        let step = decoder.decode(input);
        RelayStep {
            consumed: step.consumed,
            verdict: step
                .found
                .map(|found| judge(&mut self.keyed, run, found, now)),
        }
    }

    /// Judges one message that carries exactly one token (a WebSocket
    /// message, a NATS payload): its verdict, under the same rules and
    /// counts as a frame on a stream (`docs/PROTOCOL.md` section 2, One
    /// token a message). A message holding anything but one token (a line
    /// feed, two tokens, junk) is one invalid frame, dropped whole. `None`
    /// for an empty message, a keep-alive. Never panics, whatever the input.
    pub fn receive_message<'c>(
        &mut self,
        conn: &'c mut Inbound,
        message: &[u8],
        now: u64,
    ) -> Option<Verdict<'c>> {
        let (decoder, run) = conn.split();
        let found = decoder.decode_message(message)?;
        Some(judge(&mut self.keyed, run, found, now))
    }

    /// Checks a token that the relay passes on again, such as history for
    /// a new client: exactly one token, with no line ending (anything else
    /// is an invalid frame); blind, its shape; keyed, also its MAC and
    /// freshness. The replay cache is neither asked nor changed: the
    /// token was remembered when it was first forwarded.
    pub fn recheck(&self, token: &[u8], now: u64) -> Result<(), RejectReason> {
        // One token and nothing else, as a message carries it.
        check_message(token).map_err(RejectReason::Frame)?;
        match &self.keyed {
            None => check_shape(token).map_err(RejectReason::Token),
            Some(keyed) => {
                let mut head = [0u8; LEAVE_PLAINTEXT];
                keyed
                    .keys
                    .open_head(token, now, Some(keyed.ttl), &mut head)
                    .map(|_| ())
                    .map_err(RejectReason::Token)
            }
        }
    }

    /// Keyed mode: the `nick LF /leave` frame to send for a connection that
    /// went away after sending valid tokens but no `/leave`, with an IV from
    /// `rng`; `None` otherwise. `out` should hold [`MAX_LEAVE_FRAME`] bytes.
    pub fn leave_on_behalf<'o>(
        &self,
        conn: &Inbound,
        now: u64,
        rng: &mut (impl CryptoRng + ?Sized),
        out: &'o mut [u8],
    ) -> Option<&'o [u8]> {
        let keyed = self.keyed.as_ref()?;
        let payload = Payload {
            nick: Some(conn.nick.as_ref()?.as_nick()),
            body: Body::Leave,
        };
        seal_frame(&keyed.keys, &payload, now, rng, out).ok()
    }
}

/// A connection's counts of invalid frames and its nick, borrowed apart
/// from its decoder, which holds the frame being judged.
struct InvalidRun<'c> {
    invalid_in_a_row: &'c mut u8,
    recent_invalid: &'c mut u64,
    nick: &'c mut Option<NickBuf>,
}

/// The verdict on one frame (or the error that stood for one): blind, its
/// shape; keyed, also MAC, freshness and replay. Counts it in the
/// connection's run of invalid frames.
fn judge<'f, const K: usize, S: ReplayStore>(
    keyed: &mut Option<Keyed<K, S>>,
    run: InvalidRun<'_>,
    found: Result<Frame<'f>, FrameError>,
    now: u64,
) -> Verdict<'f> {
    let checked = match found {
        Err(e) => Err(RejectReason::Frame(e)),
        Ok(frame) => match keyed {
            None => check_shape(frame.token)
                .map(|()| frame.raw)
                .map_err(RejectReason::Token),
            Some(keyed) => keyed.check(frame, now, run.nick).map(|()| frame.raw),
        },
    };
    match checked {
        Ok(raw) => {
            *run.invalid_in_a_row = 0;
            *run.recent_invalid <<= 1;
            Verdict::Forward(raw)
        }
        Err(RejectReason::Unverifiable) => {
            *run.recent_invalid <<= 1;
            Verdict::Reject(RejectReason::Unverifiable)
        }
        Err(reason) => {
            *run.invalid_in_a_row = run.invalid_in_a_row.saturating_add(1);
            *run.recent_invalid = *run.recent_invalid << 1 | 1;
            if *run.invalid_in_a_row >= MAX_INVALID_IN_A_ROW
                || run.recent_invalid.count_ones() > MAX_INVALID_OF_64
            {
                Verdict::Disconnect(reason)
            } else {
                Verdict::Reject(reason)
            }
        }
    }
}

impl<const K: usize, S: ReplayStore> Keyed<K, S> {
    /// Verifies MAC, freshness and replay; learns the sender's nick.
    fn check(
        &mut self,
        frame: Frame<'_>,
        now: u64,
        nick: &mut Option<NickBuf>,
    ) -> Result<(), RejectReason> {
        // Enough of the plaintext for the nick and to tell a /leave.
        let mut head = [0u8; LEAVE_PLAINTEXT];
        let opened = self
            .keys
            .open_head(frame.token, now, Some(self.ttl), &mut head)
            .map_err(RejectReason::Token)?;
        match self
            .replay
            .check_and_insert(&opened.tag, opened.timestamp, now)
        {
            ReplayCheck::New => {}
            ReplayCheck::Replayed => return Err(RejectReason::Replayed),
            ReplayCheck::Unverifiable => return Err(RejectReason::Unverifiable),
        }
        let payload = Payload::parse(opened.head);
        let whole = opened.head.len() == opened.plaintext_len;
        match (payload.nick, payload.body) {
            (_, Body::Leave) if whole => *nick = None,
            (Some(sender), _) => *nick = Some(NickBuf::new(sender)),
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
    use rand_chacha::ChaCha8Rng;
    use rand_core::SeedableRng;

    type Small = ArrayStore<8, 8>;

    extern crate std;
    use std::vec::Vec;

    #[derive(Debug, PartialEq)]
    enum Seen {
        Forward(Vec<u8>),
        Reject(RejectReason),
        Disconnect(RejectReason),
    }

    fn run(
        policy: &mut RelayPolicy<2, Small>,
        conn: &mut Inbound,
        bytes: &[u8],
        now: u64,
    ) -> Vec<Seen> {
        let mut rest = bytes;
        let mut seen = Vec::new();
        while !rest.is_empty() {
            let step = policy.receive(conn, rest, now);
            rest = &rest[step.consumed..];
            match step.verdict {
                Some(Verdict::Forward(raw)) => seen.push(Seen::Forward(raw.to_vec())),
                Some(Verdict::Reject(r)) => seen.push(Seen::Reject(r)),
                Some(Verdict::Disconnect(r)) => seen.push(Seen::Disconnect(r)),
                None => {}
            }
        }
        seen
    }

    fn ann(key: u8) -> Session<2, Small> {
        Session::new(KeySet::single(Key::from_bytes([key; 32])), "ann", None).unwrap()
    }

    /// A frame from ann under key `[key; 32]`, made at `now`.
    fn from_ann(key: u8, body: Body<'_>, now: u64) -> Vec<u8> {
        let mut rng = ChaCha8Rng::seed_from_u64(now ^ u64::from(key));
        let mut out = [0u8; MAX_FRAME];
        let sealer = &ann(key).sealer;
        sealer.seal(body, now, &mut rng, &mut out).unwrap().to_vec()
    }

    #[test]
    fn test_blind_forwards_valid_shapes_unchanged() {
        let mut policy = RelayPolicy::<2, Small>::blind();
        let mut conn = Inbound::new();
        let mut frame = from_ann(1, Body::Text(b"hi"), 5);
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
    fn test_recheck_verifies_without_the_replay_cache() {
        let keys = KeySet::single(Key::from_bytes([1; 32]));
        let mut policy = RelayPolicy::<2, Small>::keyed(keys, 300, Small::new());
        let frame = from_ann(1, Body::Text(b"hi"), 1_000);
        let token = &frame[..frame.len() - 1];
        let seen = run(&mut policy, &mut Inbound::new(), &frame, 1_000);
        assert_eq!(seen, [Seen::Forward(frame.clone())]);
        // Forwarded once, and still passed on again (history), as often as asked.
        assert_eq!(policy.recheck(token, 1_010), Ok(()));
        assert_eq!(policy.recheck(token, 1_010), Ok(()));
        assert_eq!(
            policy.recheck(token, 1_301),
            Err(RejectReason::Token(TokenError::Expired))
        );
        let foreign = from_ann(2, Body::Text(b"hi"), 1_000);
        assert_eq!(
            policy.recheck(&foreign[..foreign.len() - 1], 1_000),
            Err(RejectReason::Token(TokenError::BadMac))
        );
        // The cache was not touched: the frame is still a replay.
        let seen = run(&mut policy, &mut Inbound::new(), &frame, 1_010);
        assert_eq!(seen, [Seen::Reject(RejectReason::Replayed)]);
        // One token only: not one smuggled behind a line feed, nor a frame.
        let smuggled = [&b"AAAA\n"[..], token].concat();
        for junk in [&smuggled[..], &frame] {
            assert_eq!(
                policy.recheck(junk, 1_010),
                Err(RejectReason::Frame(FrameError::InvalidFrame))
            );
        }
        // Blind: the shape only.
        let blind = RelayPolicy::<2, Small>::blind();
        assert!(blind.recheck(&smuggled, 1_000).is_err());
        assert_eq!(blind.recheck(&foreign[..foreign.len() - 1], 1_000), Ok(()));
        assert!(blind.recheck(b"QUJD", 0).is_err());
    }

    #[test]
    fn test_sixteen_invalid_in_a_row_disconnect() {
        let mut policy = RelayPolicy::<2, Small>::blind();
        let mut conn = Inbound::new();
        let good = from_ann(1, Body::Text(b"hi"), 5);
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
    fn test_keyed_relay_reads_only_a_whole_leave_as_a_leave() {
        // The relay decrypts only the first MAX_NICK + 7 bytes: enough for
        // the longest `nick LF /leave`, and a longer text that starts the
        // same is not a /leave.
        let keys = KeySet::<2>::single(Key::from_bytes([1; 32]));
        let mut policy = RelayPolicy::<2, Small>::keyed(keys.clone(), 300, Small::new());
        let mut conn = Inbound::new();
        let nick = "n".repeat(MAX_NICK);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut out = [0u8; MAX_FRAME];
        let frames: Vec<Vec<u8>> = [
            (1000, "\nhi"),
            (1001, "\n/leave and more"),
            (1002, "\n/leave"),
        ]
        .into_iter()
        .map(|(at, text)| {
            let plaintext = [nick.as_bytes(), text.as_bytes()].concat();
            let payload = Payload {
                nick: None,
                body: Body::Text(&plaintext),
            };
            let frame = seal_frame(&keys, &payload, at, &mut rng, &mut out).unwrap();
            frame.to_vec()
        })
        .collect();
        let forwarded = |seen: Vec<Seen>| matches!(seen[..], [Seen::Forward(_)]);
        assert!(forwarded(run(&mut policy, &mut conn, &frames[0], 1002)));
        assert_eq!(conn.nick(), Some(&nick[..]));
        assert!(forwarded(run(&mut policy, &mut conn, &frames[1], 1002)));
        assert_eq!(conn.nick(), Some(&nick[..]), "not a /leave");
        assert!(forwarded(run(&mut policy, &mut conn, &frames[2], 1002)));
        assert_eq!(conn.nick(), None, "a /leave");
    }

    #[test]
    fn test_keyed_checks_mac_replay_and_learns_nick() {
        let keys = KeySet::single(Key::from_bytes([1; 32]));
        let mut policy = RelayPolicy::<2, Small>::keyed(keys, 300, Small::new());
        let mut conn = Inbound::new();
        let good = from_ann(1, Body::Text(b"hi"), 1000);
        let forged = from_ann(2, Body::Text(b"hi"), 1000);
        let stale = from_ann(1, Body::Text(b"old"), 600);
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
                Seen::Reject(RejectReason::Replayed),
                Seen::Reject(RejectReason::Token(TokenError::Expired)),
            ]
        );
        assert_eq!(conn.nick(), Some("ann"));

        // The relay can say goodbye for ann, in a token the room can read.
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let mut out = [0u8; MAX_LEAVE_FRAME];
        let leave = policy
            .leave_on_behalf(&conn, 1001, &mut rng, &mut out)
            .unwrap()
            .to_vec();
        let mut bob =
            Session::<2, Small>::new(KeySet::single(Key::from_bytes([1; 32])), "bob", None)
                .unwrap();
        let got = bob.opener.receive(&leave, 1001).message.unwrap();
        assert_eq!(got.payload.shown_nick(), "ann");
        assert_eq!(got.payload.body, Body::Leave);

        // After ann's own /leave there is nothing to send for her.
        let bye = from_ann(1, Body::Leave, 1002);
        assert_eq!(run(&mut policy, &mut conn, &bye, 1002).len(), 1);
        assert_eq!(conn.nick(), None);
        assert!(
            policy
                .leave_on_behalf(&conn, 1003, &mut rng, &mut out)
                .is_none()
        );
    }

    #[test]
    fn test_replaced_keys_verify_and_the_replay_cache_stays() {
        let old = KeySet::single(Key::from_bytes([1; 32]));
        let mut policy = RelayPolicy::<2, Small>::keyed(old, 300, Small::new());
        let mut conn = Inbound::new();
        let before = from_ann(1, Body::Text(b"before"), 1000);
        assert_eq!(
            run(&mut policy, &mut conn, &before, 1000),
            [Seen::Forward(before.clone())]
        );
        // The new key first, the old one still accepted.
        let file = [[2; 32], [1; 32]]
            .map(|k| Key::from_bytes(k).encode())
            .join(&b'\n');
        let keys = KeySet::parse_file(&file).unwrap();
        assert!(policy.replace_keys(keys));
        let new = from_ann(2, Body::Text(b"new"), 1001);
        let old = from_ann(1, Body::Text(b"old"), 1001);
        let foreign = from_ann(3, Body::Text(b"foreign"), 1001);
        let wire = [new.clone(), old.clone(), before, foreign].concat();
        assert_eq!(
            run(&mut policy, &mut conn, &wire, 1001),
            [
                Seen::Forward(new),
                Seen::Forward(old),
                Seen::Reject(RejectReason::Replayed),
                Seen::Reject(RejectReason::Token(TokenError::BadMac)),
            ]
        );
        assert!(
            !RelayPolicy::<2, Small>::blind()
                .replace_keys(KeySet::single(Key::from_bytes([1; 32])))
        );
    }

    #[test]
    fn test_blind_sends_no_leave() {
        let policy = RelayPolicy::<2, Small>::blind();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut out = [0u8; MAX_LEAVE_FRAME];
        assert!(
            policy
                .leave_on_behalf(&Inbound::new(), 1, &mut rng, &mut out)
                .is_none()
        );
    }

    #[test]
    fn test_unverifiable_never_disconnects() {
        let keys = KeySet::single(Key::from_bytes([1; 32]));
        // A cache of 8: fill it with tokens of second 1000, then older ones
        // cannot be vouched for, however many come.
        let mut policy = RelayPolicy::<2, Small>::keyed(keys, 300, Small::new());
        let mut conn = Inbound::new();
        let mut wire = Vec::new();
        for i in 0..8u8 {
            wire.extend_from_slice(&from_ann(1, Body::Text(&[b'a' + i]), 1000));
        }
        for i in 0..40u8 {
            wire.extend_from_slice(&from_ann(1, Body::Text(&[b'a', i]), 999));
        }
        let seen = run(&mut policy, &mut conn, &wire, 1000);
        assert_eq!(seen.len(), 48);
        assert!(seen[..8].iter().all(|s| matches!(s, Seen::Forward(_))));
        assert!(
            seen[8..]
                .iter()
                .all(|s| *s == Seen::Reject(RejectReason::Unverifiable))
        );
    }

    #[test]
    fn test_restarted_relay_refuses_what_it_may_have_forwarded() {
        let keys = KeySet::single(Key::from_bytes([1; 32]));
        let mut policy = RelayPolicy::<2, Small>::keyed(keys, 300, Small::new());
        policy.refuse_until(999);
        let mut conn = Inbound::new();
        let before = from_ann(1, Body::Text(b"recorded"), 999);
        let after = from_ann(1, Body::Text(b"fresh"), 1000);
        let wire = [before, after.clone()].concat();
        assert_eq!(
            run(&mut policy, &mut conn, &wire, 1000),
            [
                Seen::Reject(RejectReason::Unverifiable),
                Seen::Forward(after)
            ]
        );
    }

    #[test]
    fn test_invalid_frames_between_valid_ones_still_disconnect() {
        let mut policy = RelayPolicy::<2, Small>::blind();
        let mut conn = Inbound::new();
        let good = from_ann(1, Body::Text(b"hi"), 5);
        // 15 invalid, one valid, again and again: never 16 in a row.
        let mut wire = Vec::new();
        for _ in 0..4 {
            for _ in 0..15 {
                wire.extend_from_slice(b"!\n");
            }
            wire.extend_from_slice(&good);
        }
        let seen = run(&mut policy, &mut conn, &wire, 0);
        let disconnect = seen.iter().position(|s| matches!(s, Seen::Disconnect(_)));
        // The 33rd invalid frame of the last 64 is the one.
        assert_eq!(disconnect, Some(34), "{seen:?}");
        // Half or fewer invalid frames are never disconnected.
        let mut conn = Inbound::new();
        let mut wire = Vec::new();
        for _ in 0..100 {
            wire.extend_from_slice(b"!\n");
            wire.extend_from_slice(&good);
        }
        let seen = run(&mut policy, &mut conn, &wire, 0);
        assert!(!seen.iter().any(|s| matches!(s, Seen::Disconnect(_))));
    }
}
