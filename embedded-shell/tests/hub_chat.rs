//! The smoltcp relay and clients in one process over an in-memory Ethernet
//! hub: chat between three clients, frames bigger than the socket buffers,
//! senders faster than the fan-out log (held, never cut off), a client that
//! vanishes, one that stops reading, idle connections and ones past the
//! limits (told why, then closed), and a forged frame in keyed mode.

mod hub;

use fernchat_core::fernet::TokenError;
use fernchat_core::fernet::{Key, KeySet};
use fernchat_core::input::Input;
use fernchat_core::message::{Body, Payload};
use fernchat_core::relay::{RejectReason, RelayPolicy};
use fernchat_core::replay::ArrayStore;
use fernchat_core::room::{Departure, Limits, Notice, Room, SeatMemory};
use fernchat_core::seal::seal_frame;
use fernchat_core::session::Session;
use fernchat_core::tally::Refusal;
use fernchat_embedded::{
    Client, ClientError, ClientEvent, ClientStorage, NetConfig, Now, Relay, RelayEvent,
    RelayStorage,
};
use hub::{Hub, Port};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet, SocketStorage};
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpCidr, IpEndpoint, Ipv4Address, Ipv4Cidr};

/// Socket buffers far smaller than a 4096-byte frame, so frames stream through.
const BUF: usize = 1024;
/// The relay's fan-out log: two full frames.
const LOG: usize = 8192;
const PORT: u16 = 10101;
const RELAY_HOST: u8 = 15;
const START: u64 = 1_764_000_000;
/// Steps (1 ms of simulated time each) before a test gives up.
const MAX_STEPS: u64 = 60_000;
/// The relay's deadlines, in simulated milliseconds.
const HELLO_TIMEOUT_MS: u64 = 10_000;
const SLOW_TIMEOUT_MS: u64 = 10_000;

type Keys = KeySet<1>;
/// Clients remember 256 tokens against replays: enough for the 200 messages
/// within a second of the busiest test.
/// Replay caches: the firmware relay's size, and room in the clients for
/// the 100-frame bursts below.
type ClientReplay = ArrayStore<256, 32>;
type RelayReplay = ArrayStore<256, 64>;

type TestClient = Client<'static, Port, ChaCha20Rng, 1, ClientReplay>;

fn now(ms: u64) -> Now {
    Now {
        instant: Instant::from_millis(ms as i64),
        unix: START + ms / 1000,
    }
}

fn address(host: u8) -> Ipv4Address {
    Ipv4Address::new(10, 0, 2, host)
}

fn net(host: u8) -> NetConfig {
    NetConfig {
        mac: [0x02, 0, 0, 0, 0, host],
        address: Ipv4Cidr::new(address(host), 24),
        gateway: None,
    }
}

fn keys(byte: u8) -> Keys {
    KeySet::single(Key::from_bytes([byte; 32]))
}

/// The relay's limits in these tests: as many clients as it has sockets
/// for, no limit per address.
fn limits() -> Limits {
    Limits {
        max_clients: usize::MAX,
        max_per_ip: 0,
        hello_timeout_ms: HELLO_TIMEOUT_MS,
        slow_timeout_ms: SLOW_TIMEOUT_MS,
        max_rate: None,
    }
}

/// One chat client and what it has shown.
struct Member {
    client: TestClient,
    shown: Vec<String>,
    dropped: u32,
    /// The relay's notices it reported.
    notices: Vec<Notice>,
    connected: bool,
    closed: bool,
    /// A paused member is not polled at all: it neither reads nor acknowledges.
    paused: bool,
}

/// A host on the hub with raw TCP connections to the relay: it reads what
/// comes, and sends only what a test tells it to (nothing, or keep-alives).
struct RawHost {
    device: Port,
    iface: Interface,
    sockets: SocketSet<'static>,
    conns: Vec<RawConn>,
}

/// One raw connection and everything it has received.
struct RawConn {
    handle: SocketHandle,
    received: Vec<u8>,
    /// Sends an empty line (a keep-alive) every second.
    keepalive: bool,
}

