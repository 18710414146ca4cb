//! Opening the clients' connections.

use super::link::Client;
use super::procfs;
use anyhow::{Context, Result};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long one connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Attempts per client.
const ATTEMPTS: usize = 3;
/// After this many connections, wait for the server to accept them...
const BATCH: usize = 4;
/// ...until at most this many wait in its accept queue. ncat listens with a
/// backlog of 10; a SYN past a full queue is dropped and retried only after
/// a second, which would make the connect phase crawl.
const QUEUE_LOW: u64 = 2;
/// How long the server has to accept one batch.
const ACCEPT_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens `count` connections, to each of `addrs` in turn, over TLS with
/// `tls`.
pub fn connect(
    addrs: &[SocketAddr],
    count: usize,
    tls: Option<&Arc<rustls::ClientConfig>>,
) -> Result<Vec<Client>> {
    let mut streams = Vec::with_capacity(count);
    for (id, &addr) in (0..count).zip(addrs.iter().cycle()) {
        let mut attempt = 1;
        let stream = loop {
            match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
                Ok(stream) => break stream,
                Err(_) if attempt < ATTEMPTS => attempt += 1,
                Err(e) => return Err(e).with_context(|| format!("client {id} cannot connect")),
            }
        };
        streams.push(match tls {
            Some(config) => Client::tls(stream, config)
                .with_context(|| format!("client {id}: TLS handshake"))?,
            None => Client::plain(stream),
        });
        if (id + 1) % BATCH == 0 {
            wait_for_accepts(addr.port())?;
        }
    }
    Ok(streams)
}

/// Waits until the server's accept queue is nearly empty (or a while).
fn wait_for_accepts(port: u16) -> Result<()> {
    let deadline = Instant::now() + ACCEPT_TIMEOUT;
    while procfs::accept_queue(port)?.is_some_and(|queued| queued > QUEUE_LOW)
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}
