//! The NATS bridge (`docs/PROTOCOL.md` section 12): the official
//! `async-nats` client on its own thread, with a small current-thread tokio
//! runtime. Frames go to it and come from it through bounded channels and
//! a `mio::Waker`, so NATS being slow or down never stalls local chat:
//! what does not fit is counted ([`Counts`]), never waited for.

mod attempt_failure;
mod counts;
mod options;
mod room_stream;
mod worker;

pub use attempt_failure::CauseLayer;
pub use counts::Counts;
pub use options::NatsArgs;

use crate::error::Error;
use bytes::Bytes;
use fernchat_core::frame::token_of;
use mio::Waker;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Frames waiting for the bridge thread, at most.
const OUTBOX_FRAMES: usize = 4096;
/// Frames from NATS waiting for the relay's loop, at most.
const INBOX_FRAMES: usize = 4096;
/// How long the relay waits for the bridge thread when it stops.
const STOP_WAIT: Duration = Duration::from_secs(2);

/// A newly joined client's request for the room's recent frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistoryRequest {
    /// The client's slot.
    pub client: usize,
    /// The request's serial, so that a reply for a client that left is not
    /// given to the next one in its slot.
    pub serial: u64,
}

/// History kept in the room's JetStream stream.
#[derive(Clone, Copy, Debug)]
pub struct StreamHistory {
    /// Frames kept (the stream's `max_msgs`).
    pub frames: usize,
    /// How long they are kept (the stream's `max_age`: the relay's TTL).
    pub max_age: Duration,
}

/// What the relay's loop hands the bridge thread.
enum Outgoing {
    /// A frame to publish: a token without its line feed.
    Publish(Bytes),
    /// Fetch the room's history for a client.
    History(HistoryRequest),
}

/// What the bridge thread hands the relay's loop.
pub enum Incoming {
    /// A frame from another relay: a NATS message's payload.
    Frame(Bytes),
    /// The room's recent frames, oldest first, for a newly joined client.
    History {
        /// Whom for.
        request: HistoryRequest,
        /// The frames (tokens without line feeds).
        frames: Vec<Bytes>,
    },
}

/// The relay loop's sending half: frames to publish and history requests.
pub struct Publisher {
    outbox: tokio::sync::mpsc::Sender<Outgoing>,
    counts: Arc<Counts>,
}

impl Publisher {
    /// Hands a frame the relay accepted from a local client to the bridge,
    /// never waiting: when the bridge's queue is full it is counted.
    pub fn publish(&self, frame: &[u8]) {
        let token = token_of(frame);
        let sent = self
            .outbox
            .try_send(Outgoing::Publish(Bytes::copy_from_slice(token)));
        if sent.is_err() {
            self.counts.queue_full.inc();
        }
    }

    /// Asks for the room's history for a client; false when the bridge's
    /// queue is full (the client then gets none).
    pub fn request_history(&self, request: HistoryRequest) -> bool {
        self.outbox.try_send(Outgoing::History(request)).is_ok()
    }

    /// What the bridge moved and lost so far.
    pub fn counts(&self) -> &Arc<Counts> {
        &self.counts
    }
}

/// The relay loop's receiving half.
pub struct Inbox {
    frames: mpsc::Receiver<Incoming>,
    woken: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Inbox {
    /// The waker fired: the next [`Inbox::next`] calls drain what came.
    pub fn woken(&self) {
        self.woken.store(false, Ordering::Release);
    }

    /// The next thing from the bridge, if any is waiting.
    pub fn next(&self) -> Option<Incoming> {
        self.frames.try_recv().ok()
    }

    /// Waits for the bridge thread to finish, after the [`Publisher`] was
    /// dropped (it flushes what it holds for at most a second); after
    /// [`STOP_WAIT`] the relay stops without it.
    pub fn join(mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        let deadline = Instant::now() + STOP_WAIT;
        while !thread.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        if thread.is_finished() {
            let _ = thread.join();
        } else {
            tracing::warn!("the NATS bridge did not stop in time; stopping without it");
        }
    }
}

/// The bridge thread's way back to the relay's loop: a bounded channel and
/// the loop's waker, fired once per batch.
#[derive(Clone)]
struct Handoff {
    frames: mpsc::SyncSender<Incoming>,
    waker: Arc<Waker>,
    woken: Arc<AtomicBool>,
}

impl Handoff {
    /// Hands `incoming` over without waiting; false when the loop has not
    /// taken the earlier ones (or is gone).
    fn send(&self, incoming: Incoming) -> bool {
        if self.frames.try_send(incoming).is_err() {
            return false;
        }
        if !self.woken.swap(true, Ordering::AcqRel) {
            let _ = self.waker.wake();
        }
        true
    }
}

/// Starts the bridge for `args` (which must name servers): the thread
/// connects in the background, so the relay serves its clients even while
/// NATS is down. `waker` wakes the relay's loop when frames arrive.
pub fn start(
    args: &NatsArgs,
    history: Option<StreamHistory>,
    waker: Waker,
) -> Result<(Publisher, Inbox), Error> {
    let setup = worker::Setup {
        servers: args.servers()?,
        options: args.connect_options()?,
        subject: args.subject(),
        stream_name: format!("fernchat-{}", args.room),
        history,
    };
    let (outbox, outgoing) = tokio::sync::mpsc::channel(OUTBOX_FRAMES);
    let (frames_tx, frames) = mpsc::sync_channel(INBOX_FRAMES);
    let woken = Arc::new(AtomicBool::new(false));
    let counts = Arc::new(Counts::default());
    let handoff = Handoff {
        frames: frames_tx,
        waker: Arc::new(waker),
        woken: Arc::clone(&woken),
    };
    let thread_counts = Arc::clone(&counts);
    let thread = std::thread::Builder::new()
        .name("nats-bridge".to_owned())
        .spawn(move || worker::run(setup, outgoing, handoff, &thread_counts))
        .map_err(|e| Error::Nats(format!("cannot start the bridge thread: {e}")))?;
    Ok((
        Publisher { outbox, counts },
        Inbox {
            frames,
            woken,
            thread: Some(thread),
        },
    ))
}
