//! The mps2-an385 firmware on QEMU against the std binary and Python's
//! `cryptography`: the firmware client on the std relay, showing times in
//! UTC or at a given offset, and the relay's notice when it is turned
//! away; two std clients and
//! a Python client through the firmware relay; three peers sending far more
//! than its fan-out log holds at once; idle connections told `!timeout` and
//! one past the limit told `!full`; keyed mode on the firmware
//! relay dropping a forged frame; and the stack guard, which must turn an
//! overflow into a reported hard fault. QEMU's user network maps the guest's
//! 10.0.2.2 to the host's 127.0.0.1, and `hostfwd` brings a 127.0.0.1 port to
//! the firmware relay: no traffic leaves this machine.

mod qemu;

use fernchat_core::fernet::Key;
use fernchat_tests::peer::{Peer, read_until_closed};
use fernchat_tests::process::{Guard, start_relay};
use fernchat_tests::python::{python, script};
use fernchat_tests::std_client::StdClient;
use qemu::{Machine, WAIT, free_port, key_file, setup};
use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Boots the firmware relay on a free host port; gives QEMU and that port.
fn firmware_relay(images: &std::path::Path, args: &[&str]) -> (Machine, u16) {
    let port = free_port();
    let relay = Machine::boot(
        &images.join("fernchat-server"),
        args,
        Some(format!("tcp:127.0.0.1:{port}-:10101")),
    );
    relay.expect("relay listening on 10.0.2.15:10101");
    (relay, port)
}

/// The firmware client, with `time_args` among its options, chats with a
/// std client through the std relay; gives the console line on which it
/// showed the std client's message. `name` keeps each caller's key apart.
fn chat_with_the_firmware_client(name: &str, time_args: &[&str]) -> String {
    let setup = setup();
    let (key_path, _, key) = key_file(name);
    let relay = start_relay(&setup.fernchat.to_string_lossy(), &[]);
    let port = relay.addr.port();
    let mut host = StdClient::start(&setup.fernchat, &relay.addr.to_string(), "host", &key_path);
    relay.wait_for_log("connected (1 clients)", WAIT);

    // The guest reaches the host's 127.0.0.1 as QEMU's gateway, 10.0.2.2.
    let server = format!("10.0.2.2:{port}");
    let mut args = vec!["--key", &key, "--connect", &server, "--nick", "board"];
    args.extend(time_args);
    args.extend(["--wait", "1", "hello from the board", "/me waves"]);
    let mut board = Machine::boot(&setup.images.join("fernchat-client"), &args, None);
    board.expect("connected to 10.0.2.2");
    host.expect("<board> hello from the board");
    host.expect("* board waves");

    host.type_line("hi board, from the host");
    let shown = board.expect("<host> hi board, from the host");
    board.expect("left");
    assert_eq!(board.exit_code(), Some(0), "the firmware client exits 0");
    host.expect("board left");
    assert!(host.quit());
    shown
}

/// Checks that `line` starts with `[HH:MM:SS` and then `end`, and that the
/// time is that of the last minute at `offset` seconds from UTC.
fn assert_time_shown(line: &str, end: &str, offset: i64) {
    let (time, rest) = line
        .strip_prefix('[')
        .and_then(|line| line.split_at_checked(8))
        .unwrap_or_else(|| panic!("no [HH:MM:SS at the start of {line:?}"));
    assert!(rest.starts_with(end), "{line:?}: no {end:?} after the time");
    let fields: Vec<i64> = time.split(':').filter_map(|f| f.parse().ok()).collect();
    let [hours, minutes, seconds] = fields[..] else {
        panic!("{line:?}: {time:?} is not HH:MM:SS");
    };
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock");
    let expected = (now.as_secs() as i64 + offset).rem_euclid(86_400);
    let behind = (expected - (hours * 3600 + minutes * 60 + seconds)).rem_euclid(86_400);
    assert!(
        behind <= 60,
        "{line:?}: {time} is not the time at {offset} s from UTC (now {expected} s into that day)"
    );
}

#[test]
fn firmware_client_chats_through_the_std_relay() {
    let shown = chat_with_the_firmware_client("client-utc", &[]);
    // With no offset given, the board shows UTC, marked as such.
    assert_time_shown(&shown, "Z] ", 0);
}

#[test]
fn firmware_client_shows_local_time_at_the_given_utc_offset() {
    let shown = chat_with_the_firmware_client("client-offset", &["--utc-offset", "-09:30"]);
    assert_time_shown(&shown, "] ", -(9 * 60 + 30) * 60);
}

