//! The relay's counters: what it has done since it started, for its log,
//! its summary line on exit and `--metrics`. Each is an atomic the event
//! loop bumps with one relaxed add (no lock, no lookup: every labelled
//! counter is made once, up front); the metrics thread only reads them.

use fernchat_core::reason::Reason;
use fernchat_core::room::{Departure, Notice};
use fernchat_core::tally::Refusal;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::fmt;

/// `reason` labels of refused connections, in [`Stats::refused`]'s order.
const REFUSALS: [&str; 2] = ["full", "busy"];
/// `reason` labels of dropped frames, in [`Refusal::index`]'s order: the
/// slugs of core's one vocabulary.
const DROPS: [&str; Refusal::KINDS] = {
    let mut slugs = [""; Refusal::KINDS];
    let mut i = 0;
    while i < Refusal::KINDS {
        slugs[i] = Reason::ALL[i].slug();
        i += 1;
    }
    slugs
};
/// `reason` labels of departures, in [`departure_index`]'s order.
const DEPARTURES: [&str; 5] = [
    "closed",
    "reset",
    "invalid_frames",
    "hello_timeout",
    "not_reading",
];
/// `outcome` labels of key reloads.
const RELOADS: [&str; 2] = ["loaded", "failed"];

/// What the relay has done since it started.
#[derive(Debug)]
pub struct Stats {
    /// Clients connected now.
    pub clients: Gauge,
    /// Connections accepted into a slot.
    pub accepted: Counter,
    /// Connections turned away, by [`REFUSALS`].
    refused: [Counter; REFUSALS.len()],
    /// Frames forwarded (each counted once, whatever the number of recipients).
    pub forwarded: Counter,
    /// Frames dropped, by [`DROPS`].
    dropped: [Counter; DROPS.len()],
    /// Bytes read from clients.
    pub bytes_in: Counter,
    /// Bytes written to clients.
    pub bytes_out: Counter,
    /// Clients gone, by [`DEPARTURES`].
    departed: [Counter; DEPARTURES.len()],
    /// Bytes waiting in every client's outbound queue (sampled each tick).
    pub outbound_bytes: Gauge,
    /// `/leave` frames sent for clients that vanished (keyed mode).
    pub leaves_sent: Counter,
    /// Key files reloaded on SIGHUP, by [`RELOADS`].
    reloads: [Counter; RELOADS.len()],
}

impl Stats {
    /// Zeroed counters, and the registry that shows them at `/metrics`.
    pub fn registered() -> (Stats, Registry) {
        let mut registry = Registry::with_prefix("fernchat");
        let stats = Stats {
            clients: Gauge::default(),
            accepted: Counter::default(),
            refused: labelled(
                &mut registry,
                "connections_refused",
                "Connections turned away: full (every slot taken), busy (the per-address limit)",
                "reason",
                REFUSALS,
            ),
            forwarded: Counter::default(),
            dropped: labelled(
                &mut registry,
                "frames_dropped",
                "Frames not forwarded, by why (rate_limited: over --max-rate)",
                "reason",
                DROPS,
            ),
            bytes_in: Counter::default(),
            bytes_out: Counter::default(),
            departed: labelled(
                &mut registry,
                "client_departures",
                "Clients gone: closed or reset by them, or sent away by the relay",
                "reason",
                DEPARTURES,
            ),
            outbound_bytes: Gauge::default(),
            leaves_sent: Counter::default(),
            reloads: labelled(
                &mut registry,
                "key_reloads",
                "Key files reloaded on SIGHUP (failed: the old keys were kept)",
                "outcome",
                RELOADS,
            ),
        };
        let r = &mut registry;
        r.register("clients", "Clients connected", stats.clients.clone());
        r.register(
            "connections_accepted",
            "Connections accepted into a slot",
            stats.accepted.clone(),
        );
        r.register(
            "frames_forwarded",
            "Frames forwarded to the other clients, each counted once",
            stats.forwarded.clone(),
        );
        r.register(
            "received_bytes",
            "Bytes read from clients",
            stats.bytes_in.clone(),
        );
        r.register(
            "sent_bytes",
            "Bytes written to clients",
            stats.bytes_out.clone(),
        );
        r.register(
            "outbound_queue_bytes",
            "Bytes waiting in the clients' outbound queues (sampled every 100 ms)",
            stats.outbound_bytes.clone(),
        );
        r.register(
            "leaves_sent",
            "/leave frames sent for clients that vanished (keyed mode)",
            stats.leaves_sent.clone(),
        );
        // A bridged relay adds the bridge's (`fernchat_nats_...`):
        // `bridge::Counts::register`.
        (stats, registry)
    }

    /// Counts a connection turned away with `notice`.
    pub fn refused(&self, notice: Notice) {
        let index = usize::from(notice == Notice::Busy);
        self.refused[index].inc();
    }

