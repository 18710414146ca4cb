//! `fernchat-server`: the fernchat relay on mps2-an385, listening on
//! 10.0.2.15 (QEMU's `hostfwd` brings a host port to it).
//!
//!     -append "[--key KEY] [--port 10101] [--ttl 300] [--max-per-ip 0]
//!              [--hello-timeout 10] [--slow-timeout 10]"
//!
//! With `--key` the relay is keyed (`docs/PROTOCOL.md` section 6): it verifies every
//! token and says `/leave` for a client that vanishes. It serves 4 clients;
//! one that sends no valid frame within the hello timeout, or takes none of
//! the frames waiting for it within the slow timeout, is told why and
//! closed. It runs until QEMU stops.

#![no_std]
#![no_main]
#![deny(unsafe_code)]

use core::fmt::Write;
use core::mem::MaybeUninit;
use cortex_m_rt::entry;
use fernchat_core::fernet::{Key, KeySet};
use fernchat_core::relay::{DEFAULT_RELAY_TTL, RelayPolicy};
use fernchat_core::replay::ArrayStore;
use fernchat_core::room::{Limits, Now, Room, SeatMemory};
use fernchat_embedded::{DEFAULT_PORT, Relay, RelayEvent, RelayRoom, RelayStorage};
use fernchat_mps2::args::{self, ArgError, Args};
use fernchat_mps2::board::{self, ADDRESS, Board};
use fernchat_mps2::clock::Clock;
use fernchat_mps2::lan9118::{Lan9118, RX_BUF};
use fernchat_mps2::rng::AesCtrRng;
use fernchat_mps2::semihosting::{self, Console};
use fernchat_mps2::stack;

/// Sockets: four clients and the spare that turns a fifth away.
const SOCKETS: usize = 5;
/// Each socket's receive and transmit buffer: frames stream through them
/// (into each client's frame buffer, out of the fan-out log), so they may
/// be far smaller than a frame; this is the TCP window.
const SOCKET_BUF: usize = 512;
/// The fan-out log: how much (bytes) may wait for the slowest client
/// before senders wait; it holds a whole frame and a `/leave` per socket.
const LOG: usize = 8192;
/// Keys the relay holds (rotation needs two).
const KEYS: usize = 1;
/// Where a keyed relay remembers tokens against replays: 64 entries in
/// 12-second buckets (2 KiB), in a `static` the policy borrows: a small
/// room's traffic, 64 frames within the 300 s TTL and 60 s of skew. Past
/// that a replay of the oldest, or a token delayed behind all 64, is
/// refused as unverifiable; fresh frames always pass.
type ReplayMemory = ArrayStore<64, 32>;
type Replay = &'static mut ReplayMemory;
/// The command line's length limit.
const CMDLINE: usize = 256;
/// Clients from one address at most, unless told otherwise: no limit
/// (`0`), because QEMU's user network shows every connection from the host
/// as coming from its gateway, 10.0.2.2; a limit would count them all as
/// one address.
const MAX_PER_IP: usize = 0;
/// Seconds a client may take to send its first valid frame.
const HELLO_TIMEOUT: u32 = 10;
/// Seconds a client may take none of the frames waiting for it.
const SLOW_TIMEOUT: u32 = 10;

const USAGE: &str = "usage: fernchat-server [--key KEY] [--port PORT] [--ttl SECONDS] \
                     [--max-per-ip N] [--hello-timeout SECONDS] [--slow-timeout SECONDS]";

/// What the command line asks for, besides the key.
struct Options {
    port: u16,
    ttl: u64,
    max_per_ip: usize,
    hello_timeout: u32,
    slow_timeout: u32,
}

