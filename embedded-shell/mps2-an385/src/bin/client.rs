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
use fernchat_core::input::Input;
use fernchat_core::message::Body;
use fernchat_core::replay::ArrayStore;
use fernchat_core::session::Session;
use fernchat_embedded::{Client, ClientError, ClientEvent, ClientStorage};
use fernchat_mps2::args::{self, ArgError, Args};
use fernchat_mps2::board::{self, Board};
use fernchat_mps2::clock::Clock;
use fernchat_mps2::lan9118::{Lan9118, RX_BUF};
use fernchat_mps2::semihosting::{self, Console};
use fernchat_mps2::stack;
use rand_chacha::ChaCha20Rng;
use smoltcp::time::Duration;
use smoltcp::wire::IpEndpoint;

/// Each of the socket's receive and transmit buffers: frames stream
/// through them, so they may be far smaller than a frame; this is the TCP
/// window.
const SOCKET_BUF: usize = 1024;
/// Keys the client holds.
const KEYS: usize = 1;
/// Where tokens are remembered against replays: 64 entries in 14-second
/// buckets (2.1 KiB): a small room's traffic over the 300 s TTL. In a
/// `static` the session borrows.
type ReplayMemory = ArrayStore<64, 32>;
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
        let t = (self.unix % SECONDS_PER_DAY + shift) % SECONDS_PER_DAY;
        let zone = if self.offset.is_some() { "" } else { "Z" };
        write!(f, "{:02}:{:02}:{:02}{zone}", t / 3600, t / 60 % 60, t % 60)
    }
}

/// What the command line asks for.
struct Options<'a> {
    keys: KeySet<KEYS>,
    server: IpEndpoint,
    nick: &'a str,
    wait: u32,
    timeout: u64,
    utc_offset: Option<UtcOffset>,
    messages: Args<'a>,
}

impl<'a> Options<'a> {
    fn parse(line: &'a str) -> Result<Options<'a>, ArgError<'a>> {
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
                "--connect" => server = Some(args::value(&mut args, word)?),
                "--nick" => nick = Some(args.next().ok_or(ArgError::BadValue(word))?),
                "--wait" => wait = args::value(&mut args, word)?,
                "--timeout" => timeout = args::value(&mut args, word)?,
                "--utc-offset" => utc_offset = Some(args::value(&mut args, word)?),
                _ => return Err(ArgError::Unknown(word)),
            }
        }
        Ok(Options {
            keys: KeySet::single(key.ok_or(ArgError::Missing("--key"))?),
            server: server.ok_or(ArgError::Missing("--connect"))?,
            nick: nick.ok_or(ArgError::Missing("--nick"))?,
            wait,
            timeout,
            utc_offset,
            messages: args,
        })
    }
}

type Storage = ClientStorage<'static, SOCKET_BUF>;
type Chat = Session<KEYS, Replay>;
type Peer = Client<'static, Lan9118, ChaCha20Rng, KEYS, Replay>;

#[entry]
fn main() -> ! {
    static mut STORAGE: Storage = ClientStorage::new();
    static mut SESSION: MaybeUninit<Chat> = MaybeUninit::uninit();
    static mut REPLAY: ReplayMemory = ArrayStore::new();
    static mut LINE: [u8; CMDLINE] = [0; CMDLINE];
    static mut NIC_RX: [u8; RX_BUF] = [0; RX_BUF];
    static mut CLIENT: MaybeUninit<Peer> = MaybeUninit::uninit();
    stack::paint();
    let mut console = Console::open();
    let statics = Statics {
        storage: STORAGE,
        session: SESSION,
        replay: REPLAY,
        line: LINE,
        nic_rx: NIC_RX,
        client: CLIENT,
    };
    let (client, mut clock, options) = start(statics, &mut console);
    let status = chat(client, &mut clock, &options, &mut console);
    let (peak, reserve) = (stack::peak(), stack::reserve());
    let _ = writeln!(console, "stack: {peak} of {reserve} bytes used at most");
    semihosting::exit(status)
}

/// Where the client's state lives: `static`s, so that none of it is moved
/// across the stack.
struct Statics {
    storage: &'static mut Storage,
    session: &'static mut MaybeUninit<Chat>,
    replay: Replay,
    line: &'static mut [u8],
    nic_rx: &'static mut [u8; RX_BUF],
    client: &'static mut MaybeUninit<Peer>,
}

/// Reads the command line, brings the board up and starts connecting. Out of
/// line, so that its large temporaries are off the stack before the poll
/// loop runs.
#[inline(never)]
fn start(statics: Statics, console: &mut Console) -> (&'static mut Peer, Clock, Options<'static>) {
    let line = semihosting::command_line(statics.line).unwrap_or_default();
    let options = match core::str::from_utf8(line).map(Options::parse) {
        Ok(Ok(options)) => options,
        Ok(Err(e)) => usage(console, &e),
        Err(e) => usage(console, &e),
    };
    // Written in place: the session holds a frame buffer (where frames are
    // decrypted) and borrows the replay cache.
    let session = match Session::with_store(
        options.keys.clone(),
        options.nick,
        Some(TTL),
        statics.replay,
    ) {
        Ok(chat) => statics.session.write(chat),
        Err(e) => usage(console, &e),
    };
    let board = Board::init(statics.nic_rx).unwrap_or_else(|e| board::fail(console, &e));
    let mut clock = board.clock;
    let now = clock.now();
    let client = Client::new(
        statics.storage,
        session,
        board.nic,
        board.rng,
        &board.net,
        options.server,
        now,
    );
    let client = client.unwrap_or_else(|e| board::fail(console, &e));
    (statics.client.write(client), clock, options)
}

/// Runs the conversation; gives the exit status. Out of line, like
/// [`start`], so that the two never share the stack.
#[inline(never)]
fn chat(
    client: &mut Peer,
    clock: &mut Clock,
    options: &Options<'static>,
    console: &mut Console,
) -> u8 {
    let deadline = clock.now().instant + Duration::from_secs(options.timeout);
    let mut messages = options.messages.clone();
    let mut next = messages.next();
    let (mut connected, mut closed, mut heard, mut leaving) = (false, false, 0, false);
    loop {
        let now = clock.now();
        client.poll(now, |event| match event {
            ClientEvent::Connected => {
                connected = true;
                let _ = writeln!(
                    console,
                    "connected to {} as {}",
                    options.server, options.nick
                );
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
                    let _ = writeln!(console, "not sent: \"{text}\" is not a message");
                    Ok(())
                }
            };
            match said {
                Ok(()) => next = messages.next(),
                Err(ClientError::Busy) => break,
                Err(e) => {
                    let _ = writeln!(console, "cannot send \"{text}\": {e}");
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

/// Prints `error` and the usage line; ends QEMU with status 2.
fn usage(console: &mut Console, error: &dyn core::fmt::Display) -> ! {
    let _ = writeln!(console, "fernchat-client: {error}\n{USAGE}");
    semihosting::exit(2)
}