    /// Counts a frame dropped for `refusal`.
    pub fn dropped(&self, refusal: Refusal) {
        self.dropped[refusal.index()].inc();
    }

    /// Counts a client that left for `why`.
    pub fn departed(&self, why: Departure) {
        self.departed[departure_index(why)].inc();
    }

    /// Counts a key file reload on SIGHUP.
    pub fn reloaded(&self, ok: bool) {
        self.reloads[usize::from(!ok)].inc();
    }

    /// Frames dropped for anything but the rate limit.
    fn rejected(&self) -> u64 {
        let all: u64 = self.dropped.iter().map(Counter::get).sum();
        all - count(&self.dropped, &DROPS, "rate_limited")
    }
}

/// The counter of `counters` labelled `label` in `labels`.
fn count<const N: usize>(counters: &[Counter; N], labels: &[&str; N], label: &str) -> u64 {
    counters
        .iter()
        .zip(labels)
        .filter(|(_, l)| **l == label)
        .map(|(c, _)| c.get())
        .sum()
}

/// A family of counters, one per label value, made now and registered.
fn labelled<const N: usize>(
    registry: &mut Registry,
    name: &str,
    help: &str,
    label: &'static str,
    values: [&'static str; N],
) -> [Counter; N] {
    let family = Family::<[(&'static str, &'static str); 1], Counter>::default();
    let counters = values.map(|value| family.get_or_create_owned(&[(label, value)]));
    registry.register(name, help, family);
    counters
}

/// Where `why` is counted in [`DEPARTURES`].
fn departure_index(why: Departure) -> usize {
    match why {
        Departure::Closed => 0,
        Departure::Reset => 1,
        Departure::TooManyInvalid(_) => 2,
        Departure::HelloTimeout => 3,
        Departure::NotReading => 4,
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let departed = |why| count(&self.departed, &DEPARTURES, why);
        write!(
            f,
            "{} connections ({} refused when full, {} for the per-address limit), \
             {} frames forwarded, {} rejected, {} over the rate limit, \
             {} clients dropped for invalid frames, {} for not reading, \
             {} for sending nothing valid, {} leaves sent",
            self.accepted.get(),
            count(&self.refused, &REFUSALS, "full"),
            count(&self.refused, &REFUSALS, "busy"),
            self.forwarded.get(),
            self.rejected(),
            count(&self.dropped, &DROPS, "rate_limited"),
            departed("invalid_frames"),
            departed("not_reading"),
            departed("hello_timeout"),
            self.leaves_sent.get()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fernchat_core::fernet::TokenError;
    use fernchat_core::frame::FrameError;
    use fernchat_core::relay::RejectReason;
    use prometheus_client::encoding::prometheus_text::encode;

    #[test]
    fn test_each_refusal_kind_is_counted_under_its_own_label() {
        let token = |e| Refusal::Rejected(RejectReason::Token(e));
        let kinds = [
            (
                Refusal::Rejected(RejectReason::Frame(FrameError::FrameTooLong)),
                "too_long",
            ),
            (
                Refusal::Rejected(RejectReason::Frame(FrameError::InvalidFrame)),
                "not_base64url",
            ),
            (token(TokenError::Malformed), "malformed"),
            (token(TokenError::BadMac), "bad_mac"),
            (token(TokenError::BadPadding), "bad_padding"),
            (token(TokenError::FromTheFuture), "from_the_future"),
            (token(TokenError::Expired), "expired"),
            (Refusal::Rejected(RejectReason::Replayed), "replayed"),
            (
                Refusal::Rejected(RejectReason::Unverifiable),
                "unverifiable",
            ),
            (Refusal::RateLimited, "rate_limited"),
        ];
        assert_eq!(kinds.len(), DROPS.len());
        for (refusal, label) in kinds {
            assert_eq!(DROPS[refusal.index()], label, "{refusal:?}");
        }
    }

    #[test]
    fn test_every_reason_has_its_own_labelled_counter() {
        let (stats, registry) = Stats::registered();
        stats.dropped(Refusal::Rejected(RejectReason::Token(TokenError::BadMac)));
        stats.dropped(Refusal::RateLimited);
        stats.dropped(Refusal::RateLimited);
        stats.departed(Departure::NotReading);
        stats.refused(Notice::Busy);
        stats.reloaded(false);
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        for line in [
            "fernchat_frames_dropped_total{reason=\"bad_mac\"} 1",
            "fernchat_frames_dropped_total{reason=\"rate_limited\"} 2",
            "fernchat_frames_dropped_total{reason=\"replayed\"} 0",
            "fernchat_client_departures_total{reason=\"not_reading\"} 1",
            "fernchat_connections_refused_total{reason=\"busy\"} 1",
            "fernchat_connections_refused_total{reason=\"full\"} 0",
            "fernchat_key_reloads_total{outcome=\"failed\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
        assert_eq!(stats.rejected(), 1);
    }
}