impl RawHost {
    fn new(hub: &Hub, host: u8, ms: u64) -> RawHost {
        let mut device = hub.port();
        let mut config = Config::new(HardwareAddress::Ethernet(EthernetAddress(net(host).mac)));
        config.random_seed = u64::from(host);
        let mut iface = Interface::new(config, &mut device, now(ms).instant);
        iface.update_ip_addrs(|addrs| {
            addrs.push(IpCidr::Ipv4(net(host).address)).unwrap();
        });
        let storage = Box::leak(Box::new([const { SocketStorage::EMPTY }; 4]));
        RawHost {
            device,
            iface,
            sockets: SocketSet::new(&mut storage[..]),
            conns: Vec::new(),
        }
    }

    /// Opens one more connection to the relay; gives its index.
    fn connect(&mut self, keepalive: bool) -> usize {
        let rx = Box::leak(vec![0u8; 8192].into_boxed_slice());
        let tx = Box::leak(vec![0u8; 1024].into_boxed_slice());
        let mut socket = tcp::Socket::new(tcp::SocketBuffer::new(rx), tcp::SocketBuffer::new(tx));
        let relay = IpEndpoint::new(address(RELAY_HOST).into(), PORT);
        let local = 50_000 + self.conns.len() as u16;
        socket.connect(self.iface.context(), relay, local).unwrap();
        self.conns.push(RawConn {
            handle: self.sockets.add(socket),
            received: Vec::new(),
            keepalive,
        });
        self.conns.len() - 1
    }

    fn poll(&mut self, ms: u64) {
        self.iface
            .poll(now(ms).instant, &mut self.device, &mut self.sockets);
        for conn in &mut self.conns {
            let socket = self.sockets.get_mut::<tcp::Socket>(conn.handle);
            let mut buf = [0u8; 1024];
            while let Ok(n @ 1..) = socket.recv_slice(&mut buf) {
                conn.received.extend_from_slice(&buf[..n]);
            }
            if conn.keepalive && ms.is_multiple_of(1000) && socket.may_send() {
                socket.send_slice(b"\n").unwrap();
            }
        }
        self.iface
            .poll(now(ms).instant, &mut self.device, &mut self.sockets);
    }

    /// Sends `bytes` on connection `conn` (they must fit its buffer).
    fn send(&mut self, conn: usize, bytes: &[u8]) {
        let socket = self.sockets.get_mut::<tcp::Socket>(self.conns[conn].handle);
        assert_eq!(socket.send_slice(bytes), Ok(bytes.len()));
    }

    fn state(&self, conn: usize) -> tcp::State {
        self.sockets
            .get::<tcp::Socket>(self.conns[conn].handle)
            .state()
    }

    /// True when the relay has closed connection `conn`: its FIN came (or a
    /// reset after it).
    fn closed_by_relay(&self, conn: usize) -> bool {
        matches!(
            self.state(conn),
            tcp::State::CloseWait | tcp::State::LastAck | tcp::State::Closed
        )
    }
}

/// A relay with `N` sockets, its members and raw connections on one hub.
struct Chat<const N: usize> {
    hub: Hub,
    relay: Relay<'static, Port, ChaCha20Rng, N, 1, RelayReplay>,
    members: Vec<Member>,
    raw: Vec<RawHost>,
    /// What the relay reported, with the millisecond it did.
    events: Vec<(u64, RelayEvent)>,
    ms: u64,
}

impl<const N: usize> Chat<N> {
    fn new(policy: RelayPolicy<1, RelayReplay>) -> Self {
        Self::with_limits(policy, limits())
    }

    fn with_limits(policy: RelayPolicy<1, RelayReplay>, limits: Limits) -> Self {
        let hub = Hub::default();
        let storage = Box::leak(Box::new(RelayStorage::<N, BUF, LOG>::new()));
        let seats = Box::leak(Box::new(SeatMemory::<N>::new())).seats();
        let opened = fernchat_core::room::Now::from(now(0));
        let room = Box::leak(Box::new(Room::new(policy, limits, seats, opened)));
        let rng = ChaCha20Rng::seed_from_u64(u64::from(RELAY_HOST));
        let relay = Relay::new(
            storage,
            room,
            hub.port(),
            rng,
            &net(RELAY_HOST),
            PORT,
            now(0),
        );
        Chat {
            hub,
            relay,
            members: Vec::new(),
            raw: Vec::new(),
            events: Vec::new(),
            ms: 0,
        }
    }

    /// The next free host number on the hub.
    fn next_host(&self) -> u8 {
        RELAY_HOST + 1 + (self.members.len() + self.raw.len()) as u8
    }

