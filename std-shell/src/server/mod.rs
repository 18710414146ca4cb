//! `fernchat server`: the relay of `docs/PROTOCOL.md` section 6 on
//! non-blocking std sockets, one mio event loop, no thread per client.
//! Every rule (admission, verdicts, back-pressure, deadlines, departures)
//! is the core [`Room`]'s; this shell moves bytes and keeps time.

mod arrivals;
mod bridge;
mod bridged;
mod clients;
mod connection;
mod fd_limit;
mod handshake;
mod health;
mod history;
mod key_reload;
mod lingering;
mod logging;
mod metrics_http;
mod onward;
mod outbound;
mod proxy_header;
mod replay_store;
mod seats;
mod stats;
mod stream;
mod tls;
mod transport;
mod trusted_proxy;
mod web;
mod websocket;

use crate::error::Error;
use crate::{clock, keyfile};
use arrivals::{Arrivals, Arrived};
use bridged::Remote;
use clients::{Clients, Queues, list_for_flush};
use connection::Connection;
use fernchat_core::fernet::DEFAULT_MAX_KEYS;
use fernchat_core::frame::MAX_FRAME;
use fernchat_core::relay::{DEFAULT_RELAY_TTL, RelayPolicy};
use fernchat_core::room::{
    DEFAULT_LIMITS, Departure, Event, FrameEvent, Limits, MemberId, Now, Room, peer_ip,
};
use fernchat_core::tally::Summary;
use handshake::Port;
use health::Health;
use lingering::Lingering;
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token};
use onward::Onward;
use outbound::Outbound;
use rand_core::{OsRng, UnwrapErr};
use replay_store::HeapStore;
use seats::MemberSlab;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;
use stats::Stats;
use std::collections::VecDeque;
use std::io::{self, Read};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use stream::Stream;
use transport::Transport;
use trusted_proxy::{ProxyNet, TrustedProxies};

/// Options of `fernchat server`.
#[derive(clap::Args)]
pub struct ServerArgs {
    /// Address to listen on (host:port; a host name is resolved).
    #[arg(long, default_value = "127.0.0.1:10101")]
    listen: String,
    /// Keyed mode: verify MACs, freshness and replays with these keys.
    /// Without it the relay is blind: it never holds the key. SIGHUP
    /// reads the file again (a bad file keeps the old keys).
    #[arg(long)]
    key_file: Option<PathBuf>,
    /// Keyed mode: refuse tokens older than this many seconds. With
    /// --history (either mode): frames older than this are not sent to new
    /// clients, and a bridged room's stream keeps frames this long.
    #[arg(long, default_value_t = DEFAULT_RELAY_TTL, value_name = "SECONDS",
          value_parser = clap::value_parser!(u64).range(1..))]
    ttl: u64,
    /// Clients at most; more are told `!full` and closed.
    #[arg(long, default_value_t = DEFAULT_LIMITS.max_clients as u64, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_clients: u64,
    /// Clients from one address at most (0: no limit); more are told `!busy`.
    #[arg(long, default_value_t = DEFAULT_LIMITS.max_per_ip as u64, value_name = "N")]
    max_per_ip: u64,
    /// Bytes that may wait for one client. While a frame does not fit, its
    /// sender is not read; a frame's 4096 bytes must fit.
    #[arg(long, default_value_t = 1 << 20, value_name = "BYTES",
          value_parser = clap::value_parser!(u64).range(MAX_FRAME as u64..))]
    max_outbound: u64,
    /// A client that sends no valid frame this long is told `!timeout` and closed.
    #[arg(long, default_value_t = DEFAULT_LIMITS.hello_timeout_ms / 1000, value_name = "SECONDS",
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    hello_timeout: u64,
    /// A client that takes none of the frames waiting for it this long is
    /// told `!slow` and closed.
    #[arg(long, default_value_t = DEFAULT_LIMITS.slow_timeout_ms / 1000, value_name = "SECONDS",
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    slow_timeout: u64,
    /// Frames a second one client may send (a one-second burst allowed);
    /// the rest are dropped. Default: no limit.
    #[arg(long, value_name = "FRAMES_PER_S",
          value_parser = clap::value_parser!(u32).range(1..))]
    max_rate: Option<u32>,
    /// Serve Prometheus metrics at http://ADDR/metrics and a health check
    /// at /healthz (200 while the relay accepts; 503 when its loop is stuck
    /// for 5 s or accepting has failed for 2 s) on host:port, from a thread
    /// of their own that serves many connections, each within 2 s of
    /// accept. Keep ADDR private: it is plain HTTP.
    #[arg(long, value_name = "ADDR")]
    metrics: Option<String>,
    /// Send each new client the room's last N frames that are still fresh
    /// (within --ttl by their own timestamps): from the room's JetStream
    /// stream when bridged, so that a late joiner on any relay gets them;
    /// from memory otherwise.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=100_000))]
    history: Option<u64>,
    #[command(flatten)]
    nats: Box<bridge::NatsArgs>,
    /// Also serve the web client on this address (host:port): the page at
    /// `/`, and a WebSocket at `/ws` whose clients join the same room.
    #[arg(long, value_name = "ADDR")]
    web: Option<String>,
    /// Speak TLS on both ports with this certificate chain (PEM; `fernchat
    /// cert` makes one to try it out): the web port then serves https and
    /// wss, which browsers need away from localhost.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key of `--tls-cert` (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Trust this proxy (an address, or a network such as 10.0.0.0/8 or
    /// ::1/128; repeat for more) to say whom it carries: its connections
    /// to the chat port must start with a PROXY protocol v2 header
    /// (HAProxy's send-proxy-v2), its requests to the web port must carry
    /// X-Forwarded-For, and the client's address there is what admission
    /// (--max-per-ip), logs and metrics see. Others may send neither: a
    /// PROXY header from them is refused, X-Forwarded-For ignored.
    #[arg(long, value_name = "ADDR[/PREFIX]")]
    trusted_proxy: Vec<ProxyNet>,
}

