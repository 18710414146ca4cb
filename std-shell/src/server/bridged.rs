//! The relay's side of the bridge (`docs/PROTOCOL.md` section 12): frames
//! from other relays enter the room through its remote member, under the
//! same policy as local frames and to local clients only; new clients get
//! the room's history. The bridge thread itself is in [`super::bridge`].

use super::bridge::{self, HistoryRequest, Inbox, Incoming, StreamHistory};
use super::clients::list_for_flush;
use super::history::{Recent, is_fresh};
use super::onward::Onward;
use super::{Relay, ServerArgs, StdRoom, count_frame};
use crate::error::Error;
use fernchat_core::fernet::TokenError;
use fernchat_core::relay::RejectReason;
use fernchat_core::room::{MemberId, Now};
use fernchat_core::tally::Refusal;
use mio::{Poll, Token, Waker};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Frames taken from the bridge per turn before the clients get theirs.
const FRAMES_PER_TURN: usize = 256;
/// How often the bridge's counts are logged, when they changed.
const SUMMARY_EVERY: Duration = Duration::from_secs(10);

/// The bridge's receiving half and the room's member for other relays.
pub struct Remote {
    inbox: Inbox,
    /// The room's member for other relays.
    pub id: MemberId,
    /// The inbox may hold more than the last turn took.
    pub pending: bool,
    /// `--history` was given: new clients get it from JetStream.
    history: bool,
    /// Clients waiting for history: their request's serial.
    history_wanted: HashMap<MemberId, u64>,
    /// Serial of the last history request, so that a reply for a client
    /// that left is not taken for the next one in its slot.
    history_requests: u64,
    /// When the counts were last logged, and what they were.
    last_summary: (Instant, [u64; 3]),
}

impl Remote {
    /// True while frames from the bridge may wait to be read, and the
    /// room takes them (its member's last frame is not held).
    pub fn read_pending(&self, room: &StdRoom) -> bool {
        self.pending && room.member(self.id).is_some_and(|m| !m.is_held())
    }

    /// The bridge's waker fired.
    pub fn woken(&mut self) {
        self.inbox.woken();
        self.pending = true;
    }
}

/// Starts the bridge when `--nats` names servers, its waker on `token`;
/// sets up the history `--history` asks for (in JetStream when bridged,
/// in memory otherwise).
pub fn start(
    args: &ServerArgs,
    poll: &Poll,
    room: &mut StdRoom,
    now: Now,
    token: Token,
) -> Result<(Onward, Option<Remote>), Error> {
    let keep = args
        .history
        .map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    if !args.nats.bridged() {
        let recent = keep.map(Recent::new);
        return Ok((
            Onward {
                publisher: None,
                recent,
                remote: None,
            },
            None,
        ));
    }
    let waker = Waker::new(poll.registry(), token).map_err(Error::EventLoop)?;
    let history = keep.map(|frames| StreamHistory {
        frames,
        max_age: Duration::from_secs(args.ttl),
    });
    // The room is empty yet: a seat is free.
    let id = room
        .admit_remote(now)
        .ok_or(Error::EventLoop(std::io::Error::other(
            "no seat for the bridge's member",
        )))?;
    let (publisher, inbox) = bridge::start(&args.nats, history, waker)?;
    let remote = Remote {
        inbox,
        id,
        pending: true,
        history: keep.is_some(),
        history_wanted: HashMap::new(),
        history_requests: 0,
        last_summary: (Instant::now(), [0; 3]),
    };
    Ok((
        Onward {
            publisher: Some(publisher),
            recent: None,
            remote: Some(id),
        },
        Some(remote),
    ))
}

impl Relay {
    /// Takes a bounded number of frames and history replies from the bridge.
    pub(super) fn read_remote(&mut self) {
        for _ in 0..FRAMES_PER_TURN {
            let Some(remote) = &mut self.remote else {
                return;
            };
            if !remote.read_pending(&self.room) {
                return;
            }
            match remote.inbox.next() {
                None => {
                    remote.pending = false;
                    return;
                }
                Some(Incoming::Frame(payload)) => self.take_remote(&payload),
                Some(Incoming::History { request, frames }) => {
                    let client = super::member_id(request.client);
                    if remote.history_wanted.get(&client) == Some(&request.serial) {
                        remote.history_wanted.remove(&client);
                        self.deliver_history(client, frames.iter().map(|f| &f[..]));
                    }
                }
            }
        }
    }