    /// Adds a client named `nick` holding `keys`; gives its index.
    fn join(&mut self, nick: &str, keys: Keys) -> usize {
        let host = self.next_host();
        let storage = Box::leak(Box::new(ClientStorage::<BUF>::new()));
        let session = Box::leak(Box::new(Session::new(keys, nick, Some(300)).unwrap()));
        let rng = ChaCha20Rng::seed_from_u64(u64::from(host));
        let server = IpEndpoint::new(address(RELAY_HOST).into(), PORT);
        let client = Client::new(
            storage,
            session,
            self.hub.port(),
            rng,
            &net(host),
            server,
            now(self.ms),
        )
        .unwrap();
        self.members.push(Member {
            client,
            shown: Vec::new(),
            dropped: 0,
            notices: Vec::new(),
            connected: false,
            closed: false,
            paused: false,
        });
        self.members.len() - 1
    }

    /// Adds a host for raw connections; gives its index.
    fn raw_host(&mut self) -> usize {
        let host = RawHost::new(&self.hub, self.next_host(), self.ms);
        self.raw.push(host);
        self.raw.len() - 1
    }

    /// One millisecond: everyone polls once.
    fn step(&mut self) {
        let (events, ms) = (&mut self.events, self.ms);
        self.relay.poll(now(ms), |event| events.push((ms, event)));
        for m in self.members.iter_mut().filter(|m| !m.paused) {
            m.client.poll(now(ms), |event| match event {
                ClientEvent::Connected => m.connected = true,
                ClientEvent::Message(message) => m.shown.push(message.payload.to_string()),
                ClientEvent::Dropped(dropped) => m.dropped += dropped.count,
                ClientEvent::Notice(notice) => m.notices.push(notice),
                ClientEvent::Closed => m.closed = true,
            });
        }
        for host in &mut self.raw {
            host.poll(ms);
        }
        self.ms += 1;
    }

    /// Steps until `done` holds; fails the test after [`MAX_STEPS`].
    fn run_until(&mut self, what: &str, done: impl Fn(&Self) -> bool) {
        let give_up = self.ms + MAX_STEPS;
        while !done(self) {
            assert!(
                self.ms < give_up,
                "timed out waiting for {what}; messages shown: {:?}; relay events: {:?}",
                (0..self.members.len())
                    .map(|who| self.messages(who).len())
                    .collect::<Vec<_>>(),
                self.events
            );
            self.step();
        }
    }

    /// Steps for `ms` milliseconds.
    fn run_for(&mut self, ms: u64) {
        for _ in 0..ms {
            self.step();
        }
    }

    /// Joins everyone named, waits until the relay serves them all.
    fn fill(&mut self, nicks: &[&str], keys: u8) {
        for nick in nicks {
            self.join(nick, self::keys(keys));
        }
        let clients = nicks.len();
        self.run_until("everyone to join", |chat| {
            chat.relay.clients() == clients && chat.members.iter().all(|m| m.connected)
        });
    }

    /// Sends what `who` types, as a user would type it (`/me` included),
    /// once its last frame has gone out.
    fn say(&mut self, who: usize, text: &str) {
        // A client reads the body while it streams out: it outlives it.
        let text: &'static str = text.to_owned().leak();
        let Input::Send(body) = Input::parse(text) else {
            panic!("{text:?} sends nothing");
        };
        let give_up = self.ms + MAX_STEPS;
        while let Err(e) = self.members[who].client.send(body, now(self.ms)) {
            assert_eq!(e, ClientError::Busy);
            assert!(self.ms < give_up, "{text:?} never went out");
            self.step();
        }
    }

    /// Has every member in `who` send its messages, at the same moment: a
    /// message goes out as soon as the member's last one has.
    fn say_all_at_once(&mut self, who: &[usize], texts: impl Fn(usize) -> Vec<String>) {
        let texts: &'static [Vec<String>] =
            who.iter().map(|&w| texts(w)).collect::<Vec<_>>().leak();
        let mut queued = vec![0; who.len()];
        while queued.iter().zip(texts).any(|(&q, t)| q < t.len()) {
            let at = now(self.ms);
            for (i, &w) in who.iter().enumerate() {
                let Some(text) = texts[i].get(queued[i]) else {
                    continue;
                };
                if self.members[w]
                    .client
                    .send(Body::Text(text.as_bytes()), at)
                    .is_ok()
                {
                    queued[i] += 1;
                }
            }
            self.step();
            assert!(
                self.ms < MAX_STEPS,
                "outboxes never took everything; departures: {:?}",
                self.departures()
            );
        }
    }

