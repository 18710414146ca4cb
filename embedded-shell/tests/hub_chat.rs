//! The smoltcp relay and clients in one process over an in-memory Ethernet
//! hub: chat between three clients, frames bigger than the socket buffers, a
//! client that vanishes, one that stops reading, one past the limit, and a
//! forged frame in keyed mode.

mod hub;

use fernchat_core::fernet::TokenError;
use fernchat_core::fernet::{Key, KeySet};
use fernchat_core::input::Input;
use fernchat_core::message::Body;
use fernchat_core::relay::{RejectReason, RelayPolicy};
use fernchat_core::session::Session;
use fernchat_embedded::{
    Client, ClientEvent, ClientStorage, Departure, NetConfig, Now, Relay, RelayEvent, RelayStorage,
};
use hub::{Hub, Port};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use smoltcp::time::Instant;
use smoltcp::wire::{IpEndpoint, Ipv4Address, Ipv4Cidr};

/// Socket buffers far smaller than a 4096-byte frame, so frames stream through.
const BUF: usize = 1024;
/// The relay's fan-out log: two full frames.
const LOG: usize = 8192;
const PORT: u16 = 10101;
const RELAY_HOST: u8 = 15;
const START: u64 = 1_764_000_000;
/// Steps (1 ms of simulated time each) before a test gives up.
const MAX_STEPS: u64 = 60_000;

type Keys = KeySet<1>;
type TestClient = Client<'static, Port, ChaCha20Rng, 1, 64>;

fn now(ms: u64) -> Now {
    Now {
        instant: Instant::from_millis(ms as i64),
        unix: START + ms / 1000,
    }
}

fn net(host: u8) -> NetConfig {
    NetConfig {
        mac: [0x02, 0, 0, 0, 0, host],
        address: Ipv4Cidr::new(Ipv4Address::new(10, 0, 2, host), 24),
        gateway: None,
    }
}

fn keys(byte: u8) -> Keys {
    KeySet::single(Key::from_bytes([byte; 32]))
}

/// One chat client and what it has shown.
struct Member {
    client: TestClient,
    shown: Vec<String>,
    dropped: u32,
    connected: bool,
    closed: bool,
    /// A paused member is not polled at all: it neither reads nor acknowledges.
    paused: bool,
}

/// A relay with `N` sockets and its members on one hub.
struct Room<const N: usize> {
    hub: Hub,
    relay: Relay<'static, Port, ChaCha20Rng, N, 1, 64>,
    members: Vec<Member>,
    events: Vec<RelayEvent>,
    ms: u64,
}

impl<const N: usize> Room<N> {
    fn new(policy: RelayPolicy<1, 64>) -> Self {
        let hub = Hub::default();
        let storage = Box::leak(Box::new(RelayStorage::<N, BUF, LOG>::new()));
        let policy = Box::leak(Box::new(policy));
        let rng = ChaCha20Rng::seed_from_u64(u64::from(RELAY_HOST));
        let relay = Relay::new(
            storage,
            policy,
            hub.port(),
            rng,
            &net(RELAY_HOST),
            PORT,
            now(0),
        );
        Room {
            hub,
            relay,
            members: Vec::new(),
            events: Vec::new(),
            ms: 0,
        }
    }

