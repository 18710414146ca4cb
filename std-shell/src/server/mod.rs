//! `fernchat server`: the relay of `docs/PROTOCOL.md` section 6 on
//! non-blocking std sockets, one mio event loop, no thread per client.

mod connection;
mod fd_limit;
mod outbound;
mod stats;

use crate::error::Error;
use crate::{clock, keyfile};
use connection::Connection;
use fernchat_core::relay::{DEFAULT_RELAY_TTL, Inbound, MAX_LEAVE_FRAME, RelayPolicy, Verdict};
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token};
use outbound::Outbound;
use rand_core::{OsRng, UnwrapErr};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;
use slab::Slab;
use stats::Stats;
use std::io::{self, IsTerminal, Read};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Options of `fernchat server`.
#[derive(clap::Args)]
pub struct ServerArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:10101")]
    listen: SocketAddr,
    /// Keyed mode: verify MACs, freshness and replays with these keys.
    /// Without it the relay is blind: it never holds the key.
    #[arg(long)]
    key_file: Option<PathBuf>,
    /// Keyed mode: refuse tokens older than this many seconds.
    #[arg(long, default_value_t = DEFAULT_RELAY_TTL, value_name = "SECONDS")]
    ttl: u64,
    /// Connections past this many are accepted and closed at once.
    #[arg(long, default_value_t = 1024, value_name = "N")]
    max_clients: usize,
    /// A client whose unsent frames pass this many bytes is disconnected.
    #[arg(long, default_value_t = 1 << 20, value_name = "BYTES")]
    max_outbound: usize,
}

const LISTENER: Token = Token(usize::MAX - 1);
const SIGNALS: Token = Token(usize::MAX - 2);
/// Bytes read from a socket in one call.
const READ_CHUNK: usize = 64 * 1024;
/// Reads from one client per turn before the others get theirs.
const READS_PER_TURN: usize = 8;
/// A read that forwarded at least this many bytes is written out at once;
/// smaller ones wait for the end of the turn, so that one write to a client
/// carries the frames of every sender that turn.
const FLUSH_AFTER: usize = 4 * 1024;

/// How soon to accept again after an accept failed.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// Runs the relay until SIGINT or SIGTERM.
pub fn run(args: &ServerArgs) -> Result<(), Error> {
    init_logging();
    fd_limit::raise_for(args.max_clients);
    let policy = match &args.key_file {
        None => RelayPolicy::blind(),
        Some(path) => RelayPolicy::keyed(keyfile::load(path)?, args.ttl),
    };
    let mut listener = TcpListener::bind(args.listen).map_err(|source| Error::Listen {
        addr: args.listen.to_string(),
        source,
    })?;
    let poll = Poll::new().map_err(Error::EventLoop)?;
    let mut signals = Signals::new([SIGINT, SIGTERM]).map_err(Error::EventLoop)?;
    let registry = poll.registry();
    registry
        .register(&mut listener, LISTENER, Interest::READABLE)
        .and_then(|()| registry.register(&mut signals, SIGNALS, Interest::READABLE))
        .map_err(Error::EventLoop)?;
    let mode = if policy.is_keyed() { "keyed" } else { "blind" };
    let local = listener.local_addr().unwrap_or(args.listen);
    tracing::info!(
        "relay listening on {local} ({mode} mode, at most {} clients)",
        args.max_clients
    );
    let mut relay = Relay {
        poll,
        listener,
        policy,
        clients: Slab::new(),
        stats: Stats::default(),
        max_clients: args.max_clients,
        max_outbound: args.max_outbound,
        read_buf: vec![0; READ_CHUNK],
        to_flush: Vec::new(),
        to_close: Vec::new(),
        unflushed: 0,
        accept_failed: false,
    };
    let result = relay.serve(&mut signals);
    tracing::info!("relay stopped: {}", relay.stats);
    result.map_err(Error::EventLoop)
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .with_ansi(io::stderr().is_terminal())
        .init();
}

/// Why the relay closes a connection.
#[derive(Debug, Clone, Copy)]
enum Close {
    /// The peer closed, or its socket failed.
    Gone,
    /// Too many invalid frames in a row.
    Invalid,
    /// Its outbound buffer passed the limit.
    NotReading,
}

