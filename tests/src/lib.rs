//! Helpers shared by fernchat's cross-part tests: Python's `cryptography`,
//! processes that are killed when a test ends, and a scripted chat peer.

pub mod peer;
pub mod process;
pub mod python;
pub mod std_client;
