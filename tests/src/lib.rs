//! Helpers shared by fernchat's cross-part tests: Python's `cryptography`,
//! processes that are killed when a test ends, a scripted chat peer, and the
//! QEMU command line.
//!
//! A test whose tool (Python's `cryptography`, QEMU, the firmware images) is
//! missing fails, saying how to get it: it never passes without running.
//! `cargo xtask ci` sets everything up.

pub mod browser;
pub mod peer;
pub mod process;
pub mod python;
pub mod qemu;
pub mod std_client;
