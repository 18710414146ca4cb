//! `fernchat server`: the relay of `docs/PROTOCOL.md` section 6 on
//! non-blocking std sockets, one mio event loop, no thread per client.
//! Every rule (admission, verdicts, back-pressure, deadlines, departures)
//! is the core [`Room`]'s; this shell moves bytes and keeps time.

mod arrivals;
mod bridge;
mod bridged;
mod connection;
mod fanout;
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
mod stats;
mod stream;
mod tls;
mod transport;
mod trusted_proxy;
mod web;
mod websocket;

use crate::error::Error;
use crate::{clock, keyfile};
use bridged::Remote;
use connection::Connection;
use fanout::{Queues, list_for_flush};
use fernchat_core::fernet::DEFAULT_MAX_KEYS;
use fernchat_core::frame::{Framing, MAX_FRAME};
use fernchat_core::relay::{DEFAULT_RELAY_TTL, RelayPolicy};
use fernchat_core::room::{
    DEFAULT_LIMITS, Departure, FrameEvent, Limits, Member, Now, PeerIp, REMOTE, Room, peer_ip,
};
use handshake::{Handshake, Port};
use health::Health;
use lingering::Lingering;
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token};
use onward::Onward;
use outbound::Outbound;
use rand_core::{OsRng, UnwrapErr};
use replay_store::HeapStore;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;
use slab::Slab;
use stats::Stats;
use std::collections::{HashMap, VecDeque};
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
/// How often deadlines are checked, and lingering sockets swept.
const TICK: Duration = Duration::from_millis(100);

/// Runs the relay until SIGINT or SIGTERM; SIGHUP reloads the key file.
pub fn run(args: &ServerArgs) -> Result<(), Error> {
    logging::init();
    let limits = args.limits();
    fd_limit::raise_for(limits.max_clients);
    let mut policy = match &args.key_file {
        None => RelayPolicy::blind(),
        Some(path) => RelayPolicy::keyed(keyfile::load(path)?, args.ttl, HeapStore::for_relay()),
    };
    // What this relay forwarded before a restart is not let through again.
    policy.refuse_until(clock::now().saturating_sub(1));
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
    let room = Room::new(policy, limits);
    let (onward, remote) = bridged::start(args, &poll, &room, BRIDGE)?;
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
        tls,
        handshakes: Slab::new(),
        trusted_proxies,
        hello_timeout: Duration::from_secs(args.hello_timeout),
        room,
        clients: Slab::new(),
        readable: Vec::new(),
        per_ip: HashMap::new(),
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
        to_close: Vec::new(),
        held: Vec::new(),
        unflushed: 0,
        accept_failed: false,
        started: Instant::now(),
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
    /// TLS on both ports (`--tls-cert`), if any.
    tls: Option<Arc<rustls::ServerConfig>>,
    /// Connections in their TLS or HTTP handshake, not in the room yet.
    handshakes: Slab<Handshake>,
    /// `--trusted-proxy`: whose connections say whom they carry.
    trusted_proxies: TrustedProxies,
    /// How long a handshake may take (the hello timeout).
    hello_timeout: Duration,
    room: Room<DEFAULT_MAX_KEYS, HeapStore>,
    clients: Slab<Connection>,
    /// Clients whose sockets may hold bytes to read: a list, so that a turn
    /// costs what the busy clients need, not what every client would.
    readable: Vec<usize>,
    /// Clients connected from each address, for `--max-per-ip`.
    per_ip: HashMap<PeerIp, usize>,
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
    to_flush: VecDeque<usize>,
    to_close: Vec<(usize, Departure)>,
    /// Clients whose last frame waits for room in the others' queues.
    held: Vec<usize>,
    /// Bytes forwarded since the last flush.
    unflushed: usize,
    /// The last accept failed (no descriptor left, say) with connections
    /// possibly still waiting.
    accept_failed: bool,
    /// Start of the monotonic clock the room's deadlines use.
    started: Instant,
    /// When deadlines were last checked.
    last_tick: Instant,
}