    /// Runs one message from the bridge through the room as the remote
    /// member's: one token (`docs/PROTOCOL.md` section 12, Payload), never
    /// split into frames, whatever it holds. A frame with no room holds
    /// the bridge until the room releases it.
    fn take_remote(&mut self, payload: &[u8]) {
        let now = self.now();
        let Some(id) = self.remote.as_ref().map(|r| r.id) else {
            return;
        };
        let (room, mut queues, stats) = self.parts();
        // The remote member never leaves: a departure cannot come.
        let _ = room.receive_message(id, payload, now, &mut queues, |_, event| {
            count_frame(stats, event, None);
        });
    }

    /// A client joined: gives it the room's history, at once from memory or
    /// when the bridge has fetched it.
    pub(super) fn send_history(&mut self, id: MemberId) {
        if let Some(recent) = self.onward.recent.take() {
            self.deliver_history(id, recent.frames());
            self.onward.recent = Some(recent);
            return;
        }
        let (Some(publisher), Some(remote)) = (&self.onward.publisher, &mut self.remote) else {
            return;
        };
        if !remote.history {
            return;
        }
        remote.history_requests += 1;
        let request = HistoryRequest {
            client: id.index(),
            serial: remote.history_requests,
        };
        if publisher.request_history(request) {
            remote.history_wanted.insert(id, request.serial);
        } else {
            tracing::warn!("no history for a new client: the bridge's queue is full");
        }
    }

    /// A client left: a history reply still on its way is not for the next
    /// client in its slot.
    pub(super) fn forget_history_request(&mut self, id: MemberId) {
        if let Some(remote) = &mut self.remote {
            remote.history_wanted.remove(&id);
        }
    }

    /// Queues for client `id` the tokens of `history` that are still fresh
    /// and pass the room's policy again (keyed: MAC), as many as fit in its
    /// queue. Each entry must be exactly one token: anything else (a line
    /// feed inside, two tokens, junk, and keyed a bad MAC) is dropped whole
    /// and counted as a dropped frame.
    fn deliver_history<'h>(&mut self, id: MemberId, history: impl Iterator<Item = &'h [u8]>) {
        let now = self.now();
        let ttl = self.history_ttl;
        let max_outbound = self.max_outbound;
        let Some(client) = self.clients.get_mut(id) else {
            return;
        };
        let (mut sent, mut dropped) = (0, 0);
        for token in history {
            match self.room.recheck(token, now) {
                Ok(()) => {}
                // Old, not wrong.
                Err(RejectReason::Token(TokenError::Expired)) => continue,
                Err(reason) => {
                    self.stats.dropped(Refusal::Rejected(reason));
                    dropped += 1;
                    continue;
                }
            }
            if !is_fresh(token, now.unix, ttl) {
                continue;
            }
            if client.outbound.len() + token.len() + 1 > max_outbound {
                break;
            }
            client.outbound.push(Rc::from([token, b"\n"].concat()));
            sent += 1;
        }
        if dropped > 0 {
            tracing::info!(
                "{}: {dropped} history entries dropped: not one valid token each",
                client.peer
            );
        }
        if sent == 0 {
            return;
        }
        list_for_flush(&mut self.to_flush, client, id);
        self.room.queued(id, now.millis);
        tracing::debug!("{}: {sent} frames of history sent", client.peer);
    }

    /// Logs the bridge's counts every [`SUMMARY_EVERY`] when they changed
    /// (a warning when frames were not bridged).
    pub(super) fn log_bridge_counts(&mut self) {
        let (Some(publisher), Some(remote)) = (&self.onward.publisher, &mut self.remote) else {
            return;
        };
        let counts = publisher.counts();
        let snapshot = counts.snapshot();
        let (when, last) = remote.last_summary;
        if snapshot != last && when.elapsed() >= SUMMARY_EVERY {
            remote.last_summary = (Instant::now(), snapshot);
            if snapshot[2] > last[2] {
                tracing::warn!("NATS bridge: {counts}");
            } else {
                tracing::info!("NATS bridge: {counts}");
            }
        }
    }

    /// Stops the bridge: it flushes what it holds (for a second at most),
    /// then its totals are logged.
    pub(super) fn stop_bridge(&mut self) {
        let Some(publisher) = self.onward.publisher.take() else {
            return;
        };
        let counts = std::sync::Arc::clone(publisher.counts());
        drop(publisher);
        if let Some(remote) = self.remote.take() {
            remote.inbox.join();
        }
        tracing::info!("NATS bridge stopped: {counts}");
    }
}
