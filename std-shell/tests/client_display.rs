//! What a line-mode `fernchat client` shows for what a hostile room member
//! sends: no control character reaches the terminal, a body's line breaks
//! cannot forge another message, stale tokens are not shown, and a burst
//! of 3,000 honest messages is shown whole.

use fernchat_core::message::Body;
use fernchat_core::render::is_hidden;
use fernchat_tests::peer::{Peer, now};
use fernchat_tests::process::{Guard, start_relay};
use fernchat_tests::std_client::{StdClient, keygen};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_fernchat");
const WAIT: Duration = Duration::from_secs(10);

/// Plaintexts (`nick LF body`, or anything) that try to take over a terminal.
const HOSTILE: &[&[u8]] = &[
    b"eve\n\x1b]0;pwned title\x07",
    b"eve\n\x1b]52;c;ZXZpbA==\x07clipboard",
    b"eve\n\x1b[2J\x1b[Hwiped",
    b"eve\n\x1b[8mhidden\x1b[0m \x1b[31mred",
    b"eve\nover\rwrite\x08\x08\x7f\0\tx",
    b"eve\nhi\n[12:00:00] <bob> forged",
    b"eve\nline\r\n[12:00:01] * bob forged too\n",
    "eve\n\u{202E}reversed\u{2066}isolated\u{2069}\u{200B}\u{FEFF}\u{2028}".as_bytes(),
    "eve\n\u{9b}31mC1\u{85}".as_bytes(),
    b"e\x1b[31mve\nnick with an escape",
    "b\u{202E}ob\nnick with an override".as_bytes(),
    b"eve\n/me \x1b[5mblinks",
    b"eve\n\xff\x1b\xc2\x9b bad utf-8",
];

#[test]
fn hostile_nicks_and_bodies_reach_stdout_harmless() {
    let (key_file, key) = keygen(Path::new(BIN), "hostile-display");
    let relay = start_relay(BIN, &[]);
    let mut bob = Command::new(BIN)
        .args([
            "client",
            "--connect",
            &relay.addr.to_string(),
            "--name",
            "bob",
        ])
        .arg("--key-file")
        .arg(&key_file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdin = bob.stdin.take();
    let mut stdout = bob.stdout.take().unwrap();
    let mut bob = Guard(bob);
    relay.wait_for_log("connected (1 clients)", WAIT);
    let mut eve = Peer::connect(relay.addr, &key, "eve");
    relay.wait_for_log("connected (2 clients)", WAIT);
    for plaintext in HOSTILE {
        eve.send_plaintext(plaintext, now());
    }
    eve.send_plaintext(b"eve\nthe end", now());
    // Let the client show everything, then end its input.
    std::thread::sleep(Duration::from_secs(2));
    drop(stdin);
    assert!(bob.wait_exit(WAIT).is_some_and(|s| s.success()));
    let mut raw = Vec::new();
    stdout.read_to_end(&mut raw).unwrap();

    let text = String::from_utf8(raw).expect("UTF-8 out");
    let bad: Vec<char> = text
        .chars()
        .filter(|&c| (c.is_control() && c != '\n') || is_hidden(c))
        .collect();
    assert!(bad.is_empty(), "control characters {bad:?} in {text}");
    // Every line is a message line or a continuation; one message line a
    // message, and nothing forged at the start of a line.
    let lines: Vec<&str> = text.lines().collect();
    let messages = lines.iter().filter(|l| l.starts_with('[')).count();
    assert_eq!(messages, HOSTILE.len() + 1, "{text}");
    assert!(
        lines
            .iter()
            .all(|l| l.starts_with('[') || l.starts_with("  | ")),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .all(|l| !l.contains("] <bob>") || l.starts_with("  | "))
    );
    for shown in [
        "<eve> ^[]0;pwned title^G",
        "<eve> ^[[2J^[[Hwiped",
        "<eve> over^Mwrite^H^H^?^@^Ix",
        "  | [12:00:00] <bob> forged",
        "<?> e^[[31mve",
        "<?> b\\u{202e}ob",
        "* eve ^[[5mblinks",
        "\\u{202e}reversed\\u{2066}isolated\\u{2069}\\u{200b}\\u{feff}\\u{2028}",
        "<eve> \\u{9b}31mC1\\u{85}",
    ] {
        assert!(text.contains(shown), "{shown:?} not in {text}");
    }
}

#[test]
fn day_old_and_ten_minute_old_tokens_not_shown() {
    let (key_file, key) = keygen(Path::new(BIN), "fresh");
    let relay = start_relay(BIN, &[]);
    let addr = relay.addr.to_string();
    let bob = StdClient::start(Path::new(BIN), &addr, "bob", &key_file);
    let old = StdClient::start_with(Path::new(BIN), &addr, "ann", &key_file, &["--ttl", "0"]);
    relay.wait_for_log("connected (2 clients)", WAIT);
    let mut eve = Peer::connect(relay.addr, &key, "eve");
    relay.wait_for_log("connected (3 clients)", WAIT);
    eve.send_plaintext(b"eve\na day old", now() - 86_400);
    eve.send_plaintext(b"eve\nten minutes old", now() - 600);
    eve.send_plaintext(b"eve\nfresh", now());
    let shown = bob.lines_until("[!] dropped");
    assert!(shown.iter().all(|l| !l.contains("old")), "{shown:?}");
    assert!(
        shown.iter().any(|l| l.ends_with("] <eve> fresh")),
        "{shown:?}"
    );
    assert_eq!(shown.last().unwrap(), "[!] dropped 2 messages: 2 expired");
    // With no freshness window both are shown, with their dates: they are
    // not from today (the ten-minute-old one only just after midnight).
    let day_old = old.expect("a day old");
    let (date, _) = day_old[1..].split_once(' ').unwrap();
    assert!(
        date.len() == 10 && date.as_bytes()[4] == b'-' && date.as_bytes()[7] == b'-',
        "{day_old}"
    );
    old.expect("ten minutes old");
    let fresh = old.expect("fresh");
    assert_eq!(
        fresh.as_bytes()[9],
        b']',
        "today's message has no date: {fresh}"
    );
}

#[test]
fn three_thousand_messages_in_a_second_all_shown() {
    const COUNT: usize = 3000;
    let (key_file, key) = keygen(Path::new(BIN), "burst");
    let relay = start_relay(BIN, &[]);
    let bob = StdClient::start(Path::new(BIN), &relay.addr.to_string(), "bob", &key_file);
    relay.wait_for_log("connected (1 clients)", WAIT);
    let mut eve = Peer::connect(relay.addr, &key, "eve");
    relay.wait_for_log("connected (2 clients)", WAIT);
    let frames: Vec<u8> = (0..COUNT)
        .flat_map(|i| {
            let text = format!("m{i}");
            let mut out = [0u8; 4096];
            let sealer = &eve.session.sealer;
            let frame = sealer.seal(
                Body::Text(text.as_bytes()),
                now(),
                &mut rand::rng(),
                &mut out,
            );
            frame.unwrap().to_vec()
        })
        .collect();
    let started = Instant::now();
    eve.send_raw(&frames);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(1), "sent in {took:?}");
    let shown = bob.lines_until(&format!("<eve> m{}", COUNT - 1));
    let dropped: Vec<&String> = shown.iter().filter(|l| l.contains("[!]")).collect();
    assert!(dropped.is_empty(), "{dropped:?}");
    assert_eq!(shown.len(), COUNT);
    for (i, line) in shown.iter().enumerate() {
        assert!(line.ends_with(&format!("] <eve> m{i}")), "{line}");
    }
}