impl Relay {
    fn serve(&mut self, signals: &mut Signals) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        loop {
            self.health.beat();
            let work_pending = !self.readable.is_empty()
                || !self.to_flush.is_empty()
                || self.remote.as_ref().is_some_and(Remote::read_pending);
            let timeout = if work_pending {
                Some(Duration::ZERO)
            } else if self.clients.is_empty()
                && self.handshakes.is_empty()
                && self.lingering.is_empty()
                && !self.accept_failed
                && self.remote.is_none()
            {
                self.metrics_served.then_some(health::BEAT)
            } else {
                // Deadlines to check; and the listener is edge-triggered, so
                // connections left waiting by a failed accept raise no new
                // event: look again soon.
                Some(TICK)
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
                    Token(id) if id >= HANDSHAKES => self.advance_handshake(id - HANDSHAKES),
                    Token(id) => {
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
            if self.last_tick.elapsed() >= TICK {
                self.last_tick = Instant::now();
                self.check_deadlines();
                self.end_pauses();
                self.expire_handshakes();
                self.lingering.sweep();
                if self.metrics_served {
                    let queued: usize = self.clients.iter().map(|(_, c)| c.outbound.len()).sum();
                    self.stats.outbound_bytes.set(gauge(queued));
                }
                self.log_bridge_counts();
            }
            self.close_listed();
        }
    }

    /// The room, the fan-out over every client's queue and the counters,
    /// borrowed apart so that the room can reach the queues.
    fn parts(
        &mut self,
        now_ms: u64,
    ) -> (&mut Room<DEFAULT_MAX_KEYS, HeapStore>, Queues<'_>, &Stats) {
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
            now_ms,
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
            if port == Port::Chat && self.tls.is_none() && !self.trusted_proxies.contains(peer.ip())
            {
                self.join(Transport::Stream(Stream::direct(stream, peer)), peer, false);
            } else {
                self.start_handshake(stream, peer, port);
            }
        }
    }

