//! Why the last NATS connection attempt failed, in full. `async-nats`
//! tells the bridge only the kind ("IO error") in its events, and logs the
//! cause ("IO error: invalid peer certificate: UnknownIssuer", "IO error:
//! Connection refused") at debug level; [`CauseLayer`] keeps that cause so
//! the bridge's own warning can name it.

use std::fmt;
use std::sync::Mutex;
use tracing::field::{Field, Visit};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, Filter, Layer};

/// Where `async-nats` logs a failed attempt, with its cause in `error`.
const CONNECTOR: &str = "async_nats::connector";

/// The cause of the last failed attempt, not yet reported.
static LAST: Mutex<Option<String>> = Mutex::new(None);

/// Takes the cause of the last failed attempt, if one was logged since
/// the last call.
pub fn take() -> Option<String> {
    LAST.lock().ok()?.take()
}

/// A tracing layer that keeps the cause of each failed attempt.
pub struct CauseLayer;

impl CauseLayer {
    /// True for the connector's events that carry a cause.
    fn wants(meta: &Metadata<'_>) -> bool {
        meta.target() == CONNECTOR && meta.fields().field("error").is_some()
    }
}

impl<S: Subscriber> Layer<S> for CauseLayer {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut cause = ErrorField(None);
        event.record(&mut cause);
        if let (Some(cause), Ok(mut last)) = (cause.0, LAST.lock()) {
            *last = Some(cause);
        }
    }
}

impl<S> Filter<S> for CauseLayer {
    fn enabled(&self, meta: &Metadata<'_>, _: &Context<'_, S>) -> bool {
        Self::wants(meta)
    }

    /// Decided once per call site, so that every other one costs nothing.
    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        if Self::wants(meta) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::DEBUG)
    }
}

/// Reads an event's `error` field.
struct ErrorField(Option<String>);

impl Visit for ErrorField {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "error" {
            self.0 = Some(format!("{value:?}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn the_cause_of_a_failed_attempt_is_kept_once() {
        let subscriber = tracing_subscriber::registry().with(CauseLayer.with_filter(CauseLayer));
        tracing::subscriber::with_default(subscriber, || {
            let cause = "IO error: invalid peer certificate: UnknownIssuer";
            tracing::debug!(target: "async_nats::connector", error = %cause, "connection attempt failed");
            tracing::debug!(target: "async_nats::connector", attempt = 3, "connecting to server");
            tracing::debug!(target: "elsewhere", error = "not this one", "a failure");
            assert_eq!(take().as_deref(), Some(cause));
            assert_eq!(take(), None);
        });
    }
}