impl ServerArgs {
    /// The room's limits from the flags.
    fn limits(&self) -> Limits {
        Limits {
            max_clients: usize::try_from(self.max_clients).unwrap_or(usize::MAX),
            max_per_ip: usize::try_from(self.max_per_ip).unwrap_or(usize::MAX),
            hello_timeout_ms: self.hello_timeout.saturating_mul(1000),
            slow_timeout_ms: self.slow_timeout.saturating_mul(1000),
            max_rate: self.max_rate,
        }
    }
}

const LISTENER: Token = Token(usize::MAX - 1);
const SIGNALS: Token = Token(usize::MAX - 2);
const BRIDGE: Token = Token(usize::MAX - 4);
const WEB_LISTENER: Token = Token(usize::MAX - 3);
/// Tokens from here on are connections still in their handshake.
const HANDSHAKES: usize = usize::MAX / 2;
/// Bytes read from a socket in one call.
const READ_CHUNK: usize = 64 * 1024;
/// Reads from one client per turn before the others get theirs.
const READS_PER_TURN: usize = 8;
/// A read that forwarded at least this many bytes is followed at once by a
/// turn's worth of writes; smaller ones wait for the end of the turn, so
/// that one write to a client carries the frames of every sender that turn.
const FLUSH_AFTER: usize = 4 * 1024;
/// Clients written to in one turn, before the loop reads its senders again.
const WRITES_PER_TURN: usize = 32;
/// How often handshakes' deadlines are checked, and lingering sockets swept.
const TICK: Duration = Duration::from_millis(100);

