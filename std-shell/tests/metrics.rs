//! `--metrics`: a scrape during a chat, read by Python's `prometheus_client`
//! text parser, counts exactly what the chat did (connections, frames and
//! bytes, each dropped frame under its reason, departures); `/healthz`
//! answers 200 while the relay serves, other paths 404; a taken metrics
//! port is a clear error.

use fernchat_tests::peer::Peer;
use fernchat_tests::process::start_relay;
use fernchat_tests::prometheus::{Samples, http_get, metrics_addr, scrape};
use fernchat_tests::std_client::keygen;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_fernchat");
const WAIT: Duration = Duration::from_secs(10);

/// Every reason a frame can be dropped for, as labelled.
const DROP_REASONS: [&str; 10] = [
    "too_long",
    "not_base64url",
    "malformed",
    "bad_mac",
    "bad_padding",
    "from_the_future",
    "expired",
    "replayed",
    "unverifiable",
    "rate_limited",
];

#[test]
fn a_scrape_during_a_keyed_chat_counts_what_happened() {
    let (file, key) = keygen(Path::new(BIN), "metrics-chat");
    let key_file = file.to_str().unwrap();
    let relay = start_relay(BIN, &["--key-file", key_file, "--metrics", "127.0.0.1:0"]);
    let metrics = metrics_addr(&relay, WAIT);
    assert_eq!(http_get(metrics, "/healthz"), (200, "ok\n".to_owned()));
    assert_eq!(http_get(metrics, "/nope").0, 404);
    let idle = scrape(metrics);
    assert_eq!(value(&idle, "fernchat_clients{}", "gauge"), 0.0);
    assert_eq!(counter(&idle, "fernchat_connections_accepted_total{}"), 0.0);

    let mut ann = Peer::connect(relay.addr, &key, "ann");
    let mut bob = Peer::connect(relay.addr, &key, "bob");
    relay.wait_for_log("connected (2 clients)", WAIT);
    let one = ann.say("one");
    let two = ann.say("two");
    let hi = bob.say("hi ann");
    assert_eq!(bob.receive(2, WAIT), ["<ann> one", "<ann> two"]);
    assert_eq!(ann.receive(1, WAIT), ["<bob> hi ann"]);
    // A forged frame (one ciphertext bit flipped), a replay, a non-frame.
    let mut forged = one.clone();
    forged[60] = if forged[60] == b'A' { b'B' } else { b'A' };
    ann.send_raw(&forged);
    relay.wait_for_log("bad MAC", WAIT);
    ann.send_raw(&two);
    relay.wait_for_log("replayed", WAIT);
    let junk = b"!!not a token!!\n";
    ann.send_raw(junk);
    relay.wait_for_log("outside base64url", WAIT);

    let during = scrape(metrics);
    assert_eq!(value(&during, "fernchat_clients{}", "gauge"), 2.0);
    assert_eq!(
        counter(&during, "fernchat_connections_accepted_total{}"),
        2.0
    );
    for reason in ["full", "busy"] {
        let refused = format!("fernchat_connections_refused_total{{reason=\"{reason}\"}}");
        assert_eq!(counter(&during, &refused), 0.0);
    }
    assert_eq!(counter(&during, "fernchat_frames_forwarded_total{}"), 3.0);
    for reason in DROP_REASONS {
        let expected = match reason {
            "bad_mac" | "replayed" | "not_base64url" => 1.0,
            _ => 0.0,
        };
        let dropped = format!("fernchat_frames_dropped_total{{reason=\"{reason}\"}}");
        assert_eq!(counter(&during, &dropped), expected, "{dropped}");
    }
    let received = [&one, &two, &hi, &forged, &two, &junk.to_vec()]
        .iter()
        .map(|f| f.len())
        .sum::<usize>();
    assert_eq!(
        counter(&during, "fernchat_received_bytes_total{}"),
        received as f64
    );
    // Each forwarded frame went to the one other client.
    let sent = one.len() + two.len() + hi.len();
    assert_eq!(counter(&during, "fernchat_sent_bytes_total{}"), sent as f64);
    assert_eq!(
        value(&during, "fernchat_outbound_queue_bytes{}", "gauge"),
        0.0
    );
    let departures = |samples: &Samples| -> f64 {
        samples
            .iter()
            .filter(|(name, _)| name.starts_with("fernchat_client_departures_total{"))
            .map(|(_, s)| s.value)
            .sum()
    };
    assert_eq!(departures(&during), 0.0);
    assert_eq!(counter(&during, "fernchat_leaves_sent_total{}"), 0.0);

    // ann vanishes without /leave: the relay says it for her.
    drop(ann);
    relay.wait_for_log("sent it on its behalf", WAIT);
    assert_eq!(bob.receive(1, WAIT), ["ann left"]);
    let after = scrape(metrics);
    assert_eq!(value(&after, "fernchat_clients{}", "gauge"), 1.0);
    assert_eq!(departures(&after), 1.0);
    let gone = counter(
        &after,
        "fernchat_client_departures_total{reason=\"closed\"}",
    ) + counter(&after, "fernchat_client_departures_total{reason=\"reset\"}");
    assert_eq!(gone, 1.0, "ann closed (or reset) her connection");
    assert_eq!(counter(&after, "fernchat_leaves_sent_total{}"), 1.0);
    assert!(counter(&after, "fernchat_sent_bytes_total{}") > sent as f64);
    assert_eq!(http_get(metrics, "/healthz").0, 200);
}

