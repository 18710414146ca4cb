//! SIGHUP: a keyed relay reads its key file again and verifies with the
//! keys it holds now (a rotation without a restart). Its replay cache is
//! kept; a file that does not load leaves the old keys in force.

use super::stats::Stats;
use crate::keyfile;
use fernchat_core::fernet::DEFAULT_MAX_KEYS;
use fernchat_core::room::{Room, Seats};
use std::path::Path;

/// Reloads `key_file` into `room`'s policy (nothing for a blind relay,
/// `None`), logging and counting the outcome.
pub fn reload<S: fernchat_core::replay::ReplayStore, T: Seats>(
    room: &mut Room<DEFAULT_MAX_KEYS, S, T>,
    key_file: Option<&Path>,
    stats: &Stats,
) {
    let Some(path) = key_file else {
        tracing::info!("SIGHUP: a blind relay holds no key; nothing to reload");
        return;
    };
    match keyfile::load(path) {
        Ok(keys) => {
            let count = keys.keys().len();
            room.policy_mut().replace_keys(keys);
            stats.reloaded(true);
            tracing::info!(
                "SIGHUP: reloaded {count} key(s) from {}; the first seals what the relay sends",
                path.display()
            );
        }
        Err(e) => {
            stats.reloaded(false);
            tracing::warn!("SIGHUP: kept the old keys: {e}");
        }
    }
}
