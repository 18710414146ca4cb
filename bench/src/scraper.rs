//! Scrapes a metered relay's `/metrics` every [`EVERY`] while it runs (more
//! often than Prometheus would), so that a run with `--metrics` pays for
//! the counters, the metrics thread and its reads; counts the answers.

use anyhow::{Result, ensure};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// Time between two scrapes.
const EVERY: Duration = Duration::from_millis(500);
/// How long one scrape may take.
const TIMEOUT: Duration = Duration::from_secs(5);

/// A thread scraping one relay.
pub struct Scraper {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<usize>,
}

impl Scraper {
    /// Starts scraping `http://ADDR/metrics`.
    pub fn start(addr: SocketAddr) -> Scraper {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut answered = 0;
            while !stopping.load(Ordering::Relaxed) {
                if scrape(addr).is_ok() {
                    answered += 1;
                }
                std::thread::sleep(EVERY);
            }
            answered
        });
        Scraper { stop, thread }
    }

    /// Stops scraping; fails unless the relay answered at least once.
    pub fn stop(self) -> Result<usize> {
        self.stop.store(true, Ordering::Relaxed);
        let answered = self.thread.join().unwrap_or(0);
        ensure!(
            answered > 0,
            "the relay never answered a scrape of /metrics"
        );
        Ok(answered)
    }
}

/// One GET of /metrics; Ok when it answered 200 with some metrics.
fn scrape(addr: SocketAddr) -> std::io::Result<()> {
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: relay\r\n\r\n")?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    if answer.starts_with("HTTP/1.1 200 ") && answer.contains("fernchat_frames_forwarded_total") {
        Ok(())
    } else {
        Err(std::io::ErrorKind::InvalidData.into())
    }
}
