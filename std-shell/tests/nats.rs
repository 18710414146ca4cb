//! Relays bridged over NATS (`docs/PROTOCOL.md` section 12), against real
//! `nats-server`s on 127.0.0.1 random ports: frames reach every client of
//! every relay once and in order, a `nats-py` client is in the room, a
//! keyed relay refuses what it would refuse locally, a relay fails over to
//! the other node and starts while NATS is down, late joiners get
//! history, and relays authenticate (a refused one says so) and speak TLS
//! to NATS.

use fernchat_core::fernet::Key;
use fernchat_tests::nats::{self, Ports, start_node, start_node_with};
use fernchat_tests::peer::{Peer, now};
use fernchat_tests::process::{Relay, lines, start_relay, start_relay_with_env};
use fernchat_tests::prometheus::{dropped_frames, metrics_addr, scrape};
use fernchat_tests::python::{python, python_with_nats, script};
use fernchat_tests::std_client::{StdClient, keygen, self_signed_cert};
use nats_jwt::{KeyPair, Token};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_fernchat");
const WAIT: Duration = Duration::from_secs(10);
const QUIET: Duration = Duration::from_millis(500);
/// Messages each sender sends in the delivery test.
const EACH: usize = 20;

/// A relay bridged to `urls`, once it has connected to NATS.
fn bridged(urls: &[String], args: &[&str]) -> Relay {
    let urls = urls.join(",");
    let mut all = vec!["--nats", urls.as_str()];
    all.extend_from_slice(args);
    let relay = start_relay(BIN, &all);
    relay.wait_for_log("NATS bridge connected", WAIT);
    relay
}

/// Makes sure each peer's frames reach all the others (NATS spreads a new
/// subscription's interest across the cluster in the background): each in
/// turn says `probe` until every other has one; then the extra probes are
/// read away. Gives the number of probes each sent.
fn warm_up(peers: &mut [Peer]) -> Vec<u64> {
    let mut sent = vec![0; peers.len()];
    for from in 0..peers.len() {
        let mut reached = vec![false; peers.len()];
        reached[from] = true;
        let deadline = Instant::now() + WAIT;
        while reached.contains(&false) {
            assert!(
                Instant::now() < deadline,
                "peer {from}'s probes never reached all"
            );
            peers[from].say("probe");
            sent[from] += 1;
            for (to, peer) in peers.iter_mut().enumerate() {
                if !reached[to] && !peer.receive(1, Duration::from_millis(200)).is_empty() {
                    reached[to] = true;
                }
            }
        }
    }
    for peer in peers.iter_mut() {
        let extra = peer.receive(usize::MAX, QUIET);
        assert!(extra.iter().all(|m| m.ends_with("probe")), "{extra:?}");
    }
    sent
}

/// Checks that `got` (`(sender, text)` pairs) holds exactly `0..EACH` from
/// each of `senders`, each sender's in order.
fn assert_once_in_order(who: &str, got: &[(String, String)], senders: &[&str]) {
    let mut by_sender: HashMap<&str, Vec<&str>> = HashMap::new();
    for (sender, text) in got {
        by_sender.entry(sender).or_default().push(text);
    }
    for sender in senders {
        let expected: Vec<String> = (0..EACH).map(|i| format!("{sender} {i}")).collect();
        let texts = by_sender.remove(sender).unwrap_or_default();
        assert_eq!(texts, expected, "{who} from {sender}");
    }
    assert!(by_sender.is_empty(), "{who} got more: {by_sender:?}");
}

/// `<nick> text` as a peer shows it, split.
fn split_shown(shown: &str) -> (String, String) {
    let rest = shown.strip_prefix('<').expect("a message");
    let (nick, text) = rest.split_once("> ").expect("a message");
    (nick.to_owned(), text.to_owned())
}

