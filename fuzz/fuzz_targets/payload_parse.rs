//! `Payload::parse` never fails or panics, whatever the bytes (`docs/PROTOCOL.md`
//! section 5), and neither does its `Display`, which shows the text through
//! `render::Shown`: no control or hidden character but LF, and every LF
//! starts a continuation line. `Lossy` shows invalid UTF-8 with U+FFFD
//! exactly as `String::from_utf8_lossy` does. A payload with a
//! nick survives `encode` then `parse` unchanged, and an unnamed one really
//! had no valid nick line.
//!
//! Input: the plaintext.

#![no_main]

use fernchat_core::message::{Body, Lossy, MAX_NICK, Nick, Payload};
use fernchat_core::render::{CONTINUATION, Shown, is_hidden};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let payload = Payload::parse(data);
    let shown = payload.to_string();
    let nick = payload.shown_nick();
    let expected = match payload.body {
        Body::Text(text) => format!("<{nick}> {}", Shown(text)),
        Body::Me(action) => format!("* {nick} {}", Shown(action)),
        Body::Join => format!("{nick} joined"),
        Body::Leave => format!("{nick} left"),
    };
    assert_eq!(shown, expected);
    assert!(
        !shown
            .chars()
            .any(|c| (c.is_control() && c != '\n') || is_hidden(c))
    );
    assert!(
        shown
            .split('\n')
            .skip(1)
            .all(|line| line.starts_with(CONTINUATION))
    );
    assert_eq!(Lossy(data).to_string(), String::from_utf8_lossy(data));

    let first_line = data.iter().position(|&b| b == b'\n').map(|lf| &data[..lf]);
    let valid_nick = first_line
        .and_then(|line| std::str::from_utf8(line).ok())
        .and_then(|line| Nick::new(line).ok());
    assert_eq!(payload.nick, valid_nick);
    let Some(nick) = payload.nick else { return };
    assert!((1..=MAX_NICK).contains(&nick.as_str().len()));

    // Escaping a leading slash adds one byte at most.
    let mut out = vec![0u8; data.len() + 1];
    let encoded = payload.encode(&mut out).expect("room for the payload");
    assert_eq!(
        Payload::parse(encoded),
        payload,
        "encode then parse changed it"
    );
    let len = encoded.len();
    assert!(
        payload.encode(&mut out[..len - 1]).is_none(),
        "encode wrote past its buffer"
    );
});
