//! The chat client over one smoltcp TCP socket (`docs/PROTOCOL.md` section
//! 7): every decision (sealing, decrypting, replay and freshness) is the
//! core [`Session`]'s; this shell moves bytes.

mod storage;

pub use storage::ClientStorage;

use crate::net::NetConfig;
use crate::now::Now;
use core::borrow::BorrowMut;
use fernchat_core::frame::FrameDecoder;
use fernchat_core::message::Body;
use fernchat_core::replay::ReplayStore;
use fernchat_core::room::Notice;
use fernchat_core::seal::{FrameStream, SealError};
use fernchat_core::session::{Dropped, Opener, Received, Sealer, Session};
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
    /// A frame is still on its way out: poll, then try again.
    Busy,
    /// The client is leaving or has closed.
    Closed,
    /// The message is too long for one frame.
    TooLong {
        /// The payload's length in bytes.
        len: usize,
    },
}

impl core::fmt::Display for ClientError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ClientError::Connect(e) => write!(f, "cannot connect: {e}"),
            ClientError::Busy => f.write_str("a frame is still being sent"),
            ClientError::Closed => f.write_str("the connection is closed"),
            ClientError::TooLong { len } => SealError::TooLong { len: *len }.fmt(f),
        }
    }
}

impl From<SealError> for ClientError {
    fn from(error: SealError) -> Self {
        match error {
            SealError::Buffer(_) => ClientError::Busy,
            SealError::TooLong { len } => ClientError::TooLong { len },
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
    /// The relay said why it is closing the connection (`!full`,
    /// `!slow`...: `docs/PROTOCOL.md` section 6, Notices).
    Notice(Notice),
    /// The connection is closed: after `/leave` was sent, or by the relay,
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
///
/// Frames go out as a stream sealed straight into the socket's transmit
/// buffer, one at a time, so the client holds no frame of its own: the body
/// of the frame on its way out is borrowed until it is sent (hence
/// `Body<'a>`), and frames come in through the session's one frame buffer,
/// where they are decrypted.
pub struct Client<
    'a,
    D: Device,
    G: RngCore + CryptoRng,
    const K: usize,
    S: ReplayStore,
    F: BorrowMut<FrameDecoder> = FrameDecoder,
> {
    device: D,
    rng: G,
    iface: Interface,
    sockets: SocketSet<'a>,
    handle: SocketHandle,
    sealer: &'a Sealer<K>,
    opener: &'a mut Opener<K, S, F>,
    /// The frame on its way out, if any.
    sending: Option<FrameStream<'a>>,
    state: State,
}

impl<'a, D, G, const K: usize, S, F> Client<'a, D, G, K, S, F>
where
    D: Device,
    G: RngCore + CryptoRng,
    S: ReplayStore,
    F: BorrowMut<FrameDecoder>,
{
    /// Starts connecting to the relay at `server` as `session`'s nick, with
    /// its `/join` frame queued first.
    pub fn new<const BUF: usize>(
        storage: &'a mut ClientStorage<'a, BUF>,
        session: &'a mut Session<K, S, F>,
        mut device: D,
        mut rng: G,
        net: &NetConfig,
        server: IpEndpoint,
        now: Now,
    ) -> Result<Self, ClientError> {
        let mut iface = net.interface(&mut device, rng.next_u64(), now.instant);
        let (sockets, mut socket) = storage.split();
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
            sealer: &session.sealer,
            opener: &mut session.opener,
            sending: None,
            state: State::Connecting,
        };
        client.queue(Body::Join, now)?;
        Ok(client)
    }

    /// Sends `body` (a message, `/me`, or `/leave`, after which the
    /// connection closes once it is sent): it streams out on the next polls,
    /// read from `body` as it goes, and [`ClientError::Busy`] says the last
    /// one has not gone yet. The one way to send.
    pub fn send(&mut self, body: Body<'a>, now: Now) -> Result<(), ClientError> {
        if matches!(self.state, State::Leaving | State::Closed) {
            return Err(ClientError::Closed);
        }
        self.queue(body, now)?;
        if body == Body::Leave {
            self.state = State::Leaving;
        }
        Ok(())
    }

    /// Starts streaming `body`'s frame under a fresh IV.
    fn queue(&mut self, body: Body<'a>, now: Now) -> Result<(), ClientError> {
        if self.sending.is_some() {
            return Err(ClientError::Busy);
        }
        self.sending = Some(self.sealer.stream(body, now.unix, &mut self.rng)?);
        Ok(())
    }

    /// True while a frame is on its way out.
    pub fn is_sending(&self) -> bool {
        self.sending.is_some()
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
        // Sealed straight into the transmit buffer's free space (in two
        // pieces where it wraps around).
        while let Some(stream) = &mut self.sending
            && socket.can_send()
        {
            match socket.send(|room| {
                let n = stream.fill(room);
                (n, n)
            }) {
                Ok(n) if n > 0 => {}
                _ => break,
            }
            if stream.is_done() {
                self.sending = None;
            }
        }
        let opener = &mut *self.opener;
        while socket.can_recv() {
            let read = socket.recv(|data| {
                let mut used = 0;
                loop {
                    let step = opener.receive(&data[used..], now.unix);
                    used += step.consumed;
                    match step.message {
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
        if let Some(dropped) = opener.take_dropped() {
            on_event(ClientEvent::Dropped(dropped));
        }
        if let Some(notice) = opener.take_notice() {
            on_event(ClientEvent::Notice(notice));
        }
        let flushed = self.sending.is_none() && socket.send_queue() == 0;
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
}
