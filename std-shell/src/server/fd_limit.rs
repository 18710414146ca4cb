//! Room for every client's socket under the open-file limit.

use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

/// Descriptors the relay needs besides its clients' sockets: listener,
/// event loop, signal pipe, stdio.
const SPARE: u64 = 16;

/// Raises the soft open-file limit to fit `max_clients` sockets (at most to
/// the hard limit), since the common default of 1024 would make accept fail
/// below the default client limit; warns when even the hard limit is short.
pub fn raise_for(max_clients: usize) {
    let needed = (max_clients as u64).saturating_add(SPARE);
    let limit = getrlimit(Resource::Nofile);
    if limit.current.is_none_or(|soft| soft >= needed) {
        return;
    }
    let target = limit.maximum.map_or(needed, |hard| hard.min(needed));
    let raised = Rlimit {
        current: Some(target),
        maximum: limit.maximum,
    };
    if let Err(e) = setrlimit(Resource::Nofile, raised) {
        tracing::warn!("cannot raise the open-file limit to {target}: {e}");
    }
    if target < needed {
        tracing::warn!(
            "the open-file limit ({target}) leaves room for about {} clients, not {max_clients}; \
             raise it (ulimit -n) or lower --max-clients",
            target.saturating_sub(SPARE)
        );
    }
}