/// Runs the relay until SIGINT or SIGTERM; SIGHUP reloads the key file.
pub fn run(args: &ServerArgs) -> Result<(), Error> {
    logging::init();
    let limits = args.limits();
    fd_limit::raise_for(limits.max_clients);
    let policy = match &args.key_file {
        None => RelayPolicy::blind(),
        Some(path) => RelayPolicy::keyed(keyfile::load(path)?, args.ttl, HeapStore::for_relay()),
    };
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(tls::load_config(cert, key)?),
        _ => None,
    };
    let mut listener = bind(&args.listen)?;
    let mut web_listener = args.web.as_deref().map(bind).transpose()?;
    let metrics_listener = match &args.metrics {
        None => None,
        Some(spec) => {
            let metrics_error = |source| Error::MetricsListen {
                addr: spec.clone(),
                source,
            };
            let addr = resolve(spec).map_err(metrics_error)?;
            Some(std::net::TcpListener::bind(addr).map_err(metrics_error)?)
        }
    };
    let poll = Poll::new().map_err(Error::EventLoop)?;
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP]).map_err(Error::EventLoop)?;
    let registry = poll.registry();
    registry
        .register(&mut listener, LISTENER, Interest::READABLE)
        .and_then(|()| registry.register(&mut signals, SIGNALS, Interest::READABLE))
        .and_then(|()| match &mut web_listener {
            Some(web) => registry.register(web, WEB_LISTENER, Interest::READABLE),
            None => Ok(()),
        })
        .map_err(Error::EventLoop)?;
    let started = Instant::now();
    let opened = Now {
        unix: clock::now(),
        millis: 0,
    };
    let mut room = Room::new(policy, limits, MemberSlab::default(), opened);
    let (onward, remote) = bridged::start(args, &poll, &mut room, opened, BRIDGE)?;
    let mode = if room.policy().is_keyed() {
        "keyed"
    } else {
        "blind"
    };
    let over = if tls.is_some() { "TLS" } else { "plain TCP" };
    let local = listener.local_addr().map_err(Error::EventLoop)?;
    tracing::info!(
        "relay listening on {local} ({over}; {mode} mode, at most {} clients, {} per address)",
        limits.max_clients,
        limits.max_per_ip
    );
    let (stats, mut registry) = Stats::registered();
    if let Some(publisher) = &onward.publisher {
        publisher.counts().register(&mut registry);
    }
    let health = Arc::new(Health::default());
    if let Some(metrics) = metrics_listener {
        let local = metrics.local_addr().map_err(Error::EventLoop)?;
        metrics_http::spawn(metrics, registry, Arc::clone(&health)).map_err(Error::EventLoop)?;
        tracing::info!("metrics on http://{local}/metrics, health on http://{local}/healthz");
    }
    if let Some(web) = &web_listener {
        let web = web.local_addr().map_err(Error::EventLoop)?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        tracing::info!("web client at {scheme}://{web}/ (WebSocket at /ws)");
    }
    let trusted_proxies = TrustedProxies::new(&args.trusted_proxy);
    if !trusted_proxies.is_empty() {
        tracing::info!("trusted proxies, whose clients' addresses count: {trusted_proxies}");
    }
    let mut relay = Relay {
        poll,
        listener,
        web_listener,
        arrivals: Arrivals::new(
            tls,
            trusted_proxies,
            Duration::from_secs(args.hello_timeout),
        ),
        room,
        clients: Clients::default(),
        readable: Vec::new(),
        lingering: Lingering::default(),
        stats,
        health,
        metrics_served: args.metrics.is_some(),
        key_file: args.key_file.clone(),
        onward,
        remote,
        history_ttl: args.ttl,
        max_outbound: usize::try_from(args.max_outbound).unwrap_or(usize::MAX),
        read_buf: vec![0; READ_CHUNK],
        to_flush: VecDeque::new(),
        unflushed: 0,
        accept_failed: false,
        started,
        last_tick: Instant::now(),
    };
    let result = relay.serve(&mut signals);
    tracing::info!("relay stopped: {}", relay.stats);
    relay.stop_bridge();
    result.map_err(Error::EventLoop)
}

/// The first address `spec` (host:port) resolves to.
fn resolve(spec: &str) -> io::Result<SocketAddr> {
    spec.to_socket_addrs()?
        .next()
        .ok_or_else(|| io::ErrorKind::AddrNotAvailable.into())
}

/// A listener on `addr` (host:port; a host name is resolved).
fn bind(addr: &str) -> Result<TcpListener, Error> {
    let listen_error = |source| Error::Listen {
        addr: addr.to_owned(),
        source,
    };
    let resolved = addr
        .to_socket_addrs()
        .map_err(listen_error)?
        .next()
        .ok_or_else(|| listen_error(io::ErrorKind::AddrNotAvailable.into()))?;
    TcpListener::bind(resolved).map_err(listen_error)
}