impl Options {
    /// The key, if any, and the rest of the options: the key goes into the
    /// room's policy, the rest lives on in `main`'s frame, which stays small.
    fn parse(line: &str) -> Result<(Option<Key>, Options), ArgError<'_>> {
        let mut args = Args::new(line);
        let mut key = None;
        let mut options = Options {
            port: DEFAULT_PORT,
            ttl: DEFAULT_RELAY_TTL,
            max_per_ip: MAX_PER_IP,
            hello_timeout: HELLO_TIMEOUT,
            slow_timeout: SLOW_TIMEOUT,
        };
        while let Some(word) = args.next() {
            match word {
                "--key" => key = Some(args::key(&mut args, word)?),
                "--port" => options.port = args::value(&mut args, word)?,
                "--ttl" => options.ttl = args::value(&mut args, word)?,
                "--max-per-ip" => options.max_per_ip = args::value(&mut args, word)?,
                "--hello-timeout" => options.hello_timeout = args::value(&mut args, word)?,
                "--slow-timeout" => options.slow_timeout = args::value(&mut args, word)?,
                _ => return Err(ArgError::Unknown(word)),
            }
        }
        Ok((key, options))
    }

    /// The room's limits: every client slot, and the deadlines asked for.
    fn limits(&self) -> Limits {
        Limits {
            max_clients: Server::MAX_CLIENTS,
            max_per_ip: self.max_per_ip,
            hello_timeout_ms: u64::from(self.hello_timeout) * 1000,
            slow_timeout_ms: u64::from(self.slow_timeout) * 1000,
            max_rate: None,
        }
    }
}

type Storage = RelayStorage<'static, SOCKETS, SOCKET_BUF, LOG>;
type Server = Relay<'static, Lan9118, AesCtrRng, SOCKETS, KEYS, Replay>;
type ServerRoom = RelayRoom<'static, SOCKETS, KEYS, Replay>;

#[entry]
fn main() -> ! {
    static mut STORAGE: Storage = RelayStorage::new();
    static mut ROOM: MaybeUninit<ServerRoom> = MaybeUninit::uninit();
    static mut SEATS: SeatMemory<SOCKETS> = SeatMemory::new();
    static mut REPLAY: ReplayMemory = ArrayStore::new();
    static mut LINE: [u8; CMDLINE] = [0; CMDLINE];
    static mut NIC_RX: [u8; RX_BUF] = [0; RX_BUF];
    static mut RELAY: MaybeUninit<Server> = MaybeUninit::uninit();
    stack::paint();
    let mut console = Console::open();
    // One step after the other, each out of line, so that the temporaries
    // of one are off the stack before the next runs.
    let (room, options) = open_room(ROOM, SEATS, REPLAY, LINE, &mut console);
    let (relay, clock) = listen(STORAGE, room, NIC_RX, RELAY, &options, &mut console);
    serve(relay, clock, console)
}

/// The poll loop. Out of line, like [`listen`], so that the two never
/// share the stack.
#[inline(never)]
fn serve(relay: &mut Server, mut clock: Clock, console: Console) -> ! {
    let mut log = ConsoleLog::new(console);
    loop {
        let now = clock.now();
        let millis = now.instant.total_millis();
        relay.poll(now, |event| log.report(event, millis));
        // Sleep until the next tick (1 ms) or interrupt.
        cortex_m::asm::wfi();
    }
}

/// Reads the command line and sets the room up in its `static`: small, as
/// its policy borrows the replay memory and verifies tokens with no buffer
/// of their size.
#[inline(never)]
fn open_room(
    room: &'static mut MaybeUninit<ServerRoom>,
    seats: &'static mut SeatMemory<SOCKETS>,
    replay: Replay,
    line: &'static mut [u8],
    console: &mut Console,
) -> (&'static mut ServerRoom, Options) {
    let line = semihosting::command_line(line).unwrap_or_default();
    let (key, options) = match core::str::from_utf8(line).map(Options::parse) {
        Ok(Ok(parsed)) => parsed,
        Ok(Err(e)) => usage(console, &e),
        Err(e) => usage(console, &e),
    };
    let policy = match key {
        Some(key) => RelayPolicy::keyed(KeySet::single(key), options.ttl, replay),
        None => RelayPolicy::blind(),
    };
    let opened = Now {
        unix: semihosting::unix_time(),
        millis: 0,
    };
    let room = room.write(Room::new(policy, options.limits(), seats.seats(), opened));
    (room, options)
}

