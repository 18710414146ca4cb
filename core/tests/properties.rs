//! Property tests: chunking never changes the frames, round trips hold, and
//! no parser panics on any input.

use fernchat_core::fernet::hazmat::encrypt_with_iv;
use fernchat_core::fernet::{DecryptError, Key, KeySet, TokenError, check_shape};
use fernchat_core::frame::{DECODE_BUF_LEN, FrameDecoder, FrameError, MAX_FRAME, MAX_PLAINTEXT};
use fernchat_core::message::{Body, Nick, Payload};
use fernchat_core::relay::{Inbound, RelayPolicy, Verdict};
use fernchat_core::replay::ArrayStore;
use fernchat_core::session::Session;
use proptest::prelude::*;

/// A small replay cache, so that a few tokens fill it.
type Small = ArrayStore<64, 16>;

type Found = Vec<Result<Vec<u8>, FrameError>>;

/// Decodes `stream` cut at the given (sorted, deduplicated) offsets.
fn decode_cut(stream: &[u8], cuts: &[usize]) -> Found {
    let mut decoder = FrameDecoder::new();
    let mut found = Vec::new();
    let mut start = 0;
    for &end in cuts.iter().chain(std::iter::once(&stream.len())) {
        let mut rest = &stream[start..end.max(start)];
        while !rest.is_empty() {
            let step = decoder.decode(rest);
            assert!(step.consumed > 0 || step.found.is_some(), "no progress");
            rest = &rest[step.consumed..];
            if let Some(item) = step.found {
                found.push(item.map(|frame| {
                    assert!(frame.raw.len() <= MAX_FRAME);
                    assert!(frame.raw.ends_with(b"\n"));
                    frame.token.to_vec()
                }));
            }
        }
        start = end.max(start);
    }
    found
}

/// Streams mixing valid-looking lines, long lines and junk.
fn stream() -> impl Strategy<Value = Vec<u8>> {
    let line = prop_oneof![
        4 => "[A-Za-z0-9_=-]{0,200}\r?\n".prop_map(String::into_bytes),
        1 => proptest::collection::vec(any::<u8>(), 0..300),
        1 => (4000usize..4200).prop_map(|n| { let mut l = vec![b'Q'; n]; l.push(b'\n'); l }),
    ];
    proptest::collection::vec(line, 0..12).prop_map(|lines| lines.concat())
}

fn nick() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_.éü-]{1,10}"
}

proptest! {
    #[test]
    fn any_chunking_gives_the_same_frames(stream in stream(), cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..20)) {
        let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
        cuts.sort_unstable();
        cuts.dedup();
        prop_assert_eq!(decode_cut(&stream, &cuts), decode_cut(&stream, &[]));
        let bytewise: Vec<usize> = (1..stream.len()).collect();
        prop_assert_eq!(decode_cut(&stream, &bytewise), decode_cut(&stream, &[]));
    }

    #[test]
    fn token_round_trip(key in any::<[u8; 32]>(), iv in any::<[u8; 16]>(), now in any::<u64>(),
                        plaintext in proptest::collection::vec(any::<u8>(), 0..=MAX_PLAINTEXT)) {
        let key = Key::from_bytes(key);
        let mut out = [0u8; MAX_FRAME];
        let token = encrypt_with_iv(&key, &plaintext, now, iv, &mut out).unwrap().to_vec();
        prop_assert!(check_shape(&token).is_ok());
        let mut buf = [0u8; DECODE_BUF_LEN];
        let opened = key.decrypt(&token, now, Some(0), &mut buf).unwrap();
        prop_assert_eq!(opened.plaintext, &plaintext[..]);
        prop_assert_eq!(opened.timestamp, now);
    }

    #[test]
    fn a_token_changed_anywhere_never_decrypts(key in any::<[u8; 32]>(), iv in any::<[u8; 16]>(),
                        plaintext in proptest::collection::vec(any::<u8>(), 0..200),
                        at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let key = Key::from_bytes(key);
        let mut out = [0u8; MAX_FRAME];
        let mut token = encrypt_with_iv(&key, &plaintext, 1000, iv, &mut out).unwrap().to_vec();
        let at = at.index(token.len());
        prop_assume!(token[at] != byte);
        token[at] = byte;
        let mut buf = [0u8; DECODE_BUF_LEN];
        let opened = key.decrypt(&token, 1000, None, &mut buf);
        prop_assert!(opened.is_err(), "a changed token decrypted");
        // The keyless check and decryption agree on what is malformed.
        let malformed = opened == Err(DecryptError::Token(TokenError::Malformed));
        prop_assert_eq!(malformed, check_shape(&token).is_err());
    }

    #[test]
    fn payload_round_trip(nick in nick(), text in any::<String>(), kind in 0u8..4) {
        let body = match kind {
            0 => Body::Text(text.as_bytes()),
            1 => Body::Me(text.as_bytes()),
            2 => Body::Join,
            _ => Body::Leave,
        };
        let payload = Payload { nick: Some(Nick::new(&nick).unwrap()), body };
        let mut out = vec![0u8; 8192];
        let bytes = payload.encode(&mut out).unwrap().to_vec();
        prop_assert_eq!(Payload::parse(&bytes), payload);
    }

    #[test]
    fn parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..5000), now in any::<u64>(), ttl in any::<Option<u64>>()) {
        let key = Key::from_bytes([7; 32]);
        let mut buf = [0u8; DECODE_BUF_LEN];
        let _ = key.decrypt(&bytes, now, ttl, &mut buf);
        let _ = check_shape(&bytes);
        let _ = Key::parse(&bytes);
        let _ = KeySet::<4>::parse_file(&bytes);
        let _ = Payload::parse(&bytes).to_string();
        let mut policies = [RelayPolicy::<4, Small>::blind(), RelayPolicy::<4, Small>::keyed(KeySet::single(key.clone()), 300, Small::new())];
        for policy in &mut policies {
            let mut conn = Inbound::new();
            let mut rest = &bytes[..];
            while !rest.is_empty() {
                let step = policy.receive(&mut conn, rest, now);
                if let Some(Verdict::Forward(raw)) = step.verdict {
                    prop_assert!(raw.len() <= MAX_FRAME && raw.ends_with(b"\n"));
                }
                prop_assert!(step.consumed > 0 || step.verdict.is_some());
                rest = &rest[step.consumed..];
            }
        }
        let mut session = Session::<4, Small>::new(KeySet::single(key), "me", ttl).unwrap();
        let mut rest = &bytes[..];
        loop {
            let step = session.opener.receive(rest, now);
            rest = &rest[step.consumed..];
            if step.message.is_none() {
                break;
            }
        }
        let _ = session.opener.take_dropped();
    }
}