struct Relay {
    poll: Poll,
    listener: TcpListener,
    /// The web port (`--web`), if any.
    web_listener: Option<TcpListener>,
    /// Connections in their TLS or HTTP handshake, not in the room yet,
    /// and what the handshakes need (TLS, the trusted proxies).
    arrivals: Arrivals,
    room: StdRoom,
    clients: Clients,
    /// Clients whose sockets may hold bytes to read: a list, so that a turn
    /// costs what the busy clients need, not what every client would.
    readable: Vec<MemberId>,
    lingering: Lingering,
    stats: Stats,
    /// The loop's heartbeat and accept failures, for `/healthz`.
    health: Arc<Health>,
    /// Metrics are served (`--metrics`): an idle loop still wakes for
    /// `/healthz`'s heartbeat, and the tick sums every queue for the
    /// outbound-bytes gauge (nobody would see either otherwise).
    metrics_served: bool,
    /// The key file SIGHUP reloads (keyed mode).
    key_file: Option<PathBuf>,
    /// Where accepted frames also go (the bridge, the history).
    onward: Onward,
    /// Frames from other relays, when bridged.
    remote: Option<Remote>,
    /// History is only for frames this many seconds old at most.
    history_ttl: u64,
    max_outbound: usize,
    read_buf: Vec<u8>,
    /// Clients with bytes to write, in the order they were listed: each
    /// turn writes to the first [`WRITES_PER_TURN`] of them.
    to_flush: VecDeque<MemberId>,
    /// Bytes forwarded since the last flush.
    unflushed: usize,
    /// The last accept failed (no descriptor left, say) with connections
    /// possibly still waiting.
    accept_failed: bool,
    /// Start of the monotonic clock the room's deadlines use.
    started: Instant,
    /// When handshakes and lingering sockets were last looked after.
    last_tick: Instant,
}

/// The room as the std relay keeps it: keys as many as a key file holds,
/// the replay cache on the heap, members in a slab.
type StdRoom = Room<DEFAULT_MAX_KEYS, HeapStore, MemberSlab>;