    /// Admits a connection to the room, or tells it why not; `registered`
    /// when its socket is registered already (under a handshake's token).
    fn join(&mut self, mut transport: Transport, peer: SocketAddr, registered: bool) {
        let id = self.clients.vacant_entry().key();
        let interest = Interest::READABLE | Interest::WRITABLE;
        let registry = self.poll.registry();
        let tcp = transport.tcp();
        let registering = if registered {
            registry.reregister(tcp, Token(id), interest)
        } else {
            registry.register(tcp, Token(id), interest)
        };
        if let Err(e) = registering {
            tracing::warn!("{peer} dropped: cannot register: {e}");
            return;
        }
        let ip = peer_ip(peer.ip());
        let same_ip = self.per_ip.get(&ip).copied().unwrap_or(0);
        let member = match self.room.admit(ip, same_ip, self.now()) {
            Ok(member) => member,
            Err(notice) => {
                let _ = self.poll.registry().deregister(transport.tcp());
                self.stats.refused(notice);
                tracing::info!("{peer} refused: {notice}");
                self.lingering.close(transport, notice.line(), Some(notice));
                return;
            }
        };
        let _ = transport.tcp().set_nodelay(true);
        *self.per_ip.entry(ip).or_default() += 1;
        self.clients.insert(Connection {
            transport,
            peer,
            member: Some(Box::new(member)),
            outbound: Outbound::default(),
            unread: Vec::new(),
            read_pending: true,
            flush_listed: false,
        });
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

    /// Reads a bounded amount from client `id` into the room; lists it to
    /// be read again when more may wait, and to be closed when it must go.
    fn read_from(&mut self, id: usize) {
        let Some(client) = self.clients.get_mut(id) else {
            return;
        };
        let (departure, more) = match client.transport {
            Transport::Stream(_) => self.read_stream(id),
            Transport::WebSocket(_) => self.read_websocket(id),
        };
        if let Some(client) = self.clients.get_mut(id)
            && more
            && departure.is_none()
        {
            list_for_read(&mut self.readable, client, id);
        }
        if let Some(why) = departure {
            self.to_close.push((id, why));
        }
    }

    /// Reads up to [`READS_PER_TURN`] chunks of a stream client's bytes
    /// into the room: its departure, if it must go, and whether more may
    /// wait in the socket.
    fn read_stream(&mut self, id: usize) -> (Option<Departure>, bool) {
        for _ in 0..READS_PER_TURN {
            let Some(client) = self.clients.get_mut(id) else {
                return (None, false);
            };
            let Transport::Stream(stream) = &mut client.transport else {
                return (None, false);
            };
            if client.member.as_ref().is_none_or(|m| m.is_held()) {
                // Its frame waits for room: read nothing more until it goes.
                return (None, false);
            }
            let n = match stream.read(&mut self.read_buf) {
                Ok(0) => return (Some(Departure::Closed), false),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return (None, false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return (Some(Departure::Reset), false),
            };
            self.stats.bytes_in.inc_by(n as u64);
            let bytes = std::mem::take(&mut self.read_buf);
            let departure = self.take_frames(id, &bytes[..n]);
            self.read_buf = bytes;
            self.flush_if_busy();
            if departure.is_some() {
                return (departure, false);
            }
        }
        (None, true)
    }

    /// Reads up to [`websocket::FRAMES_PER_TURN`] WebSocket frames (control
    /// frames too) from client `id`, at most [`websocket::READ_BUDGET`]
    /// bytes, and hands each text message to the room as one message: its
    /// departure, if it must go, and whether more may wait.
    fn read_websocket(&mut self, id: usize) -> (Option<Departure>, bool) {
        if let Some(Transport::WebSocket(ws)) = self.clients.get_mut(id).map(|c| &mut c.transport) {
            ws.new_turn();
        }
        for _ in 0..websocket::FRAMES_PER_TURN {
            let now_ms = self.now().millis;
            let Some(client) = self.clients.get_mut(id) else {
                return (None, false);
            };
            let Transport::WebSocket(ws) = &mut client.transport else {
                return (None, false);
            };
            if client.member.as_ref().is_none_or(|m| m.is_held()) {
                return (None, false);
            }
            let input = ws.read_input();
            if ws.wants_write() {
                // Pongs wait for the socket: they count as frames waiting
                // for this client, and the slow timeout holds.
                if let Some(member) = &mut client.member {
                    member.queued(now_ms);
                }
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
            let departure = self.take_message(id, message.as_bytes());
            self.flush_if_busy();
            if departure.is_some() {
                return (departure, false);
            }
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
    fn take_message(&mut self, id: usize, message: &[u8]) -> Option<Departure> {
        let now = self.now();
        let client = self.clients.get_mut(id)?;
        let mut member = client.member.take()?;
        let peer = Some(client.peer);
        let (room, mut queues, stats) = self.parts(now.millis);
        let step = room.receive_message(id, &mut member, message, now, &mut queues, |event| {
            count_frame(stats, event, peer);
        });
        if member.is_held() {
            self.held.push(id);
        }
        self.clients.get_mut(id)?.member = Some(member);
        step.departure
    }

    /// Runs `bytes` from client `id` through the room; what a held frame
    /// leaves unread is kept for later.
    fn take_frames(&mut self, id: usize, bytes: &[u8]) -> Option<Departure> {
        let now = self.now();
        let client = self.clients.get_mut(id)?;
        let mut member = client.member.take()?;
        let peer = Some(client.peer);
        let framing = member.framing();
        let (room, mut queues, stats) = self.parts(now.millis);
        let step = room.receive(id, &mut member, bytes, now, &mut queues, |event| {
            count_frame(stats, event, peer);
        });
        log_framing(framing, &member, peer);
        let client = self.clients.get_mut(id)?;
        if member.is_held() {
            client.unread.extend_from_slice(&bytes[step.consumed..]);
            self.held.push(id);
        }
        client.member = Some(member);
        step.departure
    }

    /// Lets the room hand on the token each quiet unframed client left
    /// without line feed (`docs/PROTOCOL.md` section 2, Unframed senders).
    fn end_pauses(&mut self) {
        let now = self.now();
        // A held client's frame waits in its buffer, and a client that sends
        // line feeds is framed for good: neither has a token to end.
        let ids: Vec<usize> = self
            .clients
            .iter()
            .filter(|(_, c)| {
                c.member
                    .as_ref()
                    .is_some_and(|m| !m.is_held() && m.framing() != Framing::Lines)
            })
            .map(|(id, _)| id)
            .collect();
        for id in ids {
            let Some(client) = self.clients.get_mut(id) else {
                continue;
            };
            let Some(mut member) = client.member.take() else {
                continue;
            };
            let peer = Some(client.peer);
            let framing = member.framing();
            let (room, mut queues, stats) = self.parts(now.millis);
            let departure = room.pause(id, &mut member, now, &mut queues, |event| {
                count_frame(stats, event, peer);
            });
            log_framing(framing, &member, peer);
            let held = member.is_held();
            if let Some(client) = self.clients.get_mut(id) {
                client.member = Some(member);
            }
            if held {
                self.held.push(id);
            }
            if let Some(why) = departure {
                self.to_close.push((id, why));
            }
        }
    }

    /// Forwards what held clients were waiting to send, now that queues may
    /// have room; a released client is read again, its unread bytes first.
    fn release_held(&mut self) {
        let held = std::mem::take(&mut self.held);
        let now_ms = self.now().millis;
        for id in held {
            if id == REMOTE {
                self.release_remote();
                continue;
            }
            let Some(client) = self.clients.get_mut(id) else {
                continue;
            };
            let Some(mut member) = client.member.take() else {
                continue;
            };
            let peer = Some(client.peer);
            let (room, mut queues, stats) = self.parts(now_ms);
            let released = room.release(id, &mut member, &mut queues, |event| {
                count_frame(stats, event, peer);
            });
            let Some(client) = self.clients.get_mut(id) else {
                continue;
            };
            client.member = Some(member);
            if !released {
                self.held.push(id);
                continue;
            }
            let unread = std::mem::take(&mut client.unread);
            list_for_read(&mut self.readable, client, id);
            if let Some(why) = self.take_frames(id, &unread) {
                self.to_close.push((id, why));
            }
        }
    }

    /// Writes to the first [`WRITES_PER_TURN`] listed clients. The rest wait
    /// for the next turn, which reads the senders first: a frame that arrives
    /// while a pass over many clients is under way joins the writes still to
    /// come, so each client is written once per pass with whatever waits for
    /// it, and no frame waits for a pass to end before its own pass begins.
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
                    if let Some(member) = &mut client.member
                        && (written > 0 || remaining == 0)
                    {
                        member.took(remaining, now_ms);
                    }
                }
                Err(_) => self.to_close.push((id, Departure::Reset)),
            }
        }
    }

    /// Lists every client past a deadline (no valid frame, not reading),
    /// and logs the summaries of refused frames that are due.
    fn check_deadlines(&mut self) {
        let now = self.now();
        for (id, client) in &mut self.clients {
            let Some(member) = client.member.as_mut() else {
                continue;
            };
            if let Some(summary) = member.refusal_summary(now, false) {
                tracing::info!("{}: {summary}", client.peer);
            }
            if let Some(why) = self.room.overdue(member, now) {
                self.to_close.push((id, why));
            }
        }
    }

    /// Closes the listed clients, each for the first reason listed for it.
    fn close_listed(&mut self) {
        for (id, why) in std::mem::take(&mut self.to_close) {
            let Some(mut client) = self.clients.try_remove(id) else {
                continue;
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
            let now = self.now();
            let mut last = Vec::new();
            if why.notice().is_some() {
                // What waits for it, whole frames, then the notice; the
                // socket is not waited for.
                let mut pending = Vec::new();
                let _ = client.outbound.write_to(&mut pending);
                last = pending;
            }
            if let Some(notice) = why.notice() {
                last.extend_from_slice(notice.line());
            }
            self.lingering.close(client.transport, &last, why.notice());
            let Some(mut member) = client.member else {
                continue;
            };
            if let Some(count) = self.per_ip.get_mut(&member.ip()) {
                *count -= 1;
                if *count == 0 {
                    self.per_ip.remove(&member.ip());
                }
            }
            if let Some(summary) = member.refusal_summary(now, true) {
                tracing::info!("{}: {summary}", client.peer);
            }
            let mut rng = UnwrapErr(OsRng);
            let (room, mut queues, _) = self.parts(now.millis);
            if room.depart(id, &member, now, &mut rng, &mut queues) {
                self.stats.leaves_sent.inc();
                tracing::info!("{} left without /leave; sent it on its behalf", client.peer);
            }
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
fn list_for_read(readable: &mut Vec<usize>, client: &mut Connection, id: usize) {
    if !client.read_pending {
        client.read_pending = true;
        readable.push(id);
    }
}

/// A count as a gauge's value.
fn gauge(count: usize) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

/// Logs once that a client turned out to send unframed tokens, as the
/// original Python chat does (`docs/PROTOCOL.md` section 2).
fn log_framing(before: Framing, member: &Member, peer: Option<SocketAddr>) {
    if before != Framing::Unframed && member.framing() == Framing::Unframed {
        let peer = client_peer(peer);
        tracing::info!(
            "{peer} sends tokens without line feeds (the original Python chat?); \
             splitting them by their shape"
        );
    }
}

/// A client's address for the log; no address: the frame came over the
/// bridge.
fn client_peer(peer: Option<SocketAddr>) -> String {
    peer.map_or_else(|| "NATS".to_owned(), |p| p.to_string())
}