struct Relay {
    poll: Poll,
    listener: TcpListener,
    policy: RelayPolicy,
    clients: Slab<Connection>,
    stats: Stats,
    max_clients: usize,
    max_outbound: usize,
    read_buf: Vec<u8>,
    to_flush: Vec<usize>,
    to_close: Vec<(usize, Close)>,
    /// Bytes forwarded since the last flush.
    unflushed: usize,
    /// The last accept failed (no descriptor left, say) with connections
    /// possibly still waiting.
    accept_failed: bool,
}

impl Relay {
    fn serve(&mut self, signals: &mut Signals) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        loop {
            let reads_pending = self.clients.iter().any(|(_, c)| c.read_pending);
            let timeout = if reads_pending {
                Some(Duration::ZERO)
            } else {
                // The listener is edge-triggered: connections left waiting
                // by a failed accept raise no new event, so look again soon.
                self.accept_failed.then_some(ACCEPT_RETRY)
            };
            if self.accept_failed {
                self.accept();
            }
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept(),
                    SIGNALS => {
                        if signals.pending().next().is_some() {
                            tracing::info!("signal received, stopping");
                            return Ok(());
                        }
                    }
                    Token(id) => {
                        if let Some(client) = self.clients.get_mut(id) {
                            if event.is_readable() || event.is_read_closed() || event.is_error() {
                                client.read_pending = true;
                            }
                            if event.is_writable() && !client.outbound.is_empty() {
                                list_for_flush(&mut self.to_flush, client, id);
                            }
                        }
                    }
                }
            }
            self.read_all();
            self.flush_all();
            self.close_listed();
        }
    }

    fn accept(&mut self) {
        loop {
            let (mut stream, peer) = match self.listener.accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.accept_failed = false;
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // Out of file descriptors and the like: retried shortly.
                    if !self.accept_failed {
                        tracing::warn!("accept failed: {e}; retrying");
                    }
                    self.accept_failed = true;
                    return;
                }
            };
            if self.clients.len() >= self.max_clients {
                self.stats.refused += 1;
                tracing::info!(
                    "{peer} refused: all {} client slots taken",
                    self.max_clients
                );
                continue;
            }
            let _ = stream.set_nodelay(true);
            let entry = self.clients.vacant_entry();
            let id = entry.key();
            let interest = Interest::READABLE | Interest::WRITABLE;
            if let Err(e) = self
                .poll
                .registry()
                .register(&mut stream, Token(id), interest)
            {
                tracing::warn!("{peer} dropped: cannot register: {e}");
                continue;
            }
            entry.insert(Connection {
                stream,
                peer,
                inbound: Inbound::new(),
                outbound: Outbound::new(self.max_outbound),
                read_pending: true,
                flush_listed: false,
            });
            self.stats.accepted += 1;
            tracing::info!("{peer} connected ({} clients)", self.clients.len());
        }
    }

    /// Reads from every client with data waiting, a bounded amount each.
    fn read_all(&mut self) {
        let ids: Vec<usize> = self
            .clients
            .iter()
            .filter(|(_, c)| c.read_pending)
            .map(|(id, _)| id)
            .collect();
        for id in ids {
            self.read_from(id);
        }
    }

    fn read_from(&mut self, id: usize) {
        let Some(client) = self.clients.get_mut(id) else {
            return;
        };
        // The core's per-connection state is taken out while frames from it
        // are copied to the other clients, and put back after.
        let mut inbound = std::mem::take(&mut client.inbound);
        let mut still_pending = true;
        let mut close = None;
        for _ in 0..READS_PER_TURN {
            let Some(client) = self.clients.get_mut(id) else {
                return;
            };
            let n = match client.stream.read(&mut self.read_buf) {
                Ok(0) => {
                    close = Some(Close::Gone);
                    break;
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    still_pending = false;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    close = Some(Close::Gone);
                    break;
                }
            };
            close = self.take_frames(id, &mut inbound, n);
            // Queues grow by at most one read chunk before they are written.
            if self.unflushed >= FLUSH_AFTER {
                self.flush_all();
            }
            if close.is_some() {
                break;
            }
        }
        if let Some(client) = self.clients.get_mut(id) {
            client.inbound = inbound;
            client.read_pending = still_pending && close.is_none();
        }
        if let Some(reason) = close {
            self.to_close.push((id, reason));
        }
    }

    /// Runs the first `n` bytes of the read buffer through the policy.
    fn take_frames(&mut self, id: usize, inbound: &mut Inbound, n: usize) -> Option<Close> {
        let now = clock::now();
        let mut rest = &self.read_buf[..n];
        while !rest.is_empty() {
            let step = self.policy.receive(inbound, rest, now);
            rest = &rest[step.consumed..];
            match step.verdict {
                None => {}
                Some(Verdict::Forward(frame)) => {
                    self.stats.forwarded += 1;
                    self.unflushed += frame.len();
                    forward(
                        &mut self.clients,
                        &mut self.to_flush,
                        &mut self.to_close,
                        id,
                        frame,
                    );
                }
                Some(Verdict::Reject(reason)) => {
                    self.stats.rejected += 1;
                    tracing::info!("{} frame rejected: {reason}", self.peer(id));
                }
                Some(Verdict::Disconnect(reason)) => {
                    self.stats.rejected += 1;
                    tracing::info!("{} frame rejected: {reason}", self.peer(id));
                    return Some(Close::Invalid);
                }
            }
        }
        None
    }

    fn peer(&self, id: usize) -> String {
        self.clients
            .get(id)
            .map_or_else(|| "?".to_owned(), |c| c.peer.to_string())
    }

    fn flush_all(&mut self) {
        self.unflushed = 0;
        for id in std::mem::take(&mut self.to_flush) {
            let Some(client) = self.clients.get_mut(id) else {
                continue;
            };
            client.flush_listed = false;
            if client.outbound.write_to(&mut client.stream).is_err() {
                self.to_close.push((id, Close::Gone));
            }
        }
    }

    fn close_listed(&mut self) {
        while let Some((id, reason)) = self.to_close.pop() {
            let Some(mut client) = self.clients.try_remove(id) else {
                continue;
            };
            let _ = self.poll.registry().deregister(&mut client.stream);
            let why = match reason {
                Close::Gone => "disconnected",
                Close::Invalid => {
                    self.stats.dropped_invalid += 1;
                    "disconnected: too many invalid frames in a row"
                }
                Close::NotReading => {
                    self.stats.dropped_slow += 1;
                    "disconnected: not reading (outbound buffer full)"
                }
            };
            tracing::info!("{} {why} ({} clients)", client.peer, self.clients.len());
            let mut out = [0u8; MAX_LEAVE_FRAME];
            let mut rng = UnwrapErr(OsRng);
            if let Some(leave) =
                self.policy
                    .leave_on_behalf(&client.inbound, clock::now(), &mut rng, &mut out)
            {
                self.stats.leaves_sent += 1;
                tracing::info!("{} left without /leave; sent it on its behalf", client.peer);
                forward(
                    &mut self.clients,
                    &mut self.to_flush,
                    &mut self.to_close,
                    id,
                    leave,
                );
            }
        }
        if !self.to_flush.is_empty() {
            self.flush_all();
            if !self.to_close.is_empty() {
                self.close_listed();
            }
        }
    }
}

/// Queues `frame` for every client but `from`; a client whose queue is full
/// is listed for closing (it is not reading) and the others are unaffected.
fn forward(
    clients: &mut Slab<Connection>,
    to_flush: &mut Vec<usize>,
    to_close: &mut Vec<(usize, Close)>,
    from: usize,
    frame: &[u8],
) {
    for (id, client) in clients.iter_mut() {
        if id == from {
            continue;
        }
        if client.outbound.push(frame).is_err() {
            if !to_close.iter().any(|(listed, _)| *listed == id) {
                to_close.push((id, Close::NotReading));
            }
            continue;
        }
        list_for_flush(to_flush, client, id);
    }
}

fn list_for_flush(to_flush: &mut Vec<usize>, client: &mut Connection, id: usize) {
    if !client.flush_listed {
        client.flush_listed = true;
        to_flush.push(id);
    }
}
