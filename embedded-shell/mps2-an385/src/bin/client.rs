//! `fernchat-client`: a fernchat client on mps2-an385. It joins the relay,
//! says each MESSAGE (typed as in any client: `/me TEXT` for an action,
//! `//TEXT` for a text that starts with `/`), prints what the room says,
//! and once it has seen `--wait` messages from others it leaves and exits 0.
//!
//!     -append "--key KEY --connect 10.0.2.2:10101 --nick NICK [--wait 1]
//!              [--timeout 60] [--utc-offset +HH:MM]
//!              [MESSAGE | \"A MESSAGE WITH SPACES\"]..."
//!
//! Messages show as `[HH:MM:SS] <nick> text`, with the time the sender wrote
//! into the token. The protocol asks for local time, but the board has no
//! time zone database: it shows UTC, marked as such (`[12:00:00Z]`), unless
//! the host passes its offset from UTC with `--utc-offset` (`cargo xtask
//! qemu client` passes the host's), and then local time, as the std client.
//!
//! Exit status: 0 done, 1 timed out or the relay closed the connection,
//! 2 bad arguments, 3 the board or the connection could not start.

#![no_std]
#![no_main]
#![deny(unsafe_code)]

use core::fmt::Write;
use core::mem::MaybeUninit;
use cortex_m_rt::entry;
use fernchat_core::fernet::KeySet;
use fernchat_core::frame::FrameDecoder;
use fernchat_core::input::Input;
use fernchat_core::message::Body;
use fernchat_core::replay::ArrayStore;
use fernchat_core::session::Session;
use fernchat_embedded::{Client, ClientError, ClientEvent, ClientStorage};
use fernchat_mps2::args::{self, ArgError, Args};
use fernchat_mps2::board::{self, Board};
use fernchat_mps2::clock::Clock;
use fernchat_mps2::lan9118::{Lan9118, RX_BUF};
use fernchat_mps2::rng::AesCtrRng;
use fernchat_mps2::semihosting::{self, Console};
use fernchat_mps2::stack;
use smoltcp::time::Duration;
use smoltcp::wire::IpEndpoint;

/// Each of the socket's receive and transmit buffers: frames stream
/// through them, so they may be far smaller than a frame; this is the TCP
/// window.
const SOCKET_BUF: usize = 512;
/// Keys the client holds.
const KEYS: usize = 1;
/// Where tokens are remembered against replays: 32 entries in 23-second
/// buckets (1 KiB), in a `static` the session borrows: a small room's
/// traffic, 32 messages within the 300 s TTL and 60 s of skew. Past that
/// a replay of the oldest, or a token delayed behind all 32, is dropped as
/// unverifiable; fresh messages are never lost.
type ReplayMemory = ArrayStore<32, 16>;
type Replay = &'static mut ReplayMemory;
/// Token age limit, seconds (as the std client's default).
const TTL: u64 = 300;
/// The command line's length limit: it carries the messages, which are
/// sent straight from it, so it holds the longest (3,003 bytes of text for
/// a 5-byte nick) with the options.
const CMDLINE: usize = 3328;

const USAGE: &str = "usage: fernchat-client --key KEY --connect ADDR:PORT --nick NICK \
                     [--wait N] [--timeout SECONDS] [--utc-offset +HH:MM] [MESSAGE]...";

/// Local time's offset from UTC, in minutes, as `--utc-offset` gives it:
/// `+HH:MM` or `-HH:MM`, which `date +%:z` prints.
#[derive(Clone, Copy)]
struct UtcOffset(i32);

impl core::str::FromStr for UtcOffset {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, ()> {
        let &[sign, h1, h0, b':', m1, m0] = text.as_bytes() else {
            return Err(());
        };
        let sign = match sign {
            b'+' => 1,
            b'-' => -1,
            _ => return Err(()),
        };
        let number = |tens: u8, ones: u8| match (tens, ones) {
            (b'0'..=b'9', b'0'..=b'9') => Ok(i32::from(tens - b'0') * 10 + i32::from(ones - b'0')),
            _ => Err(()),
        };
        match (number(h1, h0)?, number(m1, m0)?) {
            (hours @ 0..24, minutes @ 0..60) => Ok(UtcOffset(sign * (hours * 60 + minutes))),
            _ => Err(()),
        }
    }
}

/// A token's time of day as the client shows it: `HH:MM:SSZ` in UTC, or
/// `HH:MM:SS` in local time when the offset is known.
struct TimeOfDay {
    unix: u64,
    offset: Option<UtcOffset>,
}