    /// Lines a member has shown that are messages or actions (not joins
    /// and leaves).
    fn messages(&self, who: usize) -> Vec<&str> {
        let m = &self.members[who];
        m.shown
            .iter()
            .map(String::as_str)
            .filter(|s| s.starts_with('<') || s.starts_with('*'))
            .collect()
    }

    /// The departures the relay reported: when, which socket, why.
    fn departures(&self) -> Vec<(u64, usize, Departure)> {
        self.events
            .iter()
            .filter_map(|&(ms, event)| match event {
                RelayEvent::Left { slot, why } => Some((ms, slot, why)),
                _ => None,
            })
            .collect()
    }

    /// The notices the relay turned connections away with.
    fn refusals(&self) -> Vec<Notice> {
        self.events
            .iter()
            .filter_map(|&(_, event)| match event {
                RelayEvent::Refused { notice, .. } => Some(notice),
                _ => None,
            })
            .collect()
    }

    /// True when the relay reported an event that `matches`.
    fn saw(&self, matches: impl Fn(&RelayEvent) -> bool) -> bool {
        self.events.iter().any(|(_, event)| matches(event))
    }
}

#[test]
fn test_three_clients_chat() {
    let mut chat = Chat::<4>::new(RelayPolicy::blind());
    chat.fill(&["ann", "bob", "cy"], 1);
    chat.say(0, "hi from ann");
    chat.say(1, "hi from bob");
    chat.say(2, "hi from cy");
    chat.say(2, "/me waves");
    chat.run_until("every message to arrive", |chat| {
        chat.messages(0).len() == 3 && chat.messages(1).len() == 3 && chat.messages(2).len() == 2
    });
    // Each sender's in order; senders at the same moment, in any order.
    assert_eq!(
        by_sender(&chat, 0, &["bob", "cy"]),
        [
            vec!["<bob> hi from bob"],
            vec!["<cy> hi from cy", "* cy waves"]
        ]
    );
    assert_eq!(
        by_sender(&chat, 1, &["ann", "cy"]),
        [
            vec!["<ann> hi from ann"],
            vec!["<cy> hi from cy", "* cy waves"]
        ]
    );
    assert_eq!(
        by_sender(&chat, 2, &["ann", "bob"]),
        [vec!["<ann> hi from ann"], vec!["<bob> hi from bob"]]
    );

    chat.members[0]
        .client
        .send(Body::Leave, now(chat.ms))
        .unwrap();
    chat.run_until("ann's leave", |chat| {
        chat.members[0].closed
            && chat.members[1..]
                .iter()
                .all(|m| m.shown.last().is_some_and(|s| s == "ann left"))
    });
    chat.run_until("the relay to see ann go", |chat| {
        chat.saw(|e| {
            matches!(
                e,
                RelayEvent::Left {
                    why: Departure::Closed,
                    ..
                }
            )
        })
    });
    assert_eq!(chat.relay.clients(), 2);
    assert!(chat.members.iter().all(|m| m.dropped == 0));
}

#[test]
fn test_frames_bigger_than_socket_buffers() {
    let mut chat = Chat::<4>::new(RelayPolicy::blind());
    chat.fill(&["ann", "bob", "cy"], 1);
    // 3003 bytes of text: with "ann" and LF, the largest plaintext (a 4089-byte frame).
    let big: &'static [String] = (0..3u8)
        .map(|i| {
            (0..3003)
                .map(|k| char::from(b'a' + ((k + usize::from(i)) % 26) as u8))
                .collect()
        })
        .collect::<Vec<_>>()
        .leak();
    // One frame streams out at a time, read from its body as it goes: the
    // next is refused until the last has gone.
    let at = now(chat.ms);
    let ann = &mut chat.members[0].client;
    ann.send(Body::Text(big[0].as_bytes()), at).unwrap();
    assert!(ann.is_sending());
    assert_eq!(
        ann.send(Body::Text(big[1].as_bytes()), at),
        Err(ClientError::Busy)
    );
    let mut queued = 1;
    let mut small = 0;
    // Send as ann's client takes them, with bob talking meanwhile.
    while queued < big.len() || small < 3 {
        let at = now(chat.ms);
        if queued < big.len()
            && chat.members[0]
                .client
                .send(Body::Text(big[queued].as_bytes()), at)
                .is_ok()
        {
            queued += 1;
        }
        if small < 3 {
            chat.say(1, &format!("small {small}"));
            small += 1;
        }
        chat.step();
    }
    chat.run_until("every frame to arrive", |chat| {
        chat.messages(2).len() == 6 && chat.messages(1).len() == 3
    });
    let cy = chat.messages(2);
    let from_ann: Vec<&str> = cy
        .iter()
        .copied()
        .filter(|s| s.starts_with("<ann>"))
        .collect();
    let expected: Vec<String> = big.iter().map(|text| format!("<ann> {text}")).collect();
    assert_eq!(from_ann, expected);
    assert_eq!(chat.messages(1), expected);
    assert_eq!(
        cy.iter().filter(|s| s.starts_with("<bob> small")).count(),
        3
    );
    assert!(chat.members.iter().all(|m| m.dropped == 0));
}

