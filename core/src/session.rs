//! The sans-IO chat client (`docs/PROTOCOL.md` section 7), in two halves
//! that share nothing mutable: a [`Sealer`] turns what the user does into
//! frames, an [`Opener`] turns received bytes into messages and drop
//! reports. Both shells' clients drive these.

use crate::fernet::{DEFAULT_MAX_KEYS, HEADER_LEN, KeySet, TokenError};
use crate::frame::{FrameDecoder, FrameError};
use crate::message::{Body, Nick, NickBuf, NickError, Payload};
use crate::replay::{ArrayStore, ReplayCache, ReplayCheck, ReplayStore, window_for_ttl};
use crate::room::Notice;
use crate::seal::{FrameStream, SealError, seal_frame};
use core::borrow::BorrowMut;
use core::ops::Range;
use rand_core::CryptoRng;

/// Where a client remembers tokens, unless told otherwise: 8,192 entries
/// and one-second buckets (172 KiB), enough for every message of a room
/// that sends 3,000 in one second even while a key holder floods it with
/// future-dated tokens.
pub type ClientReplay = ArrayStore<8192, 512>;

/// Why a received frame was not shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// The line was not a frame.
    Frame(FrameError),
    /// The token is invalid (bad MAC, another key, too old...).
    Token(TokenError),
    /// A token already shown: a replay.
    Replayed,
    /// A token older than any the replay cache still remembers, so it
    /// cannot tell whether it was shown before.
    Unverifiable,
}

impl core::fmt::Display for DropReason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(crate::reason::Reason::from(*self).explanation())
    }
}

impl DropReason {
    /// Every reason, in the order a [`Dropped`] report lists them.
    pub const ALL: [DropReason; 9] = [
        DropReason::Token(TokenError::Expired),
        DropReason::Token(TokenError::FromTheFuture),
        DropReason::Replayed,
        DropReason::Unverifiable,
        DropReason::Token(TokenError::BadMac),
        DropReason::Token(TokenError::BadPadding),
        DropReason::Token(TokenError::Malformed),
        DropReason::Frame(FrameError::InvalidFrame),
        DropReason::Frame(FrameError::FrameTooLong),
    ];

    fn index(self) -> usize {
        // Every reason is in ALL.
        DropReason::ALL
            .iter()
            .position(|&r| r == self)
            .unwrap_or_default()
    }
}

/// A burst of frames that were dropped: how many, and how many for each
/// reason. Shown as `dropped 3 messages: 2 expired, 1 replayed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dropped {
    /// Frames dropped since the last report.
    pub count: u32,
    by_reason: [u32; DropReason::ALL.len()],
}

impl Dropped {
    /// The reasons with their counts, those with none left out.
    pub fn reasons(&self) -> impl Iterator<Item = (DropReason, u32)> + '_ {
        DropReason::ALL
            .into_iter()
            .zip(self.by_reason)
            .filter(|&(_, n)| n > 0)
    }

    fn add(&mut self, reason: DropReason) {
        self.count = self.count.saturating_add(1);
        let n = &mut self.by_reason[reason.index()];
        *n = n.saturating_add(1);
    }
}

impl core::fmt::Display for Dropped {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Strings go in with `write_str`: formatting a `&str` with `{}`
        // would keep core's padding code in a microcontroller's flash.
        write!(f, "dropped {} message", self.count)?;
        f.write_str(if self.count == 1 { ":" } else { "s:" })?;
        for (i, (reason, n)) in self.reasons().enumerate() {
            f.write_str(if i == 0 { " " } else { ", " })?;
            write!(f, "{n} {reason}")?;
        }
        Ok(())
    }
}

/// A message that arrived and verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Received<'a> {
    /// The token's own timestamp (Unix seconds).
    pub timestamp: u64,
    /// Who sent it and what it says.
    pub payload: Payload<'a>,
}

/// What one [`Opener::receive`] step found.
#[must_use = "`consumed` says how far the input was used"]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Receive<'a> {
    /// Bytes taken from the front of the input.
    pub consumed: usize,
    /// The message that ended the step; `None` once the input is used up.
    pub message: Option<Received<'a>>,
}

/// A client: the [`Sealer`] that sends and the [`Opener`] that receives,
/// which can go to different threads.
pub struct Session<const K: usize = DEFAULT_MAX_KEYS, S = ClientReplay, D = FrameDecoder> {
    /// Seals what this client sends.
    pub sealer: Sealer<K>,
    /// Opens what this client receives.
    pub opener: Opener<K, S, D>,
}