impl core::fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        const SECONDS_PER_DAY: u64 = 86_400;
        // An offset is less than a day either way: a day plus it is positive.
        let shift = self.offset.map_or(0, |UtcOffset(minutes)| {
            SECONDS_PER_DAY.saturating_add_signed(60 * i64::from(minutes))
        });
        // Under a day: formatted as a u32, which spares core's u64 formatting.
        let t = ((self.unix % SECONDS_PER_DAY + shift) % SECONDS_PER_DAY) as u32;
        let zone = if self.offset.is_some() { "" } else { "Z" };
        write!(f, "{:02}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60)?;
        f.write_str(zone)
    }
}

/// What the command line asks for, besides the key.
struct Options<'a> {
    server: IpEndpoint,
    /// The relay's address as given, for the console (formatting an
    /// `IpEndpoint` would bring in core's IPv4 formatting: 0.6 KiB).
    server_text: &'a str,
    nick: &'a str,
    wait: u32,
    timeout: u32,
    utc_offset: Option<UtcOffset>,
    messages: Args<'a>,
}

impl<'a> Options<'a> {
    /// The key and the rest of the options: the key goes into the session,
    /// the rest lives on in `main`'s frame, which stays small.
    fn parse(line: &'a str) -> Result<(KeySet<KEYS>, Options<'a>), ArgError<'a>> {
        let mut args = Args::new(line);
        let (mut key, mut server, mut nick, mut wait, mut timeout) = (None, None, None, 1, 60);
        let mut utc_offset = None;
        loop {
            let mut peek = args.clone();
            let word = match peek.next() {
                Some(word) if word.starts_with("--") => word,
                _ => break,
            };
            args = peek;
            match word {
                "--key" => key = Some(args::key(&mut args, word)?),
                "--connect" => {
                    let text = args.clone().next().unwrap_or_default();
                    server = Some((args::value(&mut args, word)?, text));
                }
                "--nick" => nick = Some(args.next().ok_or(ArgError::BadValue(word))?),
                "--wait" => wait = args::value(&mut args, word)?,
                "--timeout" => timeout = args::value(&mut args, word)?,
                "--utc-offset" => utc_offset = Some(args::value(&mut args, word)?),
                _ => return Err(ArgError::Unknown(word)),
            }
        }
        let keys = KeySet::single(key.ok_or(ArgError::Missing("--key"))?);
        let options = Options {
            server: server.ok_or(ArgError::Missing("--connect"))?.0,
            server_text: server.map_or("", |(_, text)| text),
            nick: nick.ok_or(ArgError::Missing("--nick"))?,
            wait,
            timeout,
            utc_offset,
            messages: args,
        };
        Ok((keys, options))
    }
}

type Storage = ClientStorage<'static, SOCKET_BUF>;
type Frames = &'static mut FrameDecoder;
type Chat = Session<KEYS, Replay, Frames>;
type Peer = Client<'static, Lan9118, AesCtrRng, KEYS, Replay, Frames>;

#[entry]
fn main() -> ! {
    static mut STORAGE: Storage = ClientStorage::new();
    static mut SESSION: MaybeUninit<Chat> = MaybeUninit::uninit();
    static mut REPLAY: ReplayMemory = ArrayStore::new();
    static mut FRAMES: FrameDecoder = FrameDecoder::new();
    static mut LINE: [u8; CMDLINE] = [0; CMDLINE];
    static mut NIC_RX: [u8; RX_BUF] = [0; RX_BUF];
    static mut CLIENT: MaybeUninit<Peer> = MaybeUninit::uninit();
    stack::paint();
    let mut console = Console::open();
    // One step after the other, each out of line, so that the temporaries
    // of one are off the stack before the next runs.
    let (session, options) = open_session(SESSION, REPLAY, FRAMES, LINE, &mut console);
    let (client, mut clock) = connect(STORAGE, session, NIC_RX, CLIENT, &options, &mut console);
    let status = chat(client, &mut clock, &options, &mut console);
    let (peak, reserve) = (stack::peak(), stack::reserve());
    let _ = writeln!(console, "stack: {peak} of {reserve} bytes used at most");
    semihosting::exit(status)
}