/// Three ~3,000-byte messages from `nick`, each marked with its number.
fn bulk(nick: &str) -> Vec<String> {
    (0..3)
        .map(|i| format!("{nick} {i} {}", "x".repeat(3000 - nick.len() - 3)))
        .collect()
}

/// The messages of `nicks` as a member shows them, each sender's in order.
fn shown(nicks: &[&str], texts: impl Fn(&str) -> Vec<String>) -> Vec<Vec<String>> {
    nicks
        .iter()
        .map(|nick| {
            texts(nick)
                .iter()
                .map(|t| format!("<{nick}> {t}"))
                .collect()
        })
        .collect()
}

/// What `who` showed from each of `nicks` (messages and actions), in the
/// order it showed them.
fn by_sender(chat: &Chat<4>, who: usize, nicks: &[&str]) -> Vec<Vec<String>> {
    nicks
        .iter()
        .map(|nick| {
            let (text, action) = (format!("<{nick}> "), format!("* {nick} "));
            chat.messages(who)
                .into_iter()
                .filter(|m| m.starts_with(&text) || m.starts_with(&action))
                .map(str::to_owned)
                .collect()
        })
        .collect()
}

#[test]
fn test_three_senders_of_10kb_at_once_everyone_gets_everything() {
    // Together 37 KB of frames, four times the fan-out log: senders wait
    // for room, and nobody who reads is cut off.
    let nicks = ["ann", "bob", "cy"];
    let mut chat = Chat::<4>::new(RelayPolicy::blind());
    chat.fill(&nicks, 1);
    chat.say_all_at_once(&[0, 1, 2], |who| bulk(nicks[who]));
    chat.run_until("every message to everyone", |chat| {
        (0..3).all(|who| chat.messages(who).len() == 6)
    });
    for (who, nick) in nicks.iter().enumerate() {
        let others: Vec<&str> = nicks.iter().copied().filter(|n| n != nick).collect();
        assert_eq!(by_sender(&chat, who, &others), shown(&others, bulk));
    }
    assert_eq!(chat.departures(), []);
    assert_eq!(chat.relay.clients(), 3);
    assert!(chat.members.iter().all(|m| m.dropped == 0 && !m.closed));
}

#[test]
fn test_two_senders_of_100_frames_each_everyone_gets_everything() {
    let nicks = ["ann", "bob", "cy"];
    let texts = |nick: &str| -> Vec<String> {
        (0..100)
            .map(|i| format!("{nick} {i:03} {}", "y".repeat(1000)))
            .collect()
    };
    let mut chat = Chat::<4>::new(RelayPolicy::blind());
    chat.fill(&nicks, 1);
    chat.say_all_at_once(&[0, 1], |who| texts(nicks[who]));
    chat.run_until("every message to everyone", |chat| {
        chat.messages(0).len() == 100
            && chat.messages(1).len() == 100
            && chat.messages(2).len() == 200
    });
    assert_eq!(by_sender(&chat, 0, &["bob"]), shown(&["bob"], texts));
    assert_eq!(by_sender(&chat, 1, &["ann"]), shown(&["ann"], texts));
    assert_eq!(
        by_sender(&chat, 2, &["ann", "bob"]),
        shown(&["ann", "bob"], texts)
    );
    assert_eq!(chat.departures(), []);
    assert!(chat.members.iter().all(|m| m.dropped == 0 && !m.closed));
}