    /// Adds a client named `nick` holding `keys`; gives its index.
    fn join(&mut self, nick: &str, keys: Keys) -> usize {
        let host = RELAY_HOST + 1 + self.members.len() as u8;
        let storage = Box::leak(Box::new(ClientStorage::<BUF>::new()));
        let session = Box::leak(Box::new(Session::new(keys, nick, Some(300)).unwrap()));
        let rng = ChaCha20Rng::seed_from_u64(u64::from(host));
        let server = IpEndpoint::new(Ipv4Address::new(10, 0, 2, RELAY_HOST).into(), PORT);
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
            connected: false,
            closed: false,
            paused: false,
        });
        self.members.len() - 1
    }

    /// One millisecond: everyone polls once.
    fn step(&mut self) {
        let events = &mut self.events;
        self.relay.poll(now(self.ms), |event| events.push(event));
        for m in self.members.iter_mut().filter(|m| !m.paused) {
            m.client.poll(now(self.ms), |event| match event {
                ClientEvent::Connected => m.connected = true,
                ClientEvent::Message(message) => m.shown.push(message.payload.to_string()),
                ClientEvent::Dropped(dropped) => m.dropped += dropped.count,
                ClientEvent::Closed => m.closed = true,
            });
        }
        self.ms += 1;
    }

    /// Steps until `done` holds; fails the test after [`MAX_STEPS`].
    fn run_until(&mut self, what: &str, done: impl Fn(&Self) -> bool) {
        let give_up = self.ms + MAX_STEPS;
        while !done(self) {
            assert!(
                self.ms < give_up,
                "timed out waiting for {what}; relay events: {:?}",
                self.events
            );
            self.step();
        }
    }

    /// Joins everyone named, waits until the relay serves them all.
    fn fill(&mut self, nicks: &[&str], keys: u8) {
        for nick in nicks {
            self.join(nick, self::keys(keys));
        }
        let clients = nicks.len();
        self.run_until("everyone to join", |room| {
            room.relay.clients() == clients && room.members.iter().all(|m| m.connected)
        });
    }

    /// Sends what `who` types, as a user would type it (`/me` included).
    fn say(&mut self, who: usize, text: &str) {
        let at = now(self.ms);
        let Input::Send(body) = Input::parse(text) else {
            panic!("{text:?} sends nothing");
        };
        self.members[who].client.send(body, at).unwrap();
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
}

#[test]
fn test_three_clients_chat() {
    let mut room = Room::<4>::new(RelayPolicy::blind());
    room.fill(&["ann", "bob", "cy"], 1);
    room.say(0, "hi from ann");
    room.say(1, "hi from bob");
    room.say(2, "hi from cy");
    room.say(2, "/me waves");
    room.run_until("every message to arrive", |room| {
        room.messages(0).len() == 3 && room.messages(1).len() == 3 && room.messages(2).len() == 2
    });
    assert_eq!(
        room.messages(0),
        ["<bob> hi from bob", "<cy> hi from cy", "* cy waves"]
    );
    assert_eq!(
        room.messages(1),
        ["<ann> hi from ann", "<cy> hi from cy", "* cy waves"]
    );
    assert_eq!(room.messages(2), ["<ann> hi from ann", "<bob> hi from bob"]);

    room.members[0]
        .client
        .send(Body::Leave, now(room.ms))
        .unwrap();
    room.run_until("ann's leave", |room| {
        room.members[0].closed
            && room.members[1..]
                .iter()
                .all(|m| m.shown.last().is_some_and(|s| s == "ann left"))
    });
    room.run_until("the relay to see ann go", |room| {
        room.events.iter().any(|e| {
            matches!(
                e,
                RelayEvent::Left {
                    why: Departure::Closed,
                    ..
                }
            )
        })
    });
    assert_eq!(room.relay.clients(), 2);
    assert!(room.members.iter().all(|m| m.dropped == 0));
}

#[test]
fn test_frames_bigger_than_socket_buffers() {
    let mut room = Room::<4>::new(RelayPolicy::blind());
    room.fill(&["ann", "bob", "cy"], 1);
    // 3003 bytes of text: with "ann" and LF, the largest plaintext (a 4089-byte frame).
    let big: Vec<String> = (0..3u8)
        .map(|i| {
            (0..3003)
                .map(|k| char::from(b'a' + ((k + usize::from(i)) % 26) as u8))
                .collect()
        })
        .collect();
    let mut queued = 0;
    let mut small = 0;
    // Queue as ann's outbox takes them, with bob talking meanwhile.
    while queued < big.len() || small < 3 {
        let at = now(room.ms);
        if queued < big.len()
            && room.members[0]
                .client
                .send(Body::Text(big[queued].as_bytes()), at)
                .is_ok()
        {
            queued += 1;
        }
        if small < 3 {
            room.say(1, &format!("small {small}"));
            small += 1;
        }
        room.step();
    }
    room.run_until("every frame to arrive", |room| {
        room.messages(2).len() == 6 && room.messages(1).len() == 3
    });
    let cy = room.messages(2);
    let from_ann: Vec<&str> = cy
        .iter()
        .copied()
        .filter(|s| s.starts_with("<ann>"))
        .collect();
    let expected: Vec<String> = big.iter().map(|text| format!("<ann> {text}")).collect();
    assert_eq!(from_ann, expected);
    assert_eq!(room.messages(1), expected);
    assert_eq!(
        cy.iter().filter(|s| s.starts_with("<bob> small")).count(),
        3
    );
    assert!(room.members.iter().all(|m| m.dropped == 0));
}

