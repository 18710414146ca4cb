//! Helpers shared by fernchat's cross-part tests: Python's `cryptography`,
//! processes that are killed when a test ends, NATS servers, a scripted
//! chat peer, a relay's metrics read by Python's `prometheus_client`,
//! headless Chromium driven by Python's `selenium`, HAProxy in front of a
//! relay, and the QEMU command line.
//!
//! A test whose tool (Python's `cryptography`, QEMU, the firmware images) is
//! missing fails, saying how to get it: it never passes without running.
//! `cargo xtask ci` sets everything up.

pub mod browser;
pub mod haproxy;
pub mod nats;
pub mod peer;
pub mod process;
pub mod prometheus;
pub mod python;
pub mod qemu;
pub mod std_client;