#[test]
fn test_held_sender_goes_before_newer_frames() {
    // Ann sends 30 frames of 4 KB, bob 3, from the same moment: bob's are
    // held as often as ann's, and each, once held, goes before anything
    // newer. They reach cy among ann's first, not after all of hers.
    let nicks = ["ann", "bob", "cy"];
    let texts = |nick: &str, count: usize| -> Vec<String> {
        (0..count)
            .map(|i| format!("{nick} {i:02} {}", "z".repeat(2990)))
            .collect()
    };
    let mut chat = Chat::<4>::new(RelayPolicy::blind());
    chat.fill(&nicks, 1);
    chat.say_all_at_once(&[0, 1], |who| texts(nicks[who], [30, 3][who]));
    chat.run_until("every message to cy", |chat| chat.messages(2).len() == 33);
    let cy = chat.messages(2);
    let from_bob: Vec<usize> = (0..cy.len())
        .filter(|&i| cy[i].starts_with("<bob>"))
        .collect();
    assert!(
        from_bob.len() == 3 && from_bob[2] < 12,
        "cy saw bob's at {from_bob:?} of 33"
    );
    assert_eq!(
        by_sender(&chat, 2, &["ann", "bob"]),
        [
            shown(&["ann"], |n| texts(n, 30)),
            shown(&["bob"], |n| texts(n, 3))
        ]
        .concat()
    );
}

#[test]
fn test_vanished_client_leaves_keyed() {
    let key = 3;
    let mut chat = Chat::<4>::new(RelayPolicy::keyed(keys(key), 300, RelayReplay::new()));
    chat.fill(&["ann", "bob", "cy"], key);
    chat.say(0, "about to vanish");
    chat.run_until("ann's message", |chat| {
        chat.messages(1).len() == 1 && chat.messages(2).len() == 1
    });
    chat.members[0].client.abort();
    chat.run_until("the relay's leave for ann", |chat| {
        chat.members[1..]
            .iter()
            .all(|m| m.shown.last().is_some_and(|s| s == "ann left"))
    });
    assert!(chat.saw(|e| matches!(
        e,
        RelayEvent::Left {
            slot: _,
            why: Departure::Reset
        }
    )));
    chat.say(1, "still here");
    chat.run_until("bob to reach cy", |chat| chat.messages(2).len() == 2);
    assert!(chat.members.iter().all(|m| m.dropped == 0));
}

#[test]
fn test_client_not_reading_is_dropped_after_the_slow_timeout() {
    // Keyed, so that the relay says /leave for the one it drops, through a
    // log that senders have filled.
    let key = 4;
    let mut chat = Chat::<4>::new(RelayPolicy::keyed(keys(key), 300, RelayReplay::new()));
    chat.fill(&["ann", "bob", "cy"], key);
    let paused_at = chat.ms;
    chat.members[2].paused = true;
    let texts: &'static [String] = (0..40)
        .map(|i| format!("{i:02} {}", "x".repeat(1000)))
        .collect::<Vec<_>>()
        .leak();
    chat.say_all_at_once(&[0], |_| texts.to_vec());
    chat.run_until("bob to get all 40", |chat| {
        chat.messages(1).len() == texts.len()
    });
    let expected: Vec<String> = texts.iter().map(|t| format!("<ann> {t}")).collect();
    assert_eq!(chat.messages(1), expected);
    assert!(chat.members[1].shown.iter().any(|s| s == "cy left"));
    // Dropped for taking nothing for the slow timeout, not for how far
    // behind it was; the others were never cut off.
    let departures = chat.departures();
    let [(left_at, _, Departure::NotReading)] = departures[..] else {
        panic!("departures: {departures:?}");
    };
    assert!(
        left_at >= paused_at + SLOW_TIMEOUT_MS,
        "dropped {} ms after it stopped reading",
        left_at - paused_at
    );
    assert_eq!(chat.relay.clients(), 2);
    assert_eq!(chat.members[1].dropped, 0);
    assert!(!chat.members[0].closed && !chat.members[1].closed);
}

