//! A relay's `--metrics` endpoint from the outside: its address from the
//! relay's log, plain HTTP GETs, and `/metrics` read by Python's
//! `prometheus_client` text parser, the way Prometheus reads it.

use crate::process::Relay;
use crate::python::script;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// One sample: its metric type as the parser saw it, and its value.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// `counter`, `gauge`...
    pub kind: String,
    /// The value.
    pub value: f64,
}

/// Samples by `name{label="value",...}` (labels sorted; `name{}` for none).
pub type Samples = HashMap<String, Sample>;

/// The address the relay logged for `--metrics` (at most `wait`).
pub fn metrics_addr(relay: &Relay, wait: Duration) -> SocketAddr {
    let line = relay.wait_for_log("metrics on http://", wait);
    let rest = line.split("metrics on http://").nth(1).unwrap_or_default();
    let addr = rest.split('/').next().unwrap_or_default();
    addr.parse().expect("a socket address in the metrics line")
}

/// GETs `path` from `addr`; gives the status code and the body.
pub fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect to the metrics port");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").expect("send a request");
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .expect("an answer, then the connection closed");
    let (head, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    (status, body.to_owned())
}

/// Scrapes `http://ADDR/metrics` with `tests/python/scrape_metrics.py`.
pub fn scrape(addr: SocketAddr) -> Samples {
    let out = Command::new(python())
        .arg(script("scrape_metrics.py"))
        .arg(format!("http://{addr}/metrics"))
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "scrape_metrics.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf-8 from python");
    text.lines()
        .map(|line| {
            let mut words = line.rsplitn(3, ' ');
            let (value, kind, key) = (words.next(), words.next(), words.next());
            let (Some(value), Some(kind), Some(key)) = (value, kind, key) else {
                panic!("not a sample line: {line:?}");
            };
            let value = value.parse().expect("a number");
            let kind = kind.to_owned();
            (key.to_owned(), Sample { kind, value })
        })
        .collect()
}

/// The Python to run (as [`crate::python::python`]), checked for
/// `prometheus_client`; panics with how to install it.
fn python() -> PathBuf {
    crate::python::checked_python(
        "FERNCHAT_PYTHON",
        "import prometheus_client.parser",
        "run `cargo xtask ci` (it makes target/python-venv), or `pip install prometheus_client` \
         and set FERNCHAT_PYTHON to that python",
    )
}

/// The frames a scrape counts as dropped, by reason label (`malformed`,
/// `not_base64url`...; a reason never counted is absent).
pub fn dropped_frames(samples: &Samples) -> HashMap<String, f64> {
    samples
        .iter()
        .filter_map(|(key, sample)| {
            let reason = key.strip_prefix("fernchat_frames_dropped_total{reason=\"")?;
            Some((reason.strip_suffix("\"}")?.to_owned(), sample.value))
        })
        .collect()
}