#[test]
fn firmware_client_shows_the_relays_notice() {
    let setup = setup();
    let (_, key, key_text) = key_file("client-notice");
    let relay = start_relay(&setup.fernchat.to_string_lossy(), &["--max-clients", "1"]);
    let _ann = Peer::connect(relay.addr, &key, "ann");
    relay.wait_for_log("connected (1 clients)", WAIT);
    let server = format!("10.0.2.2:{}", relay.addr.port());
    let args = ["--key", &key_text, "--connect", &server, "--nick", "board"];
    let board = Machine::boot(&setup.images.join("fernchat-client"), &args, None);
    relay.wait_for_log("refused: the relay is full", WAIT);
    board.expect("relay: the relay is full");
}

#[test]
fn firmware_console_shows_hostile_text_harmless() {
    let setup = setup();
    let (_, key, key_text) = key_file("client-hostile");
    let relay = start_relay(&setup.fernchat.to_string_lossy(), &[]);
    let mut eve = Peer::connect(relay.addr, &key, "eve");
    relay.wait_for_log("connected (1 clients)", WAIT);
    let server = format!("10.0.2.2:{}", relay.addr.port());
    let args = ["--key", &key_text, "--connect", &server, "--nick", "board"];
    let mut board = Machine::boot(&setup.images.join("fernchat-client"), &args, None);
    board.expect("connected to 10.0.2.2");
    relay.wait_for_log("connected (2 clients)", WAIT);
    let now = fernchat_tests::peer::now();
    eve.send_plaintext(
        b"eve\n\x1b]0;pwned\x07hi\n[12:00:00] <host> forged\x1b[2J",
        now,
    );
    let shown = board.expect("<eve> ");
    assert!(shown.ends_with("<eve> ^[]0;pwned^Ghi"), "{shown:?}");
    let forged = board.expect("forged");
    assert_eq!(forged, "  | [12:00:00] <host> forged^[[2J");
    board.expect("left");
    assert_eq!(board.exit_code(), Some(0));
}