impl Relay {
    fn serve(&mut self, signals: &mut Signals) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        loop {
            self.health.beat();
            let work_pending = !self.readable.is_empty()
                || !self.to_flush.is_empty()
                || self
                    .remote
                    .as_ref()
                    .is_some_and(|r| r.read_pending(&self.room));
            let timeout = if work_pending {
                Some(Duration::ZERO)
            } else {
                self.next_wake()
            };
            if self.accept_failed {
                self.accept(Port::Chat);
                self.accept(Port::Web);
            }
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept(Port::Chat),
                    WEB_LISTENER => self.accept(Port::Web),
                    BRIDGE => {
                        if let Some(remote) = &mut self.remote {
                            remote.woken();
                        }
                    }
                    SIGNALS => {
                        for signal in signals.pending() {
                            if signal != SIGHUP {
                                tracing::info!("signal received, stopping");
                                return Ok(());
                            }
                            let key_file = self.key_file.as_deref();
                            key_reload::reload(&mut self.room, key_file, &self.stats);
                        }
                    }
                    Token(id) if id >= HANDSHAKES => {
                        let arrived = self.arrivals.advance(self.poll.registry(), id - HANDSHAKES);
                        self.arrive(arrived);
                    }
                    Token(id) => {
                        let id = member_id(id);
                        if let Some(client) = self.clients.get_mut(id) {
                            if event.is_readable() || event.is_read_closed() || event.is_error() {
                                list_for_read(&mut self.readable, client, id);
                            }
                            let waiting =
                                !client.outbound.is_empty() || client.transport.wants_write();
                            if event.is_writable() && waiting {
                                list_for_flush(&mut self.to_flush, client, id);
                            }
                        }
                    }
                }
            }
            self.read_all();
            self.read_remote();
            self.flush_some();
            self.release_held();
            self.handle_timeout();
            if self.last_tick.elapsed() >= TICK {
                self.last_tick = Instant::now();
                self.arrivals.expire(self.poll.registry());
                self.lingering.sweep();
                if self.metrics_served {
                    let queued: usize = self.clients.iter().map(|(_, c)| c.outbound.len()).sum();
                    self.stats.outbound_bytes.set(gauge(queued));
                }
                self.log_bridge_counts();
            }
            self.take_events();
        }
    }

    /// How long the loop may sleep with no socket event: until the room's
    /// next deadline, and a [`TICK`] at most while handshakes, lingering
    /// sockets, a failed accept or the bridge want looking after; with
    /// nothing at all, until an event (or `/healthz`'s heartbeat).
    fn next_wake(&self) -> Option<Duration> {
        // The listener is edge-triggered: connections a failed accept left
        // waiting raise no new event, so a failed accept looks again soon.
        let tick_wanted = !self.arrivals.is_empty()
            || !self.lingering.is_empty()
            || self.accept_failed
            || self.remote.is_some();
        let room = self
            .room
            .poll_timeout()
            .map(|due| Duration::from_millis(due.saturating_sub(self.now().millis)));
        let tick = tick_wanted.then_some(TICK);
        let beat = self.metrics_served.then_some(health::BEAT);
        [room, tick, beat].into_iter().flatten().min()
    }

    /// The room, the fan-out over every client's queue and the counters,
    /// borrowed apart so that the room can reach the queues.
    fn parts(&mut self) -> (&mut StdRoom, Queues<'_>, &Stats) {
        let Relay {
            room,
            clients,
            stats,
            to_flush,
            unflushed,
            max_outbound,
            onward,
            ..
        } = self;
        let queues = Queues {
            clients,
            to_flush,
            max_outbound: *max_outbound,
            unflushed,
            onward,
        };
        (room, queues, stats)
    }

    fn now(&self) -> Now {
        Now {
            unix: clock::now(),
            millis: u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
        }
    }

    /// Takes every connection waiting on `port`: into the room at once on
    /// a plain chat port (unless from a trusted proxy, whose PROXY header
    /// comes first), through a handshake otherwise.
    fn accept(&mut self, port: Port) {
        loop {
            let listener = match port {
                Port::Chat => &self.listener,
                Port::Web => match &self.web_listener {
                    Some(web) => web,
                    None => return,
                },
            };
            let (stream, peer) = match listener.accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.accept_failed = false;
                    self.health.accept_worked();
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // Out of file descriptors and the like: retried shortly.
                    if !self.accept_failed {
                        tracing::warn!("accept failed: {e}; retrying");
                    }
                    self.accept_failed = true;
                    self.health.accept_failed();
                    return;
                }
            };
            let direct = port == Port::Chat
                && self.arrivals.tls.is_none()
                && !self.arrivals.trusted_proxies.contains(peer.ip());
            if direct {
                self.join(Transport::Stream(Stream::direct(stream, peer)), peer, false);
            } else {
                let limits = *self.room.limits();
                let registry = self.poll.registry();
                let arrived = self.arrivals.start(registry, &limits, stream, peer, port);
                self.arrive(arrived);
            }
        }
    }

    /// Acts on a finished handshake: into the room, or closed after its
    /// last words.
    fn arrive(&mut self, arrived: Option<Arrived>) {
        match arrived {
            None => {}
            Some(Arrived::Ready { transport, peer }) => self.join(transport, peer, true),
            Some(Arrived::Close {
                transport,
                last,
                notice,
            }) => self.lingering.close(transport, &last, notice),
        }
    }

    /// Admits a connection to the room, or tells it why not; `registered`
    /// when its socket is registered already (under a handshake's token).
    fn join(&mut self, mut transport: Transport, peer: SocketAddr, registered: bool) {
        let now = self.now();
        let id = match self.room.admit(peer_ip(peer.ip()), now) {
            Ok(id) => id,
            Err(notice) => {
                if registered {
                    let _ = self.poll.registry().deregister(transport.tcp());
                }
                self.stats.refused(notice);
                tracing::info!("{peer} refused: {notice}");
                self.lingering.close(transport, notice.line(), Some(notice));
                return;
            }
        };
        let interest = Interest::READABLE | Interest::WRITABLE;
        let registry = self.poll.registry();
        let token = Token(id.index());
        let registering = if registered {
            registry.reregister(transport.tcp(), token, interest)
        } else {
            registry.register(transport.tcp(), token, interest)
        };
        if let Err(e) = registering {
            tracing::warn!("{peer} dropped: cannot register: {e}");
            // Not filed as a client: its departure finds nothing to close.
            self.room.leave(id, Departure::Reset);
            return;
        }
        let _ = transport.tcp().set_nodelay(true);
        self.clients.insert(
            id,
            Connection {
                transport,
                peer,
                outbound: Outbound::default(),
                unread: Vec::new(),
                read_pending: true,
                flush_listed: false,
            },
        );
        self.readable.push(id);
        self.stats.accepted.inc();
        self.stats.clients.set(gauge(self.clients.len()));
        tracing::info!("{peer} connected ({} clients)", self.clients.len());
        self.send_history(id);
    }

    /// Reads from every client listed as readable, a bounded amount each;
    /// those with more waiting are listed again for the next turn.
    fn read_all(&mut self) {
        for id in std::mem::take(&mut self.readable) {
            match self.clients.get_mut(id) {
                Some(client) if client.read_pending => client.read_pending = false,
                _ => continue,
            }
            self.read_from(id);
        }
    }

    /// True when the room would take input from member `id` now: it is
    /// neither held (its frame waits for room) nor leaving.
    fn wants_input(&self, id: MemberId) -> bool {
        self.room
            .member(id)
            .is_some_and(|m| !m.is_held() && m.leaving().is_none())
    }

    /// Reads a bounded amount from client `id` into the room; lists it to
    /// be read again when more may wait, and tells the room when its
    /// connection ended.
    fn read_from(&mut self, id: MemberId) {
        let Some(client) = self.clients.get_mut(id) else {
            return;
        };
        let (ended, more) = match client.transport {
            Transport::Stream(_) => self.read_stream(id),
            Transport::WebSocket(_) => self.read_websocket(id),
        };
        if let Some(why) = ended {
            self.room.leave(id, why);
        } else if more
            && self.wants_input(id)
            && let Some(client) = self.clients.get_mut(id)
        {
            list_for_read(&mut self.readable, client, id);
        }
    }

    /// Reads up to [`READS_PER_TURN`] chunks of a stream client's bytes
    /// into the room: how its connection ended, if it did, and whether
    /// more may wait in the socket.
    fn read_stream(&mut self, id: MemberId) -> (Option<Departure>, bool) {
        for _ in 0..READS_PER_TURN {
            if !self.wants_input(id) {
                // Its frame waits for room, or it is leaving.
                return (None, false);
            }
            let Some(client) = self.clients.get_mut(id) else {
                return (None, false);
            };
            let Transport::Stream(stream) = &mut client.transport else {
                return (None, false);
            };
            let n = match stream.read(&mut self.read_buf) {
                Ok(0) => return (Some(Departure::Closed), false),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return (None, false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return (Some(Departure::Reset), false),
            };
            self.stats.bytes_in.inc_by(n as u64);
            let bytes = std::mem::take(&mut self.read_buf);
            self.take_frames(id, &bytes[..n]);
            self.read_buf = bytes;
            self.flush_if_busy();
        }
        (None, true)
    }

    /// Reads up to [`websocket::FRAMES_PER_TURN`] WebSocket frames (control
    /// frames too) from client `id`, at most [`websocket::READ_BUDGET`]
    /// bytes, and hands each text message to the room as one message: how
    /// its connection ended, if it did, and whether more may wait.
    fn read_websocket(&mut self, id: MemberId) -> (Option<Departure>, bool) {
        if let Some(Transport::WebSocket(ws)) = self.clients.get_mut(id).map(|c| &mut c.transport) {
            ws.new_turn();
        }
        for _ in 0..websocket::FRAMES_PER_TURN {
            if !self.wants_input(id) {
                return (None, false);
            }
            let now_ms = self.now().millis;
            let Some(client) = self.clients.get_mut(id) else {
                return (None, false);
            };
            let Transport::WebSocket(ws) = &mut client.transport else {
                return (None, false);
            };
            let input = ws.read_input();
            if ws.wants_write() {
                // Pongs wait for the socket: they count as frames waiting
                // for this client, and the slow timeout holds.
                self.room.queued(id, now_ms);
                list_for_flush(&mut self.to_flush, client, id);
            }
            let message = match input {
                Ok(websocket::Input::Message(message)) => message,
                Ok(websocket::Input::Control) => continue,
                Ok(websocket::Input::Paused { more }) => return (None, more),
                Ok(websocket::Input::Closed) => return (Some(Departure::Closed), false),
                Err(_) => return (Some(Departure::Reset), false),
            };
            self.stats.bytes_in.inc_by(message.len() as u64 + 1);
            self.take_message(id, message.as_bytes());
            self.flush_if_busy();
        }
        (None, true)
    }

    /// A busy sender's frames start going out before its next read.
    fn flush_if_busy(&mut self) {
        if self.unflushed >= FLUSH_AFTER {
            self.flush_some();
        }
    }

    /// Runs one message from WebSocket client `id` through the room as one
    /// token; a frame with no room holds the client.
    fn take_message(&mut self, id: MemberId, message: &[u8]) {
        let now = self.now();
        let peer = self.clients.get_mut(id).map(|c| c.peer);
        let (room, mut queues, stats) = self.parts();
        let _ = room.receive_message(id, message, now, &mut queues, |_, event| {
            count_frame(stats, event, peer);
        });
    }

    /// Runs `bytes` from client `id` through the room; what a held frame
    /// leaves unread is kept for its release.
    fn take_frames(&mut self, id: MemberId, bytes: &[u8]) {
        let now = self.now();
        let peer = self.clients.get_mut(id).map(|c| c.peer);
        let (room, mut queues, stats) = self.parts();
        let step = room.receive(id, bytes, now, &mut queues, |_, event| {
            count_frame(stats, event, peer);
        });
        let held = room.member(id).is_some_and(|m| m.is_held());
        if held
            && step.departure.is_none()
            && let Some(client) = self.clients.get_mut(id)
        {
            client.unread.extend_from_slice(&bytes[step.consumed..]);
        }
    }

    /// Forwards what held clients were waiting to send, first held first,
    /// now that queues may have room.
    fn release_held(&mut self) {
        let (room, mut queues, stats) = self.parts();
        // Only forwarded frames come of it: no address to log.
        room.release(&mut queues, |_, event| count_frame(stats, event, None));
    }

    /// Lets the room do what is due: tokens of quiet unframed senders,
    /// deadlines, summaries.
    fn handle_timeout(&mut self) {
        let now = self.now();
        let mut frames = Vec::new();
        let (room, mut queues, _) = self.parts();
        // It does nothing before its time: no check of ours is needed.
        room.handle_timeout(now, &mut queues, |id, event| frames.push((id, event)));
        for (id, event) in frames {
            let peer = self.clients.get_mut(id).map(|c| c.peer);
            count_frame(&self.stats, event, peer);
        }
    }

    /// Writes to the first [`WRITES_PER_TURN`] listed clients. The rest wait
    /// for the next turn, which reads the senders first: a frame that arrives
    /// while a pass over many clients is under way joins the writes still to
    /// come, so each client is written once per pass with whatever waits for
    /// it, and no frame waits for a pass to end before its own pass begins.
    /// The room hears of each client's progress, or that frames wait.
    fn flush_some(&mut self) {
        self.unflushed = 0;
        let now_ms = self.now().millis;
        for _ in 0..WRITES_PER_TURN {
            let Some(id) = self.to_flush.pop_front() else {
                break;
            };
            let Some(client) = self.clients.get_mut(id) else {
                continue;
            };
            client.flush_listed = false;
            match client.outbound.write_to(&mut client.transport) {
                Ok(written) => {
                    self.stats.bytes_out.inc_by(written as u64);
                    // What the transport keeps (a WebSocket's pongs) waits too.
                    let remaining =
                        client.outbound.len() + usize::from(client.transport.wants_write());
                    if written > 0 || remaining == 0 {
                        self.room.took(id, remaining, now_ms);
                    } else {
                        self.room.queued(id, now_ms);
                    }
                }
                Err(_) => self.room.leave(id, Departure::Reset),
            }
        }
    }

    /// Acts on everything the room has to tell: departures (closed here),
    /// releases (read again), summaries and framing (logged).
    fn take_events(&mut self) {
        let mut rng = UnwrapErr(OsRng);
        loop {
            let now = self.now();
            let (room, mut queues, _) = self.parts();
            let Some(event) = room.poll_event(now, &mut rng, &mut queues) else {
                return;
            };
            match event {
                Event::Left {
                    id,
                    why,
                    summary,
                    said_leave,
                } => self.close(id, why, summary, said_leave),
                Event::Released { id } => self.resume(id),
                Event::Summary { id, summary } => match self.clients.get_mut(id) {
                    Some(client) => tracing::info!("{}: {summary}", client.peer),
                    None => tracing::info!("NATS: {summary}"),
                },
                Event::Unframed { id } => {
                    if let Some(client) = self.clients.get_mut(id) {
                        tracing::info!(
                            "{} sends tokens without line feeds (the original Python chat?); \
                             splitting them by their shape",
                            client.peer
                        );
                    }
                }
            }
        }
    }

    /// Member `id`'s held frame went: it is read again, what it had sent
    /// beyond that frame first.
    fn resume(&mut self, id: MemberId) {
        if let Some(remote) = self.remote.as_mut().filter(|r| r.id == id) {
            remote.pending = true;
            return;
        }
        let Some(client) = self.clients.get_mut(id) else {
            return;
        };
        let unread = std::mem::take(&mut client.unread);
        list_for_read(&mut self.readable, client, id);
        self.take_frames(id, &unread);
    }

    /// Closes client `id`, gone for `why`: what waits for it up to a whole
    /// frame and the notice `why` calls for go out as the socket lingers.
    fn close(&mut self, id: MemberId, why: Departure, summary: Option<Summary>, said_leave: bool) {
        let Some(mut client) = self.clients.remove(id) else {
            return;
        };
        let _ = self.poll.registry().deregister(client.transport.tcp());
        self.forget_history_request(id);
        self.stats.departed(why);
        self.stats.clients.set(gauge(self.clients.len()));
        tracing::info!(
            "{} left: {why} ({} clients)",
            client.peer,
            self.clients.len()
        );
        let mut last = Vec::new();
        if let Some(notice) = why.notice() {
            // What waits for it, whole frames, then the notice; the
            // socket is not waited for.
            let _ = client.outbound.write_to(&mut last);
            last.extend_from_slice(notice.line());
        }
        self.lingering.close(client.transport, &last, why.notice());
        if let Some(summary) = summary {
            tracing::info!("{}: {summary}", client.peer);
        }
        if said_leave {
            self.stats.leaves_sent.inc();
            tracing::info!("{} left without /leave; sent it on its behalf", client.peer);
        }
    }
}