#[test]
fn three_relays_on_a_cluster_deliver_every_frame_once_and_in_order() {
    let [n1, n2] = nats::cluster();
    let (key_file, key) = keygen(Path::new(BIN), "nats-three");
    let relays = [
        bridged(&[n1.url()], &[]),
        bridged(&[n2.url()], &[]),
        bridged(&[n1.url(), n2.url()], &[]),
    ];
    let nicks = ["ann", "bob", "cat"];
    let mut peers: Vec<Peer> = relays
        .iter()
        .zip(nicks)
        .map(|(relay, nick)| Peer::connect(relay.addr, &key, nick))
        .collect();
    warm_up(&mut peers);

    // A Python client on the second relay: it sends its messages, then
    // reads everyone else's.
    let python = Command::new(python())
        .arg(script("relay_peer.py"))
        .arg(&key_file)
        .args(["127.0.0.1", &relays[1].addr.port().to_string(), "py"])
        .args([EACH.to_string(), (EACH * nicks.len()).to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start python");
    relays[1].wait_for_log("connected (2 clients)", WAIT);
    for (peer, nick) in peers.iter_mut().zip(nicks) {
        for i in 0..EACH {
            peer.say(&format!("{nick} {i}"));
        }
    }
    for (i, peer) in peers.iter_mut().enumerate() {
        let others: Vec<&str> = nicks.iter().copied().filter(|n| *n != nicks[i]).collect();
        let mut senders = others.clone();
        senders.push("py");
        let shown = peer.receive(EACH * senders.len(), WAIT);
        let got: Vec<(String, String)> = shown.iter().map(|s| split_shown(s)).collect();
        assert_once_in_order(nicks[i], &got, &senders);
        assert!(
            peer.receive(1, QUIET).is_empty(),
            "nothing more for {}",
            nicks[i]
        );
    }
    let out = python.wait_with_output().expect("python output");
    assert!(out.status.success(), "the Python client got every frame");
    let got: Vec<(String, String)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let (nick, text) = l.split_once('\t').expect("nick<TAB>text");
            (nick.to_owned(), text.to_owned())
        })
        .collect();
    assert_once_in_order("py", &got, &nicks);
}