impl<const K: usize, S: ReplayStore + Default> Session<K, S> {
    /// A session for `nick` with `keys`; tokens older than `ttl` seconds (if
    /// set) are dropped.
    pub fn new(keys: KeySet<K>, nick: &str, ttl: Option<u64>) -> Result<Self, NickError> {
        Session::with_store(keys, nick, ttl, S::default())
    }
}

impl<const K: usize, S: ReplayStore> Session<K, S> {
    /// A session that remembers tokens in `store` (a `&'static mut` one on
    /// a microcontroller, so that the cache is never moved across the
    /// stack).
    pub fn with_store(
        keys: KeySet<K>,
        nick: &str,
        ttl: Option<u64>,
        store: S,
    ) -> Result<Self, NickError> {
        let nick = NickBuf::new(Nick::new(nick)?);
        Ok(Session {
            opener: Opener::new(keys.clone(), ttl, store),
            sealer: Sealer { keys, nick },
        })
    }
}

impl<const K: usize, S: ReplayStore, D: BorrowMut<FrameDecoder>> Session<K, S, D> {
    /// A session whose frame buffer is `decoder` as well as its replay
    /// memory `store`: on a microcontroller both are `&'static mut` to
    /// `static`s, so that neither (4 KiB and more) is ever built on the
    /// stack and moved into place.
    pub fn with_parts(
        keys: KeySet<K>,
        nick: &str,
        ttl: Option<u64>,
        store: S,
        decoder: D,
    ) -> Result<Self, NickError> {
        let nick = NickBuf::new(Nick::new(nick)?);
        Ok(Session {
            opener: Opener::with_decoder(keys.clone(), ttl, store, decoder),
            sealer: Sealer { keys, nick },
        })
    }
}

/// The sending half: the keys and this client's nick.
#[derive(Clone, Debug)]
pub struct Sealer<const K: usize = DEFAULT_MAX_KEYS> {
    keys: KeySet<K>,
    nick: NickBuf,
}

impl<const K: usize> Sealer<K> {
    /// This client's nick.
    pub fn nick(&self) -> Nick<'_> {
        self.nick.as_nick()
    }

    /// The frame for `body` from this client (`nick LF body`, a text that
    /// starts with `/` escaped as `//`), at Unix time `now`, with an IV
    /// from `rng`, written into `out`. The one way a client sends.
    pub fn seal<'o>(
        &self,
        body: Body<'_>,
        now: u64,
        rng: &mut (impl CryptoRng + ?Sized),
        out: &'o mut [u8],
    ) -> Result<&'o [u8], SealError> {
        let payload = Payload {
            nick: Some(self.nick()),
            body,
        };
        seal_frame(&self.keys, &payload, now, rng, out)
    }

    /// The frame for `body`, as [`Sealer::seal`] makes it, as a stream: for
    /// a client with no room for a whole frame, which writes it piece by
    /// piece into its socket.
    pub fn stream<'a>(
        &'a self,
        body: Body<'a>,
        now: u64,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<FrameStream<'a>, SealError> {
        let payload = Payload {
            nick: Some(self.nick()),
            body,
        };
        FrameStream::new(&self.keys, &payload, now, rng)
    }
}

/// The receiving half: the keys, the TTL, the frame decoder (whose one
/// buffer each frame is decrypted in), the replay cache, and the relay's
/// notice if one came.
pub struct Opener<const K: usize = DEFAULT_MAX_KEYS, S = ClientReplay, D = FrameDecoder> {
    keys: KeySet<K>,
    ttl: Option<u64>,
    decoder: D,
    replay: ReplayCache<S>,
    dropped: Option<Dropped>,
    notice: Option<Notice>,
}

impl<const K: usize, S: ReplayStore> Opener<K, S> {
    /// An opener for `keys` that remembers tokens in `store`; tokens older
    /// than `ttl` seconds (if set) are dropped.
    pub fn new(keys: KeySet<K>, ttl: Option<u64>, store: S) -> Self {
        Opener::with_decoder(keys, ttl, store, FrameDecoder::new())
    }
}

impl<const K: usize, S: ReplayStore, D: BorrowMut<FrameDecoder>> Opener<K, S, D> {
    /// An opener whose frame buffer is `decoder` (see
    /// [`Session::with_parts`]), which it clears.
    pub fn with_decoder(keys: KeySet<K>, ttl: Option<u64>, store: S, mut decoder: D) -> Self {
        decoder.borrow_mut().reset();
        Opener {
            keys,
            ttl,
            decoder,
            replay: ReplayCache::new(store, window_for_ttl(ttl)),
            dropped: None,
            notice: None,
        }
    }