/// Counts and logs what became of one frame from `peer` (`None`: NATS): the first
/// refusal of each kind at once, the rest only in summaries (and at debug).
fn count_frame(stats: &Stats, event: FrameEvent, peer: Option<SocketAddr>) {
    let (refusal, first) = match event {
        FrameEvent::Forwarded { .. } => {
            stats.forwarded.inc();
            return;
        }
        FrameEvent::Refused { refusal, first } => (refusal, first),
    };
    stats.dropped(refusal);
    let peer = client_peer(peer);
    if first {
        tracing::info!(
            "{peer} frame dropped: {refusal} (the first of its kind; the rest are summarised)"
        );
    } else {
        tracing::debug!("{peer} frame dropped: {refusal}");
    }
}

/// Lists `client` (number `id`) to be read this turn or the next, once.
fn list_for_read(readable: &mut Vec<MemberId>, client: &mut Connection, id: MemberId) {
    if !client.read_pending {
        client.read_pending = true;
        readable.push(id);
    }
}

/// The member id a mio token carries.
fn member_id(token: usize) -> MemberId {
    MemberId::new(u32::try_from(token).unwrap_or(u32::MAX))
}

/// A count as a gauge's value.
fn gauge(count: usize) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

/// A client's address for the log; no address: the frame came over the
/// bridge.
fn client_peer(peer: Option<SocketAddr>) -> String {
    peer.map_or_else(|| "NATS".to_owned(), |p| p.to_string())
}
