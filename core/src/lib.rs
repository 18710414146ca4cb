//! fernchat-core: everything fernchat speaks, with no I/O, no clock, no RNG
//! and no heap.
//!
//! - [`fernet`]: Fernet tokens (AES-128-CBC + HMAC-SHA256), spec-exact and
//!   interoperable with Python's `cryptography.fernet`.
//! - [`frame`]: the line-based frame codec, one 4096-byte buffer per connection.
//! - [`message`]: the payload `nick LF body` and its events.
//! - [`replay`]: a fixed-capacity replay cache.
//! - [`session`] and [`relay`]: sans-IO client and relay state machines that
//!   both shells (std sockets, smoltcp) drive.
//!
//! Time and randomness come in as arguments; results go out into buffers the
//! caller owns.
//!
//! ```
//! use fernchat_core::fernet::{Key, DECODE_BUF_LEN};
//!
//! let key = Key::parse(b"cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=").unwrap();
//! let mut token = [0u8; 4096];
//! let token = key.encrypt(b"hello", 499_162_800, [0; 16], &mut token).unwrap();
//! let mut buf = [0u8; DECODE_BUF_LEN];
//! let opened = key.decrypt(token, 499_162_801, Some(60), &mut buf).unwrap();
//! assert_eq!(opened.plaintext, b"hello");
//! ```
//!
//! Security: the MAC is checked in constant time before any byte is
//! decrypted, and every token failure looks the same to a peer. Fernet has
//! no forward secrecy: whoever gets the key reads every message made with it.

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod fernet;
pub mod frame;
pub mod message;
pub mod relay;
pub mod replay;
pub mod seal;
pub mod session;
