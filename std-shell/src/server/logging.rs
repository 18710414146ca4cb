//! The relay's log: `RUST_LOG` (by default `info`, with `async-nats`'s own
//! info lines left out: they repeat what the bridge logs in its words) to
//! standard error, and the bridge's record of why NATS connection attempts
//! fail.

use super::bridge::CauseLayer;
use std::io::{self, IsTerminal};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, fmt, registry};

/// Starts logging for the relay.
pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,async_nats=warn"));
    let log = fmt::layer()
        .with_writer(io::stderr)
        .with_ansi(io::stderr().is_terminal())
        .with_filter(filter);
    // The cause layer filters for itself: it sees async-nats's debug
    // events whatever RUST_LOG lets through to the log.
    registry()
        .with(log)
        .with(CauseLayer.with_filter(CauseLayer))
        .init();
}