/// Brings the board up and starts the relay in its `static` (its buffers
/// in `storage`); says so on the console.
#[inline(never)]
fn listen(
    storage: &'static mut Storage,
    room: &'static mut ServerRoom,
    nic_rx: &'static mut [u8; RX_BUF],
    relay: &'static mut MaybeUninit<Server>,
    options: &Options,
    console: &mut Console,
) -> (&'static mut Server, Clock) {
    let mode = if room.policy().is_keyed() {
        "keyed"
    } else {
        "blind"
    };
    let mut board = Board::init(nic_rx).unwrap_or_else(|e| board::fail(console, &e));
    let now = board.clock.now();
    let started = Relay::new(
        storage,
        room,
        board.nic,
        board.rng,
        &board.net,
        options.port,
        now,
    );
    let relay = relay.write(started);
    let (port, clients) = (options.port, Server::MAX_CLIENTS);
    let (hello, slow) = (options.hello_timeout, options.slow_timeout);
    let _ = writeln!(
        console,
        "relay listening on {ADDRESS}:{port} ({mode}, {clients} clients, \
         hello timeout {hello} s, slow timeout {slow} s)"
    );
    if options.max_per_ip > 0 {
        let _ = writeln!(
            console,
            "at most {} clients per address",
            options.max_per_ip
        );
    }
    (relay, board.clock)
}

/// The relay's console log: one line per event (forwarded frames are not
/// logged), at most [`LINES_PER_SECOND`] lines a second, so that no flood of
/// connections or bad frames can stall the relay on a slow console; lines
/// past the budget are counted and the count is printed when it refills.
struct ConsoleLog {
    console: Console,
    /// Lines that may still be printed in the current second.
    budget: u32,
    /// The second the budget is for (of the monotonic clock).
    second: i64,
    /// Lines not printed since the budget ran out.
    suppressed: u32,
    /// The stack's high-water mark as last printed, bytes.
    stack_shown: u32,
}

/// Console lines a second, at most (each under 120 bytes).
const LINES_PER_SECOND: u32 = 20;

impl ConsoleLog {
    fn new(console: Console) -> Self {
        ConsoleLog {
            console,
            budget: LINES_PER_SECOND,
            second: 0,
            suppressed: 0,
            stack_shown: 0,
        }
    }

    /// Prints the stack's high-water mark when it has grown since it was
    /// last printed (the relay runs until QEMU stops: `cargo xtask size`
    /// reads the last such line).
    fn report_stack(&mut self) -> core::fmt::Result {
        let peak = stack::peak();
        if peak <= self.stack_shown {
            return Ok(());
        }
        self.stack_shown = peak;
        let reserve = stack::reserve();
        writeln!(
            self.console,
            "stack: {peak} of {reserve} bytes used at most"
        )
    }

    /// Prints what the relay did at `millis`, within the budget.
    fn report(&mut self, event: RelayEvent, millis: i64) {
        if matches!(
            event,
            RelayEvent::Forwarded { .. } | RelayEvent::Dropped { first: false, .. }
        ) {
            return;
        }
        if millis / 1000 != self.second {
            self.second = millis / 1000;
            self.budget = LINES_PER_SECOND;
            if self.suppressed > 0 {
                let _ = writeln!(
                    self.console,
                    "({} console lines not shown: too many)",
                    self.suppressed
                );
                self.suppressed = 0;
                self.budget -= 1;
            }
        }
        if self.budget == 0 {
            self.suppressed = self.suppressed.saturating_add(1);
            return;
        }
        self.budget -= 1;
        let console = &mut self.console;
        let _ = match event {
            RelayEvent::Joined {
                slot,
                peer: Some(peer),
            } => writeln!(console, "client {slot} joined from {peer}"),
            RelayEvent::Joined { slot, peer: None } => writeln!(console, "client {slot} joined"),
            RelayEvent::Refused {
                peer: Some(peer),
                notice,
            } => writeln!(console, "refused {peer}: {notice}"),
            RelayEvent::Refused { peer: None, notice } => {
                writeln!(console, "refused a connection: {notice}")
            }
            RelayEvent::Forwarded { .. } => Ok(()),
            RelayEvent::Dropped { slot, refusal, .. } => writeln!(
                console,
                "dropped a frame from client {slot}: {refusal} (more are summarised)"
            ),
            RelayEvent::Summary { slot, summary } => {
                writeln!(console, "client {slot}: {summary}")
            }
            RelayEvent::Left { slot, why } => {
                let _ = writeln!(console, "client {slot} left: {why}");
                self.report_stack()
            }
        };
    }
}

/// Prints `error` and the usage line; ends QEMU with status 2.
fn usage(console: &mut Console, error: &dyn core::fmt::Display) -> ! {
    let _ = writeln!(console, "fernchat-server: {error}\n{USAGE}");
    semihosting::exit(2)
}
