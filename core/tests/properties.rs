//! Property tests: chunking never changes the frames, round trips hold, and
//! no parser panics on any input.

use fernchat_core::fernet::{DECODE_BUF_LEN, Key, KeySet, MAX_PLAINTEXT, check_shape};
use fernchat_core::frame::{FrameDecoder, FrameError, MAX_FRAME};
use fernchat_core::message::{Body, Nick, Payload};
use fernchat_core::relay::{Inbound, RelayPolicy, Verdict};
use fernchat_core::session::Session;
use proptest::prelude::*;

type Found = Vec<Result<Vec<u8>, FrameError>>;

/// Decodes `stream` cut at the given (sorted, deduplicated) offsets.
fn decode_cut(stream: &[u8], cuts: &[usize]) -> Found {
    let mut decoder = FrameDecoder::new();
    let mut found = Vec::new();
    let mut start = 0;
    for &end in cuts.iter().chain(std::iter::once(&stream.len())) {
        let mut rest = &stream[start..end.max(start)];
        while !rest.is_empty() {
            let (n, item) = decoder.decode(rest);
            assert!(n > 0 || item.is_some(), "no progress");
            rest = &rest[n..];
            if let Some(item) = item {
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
        let token = key.encrypt(&plaintext, now, iv, &mut out).unwrap().to_vec();
        prop_assert!(check_shape(&token).is_ok());
        let mut buf = [0u8; DECODE_BUF_LEN];
        let opened = key.decrypt(&token, now, Some(0), &mut buf).unwrap();
        prop_assert_eq!(opened.plaintext, &plaintext[..]);
        prop_assert_eq!(opened.timestamp, now);
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
        let decrypted = key.decrypt(&bytes, now, ttl, &mut buf).is_ok();
        prop_assert!(!decrypted || check_shape(&bytes).is_ok());
        let _ = Key::parse(&bytes);
        let _ = KeySet::<4>::parse_file(&bytes);
        let _ = Payload::parse(&bytes).to_string();
        let mut policies = [RelayPolicy::<4, 64>::blind(), RelayPolicy::<4, 64>::keyed(KeySet::single(key.clone()), 300)];
        for policy in &mut policies {
            let mut conn = Inbound::new();
            let mut rest = &bytes[..];
            while !rest.is_empty() {
                let (n, verdict) = policy.receive(&mut conn, rest, now);
                if let Some(Verdict::Forward(raw)) = verdict {
                    prop_assert!(raw.len() <= MAX_FRAME && raw.ends_with(b"\n"));
                }
                prop_assert!(n > 0 || verdict.is_some());
                rest = &rest[n..];
            }
        }
        let mut session = Session::<4, 64>::new(KeySet::single(key), "me", ttl).unwrap();
        let mut rest = &bytes[..];
        while let (n, Some(_)) = session.receive(rest, now) {
            rest = &rest[n..];
        }
        let _ = session.take_dropped();
    }
}