#[test]
fn test_newcomer_while_senders_wait_is_not_timed_out() {
    // Cy stops reading and the log fills; dee joins meanwhile. Its /join
    // waits in line like ann's frames, but it counts as said: dee is not
    // closed for silence, and once cy is gone everyone hears it.
    let mut chat = Chat::<5>::with_limits(
        RelayPolicy::blind(),
        Limits {
            hello_timeout_ms: 3_000,
            ..limits()
        },
    );
    chat.fill(&["ann", "bob", "cy"], 1);
    chat.members[2].paused = true;
    let texts: &'static [String] = (0..40)
        .map(|i| format!("{i:02} {}", "x".repeat(1000)))
        .collect::<Vec<_>>()
        .leak();
    // Dee joins half a second after ann starts, with the log long full.
    let start = chat.ms;
    let (mut queued, mut dee) = (0, None);
    while queued < texts.len() {
        let at = now(chat.ms);
        let ann = &mut chat.members[0].client;
        if ann.send(Body::Text(texts[queued].as_bytes()), at).is_ok() {
            queued += 1;
        }
        if dee.is_none() && chat.ms == start + 500 {
            assert!(queued < 20, "ann was never held");
            dee = Some(chat.join("dee", keys(1)));
        }
        chat.step();
    }
    let dee = dee.expect("ann's frames never waited: she was done within 500 ms");
    chat.run_until("bob to hear dee join", |chat| {
        chat.members[1].shown.iter().any(|s| s == "dee joined")
    });
    // Only cy left, and only once it had taken nothing for the slow
    // timeout: senders had waited all along.
    let departures = chat.departures();
    let [(left_at, _, Departure::NotReading)] = departures[..] else {
        panic!("departures: {departures:?}");
    };
    assert!(left_at >= start + SLOW_TIMEOUT_MS);
    chat.say(dee, "hello");
    chat.run_until("ann to hear dee", |chat| {
        chat.messages(0).contains(&"<dee> hello")
    });
    chat.run_until("bob to get all 40", |chat| chat.messages(1).len() == 41);
}

#[test]
fn test_idle_connections_told_timeout_then_a_client_gets_in() {
    const HELLO_MS: u64 = 3_000;
    let mut chat = Chat::<5>::with_limits(
        RelayPolicy::blind(),
        Limits {
            hello_timeout_ms: HELLO_MS,
            ..limits()
        },
    );
    // Four connections take every client slot and send nothing but
    // keep-alives (empty lines), or nothing at all.
    let idle = chat.raw_host();
    for i in 0..4 {
        chat.raw[idle].connect(i % 2 == 0);
    }
    chat.run_until("the idle ones in", |chat| chat.relay.clients() == 4);
    let joined_at = chat.ms;
    // Meanwhile the spare socket tells a newcomer the relay is full.
    let late = chat.raw_host();
    chat.raw[late].connect(false);
    chat.run_until("the newcomer turned away", |chat| {
        chat.raw[late].closed_by_relay(0)
    });
    assert_eq!(chat.raw[late].conns[0].received, Notice::Full.line());
    assert_eq!(chat.refusals(), [Notice::Full]);
    chat.run_until("the idle ones closed", |chat| {
        (0..4).all(|conn| chat.raw[idle].closed_by_relay(conn))
    });
    for conn in &chat.raw[idle].conns {
        assert_eq!(conn.received, Notice::Timeout.line());
    }
    let departures = chat.departures();
    assert_eq!(departures.len(), 4);
    for (left_at, _, why) in departures {
        assert_eq!(why, Departure::HelloTimeout);
        assert!(
            left_at >= joined_at + HELLO_MS - 100,
            "left at {left_at} ms"
        );
    }
    // Their slots are free again, once the relay has seen them close.
    chat.run_for(100);
    chat.fill(&["ann", "bob"], 1);
    chat.say(0, "finally");
    chat.run_until("bob to hear ann", |chat| chat.messages(1).len() == 1);
}

#[test]
fn test_past_the_limit_told_full_then_closed() {
    // Three sockets: two clients and the spare that turns the third away.
    let mut chat = Chat::<3>::new(RelayPolicy::blind());
    chat.fill(&["ann", "bob"], 1);
    let cy = chat.raw_host();
    chat.raw[cy].connect(false);
    chat.run_until("cy to be turned away", |chat| {
        chat.raw[cy].closed_by_relay(0)
    });
    // The notice, then the close: nothing else.
    assert_eq!(chat.raw[cy].conns[0].received, b"!full\n");
    assert_eq!(chat.refusals(), [Notice::Full]);
    chat.say(0, "still fine");
    chat.run_until("bob to hear ann", |chat| chat.messages(1).len() == 1);
    // The spare listens again: once bob leaves, a newcomer gets in.
    chat.members[1]
        .client
        .send(Body::Leave, now(chat.ms))
        .unwrap();
    chat.run_until("bob gone", |chat| chat.relay.clients() == 1);
    let dee = chat.join("dee", keys(1));
    chat.run_until("dee in", |chat| {
        chat.members[dee].connected && chat.relay.clients() == 2
    });
    chat.say(dee, "made it");
    chat.run_until("ann to hear dee", |chat| chat.messages(0).len() == 1);
}