#[test]
fn a_nats_py_client_is_in_the_room_both_ways() {
    let node = nats::single();
    let (key_file, key) = keygen(Path::new(BIN), "nats-py");
    let relay = bridged(&[node.url()], &["--room", "garden"]);
    let mut ann = Peer::connect(relay.addr, &key, "ann");
    let mut child = Command::new(python_with_nats())
        .arg(script("nats_peer.py"))
        .arg(&key_file)
        .args([node.url().as_str(), "garden"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start python");
    let out = lines(child.stdout.take().expect("stdout"));
    let _guard = fernchat_tests::process::Guard(child);
    fernchat_tests::process::expect_line(&out, "nats-py", "ready", WAIT);
    ann.say("hello nats");
    fernchat_tests::process::expect_line(&out, "nats-py", "ann> hello nats", WAIT);
    assert_eq!(ann.receive(1, WAIT), ["<natspy> hello from nats-py"]);
}

#[test]
fn a_keyed_relay_drops_forged_and_repeated_frames_from_nats() {
    let node = nats::single();
    let (key_file, key) = keygen(Path::new(BIN), "nats-keyed");
    let keyed = bridged(&[node.url()], &["--key-file", key_file.to_str().unwrap()]);
    // A blind relay forwards anything well formed: it stands for a relay
    // (or a NATS client) that publishes what a keyed relay must refuse.
    let blind = bridged(&[node.url()], &[]);
    let mut ann = Peer::connect(keyed.addr, &key, "ann");
    let mut mal = Peer::connect(blind.addr, &key, "mal");
    let mut peers = [ann, mal];
    warm_up(&mut peers);
    [ann, mal] = peers;

    let hello = mal.say("hello");
    assert_eq!(ann.receive(1, WAIT), ["<mal> hello"]);
    let mut forged = hello.clone();
    forged[60] = if forged[60] == b'A' { b'B' } else { b'A' };
    mal.send_raw(&forged);
    keyed.wait_for_log("NATS frame dropped: bad MAC", WAIT);
    mal.send_raw(&hello);
    keyed.wait_for_log("NATS frame dropped: replayed", WAIT);
    let mut eve = Peer::connect(blind.addr, &Key::from_bytes(rand::random()), "eve");
    eve.say("let me in");
    mal.say("after");
    assert_eq!(ann.receive(1, WAIT), ["<mal> after"]);
    assert!(
        ann.receive(1, QUIET).is_empty(),
        "nothing forged or repeated"
    );

    // The keyed relay says /leave over NATS for a client that vanished.
    drop(ann);
    keyed.wait_for_log("sent it on its behalf", WAIT);
    assert_eq!(mal.receive(1, WAIT), ["ann left"]);
}

/// One NATS message is one token (`docs/PROTOCOL.md` section 12): nats-py
/// publishes a token behind a line feed, two tokens on two lines, two
/// glued, one with a line feed after it. None reaches a client, each is
/// one dropped frame, and a late joiner's history from JetStream, which
/// stored them all, gives only the genuine token.
#[test]
fn a_nats_message_that_is_not_one_token_reaches_no_client() {
    let node = nats::single();
    let (key_file, key) = keygen(Path::new(BIN), "nats-smuggle");
    let metrics_port = nats::free_port();
    let metrics = format!("127.0.0.1:{metrics_port}");
    let args = [
        "--room",
        "smuggle",
        "--history",
        "10",
        "--metrics",
        &metrics,
    ];
    let relay = bridged(&[node.url()], &args);
    relay.wait_for_log("JetStream stream fernchat-smuggle ready", WAIT);
    let metrics = metrics.parse().unwrap();
    let mut ann = Peer::connect(relay.addr, &key, "ann");
    relay.wait_for_log("connected (1 clients)", WAIT);
    let status = Command::new(python_with_nats())
        .arg(script("nats_smuggler.py"))
        .arg(&key_file)
        .args([node.url().as_str(), "smuggle"])
        .status()
        .expect("start python");
    assert!(status.success(), "nats_smuggler.py failed");
    assert_eq!(ann.receive(1, WAIT), ["<natspy> genuine"]);
    assert!(ann.receive(1, QUIET).is_empty(), "no smuggled token");
    let live = dropped_frames(&scrape(metrics));
    assert_eq!(live.values().sum::<f64>(), 4.0, "{live:?}");
    assert_eq!(live["not_base64url"], 3.0, "{live:?}");

    let mut late = Peer::connect(relay.addr, &key, "late");
    assert_eq!(late.receive(1, WAIT), ["<natspy> genuine"]);
    assert!(late.receive(1, QUIET).is_empty(), "no smuggled history");
    let after = dropped_frames(&scrape(metrics));
    assert_eq!(after.values().sum::<f64>(), 8.0, "{after:?}");
}

/// The client port of the NATS server a relay logged it connected to.
fn connected_port(line: &str) -> u16 {
    line.rsplit(':')
        .next()
        .and_then(|p| p.trim().parse().ok())
        .expect("host:port in the log")
}

/// Sends SIGTERM to the relay and gives its last log lines.
fn stop(mut relay: Relay) -> Vec<String> {
    let pid = relay.guard.0.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    assert!(
        relay.guard.wait_exit(WAIT).is_some(),
        "the relay stops on SIGTERM"
    );
    let mut rest = Vec::new();
    while let Ok(line) = relay.log.recv_timeout(QUIET) {
        rest.push(line);
    }
    rest
}

/// The number after `label` in `line` (`"... 12 frames published"`).
fn count_before(line: &str, label: &str) -> u64 {
    let head = line.split(label).next().expect("the label");
    head.split_whitespace()
        .last()
        .and_then(|n| n.parse().ok())
        .expect("a count")
}

#[test]
fn a_relay_fails_over_to_the_other_node_and_local_chat_never_stops() {
    let [mut n1, mut n2] = nats::cluster();
    let (_, key) = keygen(Path::new(BIN), "nats-failover");
    let relay = start_relay(BIN, &["--nats", &format!("{},{}", n1.url(), n2.url())]);
    let line = relay.wait_for_log("NATS bridge connected", WAIT);
    let on_first = connected_port(&line) == n1.port;
    let (doomed, survivor) = if on_first {
        (&mut n1, &n2)
    } else {
        (&mut n2, &n1)
    };
    let other = bridged(&[survivor.url()], &[]);
    let mut ann = Peer::connect(relay.addr, &key, "ann");
    let mut bob = Peer::connect(relay.addr, &key, "bob");
    let mut cat = Peer::connect(other.addr, &key, "cat");
    let mut peers = [ann, bob, cat];
    let probes = warm_up(&mut peers);
    [ann, bob, cat] = peers;

    // ann talks to bob, one message every 20 ms; the node goes away midway.
    let mut sent: u64 = 0;
    let started = Instant::now();
    let mut killed = None;
    let mut reconnected = None;
    while reconnected.is_none() || started.elapsed() < Duration::from_secs(2) {
        assert!(started.elapsed() < Duration::from_secs(20), "no failover");
        ann.say(&format!("ann {sent}"));
        sent += 1;
        assert_eq!(
            bob.receive(1, WAIT),
            [format!("<ann> ann {}", sent - 1)],
            "local chat goes on"
        );
        if killed.is_none() && sent == 10 {
            doomed.kill();
            killed = Some(Instant::now());
        }
        if killed.is_some() && reconnected.is_none() {
            while let Ok(line) = relay.log.try_recv() {
                if line.contains("NATS bridge connected") {
                    assert_eq!(connected_port(&line), survivor.port);
                    reconnected = killed.map(|k| k.elapsed());
                }
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let took = reconnected.expect("reconnected");
    assert!(took < Duration::from_secs(5), "failed over in {took:?}");
    // Bridged again: what ann says now reaches cat on the other relay.
    let deadline = Instant::now() + WAIT;
    loop {
        assert!(
            Instant::now() < deadline,
            "bridged again after the failover"
        );
        ann.say("after failover");
        sent += 1;
        let _ = bob.receive(1, WAIT);
        if cat
            .receive(usize::MAX, QUIET)
            .iter()
            .any(|m| m == "<ann> after failover")
        {
            break;
        }
    }
    // Every frame ann sent was published or counted as not bridged.
    let last = stop(relay);
    let totals = last
        .iter()
        .find(|l| l.contains("NATS bridge stopped"))
        .unwrap_or_else(|| panic!("the bridge's totals at stop: {last:?}"));
    let published = count_before(totals, "frames published");
    let not_bridged = count_before(totals, "not bridged");
    let local = sent + probes[0] + probes[1];
    assert_eq!(published + not_bridged, local, "{totals}");
    assert!(
        not_bridged > 0,
        "frames sent while disconnected are counted: {totals}"
    );
    eprintln!("{totals}");
}

#[test]
fn a_relay_starts_while_nats_is_down_and_connects_when_it_comes_up() {
    let ports = Ports::free();
    let url = format!("nats://127.0.0.1:{}", ports.client);
    let relay = start_relay(BIN, &["--nats", &url, "--metrics", "127.0.0.1:0"]);
    let metrics = metrics_addr(&relay, WAIT);
    // Why it cannot connect, in the relay's words.
    relay.wait_for_log(
        "NATS bridge cannot connect: IO error: Connection refused",
        WAIT,
    );
    let (_, key) = keygen(Path::new(BIN), "nats-late");
    let mut ann = Peer::connect(relay.addr, &key, "ann");
    let mut bob = Peer::connect(relay.addr, &key, "bob");
    relay.wait_for_log("connected (2 clients)", WAIT);
    ann.say("no NATS yet");
    assert_eq!(bob.receive(1, WAIT), ["<ann> no NATS yet"]);
    // The bridge's state and losses are on /metrics too.
    let down = scrape(metrics);
    assert_eq!(down["fernchat_nats_connected{}"].value, 0.0);
    let lost = "fernchat_nats_not_bridged_frames_total{reason=\"disconnected\"}";
    assert_eq!(down[lost].value, 1.0);
    assert_eq!(down["fernchat_nats_published_frames_total{}"].value, 0.0);

    // Another relay that never sees NATS counts what it could not bridge,
    // and stops on SIGTERM all the same.
    let lonely = start_relay(BIN, &["--nats", &url]);
    let mut dan = Peer::connect(lonely.addr, &key, "dan");
    let mut eve = Peer::connect(lonely.addr, &key, "eve");
    lonely.wait_for_log("connected (2 clients)", WAIT);
    for i in 0..3 {
        dan.say(&format!("alone {i}"));
    }
    assert_eq!(eve.receive(3, WAIT).len(), 3);
    let last = stop(lonely);
    assert!(
        last.iter()
            .any(|l| l.contains("0 frames published") && l.contains("3 while disconnected")),
        "{last:?}"
    );

    let node = start_node("late", ports, &[]);
    relay.wait_for_log("NATS bridge connected", WAIT);
    let other = bridged(&[node.url()], &[]);
    let mut cat = Peer::connect(other.addr, &key, "cat");
    let mut peers = [ann, bob, cat];
    warm_up(&mut peers);
    [ann, _, cat] = peers;
    ann.say("with NATS");
    assert_eq!(cat.receive(1, WAIT), ["<ann> with NATS"]);
    let up = scrape(metrics);
    assert_eq!(up["fernchat_nats_connected{}"].value, 1.0);
    assert!(up["fernchat_nats_published_frames_total{}"].value >= 1.0);
    assert_eq!(up[lost].value, 1.0);
}

/// The frames (raw lines) `stream` receives within `wait`.
fn raw_frames(stream: TcpStream, wait: Duration) -> Vec<Vec<u8>> {
    stream.set_read_timeout(Some(wait)).expect("timeout");
    let mut reader = BufReader::new(stream);
    let mut frames = Vec::new();
    let mut line = Vec::new();
    while reader.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
        frames.push(std::mem::take(&mut line));
    }
    frames
}

/// ann sends a stale message, then 7 fresh ones; a late joiner with
/// `--history 5` gets the last 5 fresh ones, in order, and nothing stale.
/// Gives ann and her fresh frames.
fn check_history(first: &Relay, late: &Relay, key: &Key) -> (Peer, Vec<Vec<u8>>) {
    let mut ann = Peer::connect(first.addr, key, "ann");
    first.wait_for_log("connected (1 clients)", WAIT);
    let stale = ann.send_plaintext(b"stale", now() - 10_000);
    let fresh: Vec<Vec<u8>> = (0..7).map(|i| ann.say(&format!("fresh {i}"))).collect();
    // The frames are stored (JetStream) or kept (memory) as they pass.
    std::thread::sleep(QUIET);
    let joiner = TcpStream::connect(late.addr).expect("connect");
    let got = raw_frames(joiner, Duration::from_secs(2));
    assert!(!got.contains(&stale), "no stale frame in history");
    assert_eq!(got, fresh[2..], "the last 5 fresh frames, in order");
    (ann, fresh)
}

#[test]
fn a_late_joiner_gets_history_from_memory() {
    let (key_file, key) = keygen(Path::new(BIN), "history-memory");
    let relay = start_relay(BIN, &["--history", "5"]);
    let (mut ann, fresh) = check_history(&relay, &relay, &key);

    // The std client shows history as earlier messages, with their time,
    // and a frame it already has (here sent again) only once.
    let bob = StdClient::start(Path::new(BIN), &relay.addr.to_string(), "bob", &key_file);
    let shown = bob.lines_until("<ann> fresh 6");
    let texts: Vec<&str> = shown
        .iter()
        .filter_map(|l| l.split_once("] "))
        .map(|(_, t)| t)
        .collect();
    assert_eq!(
        texts,
        [
            "<ann> fresh 2",
            "<ann> fresh 3",
            "<ann> fresh 4",
            "<ann> fresh 5",
            "<ann> fresh 6"
        ]
    );
    assert!(
        shown.iter().all(|l| l.starts_with('[')),
        "shown with their time: {shown:?}"
    );
    ann.send_raw(&fresh[6]);
    ann.say("after");
    let shown = bob.lines_until("<ann> after");
    assert!(
        !shown.iter().any(|l| l.ends_with("fresh 6")),
        "shown once: {shown:?}"
    );
}

#[test]
fn a_late_joiner_on_another_relay_gets_history_from_jetstream() {
    let [n1, n2] = nats::cluster();
    let (_, key) = keygen(Path::new(BIN), "history-jetstream");
    let first = bridged(&[n1.url()], &["--history", "5", "--room", "hist"]);
    first.wait_for_log(
        "JetStream stream fernchat-hist ready",
        Duration::from_secs(20),
    );
    let late = bridged(&[n2.url()], &["--history", "5", "--room", "hist"]);
    late.wait_for_log(
        "JetStream stream fernchat-hist ready",
        Duration::from_secs(20),
    );
    check_history(&first, &late, &key);
}

#[test]
fn a_keyed_relay_gives_late_joiners_only_history_it_verifies() {
    let node = nats::single();
    let (key_file, key) = keygen(Path::new(BIN), "history-keyed");
    let room = ["--history", "5", "--room", "keyed-hist"];
    let mut keyed_args = vec!["--key-file", key_file.to_str().unwrap()];
    keyed_args.extend_from_slice(&room);
    let keyed = bridged(&[node.url()], &keyed_args);
    keyed.wait_for_log("JetStream stream fernchat-keyed-hist ready", WAIT);
    // A blind relay on the room's subject stores whatever is well formed.
    let blind = bridged(&[node.url()], &room);
    blind.wait_for_log("JetStream stream fernchat-keyed-hist ready", WAIT);
    let mut eve = Peer::connect(blind.addr, &Key::from_bytes(rand::random()), "eve");
    let mut mal = Peer::connect(blind.addr, &key, "mal");
    blind.wait_for_log("connected (2 clients)", WAIT);
    eve.say("forged");
    let genuine = mal.say("genuine");
    keyed.wait_for_log("NATS frame dropped: bad MAC", WAIT);
    std::thread::sleep(QUIET);
    let joiner = TcpStream::connect(keyed.addr).expect("connect");
    assert_eq!(raw_frames(joiner, Duration::from_secs(2)), [genuine]);
}

/// `ann` on `first` and `bob` on `second`, each sure to reach the other.
fn pair_across(first: &Relay, second: &Relay, key: &Key) -> (Peer, Peer) {
    let mut peers = [
        Peer::connect(first.addr, key, "ann"),
        Peer::connect(second.addr, key, "bob"),
    ];
    warm_up(&mut peers);
    let [ann, bob] = peers;
    (ann, bob)
}

/// Two clients of `relay`, `cat` and `dan`, chat: the relay serves its
/// own clients whatever its bridge does. Gives `dan`.
fn assert_local_chat(relay: &Relay, key: &Key) -> Peer {
    let mut cat = Peer::connect(relay.addr, key, "cat");
    let mut dan = Peer::connect(relay.addr, key, "dan");
    relay.wait_for_log("connected (2 clients)", WAIT);
    cat.say("local chat goes on");
    assert_eq!(dan.receive(1, WAIT), ["<cat> local chat goes on"]);
    dan
}

#[test]
fn relays_authenticate_and_a_refused_one_says_so_and_chats_locally() {
    let (_, key) = keygen(Path::new(BIN), "nats-auth");
    let secured = &["--user", "fern", "--pass", "pw-Zq81x"];
    let node = start_node_with("auth", Ports::free(), &[], secured);
    let url = node.url();
    // The password from the environment, where `ps` does not show it, and
    // from the command line.
    let from_env = start_relay_with_env(
        BIN,
        &["--nats", &url, "--nats-user", "fern"],
        &[("FERNCHAT_NATS_PASSWORD", "pw-Zq81x")],
    );
    from_env.wait_for_log("NATS bridge connected", WAIT);
    let from_flag = bridged(
        std::slice::from_ref(&url),
        &["--nats-user", "fern", "--nats-password", "pw-Zq81x"],
    );
    let (mut ann, mut bob) = pair_across(&from_env, &from_flag, &key);
    ann.say("over an authenticated bridge");
    assert_eq!(bob.receive(1, WAIT), ["<ann> over an authenticated bridge"]);

    // A wrong password: refused, said so without the password, and the
    // relay's own clients chat all the same.
    let refused = start_relay_with_env(
        BIN,
        &["--nats", &url, "--nats-user", "fern"],
        &[("FERNCHAT_NATS_PASSWORD", "pw-wrong-7Hq")],
    );
    let warning = refused.wait_for_log("NATS refused this relay's credentials", WAIT);
    assert!(!warning.contains("pw-wrong-7Hq"), "{warning}");
    assert_local_chat(&refused, &key);

    // A token, from the environment.
    let tokened = start_node_with("token", Ports::free(), &[], &["--auth", "tk-4Rw9"]);
    let from_token = start_relay_with_env(
        BIN,
        &["--nats", &tokened.url()],
        &[("FERNCHAT_NATS_TOKEN", "tk-4Rw9")],
    );
    from_token.wait_for_log("NATS bridge connected", WAIT);
}

#[test]
fn relays_bridge_over_tls_to_nats() {
    let (_, key) = keygen(Path::new(BIN), "nats-tls");
    let (cert, tls_key) = self_signed_cert(Path::new(BIN), "nats");
    let (cert, tls_key) = (cert.to_str().unwrap(), tls_key.to_str().unwrap());
    let tls = &["--tls", "--tlscert", cert, "--tlskey", tls_key];
    let node = start_node_with("tls", Ports::free(), &[], tls);
    let urls = [node.url()];
    let insisting = bridged(&urls, &["--nats-tls-ca", cert, "--nats-tls"]);
    let trusting = bridged(&urls, &["--nats-tls-ca", cert]);
    let (mut ann, mut bob) = pair_across(&insisting, &trusting, &key);
    ann.say("over TLS to NATS");
    assert_eq!(bob.receive(1, WAIT), ["<ann> over TLS to NATS"]);
    bob.say("and back");
    assert_eq!(ann.receive(1, WAIT), ["<bob> and back"]);

    // Without the CA the server's certificate is not trusted: no bridge,
    // and the relay's own clients chat all the same.
    let untrusting = start_relay(BIN, &["--nats", &node.url(), "--nats-tls"]);
    let why = untrusting.wait_for_log("NATS bridge cannot connect", WAIT);
    assert!(why.contains("invalid peer certificate"), "{why}");
    let mut dan = assert_local_chat(&untrusting, &key);
    ann.say("not for the untrusting relay");
    assert_eq!(bob.receive(1, WAIT), ["<ann> not for the untrusting relay"]);
    assert!(dan.receive(1, QUIET).is_empty());
    let last = stop(untrusting);
    assert!(
        last.iter()
            .any(|l| l.contains("0 frames published") && l.contains("1 while disconnected")),
        "{last:?}"
    );
}

/// A NATS credentials file (`nsc`'s format) for user `user`, under
/// `account`'s JWT.
fn creds_file(name: &str, account: &KeyPair, user: &KeyPair) -> PathBuf {
    let jwt = Token::new_user(account.public_key(), user.public_key())
        .name(name)
        .sign(account);
    let seed = user.seed().expect("a user's seed");
    let path = std::env::temp_dir().join(format!("fernchat-{}-{name}.creds", std::process::id()));
    let text = format!(
        "-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n\
         ************************* IMPORTANT *************************\n\
         NKEY Seed printed below can be used to sign and prove identity.\n\n\
         -----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n"
    );
    std::fs::write(&path, text).expect("write a creds file");
    path
}

#[test]
fn relays_authenticate_with_a_creds_file_and_a_stranger_is_refused() {
    let (_, key) = keygen(Path::new(BIN), "nats-creds");
    // A decentralized-auth server: it trusts one operator, and knows the
    // accounts that operator signed: the room's and the system's (which
    // JetStream needs).
    let operator = KeyPair::new_operator();
    let (account, system) = (KeyPair::new_account(), KeyPair::new_account());
    let preload: Vec<String> = [(&account, "fernchat"), (&system, "SYS")]
        .iter()
        .map(|(keys, name)| {
            let jwt = Token::new_account(keys.public_key())
                .name(*name)
                .sign(&operator);
            format!("  {}: \"{jwt}\"", keys.public_key())
        })
        .collect();
    let config = std::env::temp_dir().join(format!("fernchat-{}-creds.conf", std::process::id()));
    let text = format!(
        "trusted_keys: [\"{}\"]\nsystem_account: {}\nresolver: MEMORY\nresolver_preload: {{\n{}\n}}\n",
        operator.public_key(),
        system.public_key(),
        preload.join("\n")
    );
    std::fs::write(&config, text).expect("write the server's config");
    let node = start_node_with(
        "creds",
        Ports::free(),
        &[],
        &["-c", config.to_str().unwrap()],
    );
    let urls = [node.url()];
    let ann_creds = creds_file("relay-a", &account, &KeyPair::new_user());
    let bob_creds = creds_file("relay-b", &account, &KeyPair::new_user());
    let first = bridged(&urls, &["--nats-creds", ann_creds.to_str().unwrap()]);
    let second = bridged(&urls, &["--nats-creds", bob_creds.to_str().unwrap()]);
    let (mut ann, mut bob) = pair_across(&first, &second, &key);
    ann.say("with a creds file");
    assert_eq!(bob.receive(1, WAIT), ["<ann> with a creds file"]);

    // A user of an account the server does not know: refused, said so,
    // and local chat goes on.
    let stranger = creds_file("stranger", &KeyPair::new_account(), &KeyPair::new_user());
    let refused = start_relay(
        BIN,
        &[
            "--nats",
            &node.url(),
            "--nats-creds",
            stranger.to_str().unwrap(),
        ],
    );
    refused.wait_for_log("NATS refused this relay's credentials", WAIT);
    assert_local_chat(&refused, &key);
}

/// A hostile "NATS server" on 127.0.0.1 for one connection: it greets the
/// client and answers its CONNECT with an error whose text holds a
/// carriage return and an escape sequence, then stops.
fn hostile_nats() -> (String, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("nats://{}", listener.local_addr().unwrap());
    let serving = std::thread::spawn(move || {
        for stream in listener.incoming().take(1) {
            let Ok(mut stream) = stream else { return };
            let _ = stream.set_read_timeout(Some(WAIT));
            let info = "INFO {\"server_id\":\"evil\",\"version\":\"2.9.0\",\"proto\":1,\
                        \"max_payload\":1048576}\r\n";
            let _ = std::io::Write::write_all(&mut stream, info.as_bytes());
            let _ = std::io::Read::read(&mut stream, &mut [0; 4096]);
            let error = "-ERR 'hidden\rforged \x1b[31mred'\r\n";
            let _ = std::io::Write::write_all(&mut stream, error.as_bytes());
        }
    });
    (url, serving)
}

#[test]
fn a_nats_servers_error_text_cannot_touch_the_terminal_through_the_relays_log() {
    let (url, serving) = hostile_nats();
    let relay = start_relay(BIN, &["--nats", &url]);
    let why = relay.wait_for_log("NATS bridge cannot connect", WAIT);
    assert!(
        why.contains("hidden^Mforged ^[[31mred"),
        "the server's text, shown by the rules for a peer's: {why:?}"
    );
    assert!(!why.contains(['\r', '\x1b']), "{why:?}");
    drop(relay);
    serving.join().expect("the hostile server");
}
