//! The bridge thread: one NATS connection, the room's subscription (echo
//! suppressed, so a relay never gets its own frames back), the publishing
//! of local frames and the history requests.

use super::attempt_failure;
use super::counts::Counts;
use super::room_stream::RoomStream;
use super::{Handoff, HistoryRequest, Incoming, Outgoing, StreamHistory};
use async_nats::connection::State;
use async_nats::{
    Client, ClientError, ConnectErrorKind, ConnectOptions, Event, ServerAddr, Subject,
};
use bytes::Bytes;
use fernchat_core::render::Shown;
use futures_util::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How long the thread flushes what it holds when the relay stops.
const FLUSH_AT_STOP: Duration = Duration::from_secs(1);
/// History requests waiting at most.
const HISTORY_REQUESTS: usize = 256;

/// What the thread needs to know.
pub struct Setup {
    /// The cluster's servers.
    pub servers: Vec<ServerAddr>,
    /// The client's options (auth, TLS, no echo, reconnects).
    pub options: ConnectOptions,
    /// `fernchat.<room>`.
    pub subject: String,
    /// The room's JetStream stream name.
    pub stream_name: String,
    /// History from JetStream, if asked for.
    pub history: Option<StreamHistory>,
}

/// Runs the bridge until the relay drops its [`super::Publisher`].
pub fn run(
    setup: Setup,
    outgoing: mpsc::Receiver<Outgoing>,
    handoff: Handoff,
    counts: &Arc<Counts>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!("NATS bridge cannot start its runtime: {e}; the room is not bridged");
            return;
        }
    };
    runtime.block_on(serve(setup, outgoing, handoff, counts));
}

async fn serve(
    setup: Setup,
    mut outgoing: mpsc::Receiver<Outgoing>,
    handoff: Handoff,
    counts: &Arc<Counts>,
) {
    let (events_tx, mut events) = mpsc::channel(64);
    let options = setup.options.event_callback(move |event| {
        let events_tx = events_tx.clone();
        async move {
            let _ = events_tx.send(event).await;
        }
    });
    let client = match options.connect(setup.servers).await {
        Ok(client) => client,
        Err(e) => {
            tracing::error!("NATS bridge cannot start: {e}; the room is not bridged");
            return;
        }
    };
    let subject = Subject::from(setup.subject.clone());
    let mut subscription = match client.subscribe(subject.clone()).await {
        Ok(subscription) => subscription,
        Err(e) => {
            tracing::error!(
                "NATS bridge cannot subscribe to {subject}: {e}; the room is not bridged"
            );
            return;
        }
    };
    let history = setup.history.map(|history| {
        let (requests, wanted) = mpsc::channel(HISTORY_REQUESTS);
        let stream = RoomStream::new(&client, setup.stream_name, setup.subject.clone(), history);
        tokio::spawn(serve_history(stream, wanted, handoff.clone()));
        requests
    });
    tracing::info!("NATS bridge started: room subject {subject}");
    loop {
        tokio::select! {
            out = outgoing.recv() => match out {
                None => break,
                Some(Outgoing::Publish(frame)) => publish(&client, &subject, frame, counts).await,
                Some(Outgoing::History(request)) => {
                    let queued = history.as_ref().is_some_and(|h| h.try_send(request).is_ok());
                    if !queued {
                        let _ = handoff.send(Incoming::History { request, frames: Vec::new() });
                    }
                }
            },
            message = subscription.next() => match message {
                Some(message) => {
                    if handoff.send(Incoming::Frame(message.payload)) {
                        counts.received.inc();
                    } else {
                        counts.inbox_full.inc();
                    }
                }
                None => {
                    tracing::error!("NATS bridge: the subscription ended; the room is no longer bridged");
                    break;
                }
            },
            Some(event) = events.recv() => log_event(&client, &event, counts),
        }
    }
    let _ = tokio::time::timeout(FLUSH_AT_STOP, client.flush()).await;
}

/// Publishes one frame unless NATS is away (then it is counted: a frame
/// published while disconnected would wait in the client's buffer with no
/// promise of delivery).
async fn publish(client: &Client, subject: &Subject, frame: Bytes, counts: &Counts) {
    if client.connection_state() != State::Connected {
        counts.disconnected.inc();
        return;
    }
    match client.publish(subject.clone(), frame).await {
        Ok(()) => {
            counts.published.inc();
        }
        Err(e) => {
            counts.publish_failed.inc();
            tracing::debug!("NATS publish failed: {e}");
        }
    }
}

/// Logs a change of the connection's state.
fn log_event(client: &Client, event: &Event, counts: &Counts) {
    match event {
        Event::Connected => {
            counts.connected.set(1);
            let info = client.server_info();
            tracing::info!(
                "NATS bridge connected to {} at {}:{}",
                info.server_name,
                info.host,
                info.port
            );
        }
        Event::Disconnected => {
            counts.connected.set(0);
            tracing::warn!("NATS bridge disconnected; local chat goes on, reconnecting")
        }
        Event::SlowConsumer(_) => {
            counts.slow_consumer.inc();
            tracing::warn!("NATS server dropped frames for this relay (slow consumer)");
        }
        Event::ClientError(ClientError::Other(why)) if refuses_credentials(why) => {
            tracing::warn!(
                "NATS refused this relay's credentials ({why}): check --nats-creds, \
                 --nats-user and --nats-password, --nats-token, or user:password@ in \
                 the URL; retrying"
            );
        }
        Event::ClientError(ClientError::Other(kind)) => {
            // The cause may quote the server's own error text: shown by
            // the rules for a peer's text, so it cannot touch the terminal.
            let cause = attempt_failure::take().unwrap_or_else(|| kind.clone());
            tracing::warn!(
                "NATS bridge cannot connect: {}; local chat goes on, retrying",
                Shown(cause.as_bytes())
            );
        }
        other => tracing::info!("NATS bridge: {other}"),
    }
}

/// True when a failed connection attempt was the server refusing the
/// credentials (the client reports it only as its error kind's text).
fn refuses_credentials(why: &str) -> bool {
    [
        ConnectErrorKind::AuthorizationViolation,
        ConnectErrorKind::Authentication,
    ]
    .iter()
    .any(|kind| kind.to_string() == why)
}

/// Answers history requests one after the other, from the room's stream
/// (made when first reachable, retried every second until then).
async fn serve_history(
    mut stream: RoomStream,
    mut wanted: mpsc::Receiver<HistoryRequest>,
    handoff: Handoff,
) {
    let mut retry = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            request = wanted.recv() => {
                let Some(request) = request else { return };
                let frames = stream.last().await;
                if !handoff.send(Incoming::History { request, frames }) {
                    tracing::warn!("history for a new client dropped: the relay's loop is behind");
                }
            }
            _ = retry.tick(), if !stream.is_ready() => stream.ensure().await,
        }
    }
}
