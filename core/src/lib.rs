//! fernchat-core: everything fernchat speaks, with no I/O, no clock, no RNG
//! and no heap.
//!
//! - [`fernet`]: Fernet tokens (AES-128-CBC + HMAC-SHA256), spec-exact and
//!   interoperable with Python's `cryptography.fernet`: the `fernchat-fernet`
//!   crate, re-exported, for whoever needs Fernet and nothing of chat.
//! - [`frame`]: the line-based frame codec, one 4096-byte buffer per connection.
//! - [`message`]: the payload `nick LF body` and its events.
//! - [`input`]: what a user types (`/me`, `//`, `/quit`...), parsed once for
//!   every client.
//! - [`render`]: a peer's text made safe to show on a terminal.
//! - [`replay`]: a fixed-capacity replay cache.
//! - [`seal`]: a payload sealed into a frame.
//! - [`session`] and [`relay`]: sans-IO client and relay state machines that
//!   both shells (std sockets, smoltcp) drive; [`room`]: the relay's whole
//!   life per connection (admission, back-pressure, deadlines, departures).
//!
//! The wire contract is `docs/PROTOCOL.md`; how the parts fit is
//! `docs/DESIGN.md`. Time and randomness come in as arguments (a clock
//! reading, a [`rand_core::CryptoRng`] that IVs are drawn from); results go
//! out into buffers the caller owns.
//!
//! ```
//! use fernchat_core::message::Body;
//! use fernchat_core::fernet::{Key, KeySet};
//! use fernchat_core::frame::MAX_FRAME;
//! use fernchat_core::session::Session;
//! # use rand_core::SeedableRng;
//! # let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7); // use the OS's RNG
//!
//! let key = Key::parse(b"cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=").unwrap();
//! let ann = Session::<1>::new(KeySet::single(key.clone()), "ann", None).unwrap();
//! let mut bob = Session::<1>::new(KeySet::single(key), "bob", Some(300)).unwrap();
//!
//! let mut out = [0u8; MAX_FRAME];
//! let frame = ann.sealer.seal(Body::Text(b"hello"), 1_700_000_000, &mut rng, &mut out).unwrap();
//! let message = bob.opener.receive(frame, 1_700_000_001).message.unwrap();
//! assert_eq!(message.payload.to_string(), "<ann> hello");
//! ```
//!
//! Security: the MAC is checked in constant time before any byte is
//! decrypted, and every token failure looks the same to a peer. Fernet has
//! no forward secrecy: whoever gets the key reads every message made with it.

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

/// Fernet, spec-exact: the `fernchat-fernet` crate, re-exported so that
/// `fernchat_core::fernet::Key` and the rest keep their paths. The limits a
/// frame puts on a token are in [`frame`].
#[doc(inline)]
pub use fernchat_fernet as fernet;
pub mod frame;
pub mod input;
pub mod message;
pub mod reason;
pub mod relay;
pub mod render;
pub mod replay;
pub mod room;
pub mod seal;
pub mod session;
pub mod tally;