    /// Consumes received bytes from the front of `input` up to the next
    /// message that verifies. Frames that fail are counted for
    /// [`Opener::take_dropped`]; a relay notice (`!full`...) is kept for
    /// [`Opener::take_notice`]. Never panics, whatever the input.
    pub fn receive(&mut self, input: &[u8], now: u64) -> Receive<'_> {
        let mut consumed = 0;
        loop {
            let step = self.decoder.borrow_mut().decode(&input[consumed..]);
            consumed += step.consumed;
            let reason = match step.found {
                None => {
                    return Receive {
                        consumed,
                        message: None,
                    };
                }
                Some(Err(e)) => {
                    if let Some(notice) = self
                        .decoder
                        .borrow_mut()
                        .last_rejected()
                        .and_then(Notice::parse)
                    {
                        self.notice = Some(notice);
                        continue;
                    }
                    DropReason::Frame(e)
                }
                Some(Ok(_)) => match self.open_last_frame(now) {
                    Ok((timestamp, plaintext)) => {
                        // Borrowed again for the caller's lifetime: the
                        // plaintext lies in the decoder's buffer.
                        let plaintext = self
                            .decoder
                            .borrow_mut()
                            .last_frame()
                            .and_then(|line| line.get(plaintext))
                            .unwrap_or_default();
                        let payload = Payload::parse(plaintext);
                        let message = Some(Received { timestamp, payload });
                        return Receive { consumed, message };
                    }
                    Err(reason) => reason,
                },
            };
            self.dropped
                .get_or_insert(Dropped {
                    count: 0,
                    by_reason: [0; DropReason::ALL.len()],
                })
                .add(reason);
        }
    }

    /// Decrypts the frame the decoder just handed out where it lies, and
    /// checks it against the replay cache; gives its timestamp and where
    /// its plaintext is in the decoder's buffer.
    fn open_last_frame(&mut self, now: u64) -> Result<(u64, Range<usize>), DropReason> {
        let token = self
            .decoder
            .borrow_mut()
            .last_token_mut()
            .ok_or(DropReason::Frame(FrameError::InvalidFrame))?;
        let opened = self
            .keys
            .decrypt_in_place(token, now, self.ttl)
            .map_err(DropReason::Token)?;
        match self
            .replay
            .check_and_insert(&opened.tag, opened.timestamp, now)
        {
            ReplayCheck::Replayed => Err(DropReason::Replayed),
            ReplayCheck::Unverifiable => Err(DropReason::Unverifiable),
            ReplayCheck::New => Ok((
                opened.timestamp,
                HEADER_LEN..HEADER_LEN + opened.plaintext.len(),
            )),
        }
    }

    /// The frames dropped since the last call, if any: call it when a read
    /// burst is processed, to report drops once per burst.
    pub fn take_dropped(&mut self) -> Option<Dropped> {
        self.dropped.take()
    }

    /// The notice the relay sent before closing the connection, if one
    /// came since the last call (`docs/PROTOCOL.md` section 6, Notices).
    pub fn take_notice(&mut self) -> Option<Notice> {
        self.notice.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fernet::Key;
    use crate::frame::MAX_FRAME;
    use rand_chacha::ChaCha8Rng;
    use rand_core::SeedableRng;

    type Small = ArrayStore<8, 8>;

    extern crate std;
    use std::string::ToString;
    use std::vec::Vec;

    fn session(nick: &str, key: u8) -> Session<2, Small> {
        Session::new(KeySet::single(Key::from_bytes([key; 32])), nick, Some(300)).unwrap()
    }

    /// Seals `body` from `from` at `now` into a fresh vector.
    fn frame(from: &Session<2, Small>, body: Body<'_>, now: u64) -> Vec<u8> {
        let mut rng = ChaCha8Rng::seed_from_u64(now);
        let mut out = [0u8; MAX_FRAME];
        from.sealer
            .seal(body, now, &mut rng, &mut out)
            .unwrap()
            .to_vec()
    }

    /// Every message `to` takes from `bytes`, formatted for display.
    fn shown(to: &mut Session<2, Small>, bytes: &[u8], now: u64) -> Vec<std::string::String> {
        let mut rest = bytes;
        let mut shown = Vec::new();
        loop {
            let step = to.opener.receive(rest, now);
            rest = &rest[step.consumed..];
            match step.message {
                Some(message) => shown.push(message.payload.to_string()),
                None => return shown,
            }
        }
    }

    #[test]
    fn test_join_say_act_leave() {
        let ann = session("ann", 1);
        let mut bob = session("bob", 1);
        let mut wire = Vec::new();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut out = [0u8; MAX_FRAME];
        for body in [
            Body::Join,
            Body::Text(b"hi /all"),
            Body::Text(b"/not a command"),
            Body::Me(b"waves"),
            Body::Leave,
        ] {
            wire.extend_from_slice(ann.sealer.seal(body, 100, &mut rng, &mut out).unwrap());
        }
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
        assert_eq!(bob.opener.take_dropped(), None);
    }

    #[test]
    fn test_drops_counted_once_per_burst() {
        let ann = session("ann", 1);
        let eve = session("eve", 2);
        let mut bob = session("bob", 1);
        let good = frame(&ann, Body::Text(b"ok"), 100);
        let other_key = frame(&eve, Body::Text(b"x"), 100);
        let mut wire = Vec::new();
        wire.extend_from_slice(&other_key);
        wire.extend_from_slice(&good);
        wire.extend_from_slice(&good); // a replay
        assert_eq!(shown(&mut bob, &wire, 100), ["<ann> ok"]);
        let dropped = bob.opener.take_dropped().unwrap();
        assert_eq!(dropped.count, 2);
        assert_eq!(
            dropped.to_string(),
            "dropped 2 messages: 1 replayed, 1 bad MAC (forged, corrupted or another key)"
        );
        assert_eq!(bob.opener.take_dropped(), None);
    }

    #[test]
    fn test_expired_and_future_dropped() {
        let ann = session("ann", 1);
        let mut bob = session("bob", 1);
        let old = frame(&ann, Body::Text(b"old"), 100);
        assert!(shown(&mut bob, &old, 401).is_empty());
        let reasons = |bob: &mut Session<2, Small>| -> Vec<_> {
            bob.opener.take_dropped().unwrap().reasons().collect()
        };
        assert_eq!(
            reasons(&mut bob),
            [(DropReason::Token(TokenError::Expired), 1)]
        );
        let future = frame(&ann, Body::Text(b"soon"), 1000);
        assert!(shown(&mut bob, &future, 939).is_empty());
        assert_eq!(
            reasons(&mut bob),
            [(DropReason::Token(TokenError::FromTheFuture), 1)]
        );
    }

    #[test]
    fn test_too_long_text_refused() {
        let ann = session("ann", 1);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut out = [0u8; MAX_FRAME];
        let text = [b'a'; 3007];
        let max = ann.sealer.nick().max_text();
        assert_eq!(max, 3003);
        assert_eq!(
            ann.sealer
                .seal(Body::Text(&text[..max + 1]), 1, &mut rng, &mut out),
            Err(SealError::TooLong { len: 3008 })
        );
        // The longest that fits: nick, LF and text make 3007 bytes.
        let frame = ann
            .sealer
            .seal(Body::Text(&text[..max]), 1, &mut rng, &mut out)
            .unwrap();
        assert_eq!(frame.len(), crate::frame::frame_len(3007));
        assert_eq!(frame.len(), 4089);
    }

    #[test]
    fn test_notice_recognised_not_dropped() {
        let ann = session("ann", 1);
        let mut bob = session("bob", 1);
        let mut wire = frame(&ann, Body::Text(b"last"), 100);
        wire.extend_from_slice(b"!fu");
        assert_eq!(shown(&mut bob, &wire, 100), ["<ann> last"]);
        assert!(shown(&mut bob, b"ll\n", 100).is_empty());
        assert_eq!(bob.opener.take_notice(), Some(Notice::Full));
        assert_eq!(bob.opener.take_notice(), None);
        assert_eq!(bob.opener.take_dropped(), None);
        assert!(shown(&mut bob, b"!nonsense\n", 100).is_empty());
        assert_eq!(bob.opener.take_notice(), None);
        assert_eq!(bob.opener.take_dropped().map(|d| d.count), Some(1));
    }

    #[test]
    fn test_bad_nick_refused() {
        let keys = KeySet::<2>::single(Key::from_bytes([1; 32]));
        assert!(Session::<2, Small>::new(keys, "two words", None).is_err());
    }
}