#[test]
fn a_taken_metrics_port_is_a_clear_error() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = Command::new(BIN)
        .args(["server", "--listen", "127.0.0.1:0", "--metrics", &addr])
        .output()
        .expect("run fernchat server");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("cannot serve metrics on {addr}"))
            && stderr.contains("pick another port with --metrics"),
        "{stderr}"
    );
}

/// The value of the sample `key`, checking its metric type.
fn value(samples: &Samples, key: &str, kind: &str) -> f64 {
    let sample = samples
        .get(key)
        .unwrap_or_else(|| panic!("no sample {key} in {samples:?}"));
    assert_eq!(sample.kind, kind, "{key}");
    sample.value
}

/// The value of the counter sample `key`.
fn counter(samples: &Samples, key: &str) -> f64 {
    value(samples, key, "counter")
}

/// 300 idle connections and a few that trickle a byte every 1.5 s do not
/// keep `/healthz` and `/metrics` from answering within 2 s, and an idle
/// connection is closed about 2 s after it was accepted.
#[test]
fn idle_and_trickling_connections_cannot_stop_a_scrape() {
    let relay = start_relay(BIN, &["--metrics", "127.0.0.1:0"]);
    let metrics = metrics_addr(&relay, WAIT);
    let idle: Vec<TcpStream> = (0..300)
        .map(|_| TcpStream::connect(metrics).expect("connect to the metrics port"))
        .collect();
    let tricklers: Vec<_> = (0..3)
        .map(|_| {
            let mut stream = TcpStream::connect(metrics).expect("connect");
            std::thread::spawn(move || {
                for byte in b"GET /metrics HTTP/1.1\r\n" {
                    if stream.write_all(&[*byte]).is_err() {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(1500));
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    for path in ["/healthz", "/metrics"] {
        let asked = Instant::now();
        let (status, _) = http_get(metrics, path);
        let took = asked.elapsed();
        eprintln!("{path}: {status} in {took:?}");
        assert_eq!(status, 200, "{path}");
        assert!(took < Duration::from_secs(2), "{path} took {took:?}");
    }
    // The idle ones are closed at their deadline, not held for ever.
    let mut first = idle.into_iter().next().unwrap();
    first
        .set_read_timeout(Some(Duration::from_secs(4)))
        .unwrap();
    let mut byte = [0u8; 1];
    let closed = match first.read(&mut byte) {
        Ok(n) => n == 0,
        Err(e) => !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
    };
    assert!(closed, "an idle connection was closed");
    for trickler in tricklers {
        trickler.join().unwrap();
    }
}
