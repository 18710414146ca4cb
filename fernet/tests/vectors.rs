//! The official Fernet vectors (github.com/fernet/spec: generate.json,
//! verify.json, invalid.json), stored unchanged in tests/data.

use fernchat_fernet::hazmat::{encrypt_with_iv, stream_with_iv};
use fernchat_fernet::{DecryptError, Key, decode_buf_len};
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

#[derive(Deserialize)]
struct Generate {
    token: String,
    now: String,
    iv: [u8; 16],
    src: String,
    secret: String,
}

#[derive(Deserialize)]
struct Verify {
    token: String,
    now: String,
    ttl_sec: u64,
    src: String,
    secret: String,
}

#[derive(Deserialize)]
struct Invalid {
    desc: String,
    token: String,
    now: String,
    ttl_sec: u64,
    secret: String,
}

fn unix(now: &str) -> u64 {
    OffsetDateTime::parse(now, &Rfc3339)
        .unwrap()
        .unix_timestamp() as u64
}

fn load<T: for<'a> Deserialize<'a>>(name: &str) -> Vec<T> {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn test_generate_vectors() {
    let cases: Vec<Generate> = load("generate.json");
    assert_eq!(cases.len(), 1);
    for case in cases {
        let key = Key::parse(case.secret.as_bytes()).unwrap();
        let mut out = [0u8; 4096];
        let token = encrypt_with_iv(
            &key,
            case.src.as_bytes(),
            unix(&case.now),
            case.iv,
            &mut out,
        )
        .unwrap();
        assert_eq!(std::str::from_utf8(token).unwrap(), case.token);
        // The stream writes the same token, here 10 bytes at a time.
        let src = case.src.as_bytes();
        let mut stream = stream_with_iv(&key, src.len(), unix(&case.now), case.iv);
        let mut text = Vec::new();
        while !stream.is_done() {
            let n = stream.fill(&[src], &mut out[..10]);
            text.extend_from_slice(&out[..n]);
        }
        assert_eq!(std::str::from_utf8(&text).unwrap(), case.token);
    }
}

#[test]
fn test_verify_vectors() {
    let cases: Vec<Verify> = load("verify.json");
    assert_eq!(cases.len(), 1);
    for case in cases {
        let key = Key::parse(case.secret.as_bytes()).unwrap();
        let mut buf = vec![0u8; decode_buf_len(case.token.len())];
        let opened = key
            .decrypt(
                case.token.as_bytes(),
                unix(&case.now),
                Some(case.ttl_sec),
                &mut buf,
            )
            .unwrap();
        assert_eq!(opened.plaintext, case.src.as_bytes());
        assert_eq!(opened.timestamp, 499_162_800);
        let mut token = case.token.clone().into_bytes();
        let opened = key
            .decrypt_in_place(&mut token, unix(&case.now), Some(case.ttl_sec))
            .unwrap();
        assert_eq!(opened.plaintext, case.src.as_bytes());
        assert_eq!(opened.timestamp, 499_162_800);
    }
}

#[test]
fn test_invalid_vectors() {
    let cases: Vec<Invalid> = load("invalid.json");
    assert_eq!(cases.len(), 8);
    for case in cases {
        let key = Key::parse(case.secret.as_bytes()).unwrap();
        let mut buf = vec![0u8; decode_buf_len(case.token.len())];
        let result = key.decrypt(
            case.token.as_bytes(),
            unix(&case.now),
            Some(case.ttl_sec),
            &mut buf,
        );
        // Refused for the token, not for want of room: the buffer holds
        // whatever a token of this length decodes to.
        assert!(
            matches!(result, Err(DecryptError::Token(_))),
            "{}: {result:?}",
            case.desc
        );
        let mut token = case.token.clone().into_bytes();
        let result = key.decrypt_in_place(&mut token, unix(&case.now), Some(case.ttl_sec));
        assert!(result.is_err(), "{} was accepted in place", case.desc);
    }
}
