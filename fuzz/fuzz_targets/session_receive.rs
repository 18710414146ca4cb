//! `Session::receive` never panics, whatever arrives (`docs/PROTOCOL.md` section 7):
//! every call consumes bytes; every frame the decoder finds is either shown
//! once or counted once by `take_dropped` (a relay notice line is neither); a shown message is exactly what
//! its token decrypts to, inside the freshness window, and no token is shown
//! twice.
//!
//! Input: one byte that sets the clock around the seeds' time
//! (`fernchat_fuzz::clock`), then the received bytes.

#![no_main]

use std::collections::HashSet;

use fernchat_core::frame::DECODE_BUF_LEN;
use fernchat_core::message::Payload;
use fernchat_core::replay::ArrayStore;
use fernchat_core::session::Session;
use fernchat_fuzz::{clock, keyset, reference_frames_less_notices};
use libfuzzer_sys::fuzz_target;

/// A replay cache small enough for a few seed tokens to fill.
type Small = ArrayStore<8, 4>;

/// The TTL the session is given.
const TTL: u64 = 300;

fuzz_target!(|data: &[u8]| {
    let Some((&clock_byte, mut input)) = data.split_first() else {
        return;
    };
    let now = clock(clock_byte);
    // A small replay cache, so that a few seed tokens fill it.
    let mut session = Session::<2, Small>::new(keyset(), "fuzz", Some(TTL)).expect("a valid nick");
    let frames = reference_frames_less_notices(input);
    let mut seen = 0;
    let mut shown = HashSet::new();
    while !input.is_empty() {
        let step = session.opener.receive(input, now);
        let (consumed, received) = (step.consumed, step.message);
        assert!(
            consumed > 0 && consumed <= input.len(),
            "consumed {consumed}"
        );
        let message = received.map(|r| (r.timestamp, r.payload.to_string(), nick_of(&r.payload)));
        let dropped = session
            .opener
            .take_dropped()
            .map_or(0, |d| d.count as usize);
        assert!(
            session.opener.take_dropped().is_none(),
            "drops reported twice"
        );
        seen += dropped;
        input = &input[consumed..];
        let Some((timestamp, text, nick)) = message else {
            assert!(input.is_empty(), "None before the input ran out");
            continue;
        };
        let frame = frames[seen].as_ref().expect("a message comes from a frame");
        seen += 1;
        let token = frame.trim_ascii_end();
        assert!(shown.insert(token.to_vec()), "a token shown twice");
        let mut buf = [0u8; DECODE_BUF_LEN];
        let opened = keyset()
            .decrypt(token, now, Some(TTL), &mut buf)
            .expect("it decrypts");
        assert_eq!(opened.timestamp, timestamp);
        let payload = Payload::parse(opened.plaintext);
        assert_eq!((payload.to_string(), nick_of(&payload)), (text, nick));
    }
    assert_eq!(
        seen,
        frames.len(),
        "a frame neither shown nor counted as dropped"
    );
});

/// The sender's nick, out of the buffer it borrows.
fn nick_of(payload: &Payload<'_>) -> Option<String> {
    payload.nick.map(|nick| nick.as_str().to_owned())
}
