//! The room's JetStream stream: every frame published on the room's
//! subject, the last `--history` of them kept for the TTL, so that a late
//! joiner on any relay gets them.

use super::StreamHistory;
use async_nats::Client;
use async_nats::connection::State;
use async_nats::jetstream::{self, stream};
use bytes::Bytes;
use futures_util::StreamExt;
use std::time::Duration;

/// Stored messages fetched at once for one history request.
const FETCH_AT_ONCE: usize = 16;
/// The stream's duplicate window by default (JetStream's), which must not
/// pass its `max_age`.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// The stream, once it is known to exist.
pub struct RoomStream {
    client: Client,
    jetstream: jetstream::Context,
    config: stream::Config,
    keep: usize,
    stream: Option<stream::Stream>,
    /// The last attempt to reach it failed (logged once until it works).
    failing: bool,
}

impl RoomStream {
    /// The stream `name` on `subject`, keeping `history`.
    pub fn new(client: &Client, name: String, subject: String, history: StreamHistory) -> Self {
        let config = stream::Config {
            name,
            subjects: vec![subject],
            max_messages: i64::try_from(history.frames).unwrap_or(i64::MAX),
            max_age: history.max_age,
            duplicate_window: DUPLICATE_WINDOW.min(history.max_age),
            ..Default::default()
        };
        RoomStream {
            client: client.clone(),
            jetstream: jetstream::new(client.clone()),
            config,
            keep: history.frames,
            stream: None,
            failing: false,
        }
    }

    /// True once the stream exists.
    pub fn is_ready(&self) -> bool {
        self.stream.is_some()
    }

    /// Finds the stream, or makes it with this relay's limits.
    pub async fn ensure(&mut self) {
        if self.stream.is_some() {
            return;
        }
        match self
            .jetstream
            .get_or_create_stream(self.config.clone())
            .await
        {
            Ok(stream) => {
                tracing::info!("history: JetStream stream {} ready", self.config.name);
                self.stream = Some(stream);
                self.failing = false;
            }
            Err(e) if !self.failing => {
                self.failing = true;
                tracing::warn!(
                    "history: JetStream stream {} not reachable: {e}; retrying",
                    self.config.name
                );
            }
            Err(e) => tracing::debug!("history: stream still not reachable: {e}"),
        }
    }

    /// The stream's last frames, oldest first (at most `--history`); none
    /// at once while NATS is disconnected, and none when the stream cannot
    /// be reached (logged).
    pub async fn last(&mut self) -> Vec<Bytes> {
        if self.client.connection_state() != State::Connected {
            return Vec::new();
        }
        self.ensure().await;
        let Some(stream) = &mut self.stream else {
            return Vec::new();
        };
        let state = match stream.info().await {
            Ok(info) => info.state.clone(),
            Err(e) => {
                tracing::warn!("history: cannot read the stream's state: {e}");
                self.stream = None;
                return Vec::new();
            }
        };
        if state.messages == 0 {
            return Vec::new();
        }
        let keep = u64::try_from(self.keep).unwrap_or(u64::MAX);
        let first = state
            .first_sequence
            .max(state.last_sequence.saturating_sub(keep.saturating_sub(1)));
        let stream = &*stream;
        futures_util::stream::iter(first..=state.last_sequence)
            .map(|sequence| stream.get_raw_message(sequence))
            .buffered(FETCH_AT_ONCE)
            // A message gone since (past max_age) is skipped.
            .filter_map(|message| async move { message.ok().map(|m| m.payload) })
            .collect()
            .await
    }
}
