//! Live interop with Python's `cryptography.fernet`, both ways: thousands of
//! tokens under random keys with every block boundary, plus tokens each side
//! must reject (flipped bits, wrong key, truncated).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use fernchat_core::fernet::Key;
use fernchat_core::frame::{DECODE_BUF_LEN, MAX_FRAME, MAX_PLAINTEXT};
use fernchat_tests::python::fernet_peer;
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};

const CASES: usize = 2000;
const NOW: u64 = 1_764_000_000;

/// Plaintext sizes: every block boundary first, then random ones.
fn sizes(rng: &mut StdRng) -> Vec<usize> {
    let mut sizes = vec![0, 1, 15, 16, 17, 31, 32, 33, 1024, 3006, 3007];
    sizes.extend((sizes.len()..CASES).map(|_| rng.random_range(0..=MAX_PLAINTEXT)));
    sizes
}

fn rng() -> StdRng {
    let seed = rand::rng().next_u64();
    eprintln!("seed {seed}");
    StdRng::seed_from_u64(seed)
}

fn random_key(rng: &mut StdRng) -> Key {
    let mut bytes = [0u8; 32];
    rng.fill_bytes(&mut bytes);
    Key::from_bytes(bytes)
}

fn text(key: &Key) -> String {
    String::from_utf8(key.encode().to_vec()).unwrap()
}

/// Ways to spoil a token; each gives a token that must be refused.
fn spoiled(token: &str, rng: &mut StdRng) -> [String; 3] {
    let mut bytes = URL_SAFE.decode(token).unwrap();
    let at = rng.random_range(0..bytes.len());
    bytes[at] ^= 1 << rng.random_range(0..8);
    let flipped = URL_SAFE.encode(&bytes);
    let truncated = token[..token.len() - 4].to_owned();
    let mut swapped = token.as_bytes().to_vec();
    // Not in the last group, where a changed character may differ only in
    // padding bits that Python's lenient decoder ignores.
    let at = rng.random_range(0..swapped.len() - 4);
    swapped[at] = if swapped[at] == b'A' { b'B' } else { b'A' };
    [flipped, truncated, String::from_utf8(swapped).unwrap()]
}

#[test]
fn rust_tokens_decrypt_in_python() {
    let mut rng = rng();
    let mut lines = Vec::new();
    let mut expected = Vec::new();
    let mut out = [0u8; MAX_FRAME];
    for size in sizes(&mut rng) {
        let key = random_key(&mut rng);
        let mut plaintext = vec![0u8; size];
        rng.fill_bytes(&mut plaintext);
        let token = std::str::from_utf8(key.encrypt(&plaintext, NOW, &mut rng, &mut out).unwrap())
            .unwrap()
            .to_owned();
        lines.push(format!("{} {token} {} 60", text(&key), NOW + 30));
        expected.push(format!("ok {}", hex::encode(&plaintext)));
        if lines.len() % 8 == 0 {
            for bad in spoiled(&token, &mut rng) {
                lines.push(format!("{} {bad} {} 60", text(&key), NOW + 30));
                expected.push("invalid".to_owned());
            }
            let other = random_key(&mut rng);
            lines.push(format!("{} {token} {} 60", text(&other), NOW + 30));
            expected.push("invalid".to_owned());
            // Expired for Python too.
            lines.push(format!("{} {token} {} 60", text(&key), NOW + 61));
            expected.push("invalid".to_owned());
        }
    }
    let answers = fernet_peer("decrypt", &lines);
    let good = expected.iter().filter(|e| e.starts_with("ok")).count();
    assert!(good >= CASES);
    for (i, (answer, expected)) in answers.iter().zip(&expected).enumerate() {
        assert_eq!(answer, expected, "case {i}: {}", lines[i]);
    }
}

#[test]
fn python_tokens_decrypt_in_rust() {
    let mut rng = rng();
    let mut keys = Vec::new();
    let mut plaintexts = Vec::new();
    let mut lines = Vec::new();
    for size in sizes(&mut rng) {
        let key = random_key(&mut rng);
        let mut plaintext = vec![0u8; size];
        rng.fill_bytes(&mut plaintext);
        lines.push(format!("{} {NOW} {}", text(&key), hex::encode(&plaintext)));
        keys.push(key);
        plaintexts.push(plaintext);
    }
    let tokens = fernet_peer("encrypt", &lines);
    let mut buf = [0u8; DECODE_BUF_LEN];
    let mut rejected = 0;
    for (i, token) in tokens.iter().enumerate() {
        let opened = keys[i]
            .decrypt(token.as_bytes(), NOW + 30, Some(60), &mut buf)
            .unwrap();
        assert_eq!(opened.plaintext, &plaintexts[i][..], "case {i}");
        assert_eq!(opened.timestamp, NOW);
        if i % 8 == 0 {
            for bad in spoiled(token, &mut rng) {
                assert!(
                    keys[i]
                        .decrypt(bad.as_bytes(), NOW + 30, Some(60), &mut buf)
                        .is_err(),
                    "{bad}"
                );
                rejected += 1;
            }
            let other = random_key(&mut rng);
            assert!(
                other
                    .decrypt(token.as_bytes(), NOW + 30, Some(60), &mut buf)
                    .is_err()
            );
            assert!(
                keys[i]
                    .decrypt(token.as_bytes(), NOW + 61, Some(60), &mut buf)
                    .is_err()
            );
            rejected += 3;
        }
    }
    assert!(rejected >= 1000);
}