#[test]
fn test_vanished_client_leaves_keyed() {
    let key = 3;
    let mut room = Room::<4>::new(RelayPolicy::keyed(keys(key), 300));
    room.fill(&["ann", "bob", "cy"], key);
    room.say(0, "about to vanish");
    room.run_until("ann's message", |room| {
        room.messages(1).len() == 1 && room.messages(2).len() == 1
    });
    room.members[0].client.abort();
    room.run_until("the relay's leave for ann", |room| {
        room.members[1..]
            .iter()
            .all(|m| m.shown.last().is_some_and(|s| s == "ann left"))
    });
    assert!(room.events.iter().any(|e| matches!(
        e,
        RelayEvent::Left {
            slot: _,
            why: Departure::Reset
        }
    )));
    room.say(1, "still here");
    room.run_until("bob to reach cy", |room| room.messages(2).len() == 2);
    assert!(room.members.iter().all(|m| m.dropped == 0));
}

#[test]
fn test_client_not_reading_is_dropped_others_get_everything() {
    let mut room = Room::<4>::new(RelayPolicy::blind());
    room.fill(&["ann", "bob", "cy"], 1);
    room.members[2].paused = true;
    let texts: Vec<String> = (0..40)
        .map(|i| format!("{i:02} {}", "x".repeat(1000)))
        .collect();
    let mut queued = 0;
    while queued < texts.len() {
        let at = now(room.ms);
        if room.members[0]
            .client
            .send(Body::Text(texts[queued].as_bytes()), at)
            .is_ok()
        {
            queued += 1;
        }
        room.step();
    }
    room.run_until("bob to get all 40", |room| {
        room.messages(1).len() == texts.len()
    });
    let expected: Vec<String> = texts.iter().map(|t| format!("<ann> {t}")).collect();
    assert_eq!(room.messages(1), expected);
    room.run_until("cy to be dropped", |room| {
        room.events.iter().any(|e| {
            matches!(
                e,
                RelayEvent::Left {
                    why: Departure::NotReading,
                    ..
                }
            )
        })
    });
    assert_eq!(room.relay.clients(), 2);
    assert_eq!(room.members[1].dropped, 0);
}

#[test]
fn test_past_the_limit_accepted_and_closed() {
    // Three sockets: two clients and the spare that turns the third away.
    let mut room = Room::<3>::new(RelayPolicy::blind());
    room.fill(&["ann", "bob"], 1);
    let cy = room.join("cy", keys(1));
    room.run_until("cy to be turned away", |room| room.members[cy].closed);
    assert!(room.members[cy].connected, "accepted, then closed");
    assert!(
        room.events
            .iter()
            .any(|e| matches!(e, RelayEvent::Refused { .. }))
    );
    room.say(0, "still fine");
    room.run_until("bob to hear ann", |room| room.messages(1).len() == 1);
    assert!(room.messages(cy).is_empty());
    // The spare listens again: once bob leaves, a newcomer gets in.
    room.members[1]
        .client
        .send(Body::Leave, now(room.ms))
        .unwrap();
    room.run_until("bob gone", |room| room.relay.clients() == 1);
    let dee = room.join("dee", keys(1));
    room.run_until("dee in", |room| {
        room.members[dee].connected && room.relay.clients() == 2
    });
    room.say(dee, "made it");
    room.run_until("ann to hear dee", |room| room.messages(0).len() == 1);
}

#[test]
fn test_keyed_relay_drops_forged_frame() {
    let key = 5;
    let mut room = Room::<4>::new(RelayPolicy::keyed(keys(key), 300));
    room.fill(&["ann", "bob"], key);
    let eve = room.join("eve", keys(6));
    room.run_until("eve in", |room| room.relay.clients() == 3);
    room.say(eve, "forged");
    room.run_until("the relay to reject eve", |room| {
        room.events.iter().any(|e| {
            matches!(
                e,
                RelayEvent::Rejected {
                    reason: RejectReason::Token(TokenError::BadMac),
                    ..
                }
            )
        })
    });
    room.say(0, "genuine");
    room.run_until("bob to hear ann", |room| room.messages(1).len() == 1);
    assert_eq!(room.messages(1), ["<ann> genuine"]);
    // The forged frame never reached bob: nothing was dropped on his side.
    assert_eq!(room.members[1].dropped, 0);
}