#[test]
fn std_and_python_clients_chat_through_the_firmware_relay() {
    let setup = setup();
    let (key_path, _, _) = key_file("relay");
    let (relay, port) = firmware_relay(&setup.images, &[]);
    let addr = format!("127.0.0.1:{port}");
    let mut ann = StdClient::start(&setup.fernchat, &addr, "ann", &key_path);
    relay.expect("joined");
    let mut bob = StdClient::start(&setup.fernchat, &addr, "bob", &key_path);
    relay.expect("joined");
    ann.expect("bob joined");

    // `docs/PROTOCOL.md` section 8's Python client: says hello, prints two frames.
    let mut python = Guard(
        Command::new(python())
            .arg(script("chat_peer.py"))
            .args([&key_path.to_string_lossy(), "127.0.0.1", &port.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start python"),
    );
    ann.expect("<py> hello from python");
    bob.expect("<py> hello from python");

    ann.type_line("hi all");
    bob.expect("<ann> hi all");
    bob.type_line("/me waves");
    ann.expect("* bob waves");

    // It exits after two frames (or its own 20 s socket timeout).
    let mut seen = String::new();
    let stdout = python.0.stdout.as_mut().expect("python stdout");
    stdout.read_to_string(&mut seen).expect("python output");
    assert!(
        python.0.wait().expect("python exit").success(),
        "python failed: {seen}"
    );
    assert!(seen.contains("ann\nhi all"), "python decrypted: {seen}");
    assert!(seen.contains("bob\n/me waves"), "python decrypted: {seen}");

    assert!(bob.quit());
    ann.expect("bob left");
    relay.expect("left: closed");
    assert!(ann.quit());
}

/// `len` bytes of text that show where any byte went missing.
fn patterned(len: usize, seed: u8) -> String {
    (0..len)
        .map(|i| char::from(b'a' + ((i + usize::from(seed)) % 26) as u8))
        .collect()
}

/// The firmware client sends and receives the largest frame (4,089 bytes)
/// through the keyed firmware relay; both print their stack high-water
/// marks, which `cargo xtask size` reads from the file named by
/// `FERNCHAT_STACK_REPORT` (lines `IMAGE PEAK RESERVE`, in bytes).
#[test]
fn the_largest_frames_go_both_ways_through_the_firmware_relay_and_client() {
    let setup = setup();
    let (_, key, key_text) = key_file("largest");
    let (relay, port) = firmware_relay(&setup.images, &["--key", &key_text]);
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("address");
    let mut host = Peer::connect(addr, &key, "host");
    relay.expect("joined");
    // "board", LF and 3,001 bytes: the most a frame carries.
    let from_board = patterned(3001, 0);
    let server = format!("10.0.2.2:{port}");
    let args = [
        "--key",
        &key_text,
        "--connect",
        &server,
        "--nick",
        "board",
        "--wait",
        "1",
        &from_board,
    ];
    let mut board = Machine::boot(&setup.images.join("fernchat-client"), &args, None);
    board.expect("connected to 10.0.2.2");
    let heard = host.receive(2, WAIT);
    assert_eq!(heard.len(), 2, "the host heard {heard:?}");
    assert_eq!(heard[0], "board joined");
    assert_eq!(heard[1], format!("<board> {from_board}"));

    let from_host = patterned(3002, 7);
    let frame = host.say(&from_host);
    assert_eq!(frame.len(), 4089, "the largest frame");
    let shown = board.expect("<host> ");
    assert!(shown.ends_with(&format!("<host> {from_host}")), "{shown:?}");
    board.expect("left");
    let board_stack = board.expect("stack: ");
    assert_eq!(board.exit_code(), Some(0));
    assert_eq!(host.receive(1, WAIT), ["board left"]);
    relay.expect("client 1 left");
    let relay_stack = relay.expect("stack: ");

    let mut report = String::new();
    for (image, line) in [
        ("fernchat-client", &board_stack),
        ("fernchat-server", &relay_stack),
    ] {
        // "stack: PEAK of RESERVE bytes used at most"
        let words: Vec<&str> = line.split_whitespace().collect();
        let (Some(peak), Some(reserve)) = (words.get(1), words.get(3)) else {
            panic!("no stack figures in {line:?}");
        };
        let peak: u32 = peak.parse().expect("peak");
        let reserve: u32 = reserve.parse().expect("reserve");
        assert!(peak > 1024 && peak < reserve, "{image}: {line:?}");
        report.push_str(&format!("{image} {peak} {reserve}\n"));
    }
    if let Some(path) = std::env::var_os("FERNCHAT_STACK_REPORT") {
        std::fs::write(path, report).expect("write the stack report");
    }
}

/// Three ~3,000-byte messages from `nick`, each marked with its number.
fn bulk(nick: &str) -> Vec<String> {
    (0..3)
        .map(|i| format!("{nick} {i} {}", "x".repeat(3000 - nick.len() - 3)))
        .collect()
}

#[test]
fn three_peers_sending_10kb_at_once_through_the_firmware_relay_get_everything() {
    let setup = setup();
    let (_, key, _) = key_file("bulk");
    let (relay, port) = firmware_relay(&setup.images, &[]);
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("address");
    let nicks = ["ann", "bob", "cy"];
    let peers: Vec<Peer> = nicks
        .iter()
        .map(|nick| Peer::connect(addr, &key, nick))
        .collect();
    for _ in &nicks {
        relay.expect("joined");
    }

    // 37 KB of frames at once, more than twice the relay's 16 KiB fan-out
    // log: senders wait for room; nobody who reads is cut off.
    let start = Arc::new(Barrier::new(nicks.len()));
    let threads: Vec<_> = peers
        .into_iter()
        .zip(nicks)
        .map(|(mut peer, nick)| {
            let start = Arc::clone(&start);
            std::thread::spawn(move || {
                start.wait();
                for text in bulk(nick) {
                    peer.say(&text);
                }
                peer.receive(6, WAIT)
            })
        })
        .collect();
    for (thread, nick) in threads.into_iter().zip(nicks) {
        let shown = thread.join().expect("peer thread");
        for other in nicks.iter().filter(|&&other| other != nick) {
            let prefix = format!("<{other}> ");
            let from_other: Vec<String> = shown
                .iter()
                .filter(|m| m.starts_with(&prefix))
                .cloned()
                .collect();
            let expected: Vec<String> = bulk(other)
                .iter()
                .map(|t| format!("<{other}> {t}"))
                .collect();
            assert!(
                from_other == expected,
                "{nick} got {} of {other}'s 3 messages ({} in all)",
                from_other.len(),
                shown.len()
            );
        }
    }
}

#[test]
fn idle_connections_are_told_timeout_then_a_client_gets_in() {
    let setup = setup();
    let (_, key, _) = key_file("idle");
    let (relay, port) = firmware_relay(&setup.images, &["--hello-timeout", "2"]);
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("address");
    // Four connections that say nothing take every client slot...
    let mut idle: Vec<TcpStream> = (0..4)
        .map(|_| TcpStream::connect(addr).expect("connect"))
        .collect();
    for _ in &idle {
        relay.expect("joined");
    }
    // ...so a fifth is told the relay is full, then closed.
    let mut late = TcpStream::connect(addr).expect("connect");
    assert_eq!(read_until_closed(&mut late, WAIT), b"!full\n");
    relay.expect("refused");
    // Two seconds on, each is told why and closed.
    for stream in &mut idle {
        assert_eq!(read_until_closed(stream, WAIT), b"!timeout\n");
    }
    for _ in &idle {
        relay.expect("left: no valid frame in time");
    }
    // Their places are free again, once the relay has seen them close (in
    // the meantime a connection would find no socket listening: a reset).
    std::thread::sleep(Duration::from_millis(500));
    let mut ann = Peer::connect(addr, &key, "ann");
    relay.expect("joined");
    let mut bob = Peer::connect(addr, &key, "bob");
    relay.expect("joined");
    ann.say("made it");
    bob.say("me too");
    assert_eq!(bob.receive(1, WAIT), ["<ann> made it"]);
    assert_eq!(ann.receive(1, WAIT), ["<bob> me too"]);
}

#[test]
fn keyed_firmware_relay_drops_a_forged_frame() {
    let setup = setup();
    let (_, key, key_text) = key_file("keyed");
    let (relay, port) = firmware_relay(&setup.images, &["--key", &key_text]);
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("address");
    let mut ann = Peer::connect(addr, &key, "ann");
    let mut bob = Peer::connect(addr, &key, "bob");
    let mut eve = Peer::connect(addr, &Key::from_bytes(rand::random()), "eve");
    for _ in 0..3 {
        relay.expect("joined");
    }

    eve.say("forged");
    relay.expect("bad MAC");
    ann.say("genuine");
    assert_eq!(bob.receive(1, WAIT), ["<ann> genuine"]);
    // The forged frame never reached bob: nothing was dropped on his side.
    assert_eq!(bob.session.opener.take_dropped(), None);

    // Keyed mode: ann vanishes without /leave; the relay says it for her.
    drop(ann);
    assert_eq!(bob.receive(1, WAIT), ["ann left"]);
    relay.expect("left: closed");
}

#[test]
fn stack_overflow_ends_in_a_reported_hard_fault() {
    let setup = setup();
    // It recurses until the stack reaches the MPU guard below it.
    let mut board = Machine::boot(&setup.images.join("fernchat-overflow"), &[], None);
    board.expect("overflowing the stack");
    board.expect("fernchat: hard fault");
    assert_eq!(
        board.exit_code(),
        Some(102),
        "a hard fault ends QEMU with status 102"
    );
}

#[test]
fn an_interleaved_flood_is_cut_off_and_summarised_on_the_console() {
    const OFFENDERS: usize = 20;
    let setup = setup();
    let (_, key, _) = key_file("flood");
    let (relay, port) = firmware_relay(&setup.images, &[]);
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("address");
    let mut ann = Peer::connect(addr, &key, "ann");
    relay.expect("joined");
    let mut bob = Peer::connect(addr, &key, "bob");
    // Both in the room before ann speaks, or bob may miss her hello.
    relay.expect("joined");
    ann.say("hello");
    bob.say("hello");
    assert_eq!(bob.receive(1, WAIT), ["<ann> hello"]);

    // 20 connections, two at a time (the board serves four clients), each
    // sending 15 invalid frames then a valid one, over and over: up to
    // 100,000 invalid frames in all, never 16 in a row. ann talks meanwhile.
    let left = |lines: &[String]| {
        lines
            .iter()
            .filter(|l| l.contains("left: too many invalid frames"))
            .count()
    };
    let mut lines = Vec::new();
    for round in 0..OFFENDERS / 2 {
        let offenders: Vec<_> = (0..2)
            .map(|i| {
                let mut eve = Peer::connect(addr, &key, &format!("eve{round}{i}"));
                std::thread::spawn(move || {
                    let patience = Some(Duration::from_secs(2));
                    eve.stream.set_write_timeout(patience).expect("timeout");
                    let valid = eve.say("cover");
                    let mut burst = b"not+a+token\n".repeat(15);
                    burst.extend_from_slice(&valid);
                    for _ in 0..5000 / 15 {
                        if std::io::Write::write_all(&mut eve.stream, &burst).is_err() {
                            break;
                        }
                    }
                    // Kept open until the relay ends it, as an attacker
                    // would: an early close could reset what was sent.
                    read_until_closed(&mut eve.stream, WAIT);
                })
            })
            .collect();
        ann.say(&format!("honest {round}"));
        let so_far = left(&lines);
        lines.extend(relay.lines_until(|new| left(new) >= 2, Duration::ZERO));
        assert_eq!(left(&lines), so_far + 2, "round {round}: {lines:#?}");
        for eve in offenders {
            eve.join().expect("offender");
        }
        // The two sockets listen again once their closes are done.
        std::thread::sleep(Duration::from_millis(2500));
    }
    lines.extend(relay.lines_until(|_| true, Duration::from_secs(1)));
    assert_eq!(left(&lines), OFFENDERS, "{lines:#?}");
    assert!(
        lines.len() <= 100,
        "{} console lines: {lines:#?}",
        lines.len()
    );
    let honest: Vec<String> = bob
        .receive(OFFENDERS * 2, WAIT)
        .into_iter()
        .filter(|m| m.starts_with("<ann>"))
        .collect();
    let expected: Vec<String> = (0..OFFENDERS / 2)
        .map(|round| format!("<ann> honest {round}"))
        .collect();
    assert_eq!(honest, expected, "bob lost honest messages");
}
