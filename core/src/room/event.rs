//! What the room has to tell its shell, one event at a time
//! ([`super::Room::poll_event`]).

use super::Departure;
use super::seats::MemberId;
use crate::tally::Summary;

/// Something the shell must act on or may log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The member turned out to send tokens without line feeds, as the
    /// original Python chat does (`docs/PROTOCOL.md` section 2): worth a
    /// log line, once.
    Unframed {
        /// Who.
        id: MemberId,
    },
    /// The member's held frame went: read from it again (what the shell
    /// kept unread first).
    Released {
        /// Who.
        id: MemberId,
    },
    /// The frames the member had refused since its last summary: one
    /// every [`crate::tally::SUMMARY_INTERVAL_MS`] while it sends bad ones.
    Summary {
        /// Who.
        id: MemberId,
        /// The counts by reason.
        summary: Summary,
    },
    /// The member is gone and its seat is free. The shell sends it what
    /// waits for it up to a whole frame, then `why`'s notice if it has one
    /// ([`Departure::notice`]), and closes its connection.
    Left {
        /// Who.
        id: MemberId,
        /// Why.
        why: Departure,
        /// Its refusals not yet summarised.
        summary: Option<Summary>,
        /// The room sent `nick LF /leave` on its behalf (keyed mode, a
        /// member that had named itself).
        said_leave: bool,
    },
}