#[test]
fn test_firmware_client_reports_the_relays_notice() {
    // Two sockets: one client, and the spare that turns the next away.
    let mut chat = Chat::<2>::new(RelayPolicy::blind());
    chat.fill(&["ann"], 1);
    let bob = chat.join("bob", keys(1));
    chat.run_until("bob to be turned away", |chat| chat.members[bob].closed);
    assert_eq!(chat.members[bob].notices, [Notice::Full]);
    assert!(chat.members[0].notices.is_empty());
}

#[test]
fn test_per_address_limit_told_busy() {
    let mut chat = Chat::<4>::with_limits(
        RelayPolicy::blind(),
        Limits {
            max_per_ip: 1,
            ..limits()
        },
    );
    let host = chat.raw_host();
    chat.raw[host].connect(true);
    chat.run_until("the first one in", |chat| chat.relay.clients() == 1);
    chat.raw[host].connect(true);
    chat.run_until("the second one turned away", |chat| {
        chat.raw[host].closed_by_relay(1)
    });
    assert_eq!(chat.raw[host].conns[1].received, Notice::Busy.line());
    assert_eq!(chat.refusals(), [Notice::Busy]);
    // Another address gets in.
    chat.join("ann", keys(1));
    chat.run_until("ann in", |chat| chat.relay.clients() == 2);
}

#[test]
fn test_keyed_relay_drops_forged_frame() {
    let key = 5;
    let mut chat = Chat::<4>::new(RelayPolicy::keyed(keys(key), 300, RelayReplay::new()));
    chat.fill(&["ann", "bob"], key);
    let eve = chat.join("eve", keys(6));
    chat.run_until("eve in", |chat| chat.relay.clients() == 3);
    chat.say(eve, "forged");
    chat.run_until("the relay to reject eve", |chat| {
        chat.saw(|e| {
            matches!(
                e,
                RelayEvent::Dropped {
                    refusal: Refusal::Rejected(RejectReason::Token(TokenError::BadMac)),
                    ..
                }
            )
        })
    });
    chat.say(0, "genuine");
    chat.run_until("bob to hear ann", |chat| chat.messages(1).len() == 1);
    assert_eq!(chat.messages(1), ["<ann> genuine"]);
    // The forged frame never reached bob: nothing was dropped on his side.
    assert_eq!(chat.members[1].dropped, 0);
}

#[test]
fn test_unframed_tokens_are_heard_as_frames() {
    // The original Python chat's tokens: unnamed, with no line feed, in one
    // send; the last (40 bytes: three blocks, no padding) ends at the pause.
    let key = 1;
    let mut chat = Chat::<4>::new(RelayPolicy::blind());
    chat.fill(&["ann", "bob"], key);
    let old = chat.raw_host();
    chat.raw[old].connect(false);
    chat.run_until("the old client in", |chat| chat.relay.clients() == 3);
    chat.run_until("its connection up", |chat| {
        chat.raw[old].state(0) == tcp::State::Established
    });
    let unpadded = "u".repeat(40);
    let texts = ["ola", unpadded.as_str(), "tchau", unpadded.as_str()];
    let mut wire = Vec::new();
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    for text in texts {
        let payload = Payload {
            nick: None,
            body: Body::Text(text.as_bytes()),
        };
        let mut out = [0u8; 256];
        let frame =
            seal_frame(&keys(key), &payload, now(chat.ms).unix, &mut rng, &mut out).unwrap();
        wire.extend_from_slice(&frame[..frame.len() - 1]);
    }
    chat.raw[old].send(0, &wire);
    let expected: Vec<String> = texts.iter().map(|text| format!("<?> {text}")).collect();
    chat.run_until("ann and bob to hear all of it", |chat| {
        chat.messages(0).len() == texts.len() && chat.messages(1).len() == texts.len()
    });
    assert_eq!(chat.messages(0), expected);
    assert_eq!(chat.messages(1), expected);
    // And it hears them, as frames.
    chat.say(0, "to the old client");
    chat.run_until("the old client to hear ann", |chat| {
        chat.raw[old].conns[0].received.ends_with(b"\n")
    });
    assert!(chat.raw[old].conns[0].received.starts_with(b"gAAAAA"));
}