/// Brings the board up and starts connecting, with the client in its
/// `static` (its buffers in `storage`).
#[inline(never)]
fn connect(
    storage: &'static mut Storage,
    session: &'static mut Chat,
    nic_rx: &'static mut [u8; RX_BUF],
    client: &'static mut MaybeUninit<Peer>,
    options: &Options<'static>,
    console: &mut Console,
) -> (&'static mut Peer, Clock) {
    let board = Board::init(nic_rx).unwrap_or_else(|e| board::fail(console, &e));
    let mut clock = board.clock;
    let now = clock.now();
    let started = Client::new(
        storage,
        session,
        board.nic,
        board.rng,
        &board.net,
        options.server,
        now,
    );
    let started = started.unwrap_or_else(|e| board::fail(console, &e));
    (client.write(started), clock)
}

/// Reads the command line and sets the session up in its `static`: small,
/// as it borrows its frame buffer (where frames are decrypted) and its
/// replay memory from statics of their own.
#[inline(never)]
fn open_session(
    session: &'static mut MaybeUninit<Chat>,
    replay: Replay,
    frames: Frames,
    line: &'static mut [u8],
    console: &mut Console,
) -> (&'static mut Chat, Options<'static>) {
    let line = semihosting::command_line(line).unwrap_or_default();
    let (keys, options) = match core::str::from_utf8(line).map(Options::parse) {
        Ok(Ok(parsed)) => parsed,
        Ok(Err(e)) => usage(console, &e),
        // Said plainly: `Utf8Error`'s own message would bring in integer
        // formatting for the byte counts it gives.
        Err(_) => usage(console, &NotUtf8),
    };
    match Session::with_parts(keys, options.nick, Some(TTL), replay, frames) {
        Ok(chat) => (session.write(chat), options),
        Err(e) => usage(console, &e),
    }
}

/// Runs the conversation; gives the exit status. Out of line, like
/// [`connect`], so that the two never share the stack.
#[inline(never)]
fn chat(
    client: &mut Peer,
    clock: &mut Clock,
    options: &Options<'static>,
    console: &mut Console,
) -> u8 {
    let deadline = clock.now().instant + Duration::from_secs(options.timeout.into());
    let mut messages = options.messages.clone();
    let mut next = messages.next();
    let (mut connected, mut closed, mut heard, mut leaving) = (false, false, 0, false);
    loop {
        let now = clock.now();
        client.poll(now, |event| match event {
            ClientEvent::Connected => {
                connected = true;
                console.line(&["connected to ", options.server_text, " as ", options.nick]);
            }
            ClientEvent::Message(message) => {
                if matches!(message.payload.body, Body::Text(_) | Body::Me(_)) {
                    heard += 1;
                }
                let time = TimeOfDay {
                    unix: message.timestamp,
                    offset: options.utc_offset,
                };
                let _ = writeln!(console, "[{time}] {}", message.payload);
            }
            ClientEvent::Dropped(dropped) => {
                let _ = writeln!(console, "{dropped}");
            }
            ClientEvent::Notice(notice) => {
                let _ = writeln!(console, "relay: {notice}");
            }
            ClientEvent::Closed => closed = true,
        });
        while let (true, Some(text)) = (connected, next) {
            let said = match Input::parse(text) {
                Input::Send(body) => client.send(body, now),
                // The messages after `/quit` are not said.
                Input::Quit => {
                    next = None;
                    break;
                }
                Input::Help | Input::Nothing | Input::Unknown(_) => {
                    console.line(&["not sent: \"", text, "\" is not a message"]);
                    Ok(())
                }
            };
            match said {
                Ok(()) => next = messages.next(),
                Err(ClientError::Busy) => break,
                Err(e) => {
                    console.parts(&["cannot send \"", text, "\": "]);
                    let _ = writeln!(console, "{e}");
                    next = messages.next();
                }
            }
        }
        if next.is_none()
            && heard >= options.wait
            && !leaving
            && client.send(Body::Leave, now).is_ok()
        {
            leaving = true;
        }
        if closed {
            if leaving {
                let _ = writeln!(console, "left");
                return 0;
            }
            let _ = writeln!(console, "the relay closed the connection");
            return 1;
        }
        if now.instant > deadline {
            let _ = writeln!(
                console,
                "timed out after {} s, heard {heard} messages",
                options.timeout
            );
            return 1;
        }
        cortex_m::asm::wfi();
    }
}

/// A command line that is not UTF-8.
struct NotUtf8;

impl core::fmt::Display for NotUtf8 {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("the command line is not UTF-8")
    }
}

/// Prints `error` and the usage line; ends QEMU with status 2.
fn usage(console: &mut Console, error: &dyn core::fmt::Display) -> ! {
    let _ = writeln!(console, "fernchat-client: {error}");
    console.line(&[USAGE]);
    semihosting::exit(2)
}
