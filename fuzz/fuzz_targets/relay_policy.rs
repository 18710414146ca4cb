//! `RelayPolicy::receive` never panics, whatever a client sends (`docs/PROTOCOL.md`
//! section 6), blind or keyed: it always makes progress, a forwarded frame
//! is at most 4096 bytes, ends with LF and has a token of the right shape; a
//! keyed relay forwards only what a blind one would, never the same token
//! twice, and its `/leave` on a client's behalf decrypts to that client.
//!
//! Input: one byte that sets the clock around the seeds' time
//! (`fernchat_fuzz::clock`), then the bytes the client sent.

#![no_main]

use std::collections::HashSet;

use fernchat_core::fernet::check_shape;
use fernchat_core::frame::{DECODE_BUF_LEN, MAX_FRAME};
use fernchat_core::message::{Body, Payload};
use fernchat_core::relay::{DEFAULT_RELAY_TTL, Inbound, MAX_LEAVE_FRAME, RelayPolicy, Verdict};
use fernchat_core::replay::ArrayStore;
use fernchat_fuzz::{clock, keyset};
use libfuzzer_sys::fuzz_target;

/// A replay cache small enough for a few seed tokens to fill.
type Small = ArrayStore<8, 4>;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;

/// Two keys, and a replay cache small enough for a few seed tokens to fill.
type Policy = RelayPolicy<2, Small>;

/// A verdict, out of the connection state it borrows.
#[derive(Debug, PartialEq)]
enum Owned {
    Forward(Vec<u8>),
    Reject,
    Disconnect,
}

fuzz_target!(|data: &[u8]| {
    let Some((&clock_byte, input)) = data.split_first() else {
        return;
    };
    let now = clock(clock_byte);
    let mut blind = Policy::blind();
    let (blind_verdicts, _) = feed(&mut blind, input, now);
    let mut keyed = Policy::keyed(keyset(), DEFAULT_RELAY_TTL, Small::new());
    let (keyed_verdicts, conn) = feed(&mut keyed, input, now);

    assert_eq!(
        blind_verdicts.len(),
        keyed_verdicts.len(),
        "both read the same frames"
    );
    let mut forwarded = HashSet::new();
    for (blind, keyed) in blind_verdicts.iter().zip(&keyed_verdicts) {
        if let Owned::Forward(frame) = keyed {
            assert_eq!(blind, keyed, "keyed forwarded what blind refused");
            assert!(
                forwarded.insert(frame.trim_ascii_end()),
                "a token forwarded twice"
            );
        }
    }

    let mut rng = ChaCha8Rng::seed_from_u64(now);
    let mut out = [0u8; MAX_LEAVE_FRAME];
    assert!(
        blind
            .leave_on_behalf(&conn, now, &mut rng, &mut out)
            .is_none()
    );
    if let Some(frame) = keyed.leave_on_behalf(&conn, now, &mut rng, &mut out) {
        assert!(frame.len() <= MAX_LEAVE_FRAME && frame.ends_with(b"\n"));
        let mut buf = [0u8; DECODE_BUF_LEN];
        let opened = keyset().decrypt(&frame[..frame.len() - 1], now, None, &mut buf);
        let payload = Payload::parse(opened.expect("the relay's /leave decrypts").plaintext);
        assert_eq!(payload.body, Body::Leave);
        assert_eq!(payload.nick.map(|n| n.as_str()), conn.nick());
    }
});

/// Feeds all of `input` to `policy` from one new connection, checking each
/// call's contract; gives the verdicts and the connection's final state.
fn feed(policy: &mut Policy, mut input: &[u8], now: u64) -> (Vec<Owned>, Inbound) {
    let mut conn = Inbound::new();
    let mut verdicts = Vec::new();
    // Steps in a row that consumed nothing: an unframed sender's token or
    // error can end before the byte that shows it (section 2), never more.
    let mut stalled = 0;
    while !input.is_empty() {
        let step = policy.receive(&mut conn, input, now);
        let (consumed, verdict) = (step.consumed, step.verdict);
        assert!(consumed <= input.len(), "consumed {consumed}");
        stalled = if consumed == 0 { stalled + 1 } else { 0 };
        assert!(
            stalled <= 2 && (consumed > 0 || verdict.is_some()),
            "no progress"
        );
        let verdict = match verdict {
            None => {
                assert_eq!(consumed, input.len(), "None before the input ran out");
                None
            }
            Some(Verdict::Forward(frame)) => {
                assert!(frame.len() <= MAX_FRAME, "forwarded {} bytes", frame.len());
                assert!(frame.ends_with(b"\n"));
                assert_eq!(check_shape(frame.trim_ascii_end()), Ok(()));
                Some(Owned::Forward(frame.to_vec()))
            }
            Some(Verdict::Reject(_)) => Some(Owned::Reject),
            Some(Verdict::Disconnect(_)) => Some(Owned::Disconnect),
        };
        verdicts.extend(verdict);
        input = &input[consumed..];
    }
    (verdicts, conn)
}
