//! A flood of invalid frames, interleaved with valid ones to dodge the
//! 16-in-a-row rule, is cut off by the rate rule and costs a few log lines,
//! while honest clients lose nothing.

use fernchat_core::fernet::Key;
use fernchat_tests::peer::{Peer, read_until_closed};
use fernchat_tests::process::start_relay;
use std::io::Write;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_fernchat");
const WAIT: Duration = Duration::from_secs(10);

#[test]
fn an_interleaved_flood_is_cut_off_and_summarised() {
    const OFFENDERS: usize = 20;
    const INVALID_EACH: usize = 5000;
    let key = Key::from_bytes(rand::random());
    let relay = start_relay(BIN, &[]);
    let mut ann = Peer::connect(relay.addr, &key, "ann");
    let mut bob = Peer::connect(relay.addr, &key, "bob");
    ann.say("hello");
    bob.say("hello");
    assert_eq!(bob.receive(1, WAIT), ["<ann> hello"]);

    // 20 connections, each 15 invalid frames then a valid one, over and
    // over: 100,000 invalid frames in all, never 16 in a row.
    let started = Instant::now();
    let flooding: Vec<_> = (0..OFFENDERS)
        .map(|i| {
            let mut eve = Peer::connect(relay.addr, &key, &format!("eve{i}"));
            std::thread::spawn(move || {
                let valid = eve.say("cover");
                let mut burst = b"not+a+token\n".repeat(15);
                burst.extend_from_slice(&valid);
                let mut written = 0;
                while written < INVALID_EACH {
                    if eve.stream.write_all(&burst).is_err() {
                        break;
                    }
                    written += 15;
                }
                // An attacker keeps the connection until the relay ends it
                // (closing first, with unread input, would be a reset that
                // could beat the relay to the frames already sent).
                read_until_closed(&mut eve.stream, WAIT);
            })
        })
        .collect();
    // Meanwhile ann talks to bob.
    for n in 0..100 {
        ann.say(&format!("honest {n}"));
        std::thread::sleep(Duration::from_millis(20));
    }
    for eve in flooding {
        eve.join().unwrap();
    }
    let got = bob.receive(usize::MAX, Duration::from_secs(3));
    let honest: Vec<&String> = got.iter().filter(|m| m.starts_with("<ann>")).collect();
    assert_eq!(honest.len(), 100, "bob lost honest messages");
    assert_eq!(*honest[99], "<ann> honest 99");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "honest chat slowed"
    );

    // Every offender was sent away by the rate rule.
    let mut lines: Vec<String> = Vec::new();
    let deadline = Instant::now() + WAIT;
    let sent_away = |lines: &[String]| {
        lines
            .iter()
            .filter(|l| l.contains("left: too many invalid frames"))
            .count()
    };
    while sent_away(&lines) < OFFENDERS && Instant::now() < deadline {
        if let Ok(line) = relay.log.recv_timeout(Duration::from_millis(100)) {
            lines.push(line);
        }
    }
    // Whatever else is logged by now.
    std::thread::sleep(Duration::from_millis(200));
    lines.extend(relay.log.try_iter());
    assert_eq!(sent_away(&lines), OFFENDERS, "{lines:#?}");
    // A few lines per connection, not one per frame.
    assert!(lines.len() <= 100, "{} log lines: {lines:#?}", lines.len());
    let summaries = lines
        .iter()
        .filter(|l| l.contains("frames dropped in the last"))
        .count();
    assert_eq!(summaries, OFFENDERS);
}
