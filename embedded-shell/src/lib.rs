//! fernchat-embedded: the fernchat relay and chat client on smoltcp, with no
//! heap and no operating system.
//!
//! - [`Relay`]: a relay server with a fixed number of sockets driving the
//!   core's [`Room`], which makes every decision: admission, the verdict on
//!   each frame, back-pressure, deadlines and departures. Frames fan out
//!   through one shared [`FanoutLog`] that never overwrites what a client
//!   has not read: a sender waits for room, and a client that takes nothing
//!   for the slow timeout is closed.
//! - [`Client`]: a chat client driving the core's [`Session`].
//!
//! Both are plain structs over a [`smoltcp::phy::Device`] and a
//! cryptographic RNG, driven by a `poll(now)` call; their buffers live in a
//! storage struct ([`RelayStorage`], [`ClientStorage`]) that the caller puts
//! where it likes (a `static` on a microcontroller). Porting to a board takes a
//! `Device` for its NIC, a clock to fill [`Now`] and an RNG.
//!
//! [`Room`]: fernchat_core::room::Room
//! [`Session`]: fernchat_core::session::Session

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod client;
mod fanout;
mod net;
mod now;
mod relay;

pub use client::{Client, ClientError, ClientEvent, ClientStorage};
pub use fanout::FanoutLog;
pub use net::NetConfig;
pub use now::Now;
pub use relay::{Relay, RelayEvent, RelayRoom, RelayStorage};

/// The TCP port fernchat listens on by default (`docs/PROTOCOL.md` section 1).
pub const DEFAULT_PORT: u16 = 10101;
