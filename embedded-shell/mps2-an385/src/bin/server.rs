//! `fernchat-server`: the fernchat relay on mps2-an385, listening on
//! 10.0.2.15 (QEMU's `hostfwd` brings a host port to it).
//!
//!     -append "[--key KEY] [--port 10101] [--ttl 300]"
//!
//! With `--key` the relay is keyed (`docs/PROTOCOL.md` section 6): it verifies every
//! token and says `/leave` for a client that vanishes. It runs until QEMU stops.

#![no_std]
#![no_main]
#![deny(unsafe_code)]

use core::fmt::Write;
use core::mem::MaybeUninit;
use cortex_m_rt::entry;
use fernchat_core::fernet::{Key, KeySet};
use fernchat_core::relay::{DEFAULT_RELAY_TTL, RelayPolicy};
use fernchat_embedded::{DEFAULT_PORT, Relay, RelayEvent, RelayStorage};
use fernchat_mps2::args::{self, ArgError, Args};
use fernchat_mps2::board::{self, ADDRESS, Board};
use fernchat_mps2::clock::Clock;
use fernchat_mps2::lan9118::{Lan9118, RX_BUF};
use fernchat_mps2::semihosting::{self, Console};
use rand_chacha::ChaCha20Rng;

/// Sockets: four clients and the spare that turns a fifth away.
const SOCKETS: usize = 5;
/// Each socket's receive and transmit buffer.
const SOCKET_BUF: usize = 2048;
/// The fan-out log: how far (bytes) a client may fall behind.
const LOG: usize = 16384;
/// Keys the relay holds (rotation needs two).
const KEYS: usize = 1;
/// Tokens remembered against replays (keyed mode).
const REPLAY: usize = 256;
/// The command line's length limit.
const CMDLINE: usize = 512;

const USAGE: &str = "usage: fernchat-server [--key KEY] [--port PORT] [--ttl SECONDS]";

/// What the command line asks for.
struct Options {
    key: Option<Key>,
    port: u16,
    ttl: u64,
}

impl Options {
    fn parse(line: &str) -> Result<Options, ArgError<'_>> {
        let mut args = Args::new(line);
        let mut options = Options {
            key: None,
            port: DEFAULT_PORT,
            ttl: DEFAULT_RELAY_TTL,
        };
        while let Some(word) = args.next() {
            match word {
                "--key" => options.key = Some(args::key(&mut args, word)?),
                "--port" => options.port = args::value(&mut args, word)?,
                "--ttl" => options.ttl = args::value(&mut args, word)?,
                _ => return Err(ArgError::Unknown(word)),
            }
        }
        Ok(options)
    }
}

type Storage = RelayStorage<'static, SOCKETS, SOCKET_BUF, LOG>;
type Policy = RelayPolicy<KEYS, REPLAY>;
type Server = Relay<'static, Lan9118, ChaCha20Rng, SOCKETS, KEYS, REPLAY>;

#[entry]
fn main() -> ! {
    static mut STORAGE: Storage = RelayStorage::new();
    static mut POLICY: MaybeUninit<Policy> = MaybeUninit::uninit();
    static mut LINE: [u8; CMDLINE] = [0; CMDLINE];
    static mut NIC_RX: [u8; RX_BUF] = [0; RX_BUF];
    static mut RELAY: MaybeUninit<Server> = MaybeUninit::uninit();
    let mut console = Console::open();
    let statics = Statics {
        storage: STORAGE,
        policy: POLICY,
        line: LINE,
        nic_rx: NIC_RX,
        relay: RELAY,
    };
    let (relay, clock) = start(statics, &mut console);
    serve(relay, clock, console)
}

/// Where the relay's state lives: `static`s, so that none of it is moved
/// across the stack.
struct Statics {
    storage: &'static mut Storage,
    policy: &'static mut MaybeUninit<Policy>,
    line: &'static mut [u8],
    nic_rx: &'static mut [u8; RX_BUF],
    relay: &'static mut MaybeUninit<Server>,
}

/// The poll loop. Out of line, like [`start`], so that the two never share
/// the stack.
#[inline(never)]
fn serve(relay: &mut Server, mut clock: Clock, mut console: Console) -> ! {
    loop {
        relay.poll(clock.now(), |event| report(&mut console, event));
        // Sleep until the next tick (1 ms) or interrupt.
        cortex_m::asm::wfi();
    }
}

/// Reads the command line, brings the board up and starts the relay. Out of
/// line, so that its large temporaries are off the stack before the poll
/// loop runs.
#[inline(never)]
fn start(statics: Statics, console: &mut Console) -> (&'static mut Server, Clock) {
    let line = semihosting::command_line(statics.line).unwrap_or_default();
    let options = match core::str::from_utf8(line).map(Options::parse) {
        Ok(Ok(options)) => options,
        Ok(Err(e)) => usage(console, &e),
        Err(e) => usage(console, &e),
    };
    // Written in place: the policy holds the replay cache and a token buffer.
    let policy = statics.policy.write(match options.key {
        Some(key) => RelayPolicy::keyed(KeySet::single(key), options.ttl),
        None => RelayPolicy::blind(),
    });
    let mode = if policy.is_keyed() { "keyed" } else { "blind" };
    let mut board = Board::init(statics.nic_rx).unwrap_or_else(|e| board::fail(console, &e));
    let now = board.clock.now();
    let relay = Relay::new(
        statics.storage,
        policy,
        board.nic,
        board.rng,
        &board.net,
        options.port,
        now,
    );
    let relay = statics.relay.write(relay);
    let (port, clients) = (options.port, Server::MAX_CLIENTS);
    let _ = writeln!(
        console,
        "relay listening on {ADDRESS}:{port} ({mode}, {clients} clients)"
    );
    (relay, board.clock)
}

/// Prints what the relay did, one line each (forwarded frames are not logged).
fn report(console: &mut Console, event: RelayEvent) {
    let _ = match event {
        RelayEvent::Joined {
            slot,
            peer: Some(peer),
        } => writeln!(console, "client {slot} joined from {peer}"),
        RelayEvent::Joined { slot, peer: None } => writeln!(console, "client {slot} joined"),
        RelayEvent::Refused { .. } => writeln!(console, "refused a connection: relay full"),
        RelayEvent::Forwarded { .. } => Ok(()),
        RelayEvent::Rejected { slot, reason } => {
            writeln!(console, "dropped a frame from client {slot}: {reason}")
        }
        RelayEvent::Left { slot, why } => writeln!(console, "client {slot} left: {why}"),
    };
}

/// Prints `error` and the usage line; ends QEMU with status 2.
fn usage(console: &mut Console, error: &dyn core::fmt::Display) -> ! {
    let _ = writeln!(console, "fernchat-server: {error}\n{USAGE}");
    semihosting::exit(2)
}
