//! The chat client over one smoltcp TCP socket (PROTOCOL section 7): every
//! decision (sealing, decrypting, replay and freshness) is the core
//! [`Session`]'s; this shell moves bytes.

mod storage;

pub use storage::ClientStorage;

use crate::net::NetConfig;
use crate::now::Now;
use crate::outbox::Outbox;
use fernchat_core::fernet::{IV_LEN, TokenError};
use fernchat_core::session::{Dropped, Received, Session};
use rand_core::{CryptoRng, RngCore};
use smoltcp::iface::{Interface, SocketHandle, SocketSet};
use smoltcp::phy::Device;
use smoltcp::socket::tcp;
use smoltcp::time::Duration;
use smoltcp::wire::IpEndpoint;

/// First port of the range a client picks its local port from (IANA's
/// dynamic ports, 49152..=65535).
const EPHEMERAL_PORTS: u16 = 49152;

/// Why the client could not do what it was asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientError {
    /// The socket refused to connect (no route, or a bad endpoint).
    Connect(tcp::ConnectError),
    /// The outbox is full: poll, then try again.
    OutboxFull,
    /// The client is leaving or has closed.
    Closed,
    /// The message could not be sealed (too long for one frame).
    Token(TokenError),
}

impl core::fmt::Display for ClientError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ClientError::Connect(e) => write!(f, "cannot connect: {e}"),
            ClientError::OutboxFull => f.write_str("the outbox is full"),
            ClientError::Closed => f.write_str("the connection is closed"),
            ClientError::Token(e) => e.fmt(f),
        }
    }
}

impl From<TokenError> for ClientError {
    fn from(error: TokenError) -> Self {
        match error {
            TokenError::BufferTooSmall => ClientError::OutboxFull,
            other => ClientError::Token(other),
        }
    }
}

/// What happened during a [`Client::poll`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientEvent<'a> {
    /// The TCP connection is up; the `/join` frame is on its way.
    Connected,
    /// A message arrived and verified.
    Message(Received<'a>),
    /// Frames were dropped (once per read burst).
    Dropped(Dropped),
    /// The connection is closed: after [`Client::leave`], or by the relay,
    /// or it never came up.
    Closed,
}

/// Where the client is in its connection's life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Connecting,
    Connected,
    Leaving,
    Closed,
}

/// A fernchat client: one TCP connection to a relay, over any smoltcp
/// [`Device`], with IVs from a cryptographic RNG.
pub struct Client<'a, D: Device, G: RngCore + CryptoRng, const K: usize, const R: usize> {
    device: D,
    rng: G,
    iface: Interface,
    sockets: SocketSet<'a>,
    handle: SocketHandle,
    session: &'a mut Session<K, R>,
    outbox: Outbox<'a>,
    state: State,
}

impl<'a, D: Device, G: RngCore + CryptoRng, const K: usize, const R: usize> Client<'a, D, G, K, R> {
    /// Starts connecting to the relay at `server` as `session`'s nick, with
    /// its `/join` frame queued first.
    pub fn new<const BUF: usize>(
        storage: &'a mut ClientStorage<'a, BUF>,
        session: &'a mut Session<K, R>,
        mut device: D,
        mut rng: G,
        net: &NetConfig,
        server: IpEndpoint,
        now: Now,
    ) -> Result<Self, ClientError> {
        let mut iface = net.interface(&mut device, rng.next_u64(), now.instant);
        let (sockets, mut socket, outbox) = storage.split();
        let mut sockets = SocketSet::new(&mut sockets[..]);
        socket.set_nagle_enabled(false);
        socket.set_keep_alive(Some(Duration::from_secs(20)));
        socket.set_timeout(Some(Duration::from_secs(60)));
        let port = EPHEMERAL_PORTS + (rng.next_u32() % 16384) as u16;
        socket
            .connect(iface.context(), server, port)
            .map_err(ClientError::Connect)?;
        let handle = sockets.add(socket);
        let mut client = Client {
            device,
            rng,
            iface,
            sockets,
            handle,
            session,
            outbox: Outbox::new(outbox),
            state: State::Connecting,
        };
        let iv = client.iv();
        let session = &*client.session;
        client
            .outbox
            .push(|out| session.join(now.unix, iv, out).map(<[u8]>::len))?;
        Ok(client)
    }

    /// Queues a message (`/me TEXT` if `action`); it goes out on the next polls.
    pub fn say(&mut self, text: &[u8], action: bool, now: Now) -> Result<(), ClientError> {
        if matches!(self.state, State::Leaving | State::Closed) {
            return Err(ClientError::Closed);
        }
        let iv = self.iv();
        let session = &*self.session;
        self.outbox.push(|out| {
            let frame = if action {
                session.act(text, now.unix, iv, out)
            } else {
                session.say(text, now.unix, iv, out)
            };
            frame.map(<[u8]>::len)
        })?;
        Ok(())
    }

    /// Queues `/leave`; the connection closes once everything queued is sent.
    pub fn leave(&mut self, now: Now) -> Result<(), ClientError> {
        if matches!(self.state, State::Leaving | State::Closed) {
            return Err(ClientError::Closed);
        }
        let iv = self.iv();
        let session = &*self.session;
        self.outbox
            .push(|out| session.leave(now.unix, iv, out).map(<[u8]>::len))?;
        self.state = State::Leaving;
        Ok(())
    }

    /// Drops the connection at once, with a TCP reset and no `/leave`.
    pub fn abort(&mut self) {
        self.sockets.get_mut::<tcp::Socket>(self.handle).abort();
    }

    /// Moves bytes between the network and the session; reports what
    /// happened to `on_event`. Call it often (every few milliseconds).
    pub fn poll(&mut self, now: Now, mut on_event: impl FnMut(ClientEvent<'_>)) {
        self.iface
            .poll(now.instant, &mut self.device, &mut self.sockets);
        let socket = self.sockets.get_mut::<tcp::Socket>(self.handle);
        if self.state == State::Connecting && socket.may_send() {
            self.state = State::Connected;
            on_event(ClientEvent::Connected);
        }
        while socket.can_send() && !self.outbox.pending().is_empty() {
            match socket.send_slice(self.outbox.pending()) {
                Ok(n) if n > 0 => self.outbox.consume(n),
                _ => break,
            }
        }
        let session = &mut *self.session;
        while socket.can_recv() {
            let read = socket.recv(|data| {
                let mut used = 0;
                loop {
                    let (n, message) = session.receive(&data[used..], now.unix);
                    used += n;
                    match message {
                        Some(message) => on_event(ClientEvent::Message(message)),
                        None => break,
                    }
                }
                (used, ())
            });
            if read.is_err() {
                break;
            }
        }
        if let Some(dropped) = session.take_dropped() {
            on_event(ClientEvent::Dropped(dropped));
        }
        let flushed = self.outbox.pending().is_empty() && socket.send_queue() == 0;
        if self.state == State::Leaving && flushed {
            socket.close();
        }
        let peer_closed = socket.state() == tcp::State::CloseWait;
        if self.state != State::Closed && (peer_closed || !socket.is_active()) {
            socket.close();
            self.state = State::Closed;
            on_event(ClientEvent::Closed);
        }
        self.iface
            .poll(now.instant, &mut self.device, &mut self.sockets);
    }

    /// A fresh random IV for the next token.
    fn iv(&mut self) -> [u8; IV_LEN] {
        let mut iv = [0u8; IV_LEN];
        self.rng.fill_bytes(&mut iv);
        iv
    }
}
